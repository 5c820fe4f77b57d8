"""benchmarks.curves_equal: the verdict of two runs of one config, from fabricated run directories whose answer is
known (the same curves: equivalent; every seed 30% lower: not equivalent; another config: refused)."""

import json

import numpy as np
import pytest

from benchmarks.curves_equal import compare


def _write_run(path, returns, config=None, revision="a" * 40):
    path.mkdir(parents=True)
    config = config or {"agent": {"name": "diffsr_sac"}, "env": {"name": "gymnax/Pendulum-v1"},
                        "run": {"num_seeds": len(returns), "logdir": str(path)}}
    (path / "config.json").write_text(json.dumps(config))
    rows = [{"frames": 1000 * (j + 1), "seed": i, "eval/return": float(v)}
            for i, seed_returns in enumerate(returns) for j, v in enumerate(seed_returns)]
    (path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (path / "provenance.jsonl").write_text(json.dumps({"revision": revision, "from_frames": 0}) + "\n")
    return str(path)


def test_the_same_curves_are_equivalent_and_a_shifted_run_is_not(tmp_path):
    rng = np.random.default_rng(0)
    base = -1200 + np.cumsum(rng.uniform(50, 150, (8, 6)), 1)  # 8 seeds, 6 evaluations, rising
    before = _write_run(tmp_path / "before", base)
    noisy = _write_run(tmp_path / "noisy", base + rng.normal(0, 5, base.shape), revision="b" * 40)
    worse = _write_run(tmp_path / "worse", base * 1.3)  # returns are negative: 30% lower

    r = compare(before, before, last_evals=3, margin=0.1, reps=50)
    assert r["verdict"] == "equivalent" and r["seeds_identical"] == 8 and r["paired_diff"] == 0
    assert r["p_after_above_before"][0] == pytest.approx(0.5)
    r = compare(before, noisy, last_evals=3, margin=0.1, reps=50)
    assert r["verdict"] == "equivalent" and r["seeds_identical"] == 0
    assert r["revisions"] == {"before": ["a" * 40], "after": ["b" * 40]}
    r = compare(before, worse, last_evals=3, margin=0.1, reps=50)
    assert r["verdict"] == "not equivalent" and r["paired_ci95"][1] < -r["margin_abs"]
    assert r["p_after_above_before"][0] < 0.2


def test_runs_of_another_config_are_refused_in_one_line(tmp_path):
    base = np.zeros((4, 3)) - 100.0
    before = _write_run(tmp_path / "before", base)
    config = {"agent": {"name": "sac"}, "env": {"name": "gymnax/Pendulum-v1"}, "run": {"num_seeds": 4}}
    other = _write_run(tmp_path / "other", base, config=config)
    with pytest.raises(SystemExit) as e:
        compare(before, other, last_evals=3, margin=0.1, reps=50)
    assert "config.json differ (in agent.name)" in str(e.value) and "\n" not in str(e.value)
    assert compare(before, other, 3, 0.1, reps=50, may_differ=("agent.name",))["config_differs"] == {
        "agent.name": ["diffsr_sac", "sac"]}
