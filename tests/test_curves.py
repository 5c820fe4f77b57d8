"""experiments.curves runs several agents on one task and writes the comparison plot and table."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_curves_end_to_end(tmp_path):
    logdir = tmp_path / "cmp"
    p = subprocess.run([sys.executable, "-m", "experiments.curves", "--agents=sac,diffsr_sac", "--num_seeds=2",
                        "--total_steps=300", "--eval_every=150",
                        "--set=run.warmup_steps=150,run.eval_episodes=2,env.episode_length=40,replay.batch_size=32",
                        f"--logdir={logdir}"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (logdir / "curves.png").stat().st_size > 0
    table = (logdir / "curves.md").read_text()
    assert "| sac |" in table and "| diffsr_sac |" in table
    for agent in ("sac", "diffsr_sac"):
        rows = (logdir / agent / "metrics.jsonl").read_text().splitlines()
        assert len(rows) == 4  # 2 evaluations x 2 seeds


def test_curves_rejects_unknown_field(tmp_path):
    p = subprocess.run([sys.executable, "-m", "experiments.curves", "--agents=sac", "--set=nonsense=1",
                        f"--logdir={tmp_path}"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "no config field 'nonsense'" in p.stderr
    p = subprocess.run([sys.executable, "-m", "experiments.curves", "--agents=sac", "--set=critic.hidden=8",
                        f"--logdir={tmp_path}"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "config.critic.hidden was renamed: write config.mlp_critic.hidden" in p.stderr, p.stderr
