"""What pixel observations cost (issue 42): env decisions per second with frames (``envs.pixels``) at batch 1 and 8,
beside the same env without them, and the time of one update of DrQ-v2 and of Diff-SR-DrQ-v2 at their presets' sizes.

    python -m benchmarks.pixels_speed
    python -m benchmarks.pixels_speed --envs=playground/CartpoleBalance --sizes=32,84 --update_presets=fast
    python -m benchmarks.pixels_speed --envs= --conv=false --update_agents=drqv2,diffsr_drqv2 --update_presets=fast

Env rows: ``make_env(env, pixels=size, action_repeat=...)`` stepped by one jitted ``vmap`` over ``batch`` envs with
random actions (a decision = ``action_repeat`` physics frames, then one rendered frame pushed into the stack); the time
is the fastest of ``--repeats`` calls after a compiling one, beside the same batch of the env without pixels.
Update rows: each ``--update_agents`` preset's agent on a replay of random frames, one jitted update (a batch of 3-step
segments, two random shifts, the encoder's forward on both ends and its step, the critic's and the actor's; for
``diffsr_drqv2`` the VAE's ELBO step on 4 frames a transition and psi and zeta's score-matching step), median of
``--repeats``.
Conv rows: one 3x3 convolution of the encoder alone, forward vs its kernel's gradient (XLA:CPU computes the latter
many times slower than the former: where a DrQ-v2 update's time goes on this CPU).
Times are this machine's under its load at the time (the markdown states the load average).
"""

from __future__ import annotations

import os
import statistics
import sys

from absl import flags

from benchmarks.common import call_times, replay_of_noise

FLAGS = flags.FLAGS


def env_row(env_name: str, size: int, batch: int) -> dict:
    import jax

    from diffsr_jax.envs import make_env

    row = {"kind": "env", "env": env_name, "pixels": size, "batch": batch, "action_repeat": FLAGS.action_repeat}
    for label, pixels in (("pixels", size), ("state", 0)):
        env = make_env(env_name, physics="native", pixels=pixels, action_repeat=FLAGS.action_repeat)
        states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), batch))
        actions = jax.random.uniform(jax.random.PRNGKey(1), (batch, env.action_dim), minval=-1, maxval=1)
        step = jax.jit(jax.vmap(lambda s, a: env.step(s, a)[0]))
        best = min(call_times(step, states, actions, repeats=FLAGS.repeats))
        row[f"{label}_ms_per_batch"] = 1e3 * best
        row[f"{label}_decisions_per_s"] = batch / best
    row["pixels_over_state"] = row["pixels_ms_per_batch"] / row["state_ms_per_batch"]
    return row


def update_row(agent: str, preset: str) -> dict:
    """One jitted update of ``agent``'s ``preset`` for each of ``--layouts`` (the replay keeping two frames a
    transition, or both stacks), each on its own replay of random frames, timed in alternating rounds."""
    import jax

    from diffsr_jax.data.layout import TransitionLayout
    from diffsr_jax.program.trainer import Trainer
    from experiments.configs import load_preset

    cfg = load_preset(agent, preset)
    cfg.replay.buffer_size = FLAGS.replay
    calls = {}
    for name in FLAGS.layouts:
        trainer = Trainer(cfg, layout=TransitionLayout() if name == "stacks" else None)
        runner = replay_of_noise(trainer, trainer.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(1))
        update = jax.jit(lambda a, s, k, agent=trainer.agent: agent.update(a, s, k, 0)[0])
        calls[name] = (update, runner.agent, trainer.sampler(runner), jax.random.PRNGKey(2))
    times = {name: [] for name in calls}
    for _ in range(FLAGS.rounds):
        for name, (update, *args) in calls.items():
            times[name] += call_times(update, *args, repeats=FLAGS.repeats)
    d = cfg.vae if agent.startswith("diffsr_") else cfg.drqv2
    row = {"kind": "update", "agent": agent, "preset": preset, "pixels": int(cfg.env.pixels),
           "batch": int(cfg.replay.batch_size), "channels": int(d.channels),
           "conv_layers": int(d.layers if agent.startswith("diffsr_") else d.conv_layers),
           "ms_per_update": {name: 1e3 * statistics.median(t) for name, t in times.items()}}
    if len(times) == 2:
        first, second = FLAGS.layouts
        row[f"{first}_over_{second}"] = row["ms_per_update"][first] / row["ms_per_update"][second]
    return row


def conv_rows(size: int, channels: int, batch: int) -> list[dict]:
    import jax
    import jax.numpy as jnp

    rows, side, c_in = [], size, 9
    for layer in range(2):
        stride = 2 if layer == 0 else 1
        x = jax.random.normal(jax.random.PRNGKey(layer), (batch, side, side, c_in))
        k = jax.random.normal(jax.random.PRNGKey(9), (3, 3, c_in, channels))

        def conv(kernel, x, stride=stride):
            return jax.lax.conv_general_dilated(x, kernel, (stride, stride), "VALID",
                                                dimension_numbers=("NHWC", "HWIO", "NHWC")).sum()

        fwd = min(call_times(jax.jit(conv), k, x, repeats=FLAGS.repeats))
        grad_k = min(call_times(jax.jit(jax.grad(conv)), k, x, repeats=FLAGS.repeats))
        grad_x = min(call_times(jax.jit(jax.grad(conv, argnums=1)), k, x, repeats=FLAGS.repeats))
        rows.append({"kind": "conv", "input": f"{batch}x{side}x{side}x{c_in}", "stride": stride, "channels": channels,
                     "forward_ms": 1e3 * fwd, "kernel_grad_ms": 1e3 * grad_k, "input_grad_ms": 1e3 * grad_x,
                     "kernel_grad_over_forward": grad_k / fwd})
        side, c_in = (side - 3) // stride + 1, channels
    return rows


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments: {' '.join(argv[1:])}")
    from benchmarks.common import machine, write_results

    rows = []
    for env_name in FLAGS.envs:
        for size in map(int, FLAGS.sizes):
            for batch in map(int, FLAGS.batch_sizes):
                rows.append(env_row(env_name, size, batch))
                print(rows[-1], flush=True)
    for agent in FLAGS.update_agents:
        for preset in FLAGS.update_presets:
            rows.append(update_row(agent, preset))
            print(rows[-1], flush=True)
    if FLAGS.conv:
        rows += conv_rows(48, 32, 128)
        print(rows[-2:], flush=True)
    table = []
    for r in rows:
        if r["kind"] == "env":
            table.append(["env", r["env"], f"{r['pixels']}x{r['pixels']}", r["batch"],
                          f"{r['pixels_decisions_per_s']:.0f}", f"{r['state_decisions_per_s']:.0f}",
                          f"{r['pixels_over_state']:.2f}"])
        elif r["kind"] == "update":
            ms = " / ".join(f"{name} {t:.1f} ms" for name, t in r["ms_per_update"].items())
            ratio = next((f"{v:.3f} ({k})" for k, v in r.items() if k.endswith("_over_stacks")), "")
            table.append([f"{r['agent']} update", r["preset"], f"{r['pixels']}x{r['pixels']}", r["batch"], ms, "",
                          ratio])
        else:
            table.append(["conv 3x3", r["input"], f"stride {r['stride']}", "", f"fwd {r['forward_ms']:.1f} ms",
                          f"kernel grad {r['kernel_grad_ms']:.1f} ms", f"{r['kernel_grad_over_forward']:.1f}"])
    md = write_results(FLAGS.name, {"machine": machine(), "command": " ".join(sys.argv),
                                    "load_at_start": os.getloadavg(), "results": rows}, table,
                       ["what", "env / preset / input", "pixels", "batch", "with pixels (decisions/s) / time",
                        "state only (decisions/s)", "ratio"], FLAGS.out)
    print(md)


def define_flags():
    from experiments.cli import define_int_list

    flags.DEFINE_list("envs", ["playground/CartpoleBalance", "brax/halfcheetah"], "envs the camera can draw")
    define_int_list("sizes", [32, 48, 84], "square frame sizes in pixels")
    define_int_list("batch_sizes", [1, 8], "envs stepped in one vmapped call")
    flags.DEFINE_integer("action_repeat", 2, "physics frames per decision")
    flags.DEFINE_list("update_agents", ["drqv2", "diffsr_drqv2"], "pixel agents whose update is timed")
    flags.DEFINE_list("update_presets", ["fast", "paper"], "their presets whose update is timed")
    flags.DEFINE_integer("replay", 2_000, "transitions of random frames the update samples from")
    flags.DEFINE_list("layouts", ["frames"], "replay layouts whose updates are timed, alternately: frames (two frames a "
                      "transition, data.layout.FrameLayout, the runs'), stacks (both stacks)")
    flags.DEFINE_integer("rounds", 1, "alternating rounds of --repeats calls per layout")
    flags.DEFINE_bool("conv", True, "time one conv layer's forward and gradients")
    flags.DEFINE_integer("repeats", 5, "timed calls")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "pixels_speed", "output file name")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
