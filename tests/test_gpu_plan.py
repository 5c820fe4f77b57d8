"""The GPU plan (benchmarks/gpu/) at toy sizes on CPU (--dry_run), through the same script the GPU machine runs, under
the device's rules: output only under --out, at most 8 files two folders deep (the rest packed into one archive), two
seed counts, a variant stopped by its budget keeping its finished rows, and a later call (--keep_from) going on where
the last stopped. The whole plan (every stage, -m slow) leaves the JSON + markdown each stage promises."""

import json
import os
import subprocess
import sys
import tarfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _plan(out, runs, *args):
    """Run the plan's dry run with the test's own temp folder (TMPDIR): the profile stage's compilation cache lives
    there, so a cache left by another run cannot make a variant finish inside a budget meant to stop it."""
    tmp = os.path.join(os.path.dirname(out), "tmp")
    os.makedirs(tmp, exist_ok=True)
    p = subprocess.run(["bash", "benchmarks/gpu/run.sh", "--dry_run", f"--out={out}", f"--runs_root={runs}", *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=1500,
                       env=dict(os.environ, PYTHON=sys.executable, TMPDIR=tmp))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p.stdout


def _load(out, name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)


def _returned(out):
    """What the device would bring back from ``out``: every file, checked against its rules (at most 8, two folders
    deep), then the archive unpacked beside them, as at home."""
    files = [os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs]
    assert len(files) <= 8 and all(f.count(os.sep) < 2 for f in files), files
    if (out / "plan.tar.gz").exists():
        with tarfile.open(out / "plan.tar.gz") as tar:
            tar.extractall(out, filter="data")
    return files


def test_profile_stage_under_the_device_rules(tmp_path):
    """The profile stage's dry run, as two device calls. The first measures diffsr_sac at 1 and 2 seeds; its output is
    packed under the device's file limit. The second carries the first one's results (--keep_from), keeps both
    variants, and starts the third with too little budget (3 s: it needs ~8 s even with its programs cached):
    SIGTERM before it finishes, nothing half-written, the variant listed for the next call."""
    out, runs, home = tmp_path / "out", tmp_path / "runs", tmp_path / "home"
    stdout = _plan(out, runs, "--stage=profile", "--profile_budget_s=900",
                   "--profile_variants=diffsr_sac_light_1,diffsr_sac_light_64")
    files = _returned(out)
    assert "profile.md" in files and len(files) == 6, files  # under the limit: nothing to pack (see test_pack)
    profile = _load(out, "profile.json")
    seeds = {r["label"]: r["num_seeds"] for r in profile["results"]}
    assert seeds == {"diffsr_sac_light_1": 1, "diffsr_sac_light_64": 2}, (seeds, stdout[-2000:])
    for r in profile["results"]:  # every part of the iteration timed, and the census split and clean
        assert r["full_iteration"]["ms"] > 0 and all(c["ms"] > 0 for c in r["components"].values())
        assert r["iteration_census"]["kernels_per_iteration"] > 0 and r["evaluation_census"]["kernels"] > 0
        assert r["census"]["conditionals"] == [] and r["census"]["unbounded_loops"] == []
    # at home: the returned files, unpacked, become the folder the next call carries
    os.makedirs(home)
    for f in os.listdir(out):
        if os.path.isfile(out / f) and f != "plan.tar.gz":
            os.replace(out / f, home / f)
    out2 = tmp_path / "out2"
    again = _plan(out2, runs, "--stage=profile", f"--keep_from={home}", "--profile_budget_s=3",
                  "--profile_variants=diffsr_sac_light_1,diffsr_sac_light_64,sac_light_loops_1")
    _returned(out2)
    for label in ("diffsr_sac_light_1", "diffsr_sac_light_64"):
        assert f"profile_{label}.json is in {out2}: kept" in again, again[-2000:]
    assert "SIGTERM" in again, again[-2000:]
    profile = _load(out2, "profile.json")
    assert {r["label"] for r in profile["results"]} == {"diffsr_sac_light_1", "diffsr_sac_light_64"}, again[-3000:]
    assert profile["not_measured"] == ["sac_light_loops_1"]
    assert not [f for f in os.listdir(out2) if ".tmp" in f]


def test_table1_stage_runs_the_first_unfinished_pair_in_the_tables_order():
    from benchmarks.gpu.plan import TABLE1_AGENTS, TABLE1_TASKS, table1_task

    assert TABLE1_TASKS == ("halfcheetah", "hopper_et", "walker_et", "ant_et") and set(TABLE1_AGENTS) == {"diffsr_sac",
                                                                                                          "sac"}
    done = {"status": "finished"}
    assert table1_task({}, TABLE1_TASKS) == "halfcheetah"
    half = {"runs": {"halfcheetah/diffsr_sac": done, "halfcheetah/sac": {"status": "stopped"}}}
    assert table1_task(half, TABLE1_TASKS) == "halfcheetah"  # a pair is finished only when both agents are
    runs = {f"{t}/{a}": done for t in ("halfcheetah", "hopper_et") for a in TABLE1_AGENTS}
    assert table1_task({"runs": runs}, TABLE1_TASKS) == "walker_et"
    runs.update({f"{t}/{a}": done for t in ("walker_et", "ant_et") for a in TABLE1_AGENTS})
    assert table1_task({"runs": runs}, TABLE1_TASKS) is None


def test_commands_run_at_once_and_share_one_deadline(tmp_path):
    """Two processes run side by side (the pair of the table1 stage): both start before either ends, and one that
    outlives the budget gets SIGTERM at the shared deadline while the other's exit code is kept."""
    from benchmarks.gpu.plan import _python_all

    script = ("import os, signal, sys, time\n"
              "signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))\n"
              "open(sys.argv[1], 'w').close()\n"
              "t = time.time()\n"
              "while not os.path.exists(sys.argv[2]):  # the other one is running too, or this one fails\n"
              "    if time.time() - t > 3: sys.exit(3)\n"
              "    time.sleep(0.01)\n"
              "time.sleep(float(sys.argv[3]))\n")
    (tmp_path / "sleeper.py").write_text(script)
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    t0 = time.time()
    codes = _python_all([("sleeper", [a, b, "0.5"]), ("sleeper", [b, a, "60"])], budget=5, timeout=10,
                        env={"PYTHONPATH": str(tmp_path)})
    assert codes == [0, 7]
    assert time.time() - t0 < 15  # the long one stopped at the deadline, not after its 60 s


def test_pack_keeps_the_device_limit_and_loses_nothing(tmp_path):
    from benchmarks.gpu.plan import ARCHIVE, pack

    out = tmp_path / "out"
    (out / ".trace" / "run" / "deep").mkdir(parents=True)
    written = {f"stage{i}.json": f"{{\"i\": {i}}}" for i in range(9)}
    written.update({"profile.md": "# p", "update_cost.md": "# u", ".trace/run/deep/t.json": "{}"})
    for name, text in written.items():
        (out / name).write_text(text)
    left = pack(str(out), ["profile.md", "missing.md", "update_cost.md"])
    assert sorted(left) == sorted([ARCHIVE, "profile.md", "update_cost.md"])
    with tarfile.open(out / ARCHIVE) as tar:
        assert {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()} == written
    (out / "stage9.json").write_text("new")  # a later call packs again: the archive's files are kept
    (out / "stage0.json").write_text("newer")
    for i in range(6):
        (out / f"more{i}.md").write_text("m")
    pack(str(out), [])
    with tarfile.open(out / ARCHIVE) as tar:
        names = {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}
    assert names["stage9.json"] == "new" and names["stage0.json"] == "newer" and names["stage3.json"] == '{"i": 3}'
    assert os.listdir(out) == [ARCHIVE]
    few = tmp_path / "few"  # within the limit: left as it is
    few.mkdir()
    (few / "a.md").write_text("a")
    assert pack(str(few), []) == ["a.md"]


# ~9 CPU-minutes (about 15 program starts and compiles): run it with -m slow before a session spends device time on
# the plan (the developers' rule: dry-run every device call on the CPU first), not on every commit
@pytest.mark.slow
def test_gpu_plan_dry_run(tmp_path):
    out, runs = tmp_path / "out", tmp_path / "runs"
    _plan(out, runs, "--stage=all", "--profile_budget_s=600")
    _returned(out)
    profile = _load(out, "profile.json")
    # the dry run's variants (plan.DRY_PROFILE_RUNS; not imported: the plan's absl flags would clash with other
    # benchmarks' in this process)
    assert {r["label"] for r in profile["results"]} == {"diffsr_sac_light_1", "diffsr_sac_light_64",
                                                        "sac_light_loops_1"}, profile["not_measured"]
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
    pixels = _load(out, "pixels.json")["results"]
    assert [r["kind"] for r in pixels] == ["env", "update"]
    assert pixels[0]["pixels_decisions_per_s"] > 0 and pixels[0]["pixels_over_state"] > 1  # frames cost something
    assert pixels[1]["ms_per_update"]["frames"] > 0  # the replay layout a pixel run uses
    status = _load(out, "table1_status.json")  # the pair ran at once, both to the end
    assert {k: (r["status"], r["frames"]) for k, r in status["runs"].items()} == {
        "pendulum/sac": ("finished", 600), "pendulum/diffsr_sac": ("finished", 600)}
    assert status["task"] == "pendulum" and status["suite_exit"] == {"diffsr_sac": 0, "sac": 0}
    assert (out / "table1_RESULTS.md").exists() and (out / "table1_pendulum_sac.jsonl").exists()
    for name in ("update_cost", "seeds_sac", "memory"):
        assert (out / f"{name}.md").read_text().count("|") > 10, name
    t0 = time.time()  # a second call (the next device slot) keeps every measured stage and finished pair
    again = _plan(out, runs, "--stage=all", "--pack=false")
    for name in ("profile_diffsr_sac_light_1", "update_cost_highest", "update_cost_default", "seeds_diffsr_sac", "seeds_sac", "memory",
                 "pixels"):
        assert f"{name}.json is in {out}: kept" in again, (name, again[-2000:])
    assert "table1: every pair finished" in again, again[-2000:]  # the status carried: no pair left to run
    assert again.count("finished earlier, skipped") == 1, again[-2000:]  # the manipulation stage's one run
    assert time.time() - t0 < 120
