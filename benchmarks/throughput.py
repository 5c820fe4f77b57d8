"""Env-steps/s of a training run (act, env step, replay, update) for one env per family, and compile time
cold vs with the persistent compilation cache warm.

    python -m benchmarks.throughput                       # SAC fast preset on gymnax, brax, playground
    python -m benchmarks.throughput --agent=diffsr_sac --envs=gymnax/Pendulum-v1
    python -m benchmarks.throughput --agent=diffsr_sac,diffsr_td3,sac,td3,polygrad,diffusion_planner \
        --preset=paper --envs=gymnax/Pendulum-v1 --chunk=20 --repeats=1 --name=compile_paper   # compile per preset

Each env is measured in two fresh subprocesses sharing a new cache directory: the first compiles cold, the
second finds the cache warm. Steady-state speed is the median of timed chunks after compilation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from absl import flags

FLAGS = flags.FLAGS


def measure_one(env: str, agent: str) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    if FLAGS.cache:
        jax.config.update("jax_compilation_cache_dir", FLAGS.cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    from diffsr_jax.program import Trainer

    from experiments.configs import load_preset
    cfg = load_preset(agent, FLAGS.preset)
    cfg.env.name = env
    cfg.run.warmup_steps = 0  # measure learning iterations
    cfg.run.total_steps = FLAGS.chunk * (FLAGS.repeats + 1)
    t0 = time.time()
    trainer = Trainer(cfg)
    from diffsr_jax.training.devices import over_members

    t_env = time.time() - t0
    keys = jax.random.split(jax.random.PRNGKey(0), FLAGS.num_seeds)
    hp = jax.tree_util.tree_map(lambda v: jnp.broadcast_to(v, (FLAGS.num_seeds,)), trainer.default_hparams())
    init = over_members(trainer.init, None, in_axes=(0, 0))  # the seeds mapped as a run maps them
    chunk = over_members(lambda r, t: trainer.run_iterations(r, t, FLAGS.chunk), None, in_axes=(0, None))
    t0 = time.time()
    runner = jax.block_until_ready(init(keys, hp))
    compiled = chunk.lower(runner, jnp.int32(0)).compile()
    compile_s = time.time() - t0
    runner, _ = jax.block_until_ready(compiled(runner, jnp.int32(0)))  # first run (allocations)
    times = []
    for i in range(FLAGS.repeats):
        t0 = time.time()
        runner, m = jax.block_until_ready(compiled(runner, jnp.int32((i + 1) * FLAGS.chunk)))
        times.append(time.time() - t0)
    sps = FLAGS.chunk * trainer.num_envs * FLAGS.num_seeds / float(np.median(times))
    return {"env": env, "agent": agent, "preset": FLAGS.preset, "env_build_s": t_env, "compile_s": compile_s,
            "env_steps_per_s": sps, "ms_per_iteration": 1e3 * float(np.median(times)) / FLAGS.chunk}


def main(_):
    if FLAGS.single:
        print("RESULT " + json.dumps(measure_one(FLAGS.single, FLAGS.agent[0])))
        return
    from benchmarks.common import machine, write_results

    results = []
    for env, agent in [(e, a) for a in FLAGS.agent for e in FLAGS.envs]:
        with tempfile.TemporaryDirectory() as cache:
            runs = []
            for _ in range(2):
                cmd = [sys.executable, "-m", "benchmarks.throughput", f"--single={env}", f"--cache={cache}",
                       f"--agent={agent}", f"--preset={FLAGS.preset}", f"--chunk={FLAGS.chunk}", f"--repeats={FLAGS.repeats}",
                       f"--num_seeds={FLAGS.num_seeds}"]
                p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH="."))
                line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
                if not line:
                    sys.exit(f"error: measuring {env} failed:\n{p.stderr[-2000:]}")
                runs.append(json.loads(line[0][7:]))
        r = {**runs[0], "compile_cold_s": runs[0]["compile_s"], "compile_warm_s": runs[1]["compile_s"],
             "env_steps_per_s": max(runs[0]["env_steps_per_s"], runs[1]["env_steps_per_s"])}
        results.append(r)
        print(f"{agent}:{FLAGS.preset} {env}: {r['env_steps_per_s']:.0f} env-steps/s, compile cold {r['compile_cold_s']:.1f}s, "
              f"warm {r['compile_warm_s']:.1f}s", flush=True)
    rows = [[f"{r['agent']}:{r['preset']}", r["env"], f"{r['env_steps_per_s']:.0f}", f"{r['ms_per_iteration']:.2f}", f"{r['compile_cold_s']:.1f}",
             f"{r['compile_warm_s']:.1f}"] for r in results]
    name = FLAGS.name or f"throughput_{'_'.join(FLAGS.agent)}"
    md = write_results(name, {"machine": machine(), "command": " ".join(sys.argv),
                                                      "num_seeds": FLAGS.num_seeds, "results": results}, rows,
                       ["preset", "env", "env-steps/s", "ms/iteration", "compile cold (s)", "compile warm (s)"], FLAGS.out)
    print(md)


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_list("agent", ["sac"], "agents whose preset is measured")
    flags.DEFINE_string("preset", "fast", "preset of every agent")
    flags.DEFINE_string("name", None, "output name (default throughput_<agents>)")
    flags.DEFINE_list("envs", ["gymnax/Pendulum-v1", "brax/hopper", "playground/CartpoleSwingup"], "envs to measure")
    flags.DEFINE_integer("chunk", 500, "iterations per timed chunk")
    flags.DEFINE_integer("repeats", 3, "timed chunks")
    flags.DEFINE_integer("num_seeds", 1, "vmapped seeds")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("single", None, "internal: measure this env in this process and print JSON")
    flags.DEFINE_string("cache", None, "internal: compilation cache dir")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
