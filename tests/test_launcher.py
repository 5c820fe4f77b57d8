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


TINY = ("--config.run.eval_episodes=2", "--config.env.episode_length=50", "--config.replay.batch_size=32")  # seconds, not minutes


def test_launcher_writes_every_output(tmp_path):
    logdir = tmp_path / "run"
    p = _run("--agent=diffsr_sac", "--num_seeds=2", "--seed=3", "--total_steps=400", "--eval_every=200",
             "--config.run.warmup_steps=200", *TINY, f"--logdir={logdir}")
    assert p.returncode == 0, p.stderr[-3000:]
    for name in ("config.json", "metrics.jsonl", "curve.png"):
        assert (logdir / name).stat().st_size > 0, name
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(logdir / "tb"))
    cfg = json.loads((logdir / "config.json").read_text())
    assert cfg["run"]["agent"] == "diffsr_sac" and cfg["run"]["num_seeds"] == 2 and cfg["run"]["total_steps"] == 400
    rows = [json.loads(line) for line in (logdir / "metrics.jsonl").read_text().splitlines()]
    assert [(r["frames"], r["decisions"], r["seed"]) for r in rows] == [(200, 200, 3), (200, 200, 4), (400, 400, 3), (400, 400, 4)]
    last = rows[-1]
    for key in ("eval/return", "train/critic_loss", "train/actor_loss", "train/alpha", "train/score_matching_loss",
                "train/q_mean", "diag/psi_norm", "run/wall_time", "run/frames_per_s", "diag/sm_loss_level0",
                "diag/sm_loss_level999", "train/return"):
        assert isinstance(last[key], float), key
    # every name is namespaced, so an update metric and a diagnostic of the same name cannot collide
    assert all(k in ("frames", "decisions", "seed") or k.split("/")[0] in ("train", "eval", "diag", "run")
               for k in last), sorted(last)
    assert "final eval" in p.stdout and "mean" in p.stdout  # the summary table


@pytest.mark.parametrize("args,message", [
    (["--env=gymnax/Pendulum-v9"], "unknown gymnax env 'Pendulum-v9'; choose one of: Pendulum-v1"),
    (["--agent=ppo"], "unknown agent 'ppo'; choose one of: ddpg, diffsr_ddpg, diffsr_drqv2, diffsr_sac, diffsr_td3, "
                      "diffusion_planner, drqv2, polygrad, sac, td3"),
    (["--total_steps=-5"], "config.run.total_steps must be an integer >= 1, got -5"),
    (["--config.actor_critic.gamma=1.5"], "config.actor_critic.gamma must be in [0, 1], got 1.5"),
    (["--agent=diffsr_sac", "--config.representation.schedule=quadratic"],
     "config.representation.schedule must be one of vp, linear, cosine, beta_cdf, sigmoid"),
    (["--agent=polygrad", "--config.trajectory_model.horizon=1"], "config.trajectory_model.horizon must be an integer >= 2"),
    (["--agent=polygrad", "--config.polygrad.min_std=2.0"], "config.polygrad.min_std and config.polygrad.init_std must satisfy 0 < min_std"),
    (["--agent=polygrad", "--config.polygrad.actor_std=fixed"], "config.polygrad.actor_std must be one of global, state"),
    (["--agent=diffusion_planner", "--config.planner.num_candidates=0"], "config.planner.num_candidates must be an integer >= 1, got 0"),
    (["--config.env.physics=light"], "config.env.physics=light: the MuJoCo solver settings apply to Brax's mjx "
                                     "backend and Playground envs, not gymnax/Pendulum-v1; use native or auto"),
    (["--config.run.command_buffers=all"], "config.run.command_buffers must be one of default, off, loops; got 'all'"),
    (["--config.env.impl=warp"], "config.env.impl=warp: only playground envs choose their MuJoCo implementation"),
    (["--logdir=/proc/forbidden/run"], "is not writable"),
    (["--logdir=/etc/passwd"], "log dir '/etc/passwd' is a file; pass --logdir=<a folder for the run>"),
    (["--total_steps=abc"], "error: flag --total_steps=abc: invalid literal for int()"),
    (["--config.actor_critic.gamma=high"], "error: flag --config.actor_critic.gamma=high: could not convert string to float"),
    (["--no_such_flag=1"], "error: Unknown command line flag 'no_such_flag'"),
    (["--config=nonexistent.py"], "error: --config=nonexistent.py: could not load it ([Errno 2] No such file"),
    (["--config=experiments/configs/sac.py:bogus"], "unknown sac preset 'bogus'; choose one of fast, study, paper"),
    (["--config.replay.batch_size=100000000"], "config.replay.batch_size (100,000,000) is larger than the replay, which holds "
                                        "12,000 transitions"),
    (["--config.replay.buffer_size=10"], "config.replay.batch_size (256) is larger than the replay, which holds 10 transitions"),
    (["--config.env.action_repeat=0"], "config.env.action_repeat must be an integer >= 1, got 0"),
    (["--config.env.auto_reset=never"], "config.env.auto_reset must be one of pool, every_step; got 'never'"),
    (["--config.total_steps=5"], "--config.total_steps: no config field 'total_steps'; the groups are: run, env, "),
    (["--config.actor_critic.policy_delay=1"],
     "--config.actor_critic.policy_delay: config.actor_critic.policy_delay was renamed: write config.td3.policy_delay"),
    (["--config.critic.rff_dim=8"], "--config.critic.rff_dim: config.critic.rff_dim was renamed: write config.psi_critic.rff_dim"),
    (["--config.run.bogus=5"], "--config.run.bogus: config.run has no field 'bogus'; it has: agent, "),
    (["--sweep=critic_lr=1e-3"], "'critic_lr' is not a traced hyperparameter of this agent; sweepable: actor_critic.gamma"),
    (["--total_steps=2000000000", "--config.replay.buffer_size=2000000000"],
     "but only"),  # 72 GB of replay on this machine: refused before compiling, with the fix
    (["--agent=sac", "--config.mlp_critic.hidden=64,0"], "config.mlp_critic.hidden must be layer widths, integers >= 1"),
    (["--agent=diffsr_sac", "--config.representation.psi_hidden=-5"], "config.representation.psi_hidden must be layer"),
    (["--seed=4294967295", "--num_seeds=2"], "config.run.seed + num_seeds must be at most 2^32"),
    (["--num_processes=0"], "--num_processes=0: must be at least 1"),
    (["--num_processes=2", "--process_id=0", "--coordinator=localhost:abc"], "port 1-65535"),
    (["--compile_cache=/etc/passwd"], "--compile_cache=/etc/passwd is a file; pass a folder"),
    (["--sweep=actor_critic.critic_lr=-1,1e-3"],
     "--sweep setting actor_critic.critic_lr=-1: config.actor_critic.critic_lr must be > 0, got -1.0"),
    (["--sweep=actor_critic.gamma=0.9,nan"], "--sweep setting actor_critic.gamma=nan: config.actor_critic.gamma must be in"),
    (["--sweep=actor_critic.tau=0.01", "--sweep=actor_critic.tau=0.02"], "--sweep: actor_critic.tau is swept twice"),
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
    p = _run("--agent=td3", "--num_seeds=2", "--total_steps=300", "--eval_every=300", "--sweep=actor_critic.critic_lr=1e-3,1e-5",
             "--config.run.warmup_steps=100", *TINY, f"--logdir={logdir}")
    assert p.returncode == 0, p.stderr[-3000:]
    rows = [json.loads(line) for line in (logdir / "metrics.jsonl").read_text().splitlines()]
    assert [(r["setting"], r["seed"]) for r in rows] == [
        ("actor_critic.critic_lr=0.001", 0), ("actor_critic.critic_lr=0.001", 1),
        ("actor_critic.critic_lr=1e-05", 0), ("actor_critic.critic_lr=1e-05", 1)]
    # same seed, different learning rate: same data stream but different learning
    assert rows[0]["train/critic_loss"] != rows[2]["train/critic_loss"]
    assert "actor_critic.critic_lr=0.001/seed1" in p.stdout


def test_replay_memory_is_stated_and_refused_when_it_cannot_fit(tmp_path):
    p = _run("--total_steps=2000000000", "--config.replay.buffer_size=2000000000", "--num_seeds=4",
             f"--logdir={tmp_path / 'big'}", timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "the replay needs 288.0 GB (2,000,000,000 transitions x 4 member(s) x 36 B)" in p.stderr, p.stderr
    assert "use fewer seeds (--num_seeds) or a smaller --config.replay.buffer_size" in p.stderr


def _saved_run(logdir, agent="sac", **fields):
    """A log dir as a run leaves it (config.json, sweep.json), without running: --resume checks it first.
    ``fields``: {"group.field": value} as keyword arguments with "__" for the dot."""
    from tests.helpers import preset

    cfg = preset(agent, overrides={k.replace("__", "."): v for k, v in fields.items()})
    logdir.mkdir()
    (logdir / "config.json").write_text(json.dumps(cfg.to_dict(), default=list))
    (logdir / "sweep.json").write_text("[]")


@pytest.mark.parametrize("args,message", [
    (["--agent=td3"], "run.agent: 'sac' -> 'td3'"),
    (["--config.replay.batch_size=64"], "replay.batch_size: 32 -> 64"),
    (["--env=brax/hopper", "--config.actor_critic.actor_hidden=64,64"],
     "actor_critic.actor_hidden: [128, 128] -> [64, 64]; env.name: "),
    (["--config=experiments/configs/sac.py:paper"], "actor_critic.actor_init: 'lecun' -> 'orthogonal'"),
    (["--sweep=actor_critic.critic_lr=1e-3,1e-4"], "sweep: [] -> ['actor_critic.critic_lr=1e-3,1e-4']"),
])
def test_resume_with_another_config_is_refused_naming_the_fields(args, message, tmp_path):
    logdir = tmp_path / "run"
    _saved_run(logdir, replay__batch_size=32)
    p = _run(*args, f"--logdir={logdir}", "--resume", "--total_steps=5000", timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert message in p.stderr and "only --total_steps and the devices may change on --resume" in p.stderr, p.stderr
    assert len([ln for ln in p.stderr.splitlines() if ln.strip()]) == 1, p.stderr
    assert sorted(os.listdir(logdir)) == ["config.json", "sweep.json"]  # nothing touched


def test_sweep_of_an_unknown_hyperparameter_is_refused():
    p = _run("--agent=sac", "--sweep=hidden=1,2", timeout=120)
    assert p.returncode == 2
    assert ("'hidden' is not a traced hyperparameter of this agent; sweepable: actor_critic.gamma, "
            "actor_critic.tau") in p.stderr


def test_resume_auto_starts_an_empty_dir_continues_a_started_one_and_refuses_another_config(tmp_path):
    logdir = tmp_path / "run"
    base = ("--agent=sac", "--eval_every=200", "--config.run.warmup_steps=200", *TINY, f"--logdir={logdir}",
            "--resume=auto", "--tensorboard=false")
    first = _run(*base, "--total_steps=400")  # a requeued job's first start: nothing there yet
    assert first.returncode == 0, first.stderr[-2000:]
    assert "resuming" not in first.stdout and len((logdir / "metrics.jsonl").read_text().splitlines()) == 2
    again = _run(*base, "--total_steps=600")  # the same command after a preemption: continues
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming from env frame 400" in again.stdout
    assert [json.loads(x)["frames"] for x in (logdir / "metrics.jsonl").read_text().splitlines()] == [200, 400, 600]
    other = _run(*base, "--total_steps=600", "--config.replay.batch_size=64")  # not the run the dir holds
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert "replay.batch_size: 32 -> 64" in other.stderr, other.stderr
