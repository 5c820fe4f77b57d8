"""Signals, the NaN guard, corrupt checkpoints and log-dir safety, through the launcher as a user runs it.
(SIGKILL + resume on every env family: test_resume_matrix.py.)"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import checkpoint_steps as _ckpt_steps
from tests.helpers import run_rows as _rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _args(agent, logdir, total=1200, *extra):
    return [f"--agent={agent}", f"--total_steps={total}", "--eval_every=200", "--config.run.warmup_steps=200",
            "--config.run.checkpoint_every=400", "--config.env.episode_length=50", "--config.run.eval_episodes=2",
            "--config.replay.batch_size=32", "--tensorboard=false", f"--logdir={logdir}", *extra]


def _cmd(*args):
    return [sys.executable, "-m", "experiments.train", *args]


def _env():
    return dict(os.environ, PYTHONPATH=ROOT)


def _run(*args, timeout=600):
    return subprocess.run(_cmd(*args), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)


def _wait_for(predicate, proc, timeout=300):
    t0 = time.time()
    while not predicate():
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.time() - t0 < timeout
        time.sleep(0.2)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted SAC run."""
    logdir = str(tmp_path_factory.mktemp("ref") / "sac")
    p = _run(*_args("sac", logdir))
    assert p.returncode == 0, p.stderr[-2000:]
    return {"sac": _rows(logdir)}


@pytest.mark.xdist_group("sac_reference")  # one worker computes the shared reference run
def test_sigterm_checkpoints_and_exits_cleanly(reference, tmp_path):
    logdir = str(tmp_path / "run")
    proc = subprocess.Popen(_cmd(*_args("sac", logdir)), cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    metrics = os.path.join(logdir, "metrics.jsonl")
    _wait_for(lambda: os.path.exists(metrics) and os.path.getsize(metrics) > 0, proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-2000:]
    assert "stopped by SIGTERM at env frame" in stdout and "--resume" in stdout
    stopped_at = _ckpt_steps(logdir)[-1]
    assert stopped_at < 1200 and len(_rows(logdir)) == stopped_at // 200
    p = _run(*_args("sac", logdir), "--resume")
    assert p.returncode == 0, p.stderr[-2000:]
    assert _rows(logdir) == reference["sac"]


def test_nan_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path):
    logdir = str(tmp_path / "run")
    p = _run(*_args("sac", logdir, 1200, "--config.run.checkpoint_every=200", "--config.actor_critic.critic_lr=1e30"))
    assert p.returncode == 3
    err = p.stderr.strip().splitlines()[-1]
    assert err.startswith("error: non-finite ") and "in seed0 at env frame" in err
    assert "last good checkpoint: env frame 200" in err and "Traceback" not in p.stderr
    assert len(_rows(logdir)) == 1  # the good evaluation was flushed; the bad one was not logged
    # the last good checkpoint loads
    import jax

    from diffsr_jax.training.checkpoint import Checkpointer

    ck = Checkpointer(os.path.join(logdir, "checkpoints"))
    abstract = jax.tree_util.tree_map(lambda x: x, _abstract_runner(logdir))
    step, state, meta = ck.restore_latest(abstract)
    assert step == 200 and meta["metrics_rows"] == 1
    assert all(bool(jax.numpy.all(jax.numpy.isfinite(x))) for x in jax.tree_util.tree_leaves(state.agent))


def _abstract_runner(logdir):
    import jax
    import ml_collections

    from diffsr_jax.program import Trainer
    from diffsr_jax.training.members import make_members

    with open(os.path.join(logdir, "config.json")) as f:
        cfg = ml_collections.ConfigDict(json.load(f))
    trainer = Trainer(cfg)
    _, keys, hp = make_members(cfg, trainer.default_hparams())
    return jax.eval_shape(jax.vmap(trainer.init), keys, hp)


@pytest.mark.xdist_group("sac_reference")
def test_truncated_checkpoint_falls_back_to_the_previous_one(reference, tmp_path):
    logdir = str(tmp_path / "run")
    assert _run(*_args("sac", logdir)).returncode == 0
    assert _ckpt_steps(logdir) == [400, 800, 1200]
    data = os.path.join(logdir, "checkpoints", "1200", "state", "ocdbt.process_0", "d")
    biggest = max((os.path.join(data, f) for f in os.listdir(data)), key=os.path.getsize)
    with open(biggest, "r+b") as f:
        f.truncate(os.path.getsize(biggest) // 2)
    p = _run(*_args("sac", logdir), "--resume")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "warning: checkpoint at iteration 1200 is unreadable" in p.stdout
    assert "resuming from env frame 800" in p.stdout
    assert _rows(logdir) == reference["sac"]  # the last chunk is recomputed identically


def test_existing_logdir_is_refused_without_resume_or_overwrite(tmp_path):
    logdir = tmp_path / "run"
    logdir.mkdir()
    (logdir / "something").write_text("finished work")
    p = _run(*_args("sac", str(logdir)), timeout=120)
    assert p.returncode == 2
    assert "already holds a run; pass --resume to continue it, --overwrite to replace it" in p.stderr
    assert (logdir / "something").read_text() == "finished work"


def test_resume_without_a_run_is_refused(tmp_path):
    p = _run(*_args("sac", str(tmp_path / "nothing")), "--resume", timeout=120)
    assert p.returncode == 2 and "holds no run (no config.json)" in p.stderr
