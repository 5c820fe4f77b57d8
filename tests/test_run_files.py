"""A run folder's files as users meet them damaged: a config.json or sweep.json that does not parse or holds the
wrong types, a metrics.jsonl whose last line a kill cut short, a checkpoint past the budget asked for. Each is one
line naming the file and the fix, before anything compiles, and the run's files are left as they were."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _module(name, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", name, *args], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=timeout)


def _one_line(p):
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(lines) == 1, p.stderr[-2000:]
    return lines[0]


def _saved_run(logdir, checkpoint_frames=None):
    from tests.helpers import preset

    cfg = preset("sac", overrides={"replay.batch_size": 32})
    logdir.mkdir()
    (logdir / "config.json").write_text(json.dumps(cfg.to_dict(), default=list))
    (logdir / "sweep.json").write_text("[]")
    if checkpoint_frames:
        (logdir / "checkpoints" / str(checkpoint_frames)).mkdir(parents=True)
    return cfg


def test_jsonl_reads_past_a_last_line_cut_short_and_refuses_damage_before_it(tmp_path):
    from diffsr_jax.config import ConfigError
    from diffsr_jax.logging.files import read_json, read_jsonl

    path = tmp_path / "metrics.jsonl"
    path.write_text('{"frames": 1}\n{"frames": 2}\n{"fra')
    assert read_jsonl(str(path)) == [{"frames": 1}, {"frames": 2}]
    path.write_text('{"frames": 1}\n{"fra\n{"frames": 3}\n')
    with pytest.raises(ConfigError, match=r"metrics.jsonl is damaged \(.*line 2\)"):
        read_jsonl(str(path))
    path.write_text('{"frames": 1}\n{"fra\n')  # a complete line (it ends in a newline) is not a cut-short write
    with pytest.raises(ConfigError, match="line 2"):
        read_jsonl(str(path))
    (tmp_path / "config.json").write_text('{"run": {"seed": ')
    with pytest.raises(ConfigError, match=r"config.json is damaged \(Expecting value, line 1\): restore it"):
        read_json(str(tmp_path / "config.json"))


@pytest.mark.parametrize("damage,message", [
    (lambda d: (d / "config.json").write_text((d / "config.json").read_text()[:120]), "config.json is damaged"),
    (lambda d: (d / "config.json").write_text(json.dumps({**json.loads((d / "config.json").read_text()),
                                                          "run": {"num_seeds": "three"}})),
     "config.json is damaged (Could not override field 'num_seeds'"),
    (lambda d: (d / "config.json").write_text("[1, 2]"), "config.json is damaged (not a JSON object)"),
    (lambda d: (d / "sweep.json").write_text('{"a": 1}'), "sweep.json is damaged (not a JSON array)"),
])
def test_a_damaged_run_file_is_one_line_for_resume_and_evaluate(tmp_path, damage, message):
    logdir = tmp_path / "run"
    _saved_run(logdir)
    damage(logdir)
    before = {n: (logdir / n).read_text() for n in os.listdir(logdir)}
    for p in (_module("experiments.train", f"--logdir={logdir}", "--resume", "--total_steps=5000"),
              _module("experiments.evaluate", f"--logdir={logdir}")):
        line = _one_line(p)
        assert message in line and "its checkpoints are not touched" in line, line
    assert {n: (logdir / n).read_text() for n in os.listdir(logdir)} == before


def test_resume_below_the_last_checkpoint_is_refused(tmp_path):
    logdir = tmp_path / "run"
    _saved_run(logdir, checkpoint_frames=3000)
    line = _one_line(_module("experiments.train", f"--logdir={logdir}", "--resume", "--total_steps=2000"))
    assert "--total_steps=2,000 is below the 3,000 env frames of the run's last checkpoint" in line, line
    assert "pass --total_steps=3,000 or more" in line


def test_a_config_file_that_does_not_load_is_one_line(tmp_path):
    broken, bare = tmp_path / "broken.py", tmp_path / "bare.py"
    broken.write_text("def get_config(:\n")
    bare.write_text("x = 1\n")
    line = _one_line(_module("experiments.train", f"--config={broken}", f"--logdir={tmp_path / 'never'}"))
    assert f"--config={broken}: could not load it (SyntaxError: " in line, line
    line = _one_line(_module("experiments.train", f"--config={bare}", f"--logdir={tmp_path / 'never'}"))
    assert f"--config={bare}: the file defines no get_config()" in line, line
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("args,message", [
    (["experiments.report", "results/runs/suites_table1", "--bootstrap_reps=0"], "--bootstrap_reps=0: must be at least 1"),
    (["experiments.report", "results/runs/suites_table1", "--conclusion=/no/such.md"], "--conclusion=/no/such.md: no such"),
    (["experiments.report", "results/runs/suites_table1", "--out=/etc/passwd/R.md"], "/etc/passwd is a file where a folder"),
    (["experiments.results", "--runs_root=tests"], "--runs_root=tests holds no study's runs"),
    (["experiments.results", "--bootstrap_reps=-5"], "--bootstrap_reps=-5: must be at least 1"),
    (["experiments.curves", "--agents=nope"], "no preset file for agent 'nope'"),
    (["experiments.suite", "--suite=cpu", "--tasks=pendulum", "--agents=sac", "--total_steps=0",
      "--root=/tmp/never_written"], "pendulum / sac: config.run.total_steps must be an integer >= 1, got 0"),
    (["experiments.suite", "--suite=cpu", "--agents=sac", "--root=/etc/passwd"], "--root=/etc/passwd is a file"),
    (["benchmarks.memory", "--agent=nope", "--out=/tmp/never_written"], "no preset file for agent 'nope'"),
    (["benchmarks.camera_speed", "--sizes=abc"], "--sizes takes integers >= 1 separated by commas"),
    (["benchmarks.seeds", "--num_seeds=0"], "--num_seeds takes integers >= 1"),
    (["benchmarks.update_cost", "--presets=sac"], "--presets=sac: write each as agent:preset"),
    (["benchmarks.curves_equal", "--before=tests", "--after=tests"], "tests holds no run"),
    (["benchmarks.wallclock", "--agents=nope"], "no preset file for agent 'nope'"),
])
def test_commands_refuse_bad_input_in_one_line(args, message):
    p = _module(*args)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip() and not ln.startswith(("I1", "W1"))]  # absl log lines
    assert p.returncode != 0 and "Traceback" not in p.stderr and len(lines) == 1, p.stderr[-2000:]
    assert message in lines[0], lines[0]
    assert not os.path.exists("/tmp/never_written")


@pytest.mark.parametrize("name,text,why", [("run.json", "{", "Expecting property name"), ("run.json", "[]", "not a JSON object")])
def test_a_suite_run_with_a_damaged_file_is_named_with_its_task_and_agent(tmp_path, name, text, why):
    run = tmp_path / "cpu" / "pendulum" / "sac"
    run.mkdir(parents=True)
    (run / name).write_text(text)
    line = _one_line(_module("experiments.suite", "--suite=cpu", "--tasks=pendulum", "--agents=sac",
                             f"--root={tmp_path}"))
    assert line.startswith(f"error: pendulum / sac: {run / name} is damaged ({why}"), line
    assert (run / name).read_text() == text


def test_a_stored_config_that_breaks_a_rule_is_named_as_the_runs(tmp_path):
    logdir = tmp_path / "run"
    _saved_run(logdir)
    saved = json.loads((logdir / "config.json").read_text())
    saved["run"]["agent"] = "nope"
    (logdir / "config.json").write_text(json.dumps(saved))
    line = _one_line(_module("experiments.train", f"--logdir={logdir}", "--resume", "--total_steps=5000"))
    assert line.startswith(f"error: --resume: the config.json of the run in {logdir}: unknown agent 'nope'"), line
