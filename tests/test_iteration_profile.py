"""benchmarks.iteration_profile at toy sizes: every component timed, the parts positive, the chunk's census."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from benchmarks.iteration_profile import COMPONENTS, parse_variants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_parse_variants():
    assert parse_variants("native:env.physics=native;light:env.physics=light,run.updates_per_step=2") == [
        ("native", ["env.physics=native"]), ("light", ["env.physics=light", "run.updates_per_step=2"])]
    assert parse_variants("") == []
    assert parse_variants("plain:") == [("plain", [])]
    for bad in ("nolabel", "a:x.y=1;a:x.y=2", ":x.y=1"):
        with pytest.raises(ValueError):
            parse_variants(bad)


def _run(tmp_path, *extra):
    cmd = [sys.executable, "-m", "benchmarks.iteration_profile", "--agent=sac", "--preset=fast",
           "--env=gymnax/Pendulum-v1", f"--out={tmp_path}", "--name=ip", *extra]
    # LLVM at -O0 compiles about twice as fast; the census (HLO passes) is unchanged and the timings are only
    # checked to be positive
    xla_flags = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env=dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu", XLA_FLAGS=xla_flags))


def test_iteration_profile_gymnax_sac(tmp_path):
    # two seed counts, as the GPU plan runs them: each row its own programs (one trace per chunk shape)
    p = _run(tmp_path, "--num_seeds=1,2", "--reps=3", "--repeats=2", "--warmup=6", "--census_iters=8")
    assert p.returncode == 0, p.stderr[-3000:]
    data = json.load(open(tmp_path / "ip.json"))
    row, two = data["rows"]
    assert row["num_seeds"] == 1 and row["variant"] == "base" and two["num_seeds"] == 2
    assert two["full_iteration"]["ms"] > 0
    assert set(row["components"]) == set(COMPONENTS)
    for name, comp in row["components"].items():
        assert comp["ms"] > 0, name
        assert comp["kernels_per_rep"] > 0, name
    assert row["full_iteration"]["ms"] > 0 and row["parts_sum_ms"] > 0 and row["env_frames_per_s"] > 0
    census = row["census"]
    assert census["chunk_iters"] == 8 and census["kernels_per_iteration"] > 0
    assert census["unbounded_loops"] == []  # gymnax Pendulum + SAC: every loop has a static trip count
    assert 8 in [lp["trip_count"] for lp in census["while_loops"]]  # the chunk's iterations
    # the chunk's kernels split: 8 learning iterations + one evaluation (+ a few for the diagnostics and the
    # metrics), each part's program compiled alone; XLA fuses a little differently per program, hence the margin
    per_iter, per_eval = row["iteration_census"]["kernels_per_iteration"], row["evaluation_census"]["kernels"]
    assert per_iter > 10 and per_eval > 10
    assert abs(census["kernels"] - 8 * per_iter - per_eval) < 0.25 * census["kernels"], (census["kernels"], per_iter,
                                                                                         per_eval)
    md = open(tmp_path / "ip.md").read()
    assert "| base | 1 |" in md and "kernels/iteration" in md and "kernels/evaluation" in md


def test_a_sigterm_keeps_every_finished_row(tmp_path):
    """The GPU plan stops a variant at its budget with SIGTERM: each row is on disk, whole, as soon as it is
    measured, so the rows finished before the signal survive it."""
    cmd = [sys.executable, "-m", "benchmarks.iteration_profile", "--agent=sac", "--preset=fast",
           "--env=gymnax/Pendulum-v1", f"--out={tmp_path}", "--name=ip", "--census_only", "--census_iters=4",
           "--num_seeds=1,2,3,4"]
    xla_flags = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu", XLA_FLAGS=xla_flags))
    path, t0 = tmp_path / "ip.json", time.time()
    while not path.exists() and p.poll() is None and time.time() - t0 < 240:
        time.sleep(0.2)
    p.send_signal(signal.SIGTERM)  # while the second row compiles
    assert p.wait(timeout=60) == -signal.SIGTERM, p.stderr.read()[-2000:]
    rows = json.load(open(path))["rows"]
    assert [r["num_seeds"] for r in rows] == [1], [r["num_seeds"] for r in rows]
    assert rows[0]["iteration_census"]["kernels_per_iteration"] > 0
    assert "| base | 1 |" in open(tmp_path / "ip.md").read()
    assert not list(tmp_path.glob("*.tmp*"))  # no half-written file left beside them


def test_bad_override_is_one_line(tmp_path):
    p = _run(tmp_path, "--census_only", "--variants=x:env.no_such_field=1")
    assert p.returncode != 0
    err = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "variant x" in err[0] and "no_such_field" in err[0]
    assert "Traceback" not in p.stderr
