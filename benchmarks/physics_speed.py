"""Env steps/s of Brax MJX envs alone under each physics setting (``env.physics``: native, light and the settings in
between, ``diffsr_jax.envs.physics``): a batch of B envs (``vmap``, as the trainer steps them), 200 decisions of
uniform random actions from a reset in one ``lax.scan``, no reset (a hopper that fell keeps stepping, lying in
contact); the settings of one env and batch size timed in alternating rounds so all see the same machine load.

    python -m benchmarks.physics_speed --envs=brax/halfcheetah,brax/hopper,brax/walker2d,brax/ant --batch_sizes=1,8

Env steps/s counts every env of the batch (B x decisions / seconds). This is the env alone;
``benchmarks.iteration_profile`` times the env step inside training iterations (states from the training
distribution, where the solver's tolerance may stop it sooner). Results are rewritten after every (env, batch size),
so an interrupted run keeps what it measured; a later call with the same settings, steps and rounds adds its envs
to the file (replacing those it measures again).
"""

from __future__ import annotations

import json
import os
import sys
import time

from absl import flags

FLAGS = flags.FLAGS
SETTINGS = ("native", "light", "i4ls4", "i4ls4_nodamp", "i2ls8", "i2ls8_nodamp", "i1ls50", "i1ls50_nodamp")


def stepper(env, steps: int, batch: int = 1):
    """key -> summed reward of ``steps`` random-action decisions from a reset of ``batch`` envs (vmapped as the
    trainer does, also for one env)."""
    import jax

    def run(key):
        k0, k1 = jax.random.split(key)
        state = jax.vmap(env.reset)(jax.random.split(k0, batch))
        actions = jax.random.uniform(k1, (steps, batch, env.action_dim), minval=-1.0, maxval=1.0)

        def body(s, a):
            s, res = jax.vmap(env.step)(s, a)
            return s, res.reward.sum()

        return jax.lax.scan(body, state, actions)[1].sum()

    return jax.jit(run)


def time_settings(name: str, settings, batch: int, steps: int, rounds: int) -> dict:
    """{"steps_per_s": {setting: env steps/s (median round)}, "compile_s", "secs", "solver"} of ``name`` at ``batch``."""
    import jax
    import numpy as np

    from diffsr_jax.envs import make_env

    programs, compile_s, solver = {}, {}, {}
    for physics in settings:
        env = make_env(name, physics=physics)
        solver[physics] = env.solver
        t0 = time.time()
        f = stepper(env, steps, batch)
        jax.block_until_ready(f(jax.random.PRNGKey(0)))
        programs[physics], compile_s[physics] = f, time.time() - t0
    secs = {p: [] for p in settings}
    for r in range(rounds):
        for physics, f in programs.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(jax.random.PRNGKey(r + 1)))
            secs[physics].append(time.perf_counter() - t0)
    sps = {p: batch * steps / float(np.median(secs[p])) for p in settings}
    return {"env": name, "batch": batch, "steps_per_s": sps,
            "over_native": {p: sps[p] / sps["native"] for p in settings} if "native" in sps else {},
            "compile_s": compile_s, "secs": secs, "solver": solver}


def table(results, settings):
    rows = []
    for r in results:
        for p in settings:
            ratio = r["over_native"].get(p)
            rows.append([r["env"], r["batch"], p, f"{r['steps_per_s'][p]:.0f}",
                         f"{ratio:.2f}x" if ratio is not None else "-"])
    return rows


def main(_):
    from benchmarks.common import machine, write_results
    from diffsr_jax.training.compile_cache import setup_compile_cache

    setup_compile_cache()
    results, commands = [], []
    out_json = os.path.join(FLAGS.out, f"{FLAGS.name}.json")
    if os.path.exists(out_json):  # keep the (env, batch) pairs of an earlier call with the same settings
        old = json.load(open(out_json))
        if (old.get("steps"), old.get("rounds"), old.get("settings")) == (FLAGS.steps, FLAGS.rounds, FLAGS.settings):
            results = [r for r in old["results"] if r["env"] not in FLAGS.envs]
            commands = old.get("commands", [old.get("command", "")])
    commands.append(" ".join(sys.argv))
    for name in FLAGS.envs:
        for batch in (int(b) for b in FLAGS.batch_sizes):
            r = time_settings(name, FLAGS.settings, batch, FLAGS.steps, FLAGS.rounds)
            results.append(r)
            print(name, f"batch {batch}:", ", ".join(f"{p} {v:.0f}" for p, v in r["steps_per_s"].items()),
                  flush=True)
            md = write_results(FLAGS.name, {"machine": machine(), "command": "; ".join(commands), "commands": commands,
                                            "steps": FLAGS.steps,
                                            "rounds": FLAGS.rounds, "settings": list(FLAGS.settings),
                                            "results": results}, table(results, FLAGS.settings),
                               ["env", "batch", "physics", "env steps/s", "vs native"], FLAGS.out)
    print(md)


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_list("envs", ["brax/halfcheetah", "brax/hopper"], "envs to time")
    flags.DEFINE_list("settings", list(SETTINGS), "physics settings to time (native first: the ratios' reference)")
    flags.DEFINE_list("batch_sizes", ["1"], "envs stepped together (vmap), each timed apart")
    flags.DEFINE_integer("steps", 200, "decisions per timed call")
    flags.DEFINE_integer("rounds", 5, "alternating timed rounds (median)")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "physics_speed", "output name")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
