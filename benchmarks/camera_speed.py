"""What a frame of ``envs.camera`` costs: ms per frame at each resolution and batch size, against one env step.

    python -m benchmarks.camera_speed --envs=brax/halfcheetah,brax/hopper --sizes=48,64,84 --batch_sizes=1,8

Each env is reset (a batch of ``b`` initial states, then ``--warm_steps`` random steps so that bodies have moved), its
frames rendered by one jitted ``vmap`` of ``camera.render`` (the camera tracks the env's first body, 4 m away from the
side); the time is the fastest of ``--repeats`` calls after a compiling one, beside the same batch's env step timed
the same way. Times are this machine's under its load at the time (the markdown states the load average).
"""

from __future__ import annotations

import os
import sys
import time

from absl import flags

FLAGS = flags.FLAGS


def _best(fn, *args, repeats: int) -> float:
    from benchmarks.common import call_times

    return min(call_times(fn, *args, repeats=repeats))


def measure(env_name: str, size: int, batch: int) -> dict:
    import jax
    import jax.numpy as jnp

    from diffsr_jax.envs import make_env
    from diffsr_jax.envs.camera import Camera, render

    env = make_env(env_name, physics="native")
    model = env.system
    inner = env.backend_env
    keys = jax.random.split(jax.random.PRNGKey(0), batch)
    states = jax.jit(jax.vmap(inner.reset))(keys)
    step = jax.jit(jax.vmap(inner.step))
    actions = jnp.zeros((batch, env.action_dim))
    for i in range(FLAGS.warm_steps):
        a = jax.random.uniform(jax.random.PRNGKey(i), (batch, env.action_dim), minval=-1, maxval=1)
        states = step(states, a)
    camera = Camera(height=size, width=size, body=1)
    frames = jax.jit(jax.vmap(lambda s: render(model, s.pipeline_state, camera)))
    t0 = time.perf_counter()
    jax.block_until_ready(frames(states))
    compile_s = time.perf_counter() - t0
    render_s = _best(frames, states, repeats=FLAGS.repeats)
    step_s = _best(step, states, actions, repeats=FLAGS.repeats)
    return {"env": env_name, "size": size, "batch": batch, "ms_per_frame": 1e3 * render_s / batch,
            "ms_per_batch": 1e3 * render_s, "env_step_ms_per_batch": 1e3 * step_s,
            "frame_over_step": render_s / step_s, "compile_s": compile_s, "geoms": int(model.ngeom)}


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments: {' '.join(argv[1:])}")
    from benchmarks.common import machine, write_results

    rows = []
    for env_name in FLAGS.envs:
        for size in map(int, FLAGS.sizes):
            for batch in map(int, FLAGS.batch_sizes):
                r = measure(env_name, size, batch)
                rows.append(r)
                print(r, flush=True)
    table = [[r["env"], f"{r['size']}x{r['size']}", r["batch"], f"{r['ms_per_frame']:.2f}", f"{r['ms_per_batch']:.2f}",
              f"{r['env_step_ms_per_batch']:.2f}", f"{r['frame_over_step']:.2f}", f"{r['compile_s']:.1f}"]
             for r in rows]
    md = write_results(FLAGS.name, {"machine": machine(), "command": " ".join(sys.argv),
                                    "load_at_start": os.getloadavg(), "results": rows}, table,
                       ["env", "pixels", "batch", "ms/frame", "ms/batch", "env step ms/batch", "frames / step",
                        "compile s"], FLAGS.out)
    print(md)


def define_flags():
    from experiments.cli import define_int_list

    flags.DEFINE_list("envs", ["brax/halfcheetah", "brax/hopper"], "Brax envs on the mjx backend")
    define_int_list("sizes", [48, 64, 84], "square frame sizes in pixels")
    define_int_list("batch_sizes", [1, 8], "envs rendered in one vmapped call")
    flags.DEFINE_integer("warm_steps", 20, "random env steps before timing, so that the bodies have moved")
    flags.DEFINE_integer("repeats", 10, "timed calls; the fastest is kept")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "camera_speed", "output file name")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
