"""What a run over several processes (jax.distributed) costs against one process on the same devices.

The same launcher command in two layouts over the same number of XLA devices: one process with D CPU devices, and
P processes with D / P devices each (localhost coordinator). The layouts alternate for ``--rounds`` rounds so both
see the same machine load; the persistent compilation cache is off, so every start compiles.

    python -m benchmarks.processes_overhead --agent=sac --num_seeds=4 --devices=2 --processes=2

Per layout (medians over rounds): the command's wall clock, the time to the first logged chunk (start-up, joining,
compiling, the warm-up chunk), and the steady-state env frames/s of the learning chunks (all members), from the
run's own metrics rows (``run/wall_time``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from absl import flags

FLAGS = flags.FLAGS
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _launch(logdir: str, processes: int, devices_per_process: int) -> float:
    """Run the configured command as ``processes`` processes; returns the wall clock of the slowest."""
    args = [sys.executable, "-m", "experiments.train", f"--agent={FLAGS.agent}", f"--num_seeds={FLAGS.num_seeds}",
            f"--total_steps={FLAGS.total_steps}", f"--eval_every={FLAGS.eval_every}", "--tensorboard=false",
            "--compile_cache=", f"--config.run.cpu_devices={devices_per_process}", f"--logdir={logdir}",
            f"--config.run.warmup_steps={FLAGS.warmup_frames}",
            *[f"--config.{s}" for s in FLAGS.set]]
    if processes > 1:
        args += [f"--num_processes={processes}", f"--coordinator=localhost:{_free_port()}"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    t0 = time.time()
    procs = [subprocess.Popen(args + ([f"--process_id={i}"] if processes > 1 else []), cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(processes)]
    for i, p in enumerate(procs):
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"process {i} of the {processes}-process layout failed: {err.strip().splitlines()[-1]}")
    return time.time() - t0


def _measure(logdir: str, wall: float) -> dict:
    rows = [json.loads(x) for x in open(os.path.join(logdir, "metrics.jsonl"))]
    per_chunk = {}
    for r in rows:  # one wall time per chunk (every member's row carries it)
        per_chunk[r["frames"]] = r["run/wall_time"]
    frames = sorted(per_chunk)
    learning = [f for f in frames if f > FLAGS.warmup_frames]
    first, last = learning[0], learning[-1]
    steady = (last - first) * FLAGS.num_seeds / (per_chunk[last] - per_chunk[first])
    return {"wall_s": wall, "first_chunk_s": per_chunk[frames[0]], "steady_frames_per_s": steady}


def main(_):
    import numpy as np

    from benchmarks.common import write_results

    layouts = {"1 process": (1, FLAGS.devices), f"{FLAGS.processes} processes": (FLAGS.processes,
                                                                                   FLAGS.devices // FLAGS.processes)}
    if FLAGS.devices % FLAGS.processes or FLAGS.num_seeds % FLAGS.devices:
        raise SystemExit("--devices must divide over --processes and --num_seeds over --devices")
    runs = {name: [] for name in layouts}
    work = tempfile.mkdtemp(prefix="processes_overhead_")
    try:
        for r in range(FLAGS.rounds):
            for name, (procs, per) in layouts.items():
                logdir = os.path.join(work, f"{name.replace(' ', '_')}_{r}")
                runs[name].append(_measure(logdir, _launch(logdir, procs, per)))
                print(f"round {r} {name}: {runs[name][-1]}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {name: {k: float(np.median([m[k] for m in ms])) for k in ms[0]} for name, ms in runs.items()}
    base = summary["1 process"]
    rows = [[name, f"{layouts[name][0]} x {layouts[name][1]} CPU device(s)", f"{s['wall_s']:.0f}",
             f"{s['first_chunk_s']:.0f}", f"{s['steady_frames_per_s']:.0f}",
             f"{s['steady_frames_per_s'] / base['steady_frames_per_s']:.2f}"] for name, s in summary.items()]
    machine = {"cpu_count": os.cpu_count(), "python": sys.version.split()[0], "date": time.strftime("%Y-%m-%d %H:%M")}
    print(write_results(FLAGS.name, {"machine": machine, "command": " ".join(sys.argv), "agent": FLAGS.agent,
                                     "num_seeds": FLAGS.num_seeds, "total_steps": FLAGS.total_steps,
                                     "rounds": FLAGS.rounds, "runs": runs, "median": summary}, rows,
                        ["layout", "devices", "wall s", "to first chunk s", "steady frames/s (all seeds)",
                         "steady vs 1 process"], FLAGS.out))


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_string("agent", "sac", "agent (its fast preset)")
    flags.DEFINE_integer("num_seeds", 4, "seeds (a multiple of --devices)")
    flags.DEFINE_integer("devices", 2, "XLA CPU devices in all, in both layouts")
    flags.DEFINE_integer("processes", 2, "processes of the multi-process layout")
    flags.DEFINE_integer("total_steps", 4000, "env frames per seed")
    flags.DEFINE_integer("eval_every", 500, "env frames per chunk")
    flags.DEFINE_integer("warmup_frames", 1000, "warm-up env frames (the chunks after it are timed)")
    flags.DEFINE_list("set", [], "extra config overrides group.field=value")
    flags.DEFINE_integer("rounds", 2, "alternating rounds (median)")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "processes_overhead", "output name")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
