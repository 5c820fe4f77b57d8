"""benchmarks.iteration_profile at toy sizes: every component timed, the parts positive, the chunk's census."""

import json
import os
import subprocess
import sys

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
    md = open(tmp_path / "ip.md").read()
    assert "| base | 1 |" in md and "kernels/iteration" in md


def test_bad_override_is_one_line(tmp_path):
    p = _run(tmp_path, "--census_only", "--variants=x:env.no_such_field=1")
    assert p.returncode != 0
    err = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "variant x" in err[0] and "no_such_field" in err[0]
    assert "Traceback" not in p.stderr
