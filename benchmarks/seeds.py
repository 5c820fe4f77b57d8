"""Wall-clock of ONE compiled training program as the number of vmapped seeds grows.

    python -m benchmarks.seeds                                     # diffsr_sac fast, gymnax/Pendulum-v1
    python -m benchmarks.seeds --agent=sac --num_seeds=1,2,4,8,16 --chunk=500

For each seed count the chunk program (act, env step, replay, update for every seed) is compiled, then all are
timed in alternating rounds. Reported: seconds per chunk, total env-steps/s, and the speed-up over running the
seeds one after another (n x time(1 seed) / time(n seeds)). Writes benchmarks/results/seeds_<agent>.{json,md}.
"""

from __future__ import annotations

import sys
import time

from absl import app, flags

flags.DEFINE_string("agent", "diffsr_sac", "agent whose fast preset is measured")
flags.DEFINE_string("env", "gymnax/Pendulum-v1", "environment")
flags.DEFINE_list("num_seeds", ["1", "2", "4", "8", "16"], "seed counts")
flags.DEFINE_integer("chunk", 200, "learning iterations per timed call")
flags.DEFINE_integer("rounds", 3, "alternation rounds; the median is reported")
flags.DEFINE_string("out", "benchmarks/results", "output directory")
FLAGS = flags.FLAGS


def main(_):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from benchmarks.common import machine, write_results
    from diffsr_jax.training import Trainer

    from experiments.configs import load_preset
    cfg = load_preset(FLAGS.agent, "fast")
    cfg.env.name = FLAGS.env
    cfg.run.warmup_steps = 0
    cfg.run.total_steps = FLAGS.chunk * (FLAGS.rounds + 1)
    trainer = Trainer(cfg)
    counts = [int(n) for n in FLAGS.num_seeds]
    progs = {}
    for n in counts:
        t0 = time.perf_counter()
        hp = jax.tree_util.tree_map(lambda v, n=n: jnp.broadcast_to(v, (n,)), trainer.default_hparams())
        runner = jax.jit(jax.vmap(trainer.init))(jax.random.split(jax.random.PRNGKey(0), n), hp)
        run = jax.jit(jax.vmap(lambda r, t: trainer.run_iterations(r, t, FLAGS.chunk), in_axes=(0, None)))
        run = run.lower(runner, jnp.int32(0)).compile()
        runner, _ = jax.block_until_ready(run(runner, jnp.int32(0)))
        progs[n] = [run, runner, time.perf_counter() - t0, []]
        print(f"compiled {n} seeds in {progs[n][2]:.1f}s", flush=True)
    for r in range(FLAGS.rounds):
        for n in counts:
            run, runner, _, times = progs[n]
            t0 = time.perf_counter()
            progs[n][1], _ = jax.block_until_ready(run(runner, jnp.int32((r + 1) * FLAGS.chunk)))
            times.append(time.perf_counter() - t0)
    base = float(np.median(progs[counts[0]][3])) / counts[0]
    results = []
    for n in counts:
        t = float(np.median(progs[n][3]))
        results.append({"num_seeds": n, "s_per_chunk": t, "env_steps_per_s": n * FLAGS.chunk / t,
                        "speedup_vs_sequential": n * base / t, "compile_s": progs[n][2]})
        print(f"{n} seeds: {t:.2f} s/chunk, {n * FLAGS.chunk / t:.0f} env-steps/s, "
              f"{n * base / t:.2f}x vs one after another", flush=True)
    rows = [[r["num_seeds"], f"{r['s_per_chunk']:.2f}", f"{r['env_steps_per_s']:.0f}",
             f"{r['speedup_vs_sequential']:.2f}x", f"{r['compile_s']:.0f}"] for r in results]
    md = write_results(f"seeds_{FLAGS.agent}", {"machine": machine(),
                       "command": " ".join(["python -m benchmarks.seeds", *sys.argv[1:]]),
                       "agent": FLAGS.agent, "env": FLAGS.env, "chunk": FLAGS.chunk, "results": results}, rows,
                       ["seeds", f"s per {FLAGS.chunk}-step chunk", "env-steps/s (all seeds)",
                        "vs sequential", "compile (s)"], FLAGS.out)
    print(md)


if __name__ == "__main__":
    app.run(main)
