"""Env frames/s with auto-reset from a pool of fresh states vs a fresh reset computed on every step.

    python -m benchmarks.autoreset                                     # brax/hopper (mjx), playground/CheetahRun
    python -m benchmarks.autoreset --envs=brax/halfcheetah --num_envs=16

For each env and mode (``pool``, ``every_step``: the old behaviour, one physics reset per env per step) two
compiled programs are timed in the same process, alternating: a rollout of the env alone (uniform random
actions, auto-reset) and a whole training iteration of SAC's fast preset (act, step, auto-reset, replay,
update). Steady-state speed is the median of timed chunks after compilation; ratios are within one run.
"""

from __future__ import annotations

import functools
import sys
import time

from absl import flags

FLAGS = flags.FLAGS
MODES = ("pool", "every_step")


def _programs(env_name: str, mode: str):
    """-> {"env only": (fn, state), "train iteration": (fn, state)} compiled and warmed up."""
    import jax
    import jax.numpy as jnp

    from diffsr_jax.envs import AutoReset
    from diffsr_jax.program import Trainer
    from experiments.configs.sac import get_config

    cfg = get_config("fast")
    cfg.env.name, cfg.env.auto_reset, cfg.env.num_envs = env_name, mode, FLAGS.num_envs
    cfg.env.episode_length, cfg.run.warmup_steps = FLAGS.episode_length, 0
    cfg.run.total_steps = FLAGS.chunk * FLAGS.num_envs * (FLAGS.repeats + 2)
    trainer = Trainer(cfg)
    env, n = trainer.env, FLAGS.num_envs
    ar = AutoReset(env, mode, max(int(cfg.env.reset_pool_size), n), int(cfg.env.reset_pool_refill))

    def rollout(carry, t0):
        def body(c, t):
            s, pool, key = c
            key, k_a, k_r = jax.random.split(key, 3)
            s, res = jax.vmap(env.step)(s, jax.random.uniform(k_a, (n, env.action_dim), minval=-1, maxval=1))
            s, pool, _ = ar(s, res.done, pool, k_r, t)
            return (s, pool, key), res.reward.sum()
        carry, r = jax.lax.scan(body, carry, t0 + jnp.arange(FLAGS.chunk))
        return carry, r.sum()

    k = jax.random.PRNGKey(0)
    env_carry = (jax.vmap(env.reset)(jax.random.split(k, n)), ar.init(k), k)
    env_fn = jax.jit(rollout)
    runner = jax.jit(trainer.init)(k, trainer.default_hparams())
    train_fn = jax.jit(functools.partial(trainer.run_iterations, num_iters=FLAGS.chunk))
    out = {}
    for name, fn, state in (("env only", env_fn, env_carry), ("train iteration", train_fn, runner)):
        t0 = time.time()
        state, m = jax.block_until_ready(fn(state, jnp.int32(0)))
        out[name] = [fn, state, time.time() - t0, []]
    return out


def main(_):
    import jax
    import numpy as np

    from benchmarks.common import machine, write_results

    results, rows = [], []
    for env_name in FLAGS.envs:
        progs = {mode: _programs(env_name, mode) for mode in MODES}
        for rep in range(FLAGS.repeats):  # alternate the modes so machine noise hits both alike
            for mode in MODES:
                for name, p in progs[mode].items():
                    fn, state = p[0], p[1]
                    t0 = time.time()
                    p[1], _ = jax.block_until_ready(fn(state, jax.numpy.int32((rep + 1) * FLAGS.chunk)))
                    p[3].append(time.time() - t0)
        for name in ("env only", "train iteration"):
            fps = {m: FLAGS.chunk * FLAGS.num_envs / float(np.median(progs[m][name][3])) for m in MODES}
            r = {"env": env_name, "program": name, "num_envs": FLAGS.num_envs,
                 **{f"frames_per_s_{m}": fps[m] for m in MODES},
                 **{f"compile_and_first_s_{m}": progs[m][name][2] for m in MODES},
                 "speedup": fps["pool"] / fps["every_step"]}
            results.append(r)
            rows.append([env_name, name, f"{fps['every_step']:.0f}", f"{fps['pool']:.0f}", f"{r['speedup']:.2f}x"])
            print(f"{env_name} {name}: every_step {fps['every_step']:.0f} -> pool {fps['pool']:.0f} frames/s "
                  f"({r['speedup']:.2f}x)", flush=True)
    md = write_results(FLAGS.name, {"machine": machine(), "command": " ".join(sys.argv), "results": results}, rows,
                       ["env", "program", "frames/s every_step (before)", "frames/s pool (after)", "speedup"],
                       FLAGS.out)
    print(md)


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_list("envs", ["brax/hopper", "playground/CheetahRun"], "envs to measure")
    flags.DEFINE_integer("num_envs", 1, "envs per seed")
    flags.DEFINE_integer("chunk", 400, "iterations per timed chunk")
    flags.DEFINE_integer("repeats", 3, "timed chunks per program")
    flags.DEFINE_integer("episode_length", 1000, "frames per episode (episodes end this often at least)")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "autoreset", "output name")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
