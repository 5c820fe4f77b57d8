"""A run in shards: ``experiments.suite --seed=<first> --num_seeds=<n>`` trains a range of a run's seeds, each range
under its own root, and the report (``experiments.report.merge_shards``) and RESULTS.md (``experiments.results``)
read the pieces as one run of all their seeds; a piece that is not one (another config, a seed twice, other
evaluation frames) is refused by name, and a study whose run has only some of its seeds says which are missing and
gives the command for them alone."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _shard(logdir, first, num, returns, fps, total=4000, agent="diffsr_sac", finished=True, **config_fields):
    """A finished suite run of seeds first .. first+num-1 as experiments.suite writes it: config.json, metrics.jsonl
    (seed s returns ``returns[i] + s`` at the i-th evaluation, every 1000 frames) and run.json."""
    from diffsr_jax.training.host_loop import write_run_files
    from experiments.configs import load_preset

    config = load_preset(agent.partition("+")[0], "fast")
    config.env.name = "brax/halfcheetah"
    config.run.update(total_steps=total, eval_every=1000, num_seeds=num, seed=first, warmup_steps=1000)
    for name, value in config_fields.items():
        group, field = name.split("__")
        config[group][field] = value
    reached = total if finished else 1000 * (len(returns))
    rows = [{"frames": f, "decisions": f, "seed": s, "eval/return": ret + s, "run/wall_time": 10.0 * f / 1000,
             "run/frames_per_s": v}
            for f, ret, v in zip(range(1000, reached + 1, 1000), returns, fps) for s in range(first, first + num)]
    for row in rows:  # the in-run diagnostics the report reads from the metrics: a probe R^2 and the critic's fit
        s = row["seed"]
        row.update({"diag/probe_r2_dynamics": s / 10, "diag/probe_r2_dynamics_init": 0.0, "diag/probe_r2_reward": 0.5,
                    "diag/probe_r2_reward_init": 0.0, "train/critic_loss": 1.0 + s, "train/q_mean": 10.0})
    os.makedirs(logdir)
    write_run_files(str(logdir), config, rows)
    if finished:
        with open(os.path.join(logdir, "run.json"), "w") as f:
            json.dump({"suite": "mbbl", "task": "halfcheetah", "agent": agent, "status": "finished", "seed": first,
                       "num_seeds": num, "total_steps": total, "command": f"shard {first}",
                       "machine": {"cpu": f"cpu{first}", "cores": 2, "platform": "p", "python": "3", "jax": "0"}}, f)


def _load(*dirs):
    from experiments.report import load_run, merge_shards

    return merge_shards([load_run(str(d)) for d in dirs])


def test_shards_merge_into_one_run_of_all_their_seeds(tmp_path):
    from experiments.report import build_report, run_seeds
    from experiments.results import confounders

    _shard(tmp_path / "b" / "run", 2, 2, [10, 20, 30, 40], [20, 20, 20, 20])
    _shard(tmp_path / "a" / "run", 0, 2, [1, 2, 3, 4], [5, 5, 10, 12])
    (run,) = _load(tmp_path / "b" / "run", tmp_path / "a" / "run")
    assert run_seeds(run) == [0, 1, 2, 3] and len(run["shards"]) == 2
    assert (run["config"]["run"]["seed"], run["config"]["run"]["num_seeds"], run["info"]["num_seeds"]) == (0, 4, 4)
    # seeds in order, each its own curve: seed s of a shard starting at `first` returned returns[i] + s
    np.testing.assert_array_equal(run["returns"], [[1, 2, 3, 4], [2, 3, 4, 5], [12, 22, 32, 42], [13, 23, 33, 43]])
    np.testing.assert_allclose(run["scores"], [2.5, 3.5, 27, 28])  # the mean of the last 4 evaluations
    assert run["finished"] and run["frames"] == 4000 and run["wall_s"] == 80.0  # 40 s each, one after the other
    # frames/s: 4 seeds' frames over the two shards' times, 2 seeds at 10 (the median chunk past the warm-up: of 5,
    # 10, 12), then 2 at 20; the fastest chunks, 12 and 20, likewise
    assert run["frames_per_s"] == pytest.approx(4 / (2 / 10 + 2 / 20))
    assert run["frames_per_s_best"] == pytest.approx(4 / (2 / 12 + 2 / 20))
    # what the report reads from the metrics comes from every shard: each seed's probe, the critic's fit over all
    from experiments.report_representation import critic_fit, probe_curves

    frames, probes = probe_curves(run)
    np.testing.assert_allclose(probes["dynamics"][:, -1], [0.0, 0.1, 0.2, 0.3])
    assert critic_fit(run)["loss"] == pytest.approx(2.5)  # the mean of 1 + seed over seeds 0-3
    # against a 4-seed run of its base, the seeds are no difference: only the critic's groups are
    _shard(tmp_path / "c" / "run", 0, 4, [1, 2, 3, 4], [9] * 4, agent="sac")
    (base,) = _load(tmp_path / "c" / "run")
    assert confounders(run["config"], base["config"]) == []
    os.makedirs(tmp_path / "plots")
    text = build_report([run, base], str(tmp_path / "plots"), "plots", "report", 50, "R")
    assert "Shards: mbbl / halfcheetah / diffsr_sac ran as 2 runs of the same config but for their seeds (seeds " \
           "0-1; seeds 2-3)" in text
    assert "4 seeds in shards (below)." in text and "4 seeds vmapped in one program." in text  # the base's
    assert "| 4 (2 shards) | 80 |" in text and "Machine: cpu0," in text and "Machine: cpu2," in text
    assert "`shard 0`; `shard 2`" in text


def test_a_shard_still_running_leaves_the_run_unfinished_at_its_frames(tmp_path):
    a, b = (tmp_path / root / "mbbl" / "halfcheetah" / "diffsr_sac" for root in ("a", "b"))
    _shard(a, 0, 2, [1, 2, 3, 4], [5] * 4)
    _shard(b, 2, 2, [10, 20], [20] * 2, finished=False)  # no run.json yet: named by its place in its root
    (run,) = _load(a, b)
    assert not run["finished"] and run["frames"] == 2000 and run["returns"].shape == (4, 2)
    np.testing.assert_allclose(run["scores"], [1.5, 2.5, 17, 18])  # over the evaluations all seeds have


@pytest.mark.parametrize("case", ["config", "overlap", "frames"])
def test_runs_that_are_not_shards_of_one_run_are_refused_by_name(tmp_path, case):
    _shard(tmp_path / "a", 0, 2, [1, 2, 3, 4], [5] * 4)
    if case == "config":
        _shard(tmp_path / "b", 2, 2, [1, 2, 3, 4], [5] * 4, sac__alpha_lr=0.0)
        expect = "differ in sac.alpha_lr: only runs that differ in their seeds merge"
    elif case == "overlap":
        _shard(tmp_path / "b", 1, 2, [1, 2, 3, 4], [5] * 4)
        expect = "seed(s) 1 appear in more than one of"
    else:
        _shard(tmp_path / "b", 2, 2, [1, 2, 3, 4, 5, 6, 7, 8], [5] * 8, total=8000)
        expect = "differ in run.total_steps"
    with pytest.raises(ValueError, match=expect.replace("(", r"\(").replace(")", r"\)")):
        _load(tmp_path / "a", tmp_path / "b")


def test_a_study_run_with_some_of_its_seeds_names_the_missing_ones_and_their_command(tmp_path):
    from experiments.results import Study, comparison_rows, complete, resume_commands, unfinished

    study = Study("s", "l", "t", "root/mbbl", ("halfcheetah",), (("diffsr_sac", "sac"),),
                  "python -m experiments.suite --suite=mbbl --tasks=halfcheetah --agents=sac,diffsr_sac "
                  "--preset=study --num_seeds=4 --root=runs/suites_table1")
    _shard(tmp_path / "sac", 0, 4, [1, 2, 3, 4], [9] * 4, agent="sac")
    _shard(tmp_path / "a", 0, 2, [1, 2, 3, 4], [5] * 4)
    runs = _load(tmp_path / "sac", tmp_path / "a")
    assert [complete(study, r) for r in runs] == [True, False]
    assert unfinished(study, runs) == [("halfcheetah", "diffsr_sac")]
    assert resume_commands(study, unfinished(study, runs), runs) == [
        "python -m experiments.suite --suite=mbbl --tasks=halfcheetah --agents=diffsr_sac --preset=study "
        "--num_seeds=2 --seed=2 --root=runs/suites_table1_seeds2-3"]
    rows, missing = comparison_rows(study, runs, 50)
    assert rows == [] and missing == ["halfcheetah, diffsr_sac vs sac (diffsr_sac has 2 of 4 seeds (seeds 0-1))"]
    # seeds missing in two spans, from a command without a root: one shard each, under the suite's default root
    from dataclasses import replace

    from experiments.seeds import seeds_label

    assert resume_commands(replace(study, command=study.command.replace(" --root=runs/suites_table1", "").replace(
        "--num_seeds=4", "--num_seeds=6")), [("halfcheetah", "diffsr_sac")], [{**runs[1], "seeds": [0, 1, 4]}]) == [
        "python -m experiments.suite --suite=mbbl --tasks=halfcheetah --agents=diffsr_sac --preset=study "
        f"--num_seeds={n} --seed={first} --root=runs/suites_seeds{first}-{last}" for n, first, last in ((2, 2, 3),
                                                                                                       (1, 5, 5))]
    assert [seeds_label(s) for s in ([2], [0, 1, 2, 3], [0, 1, 4], [3, 1])] == ["seed 2", "seeds 0-3", "seeds 0-1, 4",
                                                                               "seeds 1, 3"]
    # the other half arrives: one comparison of 4 seeds a side, nothing left to run
    _shard(tmp_path / "b", 2, 2, [1, 2, 3, 4], [5] * 4)
    runs = _load(tmp_path / "sac", tmp_path / "a", tmp_path / "b")
    rows, missing = comparison_rows(study, runs, 50)
    assert missing == [] and len(rows) == 1 and unfinished(study, runs) == []
    assert not rows[0][-1].startswith("confounded")


def _suite(root, *flags):
    """experiments.suite on tiny Pendulum runs of SAC (400 frames, 200 of them random), its compile cache beside the
    roots so that the later runs reuse the first's programs."""
    tiny = ("run.warmup_steps=200,run.eval_episodes=2,env.episode_length=40,replay.batch_size=32,"
            "actor_critic.actor_hidden=32:32,mlp_critic.hidden=32:32")
    return subprocess.run([sys.executable, "-m", "experiments.suite", "--suite=cpu", "--tasks=pendulum",
                           "--agents=sac", "--total_steps=400", "--eval_every=200", f"--set={tiny}", f"--root={root}",
                           f"--compile_cache={os.path.join(os.path.dirname(root), 'xla')}", *flags],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=600)


def _rows(root):
    path = os.path.join(root, "cpu", "pendulum", "sac", "metrics.jsonl")
    return [json.loads(line) for line in open(path)]


def test_the_suite_runs_a_shard_and_the_report_merges_it_with_the_rest(tmp_path):
    shards = {"a": ("--num_seeds=2",), "b": ("--seed=2", "--num_seeds=1"), "whole": ("--num_seeds=3",)}
    for name, flags in shards.items():
        p = _suite(tmp_path / name, *flags)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    assert "1 seeds each (seed 2)" in _suite(tmp_path / "b", "--seed=2", "--num_seeds=1").stdout
    info = json.loads((tmp_path / "b" / "cpu" / "pendulum" / "sac" / "run.json").read_text())
    assert (info["seed"], info["num_seeds"]) == (2, 1)
    # a seed's key is its seed: before any update (the random warm-up, the first evaluation at 200 frames) the
    # shard's seed 2 is the whole run's seed 2, bit for bit
    first = lambda rows: [{k: v for k, v in r.items() if not k.startswith("run/")}  # noqa: E731 (run/: timings)
                          for r in rows if r["frames"] == 200 and r["seed"] == 2]
    assert first(_rows(tmp_path / "b")) == first(_rows(tmp_path / "whole")) != []
    # the same root with other seeds: one line naming what is there and how to continue it
    p = _suite(tmp_path / "a", "--seed=1", "--num_seeds=2")
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert "has seeds 0-1, not seeds 1-2: pass --seed=0 --num_seeds=2, or another --root" in p.stderr
    p = _suite(tmp_path / "c", "--seed=-1")
    assert p.returncode == 2 and "--seed must be >= 0" in p.stderr and "Traceback" not in p.stderr, p.stderr[-2000:]
    report = subprocess.run([sys.executable, "-m", "experiments.report", str(tmp_path / "a" / "cpu"),
                             str(tmp_path / "b" / "cpu"), f"--out={tmp_path / 'r' / 'R.md'}", "--bootstrap_reps=50"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    assert "| cpu / pendulum | sac | 400 | 3 (2 shards) |" in (tmp_path / "r" / "R.md").read_text()
    # a seed twice (the whole run and the shard of seed 2): refused in one line, nothing written
    report = subprocess.run([sys.executable, "-m", "experiments.report", str(tmp_path / "whole" / "cpu"),
                             str(tmp_path / "b" / "cpu"), f"--out={tmp_path / 'q' / 'R.md'}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert report.returncode == 2 and "Traceback" not in report.stderr, report.stderr[-2000:]
    assert len(report.stderr.strip().splitlines()) == 1 and "seed(s) 2 appear in more than one" in report.stderr
    assert not (tmp_path / "q" / "R.md").exists()


def test_a_committed_run_cut_into_shards_reads_back_as_itself(tmp_path):
    """HalfCheetah's Table 1 Diff-SR-SAC run (4 seeds in one program) cut into two shards of 2 seeds, as two suite
    roots would hold them: merged, its seeds' curves, scores and the paper's window scores are the run's own, and its
    comparison with SAC is the same row of RESULTS.md."""
    from experiments.report import load_run
    from experiments.results import STUDIES, comparison_rows

    source = os.path.join(ROOT, "results", "runs", "suites_table1", "mbbl", "halfcheetah")
    whole = load_run(os.path.join(source, "diffsr_sac"))
    config = json.load(open(os.path.join(source, "diffsr_sac", "config.json")))
    info = json.load(open(os.path.join(source, "diffsr_sac", "run.json")))
    rows = [json.loads(line) for line in open(os.path.join(source, "diffsr_sac", "metrics.jsonl"))]
    dirs = []
    for first in (0, 2):
        d = tmp_path / f"seeds{first}" / "diffsr_sac"
        os.makedirs(d)
        config["run"].update(seed=first, num_seeds=2)
        (d / "config.json").write_text(json.dumps(config))
        (d / "run.json").write_text(json.dumps({**info, "seed": first, "num_seeds": 2}))
        (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["seed"] in (first, first + 1)))
        dirs.append(d)
    (merged,) = _load(*dirs)
    assert merged["seeds"] == [0, 1, 2, 3] and merged["finished"] and merged["frames"] == whole["frames"]
    for key in ("steps", "returns", "scores", "window_scores"):
        np.testing.assert_array_equal(merged[key], whole[key], err_msg=key)
    table1 = next(s for s in STUDIES if s.name == "table1")
    sac = load_run(os.path.join(source, "sac"))
    assert comparison_rows(table1, [merged, sac], 200) == comparison_rows(table1, [whole, sac], 200)


def _cut_record(record: dict, seeds: list) -> dict:
    """A q_regression record narrowed to some of its seeds, as a shard of those seeds would have written it."""
    index = [record["seeds"].index(s) for s in seeds]
    out = {**record, "seeds": list(seeds), "mean_abs_q": [record["mean_abs_q"][i] for i in index]}
    for part in ("regressions", "td"):
        out[part] = {name: {k: [v[i] for i in index] for k, v in fits.items()} for name, fits in record[part].items()}
    return out


def test_a_committed_q_regression_cut_into_shards_reads_back_as_itself(tmp_path):
    """HalfCheetah's Table 1 Diff-SR-SAC run and its q_regression records cut into two shards of 2 seeds: the report's
    q_regression tables of the merged run are the whole run's, character for character. A shard without a record, or
    records made with other settings, are shown apart, each row naming its seeds."""
    from experiments.report import _md_table, load_run
    from experiments.report_representation import q_regression_section

    source = os.path.join(ROOT, "results", "runs", "suites_table1", "mbbl", "halfcheetah", "diffsr_sac")
    config = json.load(open(os.path.join(source, "config.json")))
    info = json.load(open(os.path.join(source, "run.json")))
    rows = [json.loads(line) for line in open(os.path.join(source, "metrics.jsonl"))]
    names = sorted(n for n in os.listdir(source) if n.startswith("q_regression-"))
    records = {n: json.load(open(os.path.join(source, n))) for n in names}
    assert names and all(r["seeds"] == [0, 1, 2, 3] for r in records.values())

    def shards(edit=lambda first, name, record: record):
        dirs = []
        for first in (2, 0):  # written in the other order: the merge puts the seeds in order
            d = tmp_path / f"{len(os.listdir(tmp_path))}" / "diffsr_sac"
            os.makedirs(d)
            config["run"].update(seed=first, num_seeds=2)
            (d / "config.json").write_text(json.dumps(config))
            (d / "run.json").write_text(json.dumps({**info, "seed": first, "num_seeds": 2}))
            (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows
                                                     if r["seed"] in (first, first + 1)))
            for name, record in records.items():
                record = edit(first, name, _cut_record(record, [first, first + 1]))
                if record is not None:
                    (d / name).write_text(json.dumps(record))
            dirs.append(d)
        (merged,) = _load(*dirs)
        return q_regression_section({("mbbl", "halfcheetah"): {"diffsr_sac": merged}}, _md_table)

    whole = q_regression_section({("mbbl", "halfcheetah"): {"diffsr_sac": load_run(source)}}, _md_table)
    assert any("vs sac's Q" in line for line in whole) and shards() == whole
    # seeds 2-3 without their base's record: seeds 0-1's rows stand alone, named; the run's own Q is still merged
    alone = shards(lambda first, name, rec: None if first == 2 and name.startswith("q_regression-sac-") else rec)
    assert any("diffsr_sac vs sac's Q (seeds 0-1) |" in line for line in alone)
    assert not any("seeds 2-3" in line for line in alone) and any("vs its own Q |" in line for line in alone)
    # one shard's fits of another length: both shown, each naming its seeds, none merged
    apart = shards(lambda first, name, rec: {**rec, "steps": rec["steps"] // 2} if first == 2 else rec)
    for seeds in ("seeds 0-1", "seeds 2-3"):
        assert any(f"vs sac's Q ({seeds}) |" in line for line in apart)
        assert any(f"vs its own Q ({seeds}) |" in line for line in apart)


def test_a_study_run_with_some_of_its_seeds_is_shown_and_compared_with_nothing(tmp_path):
    """A study's report shows a run finished with 2 of its 4 planned seeds as such, with no probability of
    improvement and out of the aggregate; the same seeds as a run planned with 2 seeds are compared."""
    from experiments.report import build_report
    from experiments.results import Study, study_runs

    command = ("python -m experiments.suite --suite=mbbl --tasks=halfcheetah --agents=sac,diffsr_sac --preset=study "
               "--num_seeds={} --root=runs/suites_table1")
    folder = tmp_path / "runs" / "root" / "mbbl"
    _shard(folder / "sac", 0, 4, [1, 2, 3, 4], [9] * 4, agent="sac")
    _shard(folder / "a", 0, 2, [5, 6, 7, 8], [5] * 4)
    reports = {}
    for planned in (4, 2):
        study = Study("s", "l", "t", "root/mbbl", ("halfcheetah",), (("diffsr_sac", "sac"),), command.format(planned))
        runs = study_runs(study, str(tmp_path / "runs"))
        os.makedirs(tmp_path / f"plots{planned}")
        reports[planned] = build_report(runs, str(tmp_path / f"plots{planned}"), "figures", "cmd", 50, "t").splitlines()
    part, whole = reports[4], reports[2]
    assert any(line.startswith("| diffsr_sac | 2 of 4 |") for line in part)
    assert any("halfcheetah / diffsr_sac with 2 of 4 seeds (seeds 0-1)" in line for line in part)
    assert not any(line.startswith("P(diffsr_sac > sac)") for line in part)
    assert any(line.startswith("| diffsr_sac | 0 | n/a |") for line in part)  # the aggregate leaves it out
    assert any(line.startswith("| diffsr_sac | 2 |") for line in whole)
    assert any(line.startswith("P(diffsr_sac > sac) = 1.00") for line in whole)
