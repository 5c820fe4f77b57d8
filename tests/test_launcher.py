"""The launcher end to end (a tiny budget, as a subprocess), and its one-line errors on bad input."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "experiments.train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_launcher_writes_every_output(tmp_path):
    logdir = tmp_path / "run"
    p = _run("--agent=diffsr_sac", "--num_seeds=2", "--seed=3", "--total_steps=400", "--eval_every=200",
             "--config.warmup_steps=200", "--config.eval_episodes=2", "--config.episode_length=50",
             "--config.batch_size=32", f"--logdir={logdir}")
    assert p.returncode == 0, p.stderr[-3000:]
    for name in ("config.json", "metrics.jsonl", "curve.png"):
        assert (logdir / name).stat().st_size > 0, name
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(logdir / "tb"))
    cfg = json.loads((logdir / "config.json").read_text())
    assert cfg["agent"] == "diffsr_sac" and cfg["num_seeds"] == 2 and cfg["total_steps"] == 400
    rows = [json.loads(line) for line in (logdir / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["seed"]) for r in rows] == [(200, 3), (200, 4), (400, 3), (400, 4)]
    last = rows[-1]
    for key in ("eval_return", "critic_loss", "actor_loss", "alpha", "score_matching_loss", "q_mean",
                "psi_norm", "wall_time", "env_steps_per_s", "sm_loss_level0", "sm_loss_level999"):
        assert isinstance(last[key], float), key
    assert "final eval" in p.stdout and "mean" in p.stdout  # the summary table


@pytest.mark.parametrize("args,message", [
    (["--env=gymnax/Pendulum-v9"], "unknown gymnax env 'Pendulum-v9'; choose one of: Pendulum-v1"),
    (["--agent=ppo"], "unknown agent 'ppo'; choose one of: diffsr_sac, diffsr_td3, diffusion_planner, polygrad, sac, td3"),
    (["--total_steps=-5"], "config.total_steps must be > 0, got -5"),
    (["--config.gamma=1.5"], "config.gamma must be in [0, 1], got 1.5"),
    (["--agent=diffsr_sac", "--config.schedule=sigmoid"], "config.schedule must be one of vp, linear, cosine, beta_cdf"),
    (["--agent=polygrad", "--config.horizon=1"], "config.horizon must be >= 2"),
    (["--agent=polygrad", "--config.min_std=2.0"], "config.min_std and config.init_std must satisfy 0 < min_std"),
    (["--agent=polygrad", "--config.actor_std=fixed"], "config.actor_std must be one of global, state"),
    (["--agent=diffusion_planner", "--config.num_candidates=0"], "config.num_candidates must be > 0, got 0"),
    (["--logdir=/proc/forbidden/run"], "is not writable"),
    (["--total_steps=abc"], "error: flag --total_steps=abc: invalid literal for int()"),
    (["--config.gamma=high"], "error: flag --config.gamma=high: could not convert string to float"),
    (["--no_such_flag=1"], "error: Unknown command line flag 'no_such_flag'"),
])
def test_bad_input_gets_one_clear_line(args, message, tmp_path):
    logdir = tmp_path / "never"
    if not any(a.startswith("--logdir") for a in args):
        args = [*args, f"--logdir={logdir}"]
    p = _run(*args, timeout=120)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    assert len([ln for ln in p.stderr.splitlines() if ln.strip()]) == 1, p.stderr
    assert not logdir.exists()  # bad input leaves nothing behind


def test_sweep_runs_every_setting_in_one_program(tmp_path):
    logdir = tmp_path / "sweep"
    p = _run("--agent=td3", "--num_seeds=2", "--total_steps=300", "--eval_every=300", "--sweep=critic_lr=1e-3,1e-5",
             "--config.warmup_steps=100", "--config.eval_episodes=2", "--config.episode_length=50",
             "--config.batch_size=32", f"--logdir={logdir}")
    assert p.returncode == 0, p.stderr[-3000:]
    rows = [json.loads(line) for line in (logdir / "metrics.jsonl").read_text().splitlines()]
    assert [(r["setting"], r["seed"]) for r in rows] == [
        ("critic_lr=0.001", 0), ("critic_lr=0.001", 1), ("critic_lr=1e-05", 0), ("critic_lr=1e-05", 1)]
    # same seed, different learning rate: same data stream but different learning
    assert rows[0]["critic_loss"] != rows[2]["critic_loss"]
    assert "critic_lr=0.001/seed1" in p.stdout


def test_sweep_of_an_unknown_hyperparameter_is_refused():
    p = _run("--agent=sac", "--sweep=hidden=1,2", timeout=120)
    assert p.returncode == 2
    assert "'hidden' is not a traced hyperparameter of this agent; sweepable: gamma, tau" in p.stderr
