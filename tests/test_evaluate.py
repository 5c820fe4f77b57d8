"""experiments.evaluate and rollouts: a checkpoint evaluated again gives the eval return its run logged at that step,
on every env family (gymnax by default; Playground, Brax MJX and spring with -m slow; tests/test_resume_matrix.py
evaluates a checkpoint on every family by default) and for SAC and
Diff-SR-SAC; --render and --render_final write a file a person opens (Brax: HTML viewer; Playground and gymnax: GIF)
whose frames differ (every family's writer is also tested without training); bad input is one line. The gymnax case
evaluates a run while it is still training.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

from diffsr_jax.training import provenance
from tests.helpers import checkpoint_steps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = {
    "sac": ["--config.actor_critic.actor_hidden=32,32", "--config.mlp_critic.hidden=32,32"],
    "diffsr_sac": ["--config.actor_critic.actor_hidden=32,32", "--config.representation.feature_dim=16",
                   "--config.representation.psi_hidden=32", "--config.representation.zeta_hidden=32",
                   "--config.psi_critic.rff_dim=32", "--config.psi_critic.rff_hidden=32"],
}
CASES = {  # id -> (agent, env flags, total frames, frames per chunk, rollout suffix)
    "gymnax-diffsr_sac": ("diffsr_sac", ["--env=gymnax/Pendulum-v1"], 1200, 200, ".gif"),
    "brax_mjx-sac": ("sac", ["--env=brax/inverted_pendulum", "--config.env.backend=mjx"], 300, 150, ".html"),
    "brax_spring-diffsr_sac": ("diffsr_sac", ["--env=brax/hopper", "--config.env.backend=spring"], 300, 150, ".html"),
    "playground-sac": ("sac", ["--env=playground/CartpoleSwingup"], 300, 150, ".gif"),
}
# compile-heavy cases run with -m slow: Brax spring and MJX draw with the same renderer as test_render_without_training;
# tests/test_resume_matrix.py evaluates a resumed checkpoint of Brax MJX, Brax positional and Playground by default
SLOW = ("brax_spring-diffsr_sac", "brax_mjx-sac", "playground-sac")


def _env():
    return dict(os.environ, PYTHONPATH=ROOT)


def _train_args(case, logdir, cache):
    agent, env, total, chunk, _ = CASES[case]
    return [sys.executable, "-m", "experiments.train", f"--agent={agent}", *env, *SMALL[agent], "--num_seeds=2",
            f"--total_steps={total}", f"--eval_every={chunk}", f"--config.run.checkpoint_every={chunk}",
            "--config.run.keep_checkpoints=20", "--config.run.warmup_steps=100", "--config.env.episode_length=60",
            "--config.run.eval_episodes=3", "--config.replay.batch_size=16", "--tensorboard=false",
            f"--compile_cache={cache}", f"--logdir={logdir}", "--render_final"]


def _evaluate(*args, cache=""):
    """experiments.evaluate; ``cache``: the run's compilation cache, so it reuses the programs the run compiled."""
    return subprocess.run([sys.executable, "-m", "experiments.evaluate", *args, f"--compile_cache={cache}"], cwd=ROOT,
                          env=_env(),
                          capture_output=True, text=True, timeout=900)


def _logged(logdir, frames):
    """seed -> logged eval/return at ``frames``."""
    with open(os.path.join(logdir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    return {r["seed"]: r["eval/return"] for r in rows if r["frames"] == frames}


def _frames(path):
    """The frames of a written rollout as arrays: GIF frames, or the Brax viewer's body positions per step."""
    if path.endswith(".gif"):
        from PIL import Image, ImageSequence

        return [np.asarray(f.convert("RGB"), float) for f in ImageSequence.Iterator(Image.open(path))]
    html = open(path).read()
    system = json.loads(zlib.decompress(base64.b64decode(re.search(r'var system = "([^"]+)"', html).group(1))))
    return [np.asarray(s["pos"], float) for s in system["states"]["x"]]


def _assert_rollout(path, suffix):
    assert path.endswith(suffix) and os.path.getsize(path) > 1000, path
    frames = _frames(path)
    assert len(frames) >= 3, (path, len(frames))
    changes = [np.abs(a - b).max() for a, b in zip(frames[:-1], frames[1:])]
    assert np.count_nonzero(changes) >= len(changes) // 2, (path, changes)  # it moves, not one still picture


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in CASES])
def test_evaluate_reproduces_logged_return_and_renders(case, tmp_path):
    agent, _, total, chunk, suffix = CASES[case]
    logdir, cache = str(tmp_path / "run"), str(tmp_path / "xla_cache")
    train = subprocess.Popen(_train_args(case, logdir, cache), cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    during = None
    if case.startswith("gymnax"):  # evaluate the run while it trains: it only reads
        t0 = time.time()
        while not checkpoint_steps(logdir) and train.poll() is None and time.time() - t0 < 600:
            time.sleep(0.1)
        during = _evaluate(f"--logdir={logdir}", "--step=latest", cache=cache)
    out, err = train.communicate(timeout=1500)
    assert train.returncode == 0, err[-3000:]
    if during is not None:
        assert during.returncode == 0, during.stderr[-3000:]
        frames = int(re.search(r"at env frame ([\d,]+)", during.stdout).group(1).replace(",", ""))
        result = json.load(open(os.path.join(logdir, f"eval-{frames}.json")))
        for m in result["members"]:
            assert m["mean"] == pytest.approx(_logged(logdir, frames)[m["seed"]], rel=1e-4, abs=1e-3)

    # --render_final wrote the final episode of seed 0
    final = re.search(r"rollout: (\S+)", out).group(1)
    assert os.path.basename(final) == f"rollout-{total}{suffix}"
    _assert_rollout(final, suffix)

    # an earlier checkpoint by its env frame: the same episodes the run evaluated there, and a render of them
    p = _evaluate(f"--logdir={logdir}", f"--step={chunk}", "--render", cache=cache)
    assert p.returncode == 0, p.stderr[-3000:]
    result = json.load(open(os.path.join(logdir, f"eval-{chunk}.json")))
    logged = _logged(logdir, chunk)
    assert [m["seed"] for m in result["members"]] == [0, 1]
    for m in result["members"]:
        assert len(m["returns"]) == 3 and all(1 <= n <= 60 for n in m["lengths"])
        assert m["mean"] == pytest.approx(logged[m["seed"]], rel=1e-4, abs=1e-3), (m, logged)
        assert m["min"] <= m["mean"] <= m["max"]
    assert f"seed{0}" in p.stdout and "length" in p.stdout
    # the same code trained the run: nothing to caution about, and the eval file names that code
    assert "note:" not in p.stdout and result["trained_by"] == provenance.short(provenance.read(logdir)[0])
    _assert_rollout(os.path.join(logdir, f"rollout-{chunk}{suffix}"), suffix)

    if case.startswith("gymnax"):
        # other episodes from --seed; more episodes with --episodes
        p = _evaluate(f"--logdir={logdir}", "--episodes=5", "--seed=7", cache=cache)
        assert p.returncode == 0, p.stderr[-3000:]
        other = json.load(open(os.path.join(logdir, f"eval-{total}.json")))
        assert all(len(m["returns"]) == 5 for m in other["members"])
        assert other["members"][0]["returns"][:3] != _evaluate_returns(logdir, total, cache)
        # bad input: one line, no traceback, before anything compiles
        no_ckpt = str(tmp_path / "no_ckpt")
        os.makedirs(no_ckpt)
        shutil.copy(os.path.join(logdir, "config.json"), no_ckpt)
        for args, words in [([f"--logdir={logdir}", "--step=250"], "no checkpoint at env frame 250"),
                            ([f"--logdir={logdir}", "--step=abc"], "--step=abc"),
                            ([f"--logdir={logdir}", "--episodes=0"], "--episodes=0"),
                            ([f"--logdir={no_ckpt}"], "has no checkpoint yet"),
                            ([f"--logdir={tmp_path}"], "no config.json"),
                            ([f"--logdir={tmp_path / 'missing'}"], "no such directory"),
                            ([], "--logdir is required")]:
            p = _evaluate(*args)
            assert p.returncode == 2, (args, p.stderr[-2000:])
            assert "Traceback" not in p.stderr and words in p.stderr, (args, p.stderr[-2000:])
            assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def _evaluate_returns(logdir, frames, cache):
    """The returns of seed 0 in the run's own episodes at ``frames``, evaluated again."""
    p = _evaluate(f"--logdir={logdir}", f"--step={frames}", cache=cache)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.load(open(os.path.join(logdir, f"eval-{frames}.json")))["members"][0]["returns"]


@pytest.mark.parametrize("name,backend,pomdp,suffix", [
    ("gymnax/Pendulum-v1", "mjx", True, ".gif"), ("gymnax/MountainCarContinuous-v0", "mjx", False, ".gif"),
    ("brax/inverted_pendulum", "positional", False, ".html")])
def test_render_without_training(name, backend, pomdp, suffix, tmp_path):
    """An episode of a constant action drawn with no agent (cheap): MountainCar's frames, Brax's HTML viewer (the
    same for every Brax backend), and a POMDP env's episode drawn from the wrapped env's states."""
    import jax
    import jax.numpy as jnp

    from diffsr_jax.envs.registry import make_env
    from diffsr_jax.envs.rendering import render_episode

    env = make_env(name, backend=backend, pomdp=pomdp)
    step = jax.jit(env.step)
    state, states = env.reset(jax.random.PRNGKey(0)), []
    for _ in range(12):
        states.append(state)
        state, _ = step(state, jnp.ones(env.action_dim))
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *states)
    path = render_episode(env, stacked, 10, str(tmp_path / "rollout"))  # the first 11 states are the episode
    _assert_rollout(path, suffix)
    if pomdp:  # (Pillow merges pixel-identical consecutive frames: MountainCar's first ones barely move)
        assert len(_frames(path)) == 11


def test_rollout_is_episode_zero_of_evaluate():
    """Trainer.rollout keeps the states of exactly the episode evaluate scores first: same length, its last state's
    running return is evaluate's return, and after the episode ended its state stays frozen (a toy env whose
    episodes end after a number of steps drawn at reset)."""
    import jax
    import jax.numpy as jnp

    from diffsr_jax.envs.base import Env
    from diffsr_jax.program.trainer import Trainer
    from tests.helpers import preset

    class Countdown(Env):
        """obs (steps left / 10, action sum); reward = the action; terminates when the countdown (3..8) hits 0."""

        def __init__(self):
            self.name, self.obs_dim, self.action_dim, self.max_episode_steps = "toy/countdown", 2, 1, 12
            self.action_low, self.action_high = np.array([-1.0], np.float32), np.array([1.0], np.float32)

        def _reset(self, key):
            inner = jnp.stack([jax.random.randint(key, (), 3, 9).astype(jnp.float32), 0.0])
            return inner, inner / jnp.array([10.0, 1.0])

        def _step(self, inner, action, key):
            nxt = jnp.stack([inner[0] - 1.0, inner[1] + action[0]])
            return nxt, nxt / jnp.array([10.0, 1.0]), action[0] + 1.0, nxt[0] <= 0

    cfg = preset("sac", overrides={"actor_critic.actor_hidden": (16, 16), "mlp_critic.hidden": (16, 16)})
    trainer = Trainer(cfg, env=Countdown())
    runner = trainer.init(jax.random.PRNGKey(0))
    for k in range(3):
        key = jax.random.PRNGKey(k)
        returns, lengths = jax.jit(lambda r, k: trainer.evaluate(r, k, 4))(runner, key)
        states, length = jax.jit(lambda r, k: trainer.rollout(r, k, 4))(runner, key)
        assert int(length) == int(lengths[0]) and lengths.shape == (4,)
        assert states.episode_length.shape == (13,)  # the reset state + max_decisions
        np.testing.assert_allclose(float(states.episode_return[-1]), float(returns[0]), rtol=1e-6)
        assert int(states.episode_length[-1]) == int(length) and 3 <= int(length) <= 8
        np.testing.assert_array_equal(np.asarray(states.episode_length[int(length):]), int(length))  # frozen
        assert np.asarray(states.episode_return[int(length) + 1:]).std() == 0.0
