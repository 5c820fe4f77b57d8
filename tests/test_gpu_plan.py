"""The GPU plan (benchmarks/gpu/) runs end to end at toy sizes on CPU (--dry_run), through the same script the GPU
machine runs, and every stage leaves the JSON + markdown the plan promises; the run stage is resumable (a second
call keeps the stages already measured and finds its runs finished, so it does not measure or train again)."""

import json
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _plan(out, runs, *args):
    p = subprocess.run(["bash", "benchmarks/gpu/run.sh", "--dry_run", f"--out={out}", f"--runs_root={runs}", *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=1500,
                       env=dict(os.environ, PYTHON=sys.executable))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p.stdout


def _load(out, name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)


# ~9 CPU-minutes (about 15 program starts and compiles): run it with -m slow before a session spends device time on
# the plan (the developers' rule: dry-run every device call on the CPU first), not on every commit
@pytest.mark.slow
def test_gpu_plan_dry_run(tmp_path):
    out, runs = tmp_path / "out", tmp_path / "runs"
    _plan(out, runs, "--stage=all", "--profile_budget_s=400", "--profile_min_s=1")
    profile = _load(out, "profile.json")
    # the dry run's variants (plan.DRY_PROFILE_RUNS; not imported: the plan's absl flags would clash with other
    # benchmarks' in this process)
    assert {r["label"] for r in profile["results"]} == {"diffsr_sac_light", "sac_light_loops"}, profile["not_measured"]
    for r in profile["results"]:  # every part of the iteration timed, and the learning chunk's census
        assert r["full_iteration"]["ms"] > 0 and all(c["ms"] > 0 for c in r["components"].values())
        assert r["census"]["conditionals"] == [] and r["census"]["unbounded_loops"] == []
    assert (out / "profile.md").read_text().count("|") > 10
    cost = _load(out, "update_cost.json")["results"]
    assert {(r["preset"], r["matmul_precision"]) for r in cost} == {
        ("sac:fast", "highest"), ("diffsr_sac:fast", "highest"), ("sac:fast", "default"), ("diffsr_sac:fast", "default")}
    assert all(r["ms_per_update"] > 0 and r["cpu_over_device"] > 0 for r in cost)  # a ratio to the CPU reference
    for agent in ("diffsr_sac", "sac"):
        seeds = _load(out, f"seeds_{agent}.json")["results"]
        assert [r["num_seeds"] for r in seeds] == [1, 2] and all(r["env_steps_per_s"] > 0 for r in seeds)
    memory = _load(out, "memory.json")["results"]
    assert [r["mode"] for r in memory] == ["donate", "copy"] and all(r["state_bytes"] > 0 for r in memory)
    status = _load(out, "run_status.json")
    assert {a: (r["status"], r["frames"]) for a, r in status["runs"].items()} == {
        "sac": ("finished", 600), "diffsr_sac": ("finished", 600)}
    assert (out / "run_RESULTS.md").exists() and (out / "run_sac.jsonl").exists()
    for name in ("update_cost", "seeds_sac", "memory"):
        assert (out / f"{name}.md").read_text().count("|") > 10, name
    t0 = time.time()  # a second call (the next device slot) keeps every measured stage and skips the finished runs
    again = _plan(out, runs, "--stage=all")
    for name in ("profile", "update_cost_highest", "update_cost_default", "seeds_diffsr_sac", "seeds_sac", "memory"):
        assert f"{name}.json is in {out}: kept" in again, (name, again[-2000:])
    assert again.count("finished earlier, skipped") == 2, again[-2000:]
    assert time.time() - t0 < 120
