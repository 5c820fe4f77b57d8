"""Wall-clock of ONE compiled training program as the number of seeds grows, vmapped on one device or laid over
several devices (``diffsr_jax.training.devices``).

    python -m benchmarks.seeds                                     # diffsr_sac fast, gymnax/Pendulum-v1
    python -m benchmarks.seeds --agent=sac --num_seeds=1,2,4,8,16 --chunk=500
    python -m benchmarks.seeds --agent=sac --num_seeds=2,4,8 --cpu_devices=2 --layouts=one,sharded
    python -m benchmarks.seeds --preset=paper --env=brax/halfcheetah --num_seeds=1,8,64     # on a GPU

For each (layout, seed count) the chunk program (act, env step, replay, update for every seed; the run state
donated) is compiled, then all are timed in alternating rounds. Layouts: ``one`` = every seed vmapped on the first
device, ``sharded`` = seeds laid over all devices (the largest count dividing them). ``--cpu_devices`` splits a
CPU-only host into that many XLA devices first. Reported: compile time, seconds per chunk, total env-steps/s, and
the speed-up over running the seeds one after another on one device (n x time(1 seed) / time(n seeds); needs 1 in
--num_seeds). Writes <out>/<name>.{json,md} (default name seeds_<agent>_<preset>).
"""

from __future__ import annotations

import functools
import sys
import time

from absl import flags

FLAGS = flags.FLAGS


def main(_):
    from diffsr_jax.training.devices import configure_cpu_devices

    configure_cpu_devices(FLAGS.cpu_devices)  # first: before JAX computes anything
    import jax
    import jax.numpy as jnp
    import numpy as np

    from benchmarks.common import machine, write_results
    from diffsr_jax.program import Trainer
    from diffsr_jax.training.devices import describe, member_mesh, over_members, shard_members
    from experiments.configs import load_preset

    cfg = load_preset(FLAGS.agent, FLAGS.preset)
    cfg.env.name = FLAGS.env
    if FLAGS.backend:
        cfg.env.backend = FLAGS.backend
    cfg.run.warmup_steps = 0
    cfg.run.total_steps = FLAGS.chunk * (FLAGS.rounds + 1) * int(cfg.env.action_repeat) * int(cfg.env.num_envs)
    trainer = Trainer(cfg)
    counts = [int(n) for n in FLAGS.num_seeds]
    progs = {}
    for layout in FLAGS.layouts:
        for n in counts:
            mesh = member_mesh(n) if layout == "sharded" else None
            t0 = time.perf_counter()
            hp = jax.tree_util.tree_map(lambda v, n=n: jnp.broadcast_to(v, (n,)), trainer.default_hparams())
            keys = shard_members(jax.random.split(jax.random.PRNGKey(0), n), mesh)
            runner = over_members(trainer.init, mesh, in_axes=(0, 0))(keys, shard_members(hp, mesh))
            run = over_members(functools.partial(trainer.run_iterations, num_iters=FLAGS.chunk), mesh,
                               in_axes=(0, None), donate=(0,))
            run = run.lower(runner, jnp.int32(0)).compile()
            runner, _ = jax.block_until_ready(run(runner, jnp.int32(0)))
            progs[layout, n] = {"run": run, "runner": runner, "compile_s": time.perf_counter() - t0, "times": [],
                                "where": describe(mesh)}
            print(f"{layout}: compiled {n} seeds {describe(mesh)} in {progs[layout, n]['compile_s']:.1f}s", flush=True)
    for r in range(FLAGS.rounds):
        for (layout, n), p in progs.items():
            t0 = time.perf_counter()
            p["runner"], _ = jax.block_until_ready(p["run"](p["runner"], jnp.int32((r + 1) * FLAGS.chunk)))
            p["times"].append(time.perf_counter() - t0)
            print(f"round {r}: {layout}, {n} seeds: {FLAGS.chunk}-iteration chunk in "
                  f"{p['times'][-1]:.2f}s", flush=True)
    base = float(np.median(progs["one", 1]["times"])) if ("one", 1) in progs else None
    results, rows = [], []
    for (layout, n), p in progs.items():
        t = float(np.median(p["times"]))
        speedup = n * base / t if base else None
        results.append({"layout": layout, "where": p["where"], "num_seeds": n, "s_per_chunk": t,
                        "env_steps_per_s": n * FLAGS.chunk / t, "speedup_vs_sequential": speedup,
                        "compile_s": p["compile_s"]})
        rows.append([layout, p["where"], n, f"{t:.2f}", f"{n * FLAGS.chunk / t:.0f}",
                     f"{speedup:.2f}x" if speedup else "-", f"{p['compile_s']:.0f}"])
        print(f"{layout} {n} seeds {p['where']}: {t:.2f} s/chunk, {n * FLAGS.chunk / t:.0f} env-steps/s", flush=True)
    name = FLAGS.name or f"seeds_{FLAGS.agent}_{FLAGS.preset}"
    md = write_results(name, {"machine": machine(), "command": " ".join(["python -m benchmarks.seeds", *sys.argv[1:]]),
                              "agent": FLAGS.agent, "preset": FLAGS.preset, "env": FLAGS.env, "chunk": FLAGS.chunk,
                              "results": results}, rows,
                       ["layout", "devices", "seeds", f"s per {FLAGS.chunk}-iteration chunk", "env-steps/s (all seeds)",
                        "vs sequential", "compile + first chunk (s)"], FLAGS.out)
    print(md)


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    from experiments.cli import define_int_list

    flags.DEFINE_string("agent", "diffsr_sac", "agent")
    flags.DEFINE_string("preset", "fast", "preset of the agent")
    flags.DEFINE_string("env", "gymnax/Pendulum-v1", "environment")
    flags.DEFINE_string("backend", None, "Brax backend (default: the preset's)")
    define_int_list("num_seeds", [1, 2, 4, 8, 16], "seed counts")
    flags.DEFINE_list("layouts", ["one"], "one (vmapped on one device) and/or sharded (laid over the devices)")
    flags.DEFINE_integer("cpu_devices", 1, "XLA devices a CPU-only host is split into")
    flags.DEFINE_integer("chunk", 200, "learning iterations per timed call")
    flags.DEFINE_integer("rounds", 3, "alternation rounds; the median is reported")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", None, "output file name (default seeds_<agent>_<preset>)")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
