"""Peak memory of a run's chunk with and without donating the run state (replay included) to it.

    python -m benchmarks.memory                               # 16 seeds x a 1M-transition replay, brax/halfcheetah
    python -m benchmarks.memory --num_seeds=4 --buffer_size=100000 --backend=spring

Each mode runs in a fresh process: the launcher's compiled unit (``Trainer.chunk``, with the run state donated or
not) and the init are compiled from shapes first, then the run state of ``num_seeds`` members is initialised and
``chunks + 1`` chunks of ``chunk`` iterations run. Reported: the replay's and the whole run state's size, and the
peak memory while the chunks run (the peak is started over after the init) above the compiled baseline: the run
state plus what a chunk holds besides it. Measured as the process's resident set on CPU (VmHWM, reset through
/proc/self/clear_refs), the device allocator's ``peak_bytes_in_use`` on a GPU (which cannot be reset: there the
init's peak is included). Writes <out>/<name>.{json,md}.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys

from absl import flags

FLAGS = flags.FLAGS


def _memory() -> tuple[str, int, int]:
    """(what is measured, bytes in use now, peak bytes so far): the device's allocator on a GPU, the process's
    resident set (VmRSS, VmHWM) on CPU."""
    import jax

    dev = jax.devices()[0]
    if dev.platform != "cpu":
        stats = dev.memory_stats() or {}
        return "device bytes", int(stats.get("bytes_in_use", 0)), int(stats.get("peak_bytes_in_use", 0))
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                status[line.split(":")[0]] = int(line.split()[1]) * 1024
    return "process resident set", status["VmRSS"], status["VmHWM"]


def _reset_peak() -> None:
    """Start the peak over from now: the process's VmHWM on CPU (``/proc/self/clear_refs``), the device allocator's
    peak on a GPU where it can be reset."""
    import jax

    dev = jax.devices()[0]
    if dev.platform == "cpu":
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")


def measure(mode: str) -> dict:
    import jax
    import jax.numpy as jnp

    from diffsr_jax.program import Trainer
    from diffsr_jax.training.devices import over_members
    from diffsr_jax.training.members import make_members
    from experiments.configs import load_preset

    cfg = load_preset(FLAGS.agent, FLAGS.preset)
    cfg.env.name = FLAGS.env
    if FLAGS.backend:
        cfg.env.backend = FLAGS.backend
    cfg.run.num_seeds = FLAGS.num_seeds
    cfg.run.total_steps = FLAGS.buffer_size * int(cfg.env.action_repeat)  # capacity = min(buffer, the run's transitions)
    cfg.run.warmup_steps = FLAGS.chunk // 2
    cfg.replay.buffer_size = FLAGS.buffer_size
    cfg.replay.capacity = FLAGS.buffer_size
    cfg.run.eval_episodes = 1  # the evaluation's buffers are not what is measured
    trainer = Trainer(cfg)
    _, keys, hp = make_members(cfg, trainer.default_hparams())
    init = over_members(trainer.init, None, in_axes=(0, 0))
    chunk = over_members(functools.partial(trainer.chunk, num_iters=FLAGS.chunk), None, in_axes=(0, None),
                         donate=(0,) if mode == "donate" else ())
    # compile first, from shapes: the compiler's own memory is then in the baseline, not in the run's peak
    compiled = chunk.lower(jax.eval_shape(init, keys, hp), jnp.int32(0)).compile()
    init = init.lower(keys, hp).compile()
    kind, _, baseline = _memory()
    runner = jax.block_until_ready(init(keys, hp))
    state_bytes = sum(x.nbytes for x in jax.tree_util.tree_leaves(runner))
    replay_bytes = sum(x.nbytes for x in jax.tree_util.tree_leaves(runner.buffer))
    _, after_init, init_peak = _memory()
    _reset_peak()
    for i in range(FLAGS.chunks + 1):
        runner, _ = jax.block_until_ready(compiled(runner, jnp.int32(i * FLAGS.chunk)))
    _, _, peak = _memory()
    return {"mode": mode, "replay_bytes": replay_bytes, "state_bytes": state_bytes, "peak_kind": kind,
            "baseline_bytes": baseline, "after_init_bytes": after_init, "init_peak_bytes": init_peak,
            "peak_bytes": peak, "run_peak_bytes": peak - baseline}


def main(_):
    if FLAGS.mode:
        print("RESULT " + json.dumps(measure(FLAGS.mode)), flush=True)
        return
    from benchmarks.common import machine, write_results
    from experiments.configs import load_preset

    load_preset(FLAGS.agent, FLAGS.preset)  # an unknown agent or preset: one line (ConfigError), before measuring
    results = []
    for mode in ("donate", "copy"):
        args = [a for a in sys.argv[1:] if not a.startswith("--mode")] + [f"--mode={mode}"]
        p = subprocess.run([sys.executable, "-m", "benchmarks.memory", *args], capture_output=True, text=True)
        line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{mode}: failed\n{p.stderr[-2000:]}", file=sys.stderr)
            continue
        results.append(json.loads(line[len("RESULT "):]))
        r = results[-1]
        print(f"{mode}: replay {r['replay_bytes'] / 1e9:.2f} GB, run state {r['state_bytes'] / 1e9:.2f} GB, "
              f"{r['peak_kind']}: peak {r['peak_bytes'] / 1e9:.2f} GB, {r['run_peak_bytes'] / 1e9:.2f} GB above the "
              "compiled baseline", flush=True)
    if not results:
        raise SystemExit("error: no measurement finished (each one's error is above); nothing written")
    gb = lambda b: f"{b / 1e9:.2f}"  # noqa: E731
    rows = [[r["mode"], gb(r["replay_bytes"]), gb(r["state_bytes"]), gb(r["run_peak_bytes"]),
             f"{r['run_peak_bytes'] / r['state_bytes']:.2f}", gb(r["peak_bytes"]), r["peak_kind"]] for r in results]
    md = write_results(FLAGS.name, {"machine": machine(), "command": " ".join(["python -m benchmarks.memory",
                                    *sys.argv[1:]]), "agent": FLAGS.agent, "env": FLAGS.env,
                                    "num_seeds": FLAGS.num_seeds, "buffer_size": FLAGS.buffer_size,
                                    "results": results}, rows,
                       ["run state", "replay (GB)", "whole run state (GB)", "peak above compiled baseline (GB)",
                        "peak / run state", "peak incl. runtime + compiler (GB)", "measured as"], FLAGS.out)
    print(md)


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_string("agent", "diffsr_sac", "agent")
    flags.DEFINE_string("preset", "fast", "preset")
    flags.DEFINE_string("env", "brax/halfcheetah", "environment")
    flags.DEFINE_string("backend", "spring", "Brax backend ('' keeps the preset's; the replay's size does not depend on it)")
    flags.DEFINE_integer("num_seeds", 16, "members")
    flags.DEFINE_integer("buffer_size", 1_000_000, "replay transitions per member")
    flags.DEFINE_integer("chunk", 20, "iterations per chunk")
    flags.DEFINE_integer("chunks", 2, "chunks run after the first (compiling) one")
    flags.DEFINE_string("mode", None, "internal: donate | copy (one measurement in this process)")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "memory_donation", "output file name")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
