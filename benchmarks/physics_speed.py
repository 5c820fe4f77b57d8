"""Env steps/s of Brax MJX envs alone, native vs light physics (``env.physics``): batch 1, 200 decisions of uniform
random actions from a reset in one ``lax.scan``, no reset (a hopper that fell keeps stepping, lying in contact), the
two settings timed in alternating rounds so both see the same machine load.

    python -m benchmarks.physics_speed --envs=brax/halfcheetah,brax/hopper,brax/walker2d

This is the env alone; ``benchmarks.iteration_profile`` times the env step inside training iterations (states from
the training distribution, where the solver's tolerance may stop it sooner).
"""

from __future__ import annotations

import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS
SETTINGS = ("native", "light")


def stepper(env, steps: int):
    """key -> summed reward of ``steps`` random-action decisions from a reset (one env, vmapped as the trainer does)."""
    import jax

    def run(key):
        k0, k1 = jax.random.split(key)
        state = jax.vmap(env.reset)(k0[None])
        actions = jax.random.uniform(k1, (steps, 1, env.action_dim), minval=-1.0, maxval=1.0)

        def body(s, a):
            s, res = jax.vmap(env.step)(s, a)
            return s, res.reward.sum()

        return jax.lax.scan(body, state, actions)[1].sum()

    return jax.jit(run)


def main(_):
    import jax
    import numpy as np

    from benchmarks.common import machine, write_results
    from diffsr_jax.envs import make_env

    results = []
    for name in FLAGS.envs:
        programs, compile_s = {}, {}
        for physics in SETTINGS:
            env = make_env(name, physics=physics)
            t0 = time.time()
            f = stepper(env, FLAGS.steps)
            jax.block_until_ready(f(jax.random.PRNGKey(0)))
            programs[physics], compile_s[physics] = f, time.time() - t0
        secs = {p: [] for p in SETTINGS}
        for r in range(FLAGS.rounds):
            for physics, f in programs.items():
                t0 = time.perf_counter()
                jax.block_until_ready(f(jax.random.PRNGKey(r + 1)))
                secs[physics].append(time.perf_counter() - t0)
        sps = {p: FLAGS.steps / float(np.median(secs[p])) for p in SETTINGS}
        results.append({"env": name, "steps_per_s": sps, "light_over_native": sps["light"] / sps["native"],
                        "compile_s": compile_s, "secs": secs})
        print(f"{name}: native {sps['native']:.0f}, light {sps['light']:.0f} env-steps/s "
              f"({sps['light'] / sps['native']:.1f}x)", flush=True)
    rows = [[r["env"], f"{r['steps_per_s']['native']:.0f}", f"{r['steps_per_s']['light']:.0f}",
             f"{r['light_over_native']:.1f}x"] for r in results]
    print(write_results(FLAGS.name, {"machine": machine(), "command": " ".join(sys.argv), "steps": FLAGS.steps,
                                     "rounds": FLAGS.rounds, "results": results}, rows,
                        ["env", "native env-steps/s", "light env-steps/s", "light / native"], FLAGS.out))


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_list("envs", ["brax/halfcheetah", "brax/hopper"], "envs to time")
    flags.DEFINE_integer("steps", 200, "decisions per timed call")
    flags.DEFINE_integer("rounds", 5, "alternating timed rounds (median)")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "physics_speed", "output name")


if __name__ == "__main__":
    define_flags()
    app.run(main)
