"""RESULTS.md and every study's report are rebuilt from the committed raw logs by one command and match the committed
files; the statistics behind them are rliable's, reproducible, and right on cases with known answers."""
import difflib
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_statistics_have_their_known_values():
    from experiments import stats

    assert stats.iqm(np.arange(1, 9)) == 4.5  # mean of the middle half 3..6
    assert stats.interval(np.full((5, 2), 3.0), reps=50) == (3.0, 3.0)
    x = np.random.default_rng(0).normal(size=(10, 3))
    lo, hi = stats.interval(x, reps=300)
    assert lo < stats.iqm(x) < hi
    assert stats.interval(x, reps=300) == (lo, hi)  # seeded: the same interval twice
    # every seed of x above every seed of y: P = 1 and every resample agrees; identical seeds: 0.5 (ties count half)
    assert stats.improvement(np.arange(4.0) + 10, np.arange(4.0), reps=200) == (1.0, 1.0, 1.0)
    assert stats.improvement(np.ones(4), np.ones(4), reps=200) == (0.5, 0.5, 0.5)
    a, b = np.array([5.0, 1.0, 4.0, 3.0]), np.array([2.0, 3.5, 0.0, 6.0])
    p, lo, hi = stats.improvement(a, b, reps=300)
    assert p == np.mean([(u > v) + 0.5 * (u == v) for u in a for v in b]) and lo <= p <= hi
    assert stats.improvement(a, b, reps=300) == (p, lo, hi)  # reproducible (rliable draws from numpy's global RNG)
    r = np.random.default_rng(1).normal(size=(5, 7))
    point, lo, hi = stats.iqm_curve(r, reps=200)
    np.testing.assert_allclose(point, [stats.iqm(r[:, e]) for e in range(7)])
    assert point.shape == lo.shape == hi.shape == (7,) and np.all(lo <= point + 1e-12) and np.all(point <= hi + 1e-12)
    steps = np.array([5_000, 10_000, 15_000, 20_000])
    ret = np.array([[1.0, 2.0, 3.0, 5.0], [0.0, 0.0, 2.0, 2.0]])
    np.testing.assert_allclose(stats.window_score(steps, ret), [4.0, 2.0])  # evaluations at 15k and 20k


def test_the_fast_estimators_equal_rliables_bit_for_bit():
    """experiments.stats computes the IQM and the probability of improvement itself (the bootstrap calls them ~378k
    times); they must equal rliable's (scipy's trim_mean and mannwhitneyu) exactly, ties and NaN included."""
    import scipy.stats as sps
    from experiments import stats
    from rliable import metrics

    rng = np.random.default_rng(0)
    for n in range(1, 11):
        for trial in range(30):
            a, b = rng.normal(size=(n, 3)) * 1000, rng.normal(size=(max(1, n - 1), 3)) * 1000
            if trial % 3 == 0:  # ties within and across the two
                a, b = np.round(a / 500), np.round(b / 500)
            if trial % 7 == 0:
                a[rng.integers(n), rng.integers(3)] = np.nan
            assert np.array_equal(stats.trim_mean_25(a), metrics.aggregate_iqm(a), equal_nan=True)
            assert np.array_equal(stats.trim_mean_25(a, axis=0), sps.trim_mean(a, 0.25, axis=0), equal_nan=True)
            for other in (b, a.copy()):
                assert np.array_equal(stats.probability_of_improvement(a, other),
                                      metrics.probability_of_improvement(a, other), equal_nan=True)


def test_report_normalise():
    from experiments.report import normalise

    n = normalise({"a": np.array([1.0, 3.0]), "b": np.array([5.0, 2.0])})
    np.testing.assert_allclose(n["a"], [0.0, 0.5])
    np.testing.assert_allclose(n["b"], [1.0, 0.25])


def test_committed_results_are_rebuilt_exactly(tmp_path):
    """`python -m experiments.results` on results/runs/ writes RESULTS.md and results/<study>/RESULTS.md identical to
    the committed ones: no row of them is copied by hand."""
    p = subprocess.run([sys.executable, "-m", "experiments.results", f"--out_dir={tmp_path}"], cwd=ROOT,
                       capture_output=True, text=True, timeout=900, env=dict(os.environ, PYTHONPATH=ROOT))
    assert p.returncode == 0, p.stderr[-3000:]
    built = sorted(os.path.relpath(os.path.join(d, f), tmp_path) for d, _, fs in os.walk(tmp_path)
                   for f in fs if f.endswith(".md"))
    assert "RESULTS.md" in built and any(b.startswith("results/") for b in built), built
    for rel in built:
        with open(os.path.join(ROOT, rel)) as f:
            committed = f.read()
        with open(tmp_path / rel) as f:
            rebuilt = f.read()
        diff = "".join(difflib.unified_diff(committed.splitlines(True), rebuilt.splitlines(True), rel, "rebuilt"))
        assert not diff, f"{rel} differs from its rebuild (run `python -m experiments.results`):\n{diff[:3000]}"
    committed_studies = {os.path.relpath(os.path.join(d, f), ROOT) for d, _, fs in os.walk(os.path.join(ROOT, "results"))
                         for f in fs if f == "RESULTS.md" and "archive" not in d}
    assert committed_studies <= set(built), f"committed reports no study builds: {committed_studies - set(built)}"


def test_the_paper_claim_is_only_diffsr_against_its_base():
    """The paper compares plain Diff-SR with SAC: flow vs score matching on HalfCheetah (a task with paper numbers) is
    not its claim, whatever the numbers; plain Diff-SR-SAC vs SAC on the same task is."""
    from experiments.results import ROOT as REPO, STUDIES, comparison_rows, paper_standing, study_runs

    study = next(s for s in STUDIES if s.name == "objectives")
    runs = study_runs(study, os.path.join(REPO, "results", "runs"))
    rows, _ = comparison_rows(study, runs, reps=50)
    assert rows and all(r[-2:] == ["not the paper's comparison", "no paper claim"] for r in rows), rows
    txt, ahead = paper_standing(runs[0], "diffsr_sac", "sac")  # as plain Diff-SR-SAC vs SAC: the paper has it ahead
    assert ahead is True and "HalfCheetah" in txt
    assert paper_standing(runs[0], "diffsr_sac+flow_matching", "diffsr_sac") == ("not the paper's comparison", None)
    assert paper_standing(runs[0], "diffsr_td3", "td3") == ("no paper number", None)  # the paper's table is vs SAC


def test_bad_input_is_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-m", "experiments.results", f"--runs_root={tmp_path / 'nope'}",
                        f"--out_dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "--runs_root" in p.stderr


def test_the_resume_advice_names_only_the_missing_runs():
    """A fresh checkout has the committed logs but not the suite's run folders: the pending line's command must name
    only the runs not finished, or it would train the finished ones again."""
    from experiments.results import Study, resume_commands, unfinished

    study = Study("s", "l", "t", "root/suite", ("cheetahrun", "hopperhop"), (("diffsr_td3", "td3"),),
                  "python -m experiments.suite --suite=dmc --tasks=cheetahrun,hopperhop --agents=td3,diffsr_td3 "
                  "--num_seeds=4 --set=td3.policy_delay=1,run.warmup_steps=10000")
    run = lambda task, agent, finished=True: {"task": task, "agent": agent, "finished": finished,  # noqa: E731
                                              "config": {"run": {"seed": 0, "num_seeds": 4}}}
    assert unfinished(study, [run("cheetahrun", "td3"), run("cheetahrun", "diffsr_td3"), run("hopperhop", "td3"),
                              run("hopperhop", "diffsr_td3", False)]) == [("hopperhop", "diffsr_td3")]
    assert resume_commands(study, [("hopperhop", "diffsr_td3")]) == [
        "python -m experiments.suite --suite=dmc --tasks=hopperhop --agents=diffsr_td3 --num_seeds=4 "
        "--set=td3.policy_delay=1,run.warmup_steps=10000"]
    everything = unfinished(study, [])
    assert len(everything) == 4 and resume_commands(study, everything) == [study.command]
    split = resume_commands(study, [("cheetahrun", "td3"), ("hopperhop", "td3"), ("hopperhop", "diffsr_td3")])
    assert [c.split()[4:6] for c in split] == [["--tasks=cheetahrun", "--agents=td3"],
                                               ["--tasks=hopperhop", "--agents=td3,diffsr_td3"]]


def _suite_flags(command: str):
    """The flags of a ``python -m experiments.suite ...`` command as plan_runs reads them."""
    from types import SimpleNamespace

    given = dict(t[2:].split("=", 1) for t in command.split()[3:])
    return SimpleNamespace(suite=given["suite"], tasks=given["tasks"].split(","), agents=given["agents"].split(","),
                           preset=given.get("preset", "fast"), num_seeds=int(given["num_seeds"]),
                           seed=int(given.get("seed", 0)),
                           total_steps=int(given.get("total_steps", 0)) or None, eval_every=None,
                           set=given["set"].split(",") if "set" in given else [], ablations=[])


def test_the_table1_studies_plan_their_runs_as_the_protocol_says():
    """What RESULTS.md tells a fresh checkout to run for the Table 1 studies plans valid configs: the paper's budget
    at the study preset, the alpha-fixed arm on HalfCheetah differing from Diff-SR-SAC in sac.alpha_lr alone, the
    EMA-psi arm on Hopper-ET in psi_critic.reads alone, and the POMDP pair partially observable."""
    from diffsr_jax.config import validate_config
    from experiments.results import STUDIES, resume_commands, unfinished
    from experiments.suite import plan_runs
    from tests.test_presets_pairs import differences

    studies = {s.name: s for s in STUDIES}
    planned = {}
    for name in ("table1", "table1_pomdp"):
        study = studies[name]
        for command in resume_commands(study, unfinished(study, [])):
            for task, agent, cfg in plan_runs(_suite_flags(command)):
                validate_config(cfg)
                assert (cfg.run.total_steps, cfg.run.warmup_steps, cfg.run.eval_every) == (200_000, 25_000, 5_000)
                assert cfg.run.preset == "study" and cfg.run.num_seeds == 4
                planned[name, task.name, agent] = cfg.to_dict()
    pairs = {("table1", t, a) for t in ("halfcheetah", "hopper_et", "walker_et", "ant_et")
             for a in ("sac", "diffsr_sac")}
    arms = {("table1", "halfcheetah", "diffsr_sac+alpha_fixed"),
            ("table1", "hopper_et", "diffsr_sac+critic_reads_target")}
    pomdp = {("table1_pomdp", "halfcheetah_pomdp", a) for a in ("sac", "diffsr_sac")}
    assert set(planned) == pairs | arms | pomdp
    arm, full = (planned["table1", "halfcheetah", a] for a in ("diffsr_sac+alpha_fixed", "diffsr_sac"))
    assert differences(arm, full) == ["sac.alpha_lr"] and arm["sac"]["alpha_lr"] == 0.0
    arm, full = (planned["table1", "hopper_et", a] for a in ("diffsr_sac+critic_reads_target", "diffsr_sac"))
    assert differences(arm, full) == ["psi_critic.reads"] and arm["psi_critic"]["reads"] == "target"
    pomdp = planned["table1_pomdp", "halfcheetah_pomdp", "diffsr_sac"]
    assert pomdp["env"]["pomdp"] and pomdp["env"]["pomdp_history"] == 3 and pomdp["env"]["name"] == "mbbl/halfcheetah"
