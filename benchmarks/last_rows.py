"""Each agent's short run, its last metrics row per seed: the check that a change meant to keep behaviour (a
refactor, a rename) kept it. Run before the change, then after, and compare.

    python -m benchmarks.last_rows --out=/tmp/before.json                     # at the revision before the change
    python -m benchmarks.last_rows --out=/tmp/after.json --compare=/tmp/before.json

Every agent (and Diff-SR-SAC with the optimism bonus, the one option that adds a term to the TD target) trains its
``fast`` preset on gymnax/Pendulum-v1 through the launcher, 2 seeds, 600 frames (300 of them random warm-up, one
evaluation at 300 and one at 600, 2 episodes each). ``--compare`` lists every number of the last rows that moved by
more than ``--rtol`` (relative, with an absolute floor of 1e-6); timing columns (``run/``) are left out. Exit 1 when
any moved.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile

from absl import flags

FLAGS = flags.FLAGS
RUNS = {  # label -> (agent, extra launcher flags)
    "sac": ("sac", []), "td3": ("td3", []), "ddpg": ("ddpg", []), "diffsr_sac": ("diffsr_sac", []),
    "diffsr_td3": ("diffsr_td3", []), "diffsr_ddpg": ("diffsr_ddpg", []), "polygrad": ("polygrad", []),
    "diffusion_planner": ("diffusion_planner", []),
    "diffsr_sac_optimism": ("diffsr_sac", ["--config.optimism.enabled=True"]),
}
BUDGET = ["--env=gymnax/Pendulum-v1", "--num_seeds=2", "--total_steps=600", "--config.run.warmup_steps=300",
          "--config.run.eval_every=300", "--config.run.eval_episodes=2", "--tensorboard=false"]


def last_rows(label: str, workdir: str) -> list[dict]:
    """The last metrics row of each seed of ``label``'s run (timing columns dropped)."""
    agent, extra = RUNS[label]
    logdir = os.path.join(workdir, label)
    cmd = [sys.executable, "-m", "experiments.train", f"--agent={agent}", *BUDGET, *extra, f"--logdir={logdir}"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"error: {label}: the run failed (exit {p.returncode}): {p.stderr.strip().splitlines()[-1:]}")
    with open(os.path.join(logdir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    last = {}
    for r in rows:
        last[r.get("seed", 0), r.get("setting", 0)] = r
    return [{k: v for k, v in r.items() if not k.startswith("run/")} for _, r in sorted(last.items())]


def moved(before: dict, after: dict, rtol: float) -> list[str]:
    """'label[i].name: before -> after' for every number that moved by more than rtol (or appeared / vanished)."""
    out = []
    for label in sorted(set(before) | set(after)):
        b_rows, a_rows = before.get(label), after.get(label)
        if b_rows is None or a_rows is None or len(b_rows) != len(a_rows):
            out.append(f"{label}: rows {None if b_rows is None else len(b_rows)} -> "
                       f"{None if a_rows is None else len(a_rows)}")
            continue
        for i, (b, a) in enumerate(zip(b_rows, a_rows)):
            for name in sorted(set(b) | set(a)):
                x, y = b.get(name), a.get(name)
                if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                    same = (math.isnan(x) and math.isnan(y)) or abs(x - y) <= max(rtol * abs(x), 1e-6)
                else:
                    same = x == y
                if not same:
                    out.append(f"{label}[{i}].{name}: {x} -> {y}")
    return out


def main(argv):
    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments: {' '.join(argv[1:])}")
    labels = FLAGS.runs or list(RUNS)
    unknown = [x for x in labels if x not in RUNS]
    if unknown:
        raise SystemExit(f"error: --runs: no run {', '.join(unknown)}; the runs are {', '.join(RUNS)}")
    workdir = FLAGS.workdir or tempfile.mkdtemp(prefix="last_rows_")
    result = {}
    for label in labels:
        result[label] = last_rows(label, workdir)
        print(f"{label}: {len(result[label])} rows", flush=True)
    with open(FLAGS.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    if FLAGS.compare:
        with open(FLAGS.compare) as f:
            before = {k: v for k, v in json.load(f).items() if k in result}
        diffs = moved(before, result, FLAGS.rtol)
        print("\n".join(diffs) if diffs else f"every number of the last rows within rtol {FLAGS.rtol}: the same")
        if diffs:
            raise SystemExit(1)


def define_flags():
    flags.DEFINE_string("out", "last_rows.json", "where to write {label: [last row per seed]}")
    flags.DEFINE_string("compare", None, "a file written before the change: list what moved")
    flags.DEFINE_list("runs", [], f"which runs (default all: {', '.join(RUNS)})")
    flags.DEFINE_float("rtol", 1e-5, "relative tolerance of --compare")
    flags.DEFINE_string("workdir", None, "where the runs live (default: a fresh temporary folder)")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
