"""Shared test helpers."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.envs.base import Env

TIMING_FIELDS = ("run/wall_time", "run/frames_per_s")  # machine timing: excluded when comparing runs


def preset(agent: str, name: str = "fast", overrides: dict | None = None):
    """``agent``'s preset ``name`` with ``overrides`` ({"group.field": value}) set."""
    from diffsr_jax.config import set_fields
    from experiments.configs import load_preset

    cfg = load_preset(agent, name)
    set_fields(cfg, overrides or {})
    return cfg


def rollout(env, actions, key=0, mode="every_step", pool_size=4, refill_every=1000):
    """One env stepped with ``actions`` (T, d_a) and auto-reset by ``AutoReset(mode)``, as the trainer does it.
    -> (state0, (final (state, pool), (StepResult (T,), state after the auto-reset (T,))))."""
    import jax
    import jax.numpy as jnp

    from diffsr_jax.envs import AutoReset

    ar = AutoReset(env, mode, pool_size, refill_every)
    k_env, k_pool, k_run = jax.random.split(jax.random.PRNGKey(key), 3)
    state = env.reset(k_env)
    one = lambda tree: jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], tree)  # noqa: E731
    first = lambda tree: jax.tree_util.tree_map(lambda x: x[0], tree)  # noqa: E731

    def body(carry, xs):
        s, pool, _ = carry
        a, k = xs
        s, res = env.step(s, a)
        s, pool, _ = ar(one(s), res.done[None], pool, k)
        s = first(s)
        return (s, pool, k), (res, s)

    def refill(carry):  # at the start of each block, from the key of the last step
        s, pool, k = carry
        return s, (ar.refill(pool, jax.random.fold_in(k, 1)) if pool is not None else None), k

    xs = (actions, jax.random.split(k_run, actions.shape[0]))
    (s, pool, _), ys = jax.jit(lambda xs: ar.scan(body, (state, ar.init(k_pool), k_run), xs, refill))(xs)
    return state, ((s, pool), ys)


def run_rows(logdir):
    """metrics.jsonl rows of a run, timing fields dropped (what must be identical between two runs)."""
    with open(os.path.join(logdir, "metrics.jsonl")) as f:
        return [{k: v for k, v in json.loads(line).items() if k not in TIMING_FIELDS} for line in f]


def checkpoint_steps(logdir):
    """Iterations of the complete checkpoints in a run's log dir (orbax's temp dirs are not numbers)."""
    d = os.path.join(logdir, "checkpoints")
    return sorted(int(n) for n in os.listdir(d) if n.isdigit()) if os.path.isdir(d) else []


def restore_run(logdir):
    """(Trainer of the run's config.json, vmapped RunnerState of the latest checkpoint, its iteration)."""
    import jax

    from diffsr_jax.config import stored_config
    from diffsr_jax.program import Trainer
    from diffsr_jax.training.checkpoint import Checkpointer
    from diffsr_jax.training.members import make_members

    with open(os.path.join(logdir, "config.json")) as f:
        config = stored_config(json.load(f))
    trainer = Trainer(config)
    _, keys, hp = make_members(config, trainer.default_hparams())
    step, runner, _ = Checkpointer(os.path.join(logdir, "checkpoints")).restore_latest(
        jax.eval_shape(jax.vmap(trainer.init), keys, hp))
    return trainer, runner, step


def optimizer_steps(opt_state) -> int:
    """Steps an optax optimizer state has taken (its largest ``count`` leaf; members share it); 0 if it has none."""
    import jax
    import numpy as np

    leaves = jax.tree_util.tree_flatten_with_path(opt_state)[0]
    counts = [int(np.max(np.asarray(x))) for p, x in leaves if jax.tree_util.keystr(p).endswith(".count")]
    return max(counts, default=0)


class PointMass(Env):
    """A 1-D point mass pushed by the action: obs (position, velocity), reward -position^2, 40 frames."""

    def __init__(self, max_steps=None):
        self.name, self.obs_dim, self.action_dim = "toy/point", 2, 1
        self.max_episode_steps = int(max_steps or 40)
        self.action_low, self.action_high = np.array([-1.0], np.float32), np.array([1.0], np.float32)

    def _reset(self, key):
        x = jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0)
        return x, x

    def _step(self, inner, action, key):
        pos, vel = inner[0], inner[1]
        vel = 0.9 * vel + 0.1 * action[0]
        pos = pos + 0.1 * vel
        nxt = jnp.stack([pos, vel])
        return nxt, nxt, -pos**2, jnp.zeros((), bool)
