"""experiments.suite runs task x agent (resumable, skips finished runs) and experiments.report builds RESULTS.md."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ("run.warmup_steps=100,run.eval_episodes=2,env.episode_length=40,replay.batch_size=32,"
        "run.checkpoint_every=100,actor_critic.actor_hidden=32:32,mlp_critic.hidden=32:32")


def _run(args, timeout=600):
    return subprocess.run([sys.executable, "-m", *args], check=False, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=timeout)


def test_suite_resume_and_report_end_to_end(tmp_path):
    root = tmp_path / "runs"
    suite_cmd = ["experiments.suite", "--suite=cpu", "--tasks=pendulum", "--agents=sac", "--num_seeds=2",
                 "--total_steps=300", "--eval_every=100", f"--set={TINY}", f"--root={root}",
                 f"--compile_cache={tmp_path / 'xla'}"]
    p = _run(suite_cmd)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    runs = {a: root / "cpu" / "pendulum" / a for a in ("sac",)}
    for run in runs.values():
        info = json.loads((run / "run.json").read_text())
        assert info["status"] == "finished" and info["wall_s"] > 0 and info["num_seeds"] == 2
        assert info["command"].startswith("python -m experiments.suite --suite=cpu")
        assert len((run / "metrics.jsonl").read_text().splitlines()) == 6  # 3 evaluations x 2 seeds

    # the same command again after a crash (the last checkpoint and run.json never written): the run resumes from
    # the previous checkpoint and recomputes the same evaluations
    sac = runs["sac"]
    before = [json.loads(r) for r in (sac / "metrics.jsonl").read_text().splitlines()]
    ckpts = sorted(int(n) for n in os.listdir(sac / "checkpoints") if n.isdigit())
    assert ckpts[-1] == 300 and 200 in ckpts
    shutil.rmtree(sac / "checkpoints" / "300")
    os.remove(sac / "run.json")
    p = _run(suite_cmd)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "resuming from env frame 200" in p.stdout, p.stdout
    after = [json.loads(r) for r in (sac / "metrics.jsonl").read_text().splitlines()]
    assert [r["frames"] for r in after] == [r["frames"] for r in before] == [100, 100, 200, 200, 300, 300]
    np.testing.assert_allclose([r["eval/return"] for r in after], [r["eval/return"] for r in before], rtol=1e-4)
    assert len(json.loads((sac / "run.json").read_text())["invocations"]) == 1  # run.json was lost with the crash
    from diffsr_jax.training import provenance

    starts = provenance.read(str(sac))  # the code of each start: the first, and the resume from 200
    assert [e["from_frames"] for e in starts] == [0, 200] and starts[0]["revision"] == starts[1]["revision"]
    # and once more: the finished run is skipped
    p = _run(suite_cmd)
    assert p.returncode == 0 and "sac: finished earlier, skipped" in p.stdout, p.stdout + p.stderr[-2000:]

    # --render_final on the finished run: its rollout, which the report copies next to its plots and shows
    p = _run([*suite_cmd, "--render_final"])
    assert p.returncode == 0 and (sac / "rollout-300.gif").exists(), p.stdout[-2000:] + p.stderr[-3000:]
    assert "rollout: " in p.stdout

    out = tmp_path / "report" / "RESULTS.md"
    p = _run(["experiments.report", str(root / "cpu"), f"--out={out}", "--bootstrap_reps=200"])
    assert p.returncode == 0, p.stderr[-3000:]
    text = out.read_text()
    for section in ("# Results", "## Setup", "## Per-task results", "### cpu / pendulum", "## Aggregate across tasks",
                    "## Wall-clock per run", "## Reproduce"):
        assert section in text, section
    assert "cores" in text and "jax " in text and "300 env frames per seed" in text
    assert f"- Code: `{provenance.short(starts[0])}` (1 run)." in text
    assert "python -m experiments.suite --suite=cpu --tasks=pendulum" in text
    assert "python -m experiments.report" in text
    assert "paper, Gym-MuJoCo, different simulator" in text and "168.2 ± 9.5 (SAC) |" in text
    assert "Diff-SR 162.3 ± 3.0, SAC 168.2 ± 9.5, LV-Rep 167.1, PolyGRAD 166.3" in text
    for agent in ("sac",):
        assert f"| {agent} | 2 |" in text  # per-task row: agent, seeds
        assert f"| cpu / pendulum | {agent} | 300 | 2 |" in text  # wall-clock row
    assert "](results/cpu_pendulum.png)" in text
    assert (out.parent / "results" / "cpu_pendulum.png").stat().st_size > 0
    assert "Rollouts (seed 0, deterministic policy): [sac at 300 frames](results/cpu_pendulum_sac_rollout-300.gif)" in text
    assert (out.parent / "results" / "cpu_pendulum_sac_rollout-300.gif").stat().st_size > 1000


def test_an_ablation_runs_alone_when_named_in_agents():
    """'--agents=diffsr_sac+features256' plans that ablation only; '--ablations' adds to every plain diffsr_* agent."""
    from types import SimpleNamespace

    from experiments.suite import plan_runs

    flags = dict(suite="mbbl_spring", tasks=["halfcheetah"], preset="fast", num_seeds=2, seed=0, total_steps=None,
                 eval_every=None, set=[], ablations=[])
    runs = plan_runs(SimpleNamespace(**flags, agents=["diffsr_sac+features256"]))
    assert [a for _, a, _ in runs] == ["diffsr_sac+features256"]
    assert runs[0][2].representation.feature_dim == 256
    runs = plan_runs(SimpleNamespace(**{**flags, "ablations": ["features256", "rep_updates4"]},
                                     agents=["sac", "diffsr_sac", "diffsr_sac+features256"]))
    assert [a for _, a, _ in runs] == ["sac", "diffsr_sac", "diffsr_sac+features256", "diffsr_sac+rep_updates4"]
    plain, = [c for _, a, c in runs if a == "diffsr_sac"]
    assert plain.representation.feature_dim != 256 and plain.representation.steps_per_update == 1


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    for args, msg in [
        (["--suite=nope"], "unknown suite 'nope'; choose one of: mbbl"),
        (["--suite=cpu", "--tasks=hopper"], "unknown task 'hopper' in suite cpu; choose from: pendulum"),
        (["--suite=cpu", "--agents=sac,ppo"], "unknown agent 'ppo'; choose one of:"),
        (["--suite=cpu", "--set=nonsense=1"], "no config field 'nonsense'"),
        (["--suite=cpu", "--agents=diffsr_sac+nope"], "unknown ablation 'nope' in --agents=diffsr_sac+nope"),
        (["--suite=cpu", "--agents=sac+features256"], "ablations change the Diff-SR representation"),
    ]:
        p = _run(["experiments.suite", f"--root={tmp_path / 'r'}", *args], timeout=120)
        assert p.returncode == 2 and msg in p.stderr, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "r").exists()
    p = _run(["experiments.report", str(tmp_path)], timeout=120)
    assert p.returncode == 2 and "no runs under" in p.stderr
    _fake_run(tmp_path / "s" / "sac", "sac", 0, 4000, [], [])  # started, nothing evaluated yet
    p = _run(["experiments.report", str(tmp_path / "s"), f"--out={tmp_path / 'R.md'}"], timeout=120)
    assert p.returncode == 2 and "has logged an evaluation yet" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "R.md").exists()


def _fake_run(logdir, agent, frames_reached, total, returns, fps, successes=None):
    """A run directory as the launcher writes it (config.json + metrics.jsonl, no run.json: a suite run that is
    still training or was stopped), 2 seeds; ``returns[i]`` is both seeds' return at the i-th evaluation;
    ``successes[i]``, where given, seed 0's eval/success there (seed 1's is 1 minus it)."""
    from diffsr_jax.training.host_loop import write_run_files
    from experiments.configs import load_preset

    config = load_preset(agent.partition("+")[0], "fast")
    config.env.name = "brax/halfcheetah"
    config.run.update(total_steps=total, eval_every=1000, num_seeds=2, warmup_steps=1000)
    rows = [{"frames": f, "decisions": f, "seed": s, "eval/return": ret + s, "run/wall_time": 10.0 * f / 1000,
             "run/frames_per_s": v}
            for f, ret, v in zip(range(1000, frames_reached + 1, 1000), returns, fps) for s in (0, 1)]
    if successes is not None:
        for row in rows:
            rate = successes[row["frames"] // 1000 - 1]
            row["eval/success"] = rate if row["seed"] == 0 else 1.0 - rate
    os.makedirs(logdir)
    write_run_files(str(logdir), config, rows)


def test_report_attributes_and_flags_unfinished_suite_runs(tmp_path):
    """A suite run without run.json takes suite / task / agent from <root>/<suite>/<task>/<agent>; an unfinished
    run is flagged with the frames it reached and left out of the aggregate; frames/s is the median and the best
    chunk past the warm-up, so neither a paused chunk nor the random warm-up's moves it."""
    from experiments.report import build_report, load_run

    task = tmp_path / "mbbl_spring" / "halfcheetah"
    _fake_run(task / "diffsr_sac", "diffsr_sac", 4000, 4000, [1, 2, 3, 4], [300, 5, 100, 120])  # 300: warm-up only
    _fake_run(task / "diffsr_sac+frozen_psi", "diffsr_sac", 2000, 4000, [7, 8], [150, 150])
    _fake_run(tmp_path / "mbbl_spring" / "ant_et" / "sac", "sac", 0, 4000, [], [])  # started, nothing logged yet
    runs = [load_run(str(task / a)) for a in ("diffsr_sac", "diffsr_sac+frozen_psi")]
    full, frozen = runs
    assert (full["suite"], full["task"], full["agent"]) == ("mbbl_spring", "halfcheetah", "diffsr_sac")
    assert frozen["agent"] == "diffsr_sac+frozen_psi" and frozen["frames"] == 2000
    assert full["finished"] and not frozen["finished"]
    assert full["frames_per_s"] == 100 and full["frames_per_s_best"] == 120 and full["wall_s"] == 40.0
    np.testing.assert_allclose(full["scores"], [2.5, 3.5])  # mean of the last 4 evaluations per seed
    os.makedirs(tmp_path / "plots")
    empty = load_run(str(tmp_path / "mbbl_spring" / "ant_et" / "sac"))
    assert empty["frames"] == 0 and not empty["finished"]
    text = build_report([*runs, empty], str(tmp_path / "plots"), "plots", "report", 50, "R")
    assert "from 2 runs (1 tasks x 2 agents)" in text
    assert "Started, no evaluation logged yet (not in the tables): mbbl_spring / ant_et / sac." in text
    assert "ant_et" not in text.replace("mbbl_spring / ant_et / sac.", "") and "| n/a ± n/a |" not in text
    assert not any("ant_et" in n for n in os.listdir(tmp_path / "plots"))
    assert "mbbl_spring / halfcheetah / diffsr_sac+frozen_psi at 2,000 of 4,000 frames" in text
    assert "| diffsr_sac+frozen_psi | 2 | 8.0 ± 0.5 |" in text and "| 2,000 (unfinished) |" in text
    assert "| mbbl_spring / halfcheetah | diffsr_sac+frozen_psi | 2,000 of 4,000 | 2 | 20 | 150 | 150 |" in text
    assert "| mbbl_spring / halfcheetah | diffsr_sac | 4,000 | 2 | 40 | 100 | 120 |" in text
    aggregate = text[text.index("## Aggregate"):text.index("## The representation")]
    assert "| diffsr_sac | 1 |" in aggregate and "| diffsr_sac+frozen_psi | 0 | n/a |" in aggregate
    assert "| diffsr_sac+frozen_psi (unfinished: 2,000 frames) |" in text


def test_report_gives_the_success_rate_of_a_task_with_a_flag(tmp_path):
    """eval/success (a task with a success flag) becomes each seed's mean over its last 4 evaluations, as the score
    is; a run without it has none and its report no such line."""
    from experiments.report import build_report, load_run

    _fake_run(tmp_path / "manipulation" / "pusher" / "drqv2", "sac", 5000, 5000, [1, 2, 3, 4, 5], [9] * 5,
              successes=[1.0, 0.0, 0.0, 0.5, 1.0])
    _fake_run(tmp_path / "cpu" / "pendulum" / "sac", "sac", 2000, 2000, [1, 2], [9] * 2)
    run, plain = load_run(str(tmp_path / "manipulation" / "pusher" / "drqv2")), load_run(str(tmp_path / "cpu" /
                                                                                             "pendulum" / "sac"))
    np.testing.assert_allclose(run["success_rates"], [0.375, 0.625])  # seed 0: (0 + 0 + 0.5 + 1) / 4
    assert plain["success_rates"] is None
    os.makedirs(tmp_path / "plots")
    text = build_report([run, plain], str(tmp_path / "plots"), "plots", "report", 50, "R")
    assert "Success rate (eval/success" in text and "drqv2 0.50 (seeds: 0.38, 0.62)" in text
    assert text.count("Success rate (eval/success") == 1


def test_report_names_backend_and_physics():
    """The report's Setup and task lines say which physics ran; a config.json from before the field ran native."""
    from experiments.report import env_description

    assert env_description({"name": "brax/hopper", "backend": "mjx", "physics": "light"}) == "`brax/hopper` (mjx, light physics)"
    assert env_description({"name": "brax/hopper", "backend": "mjx"}) == "`brax/hopper` (mjx, native physics)"
    assert env_description({"name": "brax/hopper", "backend": "spring", "physics": "native"}) == "`brax/hopper` (spring)"
    assert env_description({"name": "playground/CheetahRun", "physics": "native", "impl": "warp"}) == \
        "`playground/CheetahRun` (native physics, MuJoCo warp)"
    assert env_description({"name": "gymnax/Pendulum-v1", "physics": "native"}) == "`gymnax/Pendulum-v1`"


def test_the_critics_fit_is_the_td_loss_of_the_last_four_evaluations_per_head(tmp_path):
    """RMS TD error of one head over |mean Q|, averaged over the last 4 evaluations and the seeds: twin heads for
    SAC and Diff-SR-SAC, one for DDPG (its loss sums a single head); shown only where a Diff-SR agent meets its base."""
    from diffsr_jax.training.host_loop import write_run_files
    from experiments.configs import load_preset
    from experiments.report import build_report, load_run
    from experiments.report_representation import critic_fit

    runs = []
    for agent, loss, q in (("diffsr_sac", 8.0, 100.0), ("sac", 2.0, 50.0), ("ddpg", 4.0, -20.0)):
        config = load_preset(agent, "fast")
        config.run.update(total_steps=5000, eval_every=1000, num_seeds=2, warmup_steps=1000)
        rows = [{"frames": f, "decisions": f, "seed": s, "eval/return": 1.0, "run/wall_time": 1.0, "run/frames_per_s": 1.0,
                 # the first evaluation (before any update) is outside the last four and would move the mean
                 "train/critic_loss": loss if f > 1000 else 1e6, "train/q_mean": q + (s - 0.5) * 2}
                for f in range(1000, 5001, 1000) for s in (0, 1)]
        logdir = tmp_path / "mbbl" / "halfcheetah" / agent
        os.makedirs(logdir)
        write_run_files(str(logdir), config, rows)
        runs.append(load_run(str(logdir)))
    fits = [critic_fit(r) for r in runs]
    assert [f["loss"] for f in fits] == [8.0, 2.0, 4.0] and [f["q_mean"] for f in fits] == [100.0, 50.0, -20.0]
    np.testing.assert_allclose([f["rel"] for f in fits], [np.sqrt(4.0) / 100, np.sqrt(1.0) / 50, np.sqrt(4.0) / 20])
    os.makedirs(tmp_path / "plots")
    text = build_report(runs, str(tmp_path / "plots"), "plots", "report", 50, "R")
    assert "| mbbl / halfcheetah | diffsr_sac | 8 | 100 | 0.02 |" in text
    assert "| mbbl / halfcheetah | sac | 2 | 50 | 0.02 |" in text and "| mbbl / halfcheetah | ddpg | 4 | -20 | 0.1 |" in text
    alone = build_report(runs[1:], str(tmp_path / "plots"), "plots", "report", 50, "R")  # no Diff-SR agent: no section
    assert "## The critics' fit" not in alone


def test_the_q_regression_table_reads_the_newest_record_of_each_run(tmp_path):
    """A run's newest ``q_regression-<reference>-<frames>.json`` per reference becomes rows of mean [min, max] held-out
    R^2 over seed pairs and RMS error over |mean Q|, and its TD fits, where it has them, a second table (the base's
    rows before the run's own); a run without one adds no section."""
    import json

    from diffsr_jax.training.host_loop import write_run_files
    from experiments.configs import load_preset
    from experiments.report import build_report, load_run

    runs = []
    for agent in ("diffsr_sac", "sac"):
        config = load_preset(agent, "fast")
        config.run.update(total_steps=2000, eval_every=1000, num_seeds=2, warmup_steps=1000)
        rows = [{"frames": f, "decisions": f, "seed": s, "eval/return": 1.0, "run/wall_time": 1.0,
                 "run/frames_per_s": 1.0} for f in (1000, 2000) for s in (0, 1)]
        logdir = tmp_path / "mbbl" / "hopper_et" / agent
        os.makedirs(logdir)
        write_run_files(str(logdir), config, rows)
        runs.append(load_run(str(logdir)))
    os.makedirs(tmp_path / "plots")
    assert "Can psi carry" not in build_report(runs, str(tmp_path / "plots"), "plots", "report", 50, "R")
    record = {"reference": "sac", "frames": 2000, "steps": 100, "batch_size": 8, "lr": 1e-3, "mean_abs_q": [100.0, 50.0],
              "regressions": {"mlp on (s, a)": {"r2": [0.9, 0.8], "rmse": [10.0, 5.0], "grad_cos": [0.5, 0.7]},
                              "rff on psi": {"r2": [0.95, 0.97], "rmse": [2.0, 1.0], "grad_cos": [0.2, 0.4]}}}
    logdir = tmp_path / "mbbl" / "hopper_et" / "diffsr_sac"
    json.dump({**record, "frames": 1000, "regressions": {"old": {"r2": [0.0, 0.0], "rmse": [1.0, 1.0]}}},
              open(logdir / "q_regression-sac-1000.json", "w"))
    json.dump(record, open(logdir / "q_regression-sac-2000.json", "w"))
    text = build_report(runs, str(tmp_path / "plots"), "plots", "report", 50, "R")
    assert "## Can psi carry the base's Q?" in text and "100 Adam steps of batch 8 at lr 0.001, at env frame 2,000" in text
    assert ("| mbbl / hopper_et | diffsr_sac vs sac's Q | mlp on (s, a) | 0.850 [0.800, 0.900] | 75 [50, 100] | 0.100 | "
            "0.600 |") in text
    assert ("| mbbl / hopper_et | diffsr_sac vs sac's Q | rff on psi | 0.960 [0.950, 0.970] | 75 [50, 100] | 0.020 | "
            "0.300 |") in text
    assert "| old |" not in text and "By TD from the fit" not in text  # a record without TD fits: no TD table
    record["td_steps"] = 50
    record["td"] = {"rff on psi": {"r2": [0.6, 0.8], "rmse": [20.0, 5.0], "bias": [10.0, -5.0], "td_rmse": [3.0, 1.0],
                                   "grad_cos": [0.1, 0.3]}}
    json.dump(record, open(logdir / "q_regression-sac-2000.json", "w"))
    # the run's own Q as a second reference: its rows follow the base's
    json.dump({**record, "reference": "diffsr_sac"}, open(logdir / "q_regression-diffsr_sac-2000.json", "w"))
    text = build_report(runs, str(tmp_path / "plots"), "plots", "report", 50, "R")
    # the regression's R^2 beside TD's; errors pooled over the seeds' |mean Q|: (10 - 5) / (100 + 50), (3 + 1) / 150
    assert "(50 steps)" in text
    base_row = ("| mbbl / hopper_et | diffsr_sac vs sac's Q | rff on psi | 0.960 [0.950, 0.970] | 0.700 [0.600, 0.800] "
                "| +0.033 | 0.027 | 0.200 |")
    own_row = base_row.replace("vs sac's Q", "vs its own Q")
    assert base_row in text and own_row in text and text.index(base_row) < text.index(own_row)
