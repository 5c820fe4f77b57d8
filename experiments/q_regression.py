"""Can a critic on psi represent a good Q-function? Regress a reference run's learned Q onto each critic input.

    python -m experiments.q_regression --logdir=runs/mbbl/hopper_et/diffsr_sac --reference=runs/mbbl/hopper_et/sac

Where a Diff-SR agent trails its base, its psi may lack what Q needs, or its critic may fail to learn a Q it could
represent (TD learning, its own policy's data). This separates the two without TD: on the reference run's replay
(the states and actions its agent visited), the target is the reference critic's Q (the minimum over its heads, the
value its policy is trained on), and fresh networks are fitted to it by supervised regression, with the same steps,
batch and Adam rate each:

- ``mlp on (s, a)``: the reference config's MLP critic head on concat(s, a) (the base's own input and width);
- ``rff on psi``: the run's head (``config.psi_critic``) on the run's psi at the checkpoint, psi frozen;
- ``rff on psi at init``: the same head on psi at its initialisation (the run's own init keys): what training psi
  adds;
- ``rff <w> on psi``: the head at width w (RFF and hidden layer both) on the trained psi, for each ``--rff_widths``.

Seed i of the run is paired with seed i of the reference (each on the reference seed's replay); every regression is
scored on held-out blocks of the replay (every tenth block of ``--block`` slots, an episode's length by default).
Prints a table of held-out R^2, RMS error over |mean Q| (the report's "critics' fit" measure) and the mean cosine
between the fitted Q's action gradient and the reference's on held-out rows (the direction each would give an actor),
and writes ``q_regression-<frames>.json`` in the run's log dir. Checkpoints are only read.
"""

from __future__ import annotations

import json
import os
import time

from absl import flags

from diffsr_jax.training.compile_cache import DEFAULT_CACHE_DIR, setup_compile_cache
from experiments.cli import define_int_list, fail, run_main

FLAGS = flags.FLAGS
HELD_OUT_EVERY = 10  # every tenth block of replay slots is held out
GRADIENT_ROWS = 4096  # held-out rows the action gradients are compared on


def representation_critic(critic):
    """The ``RepresentationCritic`` inside ``critic`` (unwrapping the optimism bonus), or None for an MLP critic."""
    from diffsr_jax.agents.critics import RepresentationCritic

    inner = getattr(critic, "critic", critic)
    return inner if isinstance(inner, RepresentationCritic) else None


def check_pair(run, reference) -> None:
    """ConfigError (one line) unless ``run`` has a critic on psi, both are state-based runs of the same task with
    the same seeds, and the reference's replay holds its transitions."""
    from diffsr_jax.fields import ConfigError

    if representation_critic(run.trainer.agent.critic) is None:
        raise ConfigError(f"--logdir={run.logdir}: its agent {run.config.run.agent} has no critic on psi; pass the log "
                          f"dir of a diffsr_* run")
    for saved, flag in ((run, "--logdir"), (reference, "--reference")):
        if int(saved.config.env.pixels):
            raise ConfigError(f"{flag}={saved.logdir}: a run from pixels; this regression reads state-based runs")
        if not hasattr(saved.runner.agent, "q_heads"):
            raise ConfigError(f"{flag}={saved.logdir}: its agent {saved.config.run.agent} keeps no Q heads")
    env_a, env_b = run.config.env.to_dict(), reference.config.env.to_dict()
    differ = sorted(k for k in set(env_a) | set(env_b) if env_a.get(k) != env_b.get(k))
    if differ:
        raise ConfigError(f"the two runs are on different tasks (config.env.{differ[0]}: {env_a.get(differ[0])!r} vs "
                          f"{env_b.get(differ[0])!r}); pass two runs of one task")
    if [m["seed"] for m in run.members] != [m["seed"] for m in reference.members]:
        raise ConfigError(f"the runs' members differ ({len(run.members)} vs {len(reference.members)}, seeds "
                          f"{[m['seed'] for m in run.members]} vs {[m['seed'] for m in reference.members]}); "
                          f"pair runs with the same seeds")


def replay_rows(saved, block: int):
    """(obs (M, N, d_s), action (M, N, d_a)) of every member's filled replay slots, as stored (not normalised);
    ConfigError when the members hold different numbers of transitions or too few for a held-out block."""
    import jax
    import numpy as np

    from diffsr_jax.data.sampler import ReplaySampler
    from diffsr_jax.fields import ConfigError

    sizes = np.asarray(saved.runner.buffer.size)
    if len(set(sizes.tolist())) != 1 or sizes[0] < block * HELD_OUT_EVERY:
        raise ConfigError(f"--reference={saved.logdir}: its members' replays hold {sizes.tolist()} transitions; the "
                          f"regression needs at least {block * HELD_OUT_EVERY:,} (--block x {HELD_OUT_EVERY}) in "
                          f"each, the same in all")
    n = int(sizes[0])
    layout, capacity = saved.trainer.layout, saved.trainer.capacity

    def rows(buffer):
        tr, _ = ReplaySampler(buffer, None, 1, saved.trainer.num_envs, layout=layout).window(0, capacity)
        return tr.obs[:n], tr.action[:n]

    return jax.vmap(rows)(saved.runner.buffer)


def regress(run, reference, steps: int, batch_size: int, lr: float, widths, block: int, key):
    """name -> {"r2", "rmse", "fit_loss", "grad_cos"}: each (M,), and the targets' |mean Q| (M,): every regression of
    the module docstring, each vmapped over the members."""
    import jax
    import jax.numpy as jnp

    from diffsr_jax.networks.critics import MLPQHead, RFFHead
    from diffsr_jax.representation.regression import fit_regression, gradient_agreement, held_out_blocks

    obs, action = replay_rows(reference, block)
    n = (obs.shape[1] // block) * block  # whole blocks (the reference's Q is computed a block at a time)
    obs, action = obs[:, :n], action[:, :n]
    fit_rows, test_rows = held_out_blocks(n, block, HELD_OUT_EVERY)
    ref_trainer, ref_critic = reference.trainer, reference.trainer.agent.critic
    trainer, rep_critic = run.trainer, representation_critic(run.trainer.agent.critic)

    def reference_min_q(runner, o, a):  # (B,): the min over the reference's heads, on its normalised observations
        o = ref_trainer.normalize(runner.obs_stats, o)
        return jnp.min(ref_critic.q(runner.agent.q_heads.params, runner.agent.critic_state, o, a), axis=0)

    def reference_q(runner, o, a):  # (N,), a block at a time
        chunks = o.reshape(-1, block, o.shape[-1]), a.reshape(-1, block, a.shape[-1])
        return jax.lax.map(lambda c: reference_min_q(runner, *c), chunks).reshape(-1)

    targets = jax.jit(jax.vmap(reference_q))(reference.runner, obs, action)

    init_state = jax.vmap(trainer.init_agent)(run.keys, run.hp).critic_state

    q, r = run.config.psi_critic, reference.config.mlp_critic
    rff = lambda w1, w2: RFFHead(w1, w2, q.rff_kind, q.input_layer_norm, q.hidden_layer_norm, q.activation,  # noqa
                                 q.init)
    heads = {"mlp on (s, a)": ("sa", MLPQHead(tuple(r.hidden), r.activation, r.hidden_layer_norm, r.init)),
             "rff on psi": ("psi", rff(int(q.rff_dim), int(q.rff_hidden))),
             "rff on psi at init": ("psi_init", rff(int(q.rff_dim), int(q.rff_hidden)))}
    for w in widths:
        if (w, w) != (int(q.rff_dim), int(q.rff_hidden)):
            heads[f"rff {w} on psi"] = ("psi", rff(w, w))

    def one(head, reads, runner, ref_runner, critic_state0, o, a, y, k):
        k_init, k_fit = jax.random.split(k)
        raw_obs = o
        if reads == "sa":
            o = ref_trainer.normalize(ref_runner.obs_stats, o)
            params = head.init(k_init, o[:1], a[:1])
            apply = head.apply
        else:
            o = trainer.normalize(runner.obs_stats, o)
            state = critic_state0 if reads == "psi_init" else runner.agent.critic_state
            rep = jax.lax.stop_gradient(rep_critic.rep_params(state))  # psi frozen; its action gradient kept
            features = lambda oo, aa: rep_critic.representation.psi(rep, oo, aa)  # noqa: E731
            params = head.init(k_init, features(o[:1], a[:1]))
            apply = lambda p, oo, aa: head.apply(p, features(oo, aa))  # noqa: E731
        scores, params = fit_regression(apply, params, (o, a), y, fit_rows, test_rows, k_fit, steps, batch_size, lr)
        rows = test_rows[:GRADIENT_ROWS]
        scores["grad_cos"] = gradient_agreement(lambda aa: apply(params, o[rows], aa),
                                                lambda aa: reference_min_q(ref_runner, raw_obs[rows], aa), a[rows])
        return scores

    out = {}
    member_keys = jax.random.split(key, len(run.members))
    for name, (reads, head) in heads.items():
        t0 = time.time()
        fitted = jax.jit(jax.vmap(lambda *xs, head=head, reads=reads: one(head, reads, *xs)))(
            run.runner, reference.runner, init_state, obs, action, targets, member_keys)
        out[name] = {k: jax.device_get(v) for k, v in fitted.items()}
        print(f"  {name}: {time.time() - t0:.0f} s", flush=True)
    return out, jax.device_get(jnp.abs(targets.mean(axis=1)))


def table(results: dict, q_abs) -> str:
    import numpy as np

    lines = [f"{'regressor':<22} {'held-out R^2':>13} {'RMS error / |mean Q|':>21} {'grad_a cosine':>14}   "
             f"per seed R^2", "-" * 96]
    for name, r in results.items():
        seeds = " ".join(f"{v:.3f}" for v in r["r2"])
        lines.append(f"{name:<22} {np.mean(r['r2']):>13.3f} {np.mean(r['rmse'] / q_abs):>21.4f} "
                     f"{np.mean(r['grad_cos']):>14.3f}   {seeds}")
    return "\n".join(lines)


def main(argv):
    from absl import logging

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        fail(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")
    for flag in ("logdir", "reference"):
        value = getattr(FLAGS, flag)
        if not value:
            fail(f"--{flag} is required: pass a Diff-SR run and its base run of one task, e.g. "
                 f"--logdir=runs/mbbl/hopper_et/diffsr_sac --reference=runs/mbbl/hopper_et/sac")
        if not os.path.isdir(value):
            fail(f"--{flag}={value}: no such directory")
    if min(FLAGS.steps, FLAGS.batch_size, FLAGS.block) <= 0:
        fail(f"--steps={FLAGS.steps} --batch_size={FLAGS.batch_size} --block={FLAGS.block}: each must be >= 1")
    if not FLAGS.lr > 0:
        fail(f"--lr={FLAGS.lr}: Adam's rate must be > 0")
    import jax
    import numpy as np

    from diffsr_jax.training.saved_run import load_saved_run
    from experiments.evaluate import parse_step

    try:
        frames = parse_step(FLAGS.step)
    except ValueError as e:
        fail(str(e))
    run = load_saved_run(FLAGS.logdir, frames)
    reference = load_saved_run(FLAGS.reference, run.frames, replay=True)
    check_pair(run, reference)
    setup_compile_cache(FLAGS.compile_cache)
    print(f"{run.config.run.agent} vs {reference.config.run.agent}'s Q on {run.config.env.name}, env frame "
          f"{run.frames:,}, {len(run.members)} seed pair(s); {FLAGS.steps:,} Adam steps of batch {FLAGS.batch_size} "
          f"at lr {FLAGS.lr:g} per regression", flush=True)
    widths = [int(w) for w in FLAGS.rff_widths]
    results, q_abs = regress(run, reference, FLAGS.steps, FLAGS.batch_size, FLAGS.lr, widths, FLAGS.block,
                             jax.random.PRNGKey(FLAGS.seed))
    print(table(results, q_abs))
    record = {"agent": run.config.run.agent, "reference": reference.config.run.agent, "env": run.config.env.name,
              "frames": run.frames, "reference_logdir": os.path.abspath(FLAGS.reference),
              "seeds": [m["seed"] for m in run.members], "steps": FLAGS.steps, "batch_size": FLAGS.batch_size,
              "lr": FLAGS.lr, "seed": FLAGS.seed,
              "held_out": f"every {HELD_OUT_EVERY}th block of {FLAGS.block} slots",
              "mean_abs_q": np.asarray(q_abs).tolist(),
              "regressions": {name: {k: np.asarray(v).tolist() for k, v in r.items()} for name, r in results.items()}}
    path = os.path.join(FLAGS.logdir, f"q_regression-{run.frames}.json")
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
    print(f"wrote {path}")


def define_flags():
    flags.DEFINE_string("logdir", None, "the log dir of a diffsr_* run (experiments.train)")
    flags.DEFINE_string("reference", None, "the log dir of the run whose Q is the target (its base, same task, "
                        "same seeds); its checkpoint at the same env frame must hold its replay")
    flags.DEFINE_string("step", "latest", "env frame of the checkpoints to read, or 'latest' (the run's)")
    flags.DEFINE_integer("steps", 10000, "Adam steps of each regression")
    flags.DEFINE_integer("batch_size", 256, "rows per regression step")
    flags.DEFINE_float("lr", 3e-4, "Adam's rate (the runs' critic rate)")
    define_int_list("rff_widths", [256], "widths of extra heads on the trained psi (RFF and hidden layer)")
    flags.DEFINE_integer("block", 1000, "replay slots per held-out block (an episode's length: a held-out row's "
                         "neighbours in its episode are held out with it)")
    flags.DEFINE_integer("seed", 0, "the regressions' init and minibatch key")
    flags.DEFINE_string("compile_cache", DEFAULT_CACHE_DIR, "persistent XLA compilation cache dir ('' disables)")


if __name__ == "__main__":
    define_flags()
    run_main(main)
