"""Pixel observations (envs.pixels) and DrQ-v2's pieces (data.augment, agents.drqv2): the stack a step produces, the
rules that refuse what cannot run, the replay's bytes, the random shift, the n-step target and where the encoder's
gradient comes from."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.common import replay_of_noise
from diffsr_jax.agents.drqv2 import clipped_noise_action, n_step_targets
from diffsr_jax.config import validate_config
from diffsr_jax.data.augment import random_shift
from diffsr_jax.data.replay import replay_add, replay_init
from diffsr_jax.data.segments import sample_segments
from diffsr_jax.data.transition import Transition
from diffsr_jax.envs import make_env
from diffsr_jax.envs.pixels import PixelEnv
from diffsr_jax.fields import ConfigError
from diffsr_jax.training.memory import replay_memory
from tests.helpers import preset

pytestmark = pytest.mark.xdist_group("pixels")  # one worker builds the pixel env once


@pytest.fixture(scope="module")
def cartpole():
    env = make_env("playground/CartpoleBalance", pixels=24, frame_stack=3, action_repeat=2)
    return env, jax.jit(env.reset), jax.jit(env.step), jax.jit(env.frame)


def test_a_step_pushes_the_new_frame_into_the_stack(cartpole):
    env, reset, step, frame = cartpole
    assert isinstance(env, PixelEnv) and env.obs_shape == (24, 24, 9) and env.obs_dim == 24 * 24 * 9
    s = reset(jax.random.PRNGKey(0))
    obs = np.asarray(s.obs)
    assert obs.dtype == np.uint8 and obs.shape == (24, 24, 9)
    first = np.asarray(frame(s.inner))
    np.testing.assert_array_equal(obs, np.concatenate([first] * 3, axis=-1))  # the first frame, repeated
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 3  # sky, floor's two shades, the cart: not a blank frame
    frames = [first]
    for t in range(4):
        s2, res = step(s, jnp.full((env.action_dim,), 1.0))
        frames.append(np.asarray(frame(s2.inner)))
        expected = np.concatenate((frames[:1] * 3 + frames[1:])[-3:], axis=-1)
        np.testing.assert_array_equal(np.asarray(s2.obs), expected)
        np.testing.assert_array_equal(np.asarray(res.next_obs), expected)
        np.testing.assert_array_equal(np.asarray(s2.obs[..., :6]), np.asarray(s.obs[..., 3:]))
        s = s2
    assert not np.array_equal(frames[0], frames[-1])  # pushed at full force, the cart moved in the picture


def test_a_vmapped_batch_sees_what_each_env_sees_alone(cartpole):
    env, reset, step, _ = cartpole
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    actions = jnp.array([[-1.0], [0.0], [1.0]])
    batch, res = jax.jit(jax.vmap(env.step))(jax.jit(jax.vmap(env.reset))(keys), actions)
    for i in range(3):
        alone, r = step(reset(keys[i]), actions[i])
        np.testing.assert_array_equal(np.asarray(batch.obs[i]), np.asarray(alone.obs))
        np.testing.assert_allclose(float(res.reward[i]), float(r.reward), rtol=1e-6)


def test_the_replay_of_pixels_counts_two_frames_a_transition(cartpole):
    """uint8 frames, one byte an entry, and two frames a transition (``data.layout.FrameLayout``: obs's newest and
    next_obs's newest; the stacks are rebuilt from the env's earlier steps), not 2 x 3 stacked ones."""
    env = cartpole[0]
    line = replay_memory(env, 1000, 2, None)
    per = 2 * 24 * 24 * 3 + 4 + 4 * (env.action_dim + 2)  # two frames, the age (int32), action, reward, terminated
    assert f"x {per} B" in line and f"{2 * 1000 * per / 1e6:.1f} MB" in line


@pytest.mark.parametrize("overrides,message", [
    ({"env.name": "gymnax/Pendulum-v1"}, r"pixels=32: the camera draws MuJoCo scenes .* not gymnax/Pendulum-v1; use"),
    ({"env.name": "brax/hopper", "env.backend": "spring"}, r"not brax/hopper on the spring backend"),
    ({"env.pomdp": True}, r"pixels and pomdp=True are two observation settings"),
    ({"env.pixels": 8}, r"config.env.pixels=8: a frame's side must be 16 to 256"),
    ({"env.frame_stack": 0}, r"frame_stack must be an integer >= 1"),
    ({"replay.normalize_obs": True}, r"normalize_obs=True: pixel observations are scaled by drqv2's encoder"),
    ({"env.pixels": 0}, r"drqv2 reads pixel observations: set --config.env.pixels"),
    ({"env.pixels": 16, "drqv2.conv_layers": 8}, r"conv_layers=8 leaves no feature map of a 16x16 frame"),
])
def test_settings_that_cannot_run_are_refused_in_one_line(overrides, message):
    with pytest.raises(ConfigError, match=message) as err:
        validate_config(preset("drqv2", overrides=overrides))
    assert "\n" not in str(err.value)


def test_an_agent_of_state_vectors_refuses_pixels_and_a_missing_camera_is_named():
    with pytest.raises(ConfigError, match=r"pixels=32: sac reads state vectors; use an agent that reads pixels "
                                          r"\(diffsr_drqv2, drqv2\) or pixels=0"):
        validate_config(preset("sac", overrides={"env.name": "playground/CartpoleBalance", "env.pixels": 32}))
    with pytest.raises(ConfigError, match=r"camera=5: the model has 2 camera\(s\); use 0 .. 1, or -1"):
        make_env("playground/CartpoleBalance", pixels=16, camera=5)


def test_random_shift_crops_the_edge_padded_image_at_an_offset_within_pad():
    images = jax.random.randint(jax.random.PRNGKey(0), (16, 10, 12, 3), 0, 256).astype(jnp.uint8)
    np.testing.assert_array_equal(np.asarray(random_shift(jax.random.PRNGKey(1), images, 0)), np.asarray(images))
    shifted = np.asarray(random_shift(jax.random.PRNGKey(1), images, 2))
    assert shifted.dtype == np.uint8 and shifted.shape == images.shape
    padded = np.pad(np.asarray(images), ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
    offsets = []
    for b in range(16):
        hits = [(i, j) for i in range(5) for j in range(5) if np.array_equal(padded[b, i:i + 10, j:j + 12], shifted[b])]
        assert len(hits) == 1, b  # random pixels: exactly one offset reproduces the crop
        offsets.append(hits[0])
    assert len(set(offsets)) > 4  # each image its own offset


def _segments(rewards, terminated, next_obs, valid):
    seg = Transition(obs=None, action=None, reward=jnp.asarray(rewards, jnp.float32),
                     next_obs=jnp.asarray(next_obs, jnp.float32), terminated=jnp.asarray(terminated, jnp.float32))
    return seg, jnp.asarray(valid, jnp.float32)


def test_n_step_targets_stop_at_a_termination_or_a_reset():
    g = 0.9
    r = [[1.0, 2.0, 4.0], [1.0, 2.0, 4.0], [1.0, 2.0, 4.0]]
    term = [[0, 0, 1], [0, 1, 0], [0, 0, 0]]
    nxt = [[[10.0], [11.0], [12.0]]] * 3
    valid = [[1, 1, 1], [1, 1, 0], [1, 0, 0]]  # row 1: terminated at step 1; row 2: a reset after step 0
    seg, v = _segments(r, term, nxt, valid)
    reward, bootstrap, obs = n_step_targets(seg, v, g)
    np.testing.assert_allclose(np.asarray(reward), [1 + g * 2 + g * g * 4, 1 + g * 2, 1.0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(bootstrap), [0.0, 0.0, g], rtol=1e-6)  # row 0 ended at its last step
    np.testing.assert_allclose(np.asarray(obs)[:, 0], [12.0, 11.0, 10.0])
    seg, v = _segments(r, [[0, 0, 0]] * 3, nxt, [[1, 1, 1]] * 3)
    np.testing.assert_allclose(np.asarray(n_step_targets(seg, v, g)[1]), [g ** 3] * 3, rtol=1e-6)


def test_segments_of_frames_end_at_a_reset():
    """Three steps of one episode, then a reset (the next obs differs from the stored next_obs): a segment starting
    at step 1 keeps steps 1-2 and masks step 3."""
    frames = jnp.arange(8, dtype=jnp.uint8)[:, None, None, None] * jnp.ones((1, 4, 4, 3), jnp.uint8)
    obs = frames[jnp.array([0, 1, 2, 5])]
    nxt = frames[jnp.array([1, 2, 3, 6])]  # step 2 ended the episode at frame 3 (truncated); step 3 starts at 5
    items = Transition(obs, jnp.zeros((4, 1)), jnp.zeros(4), nxt, jnp.zeros(4))
    buf = replay_add(replay_init(jax.tree_util.tree_map(lambda x: x[0], items), 4), items)
    seg, valid = sample_segments(buf, jax.random.PRNGKey(0), 64, 3)
    first = np.asarray(seg.obs[:, 0, 0, 0, 0])
    v = np.asarray(valid)
    np.testing.assert_array_equal(v[first == 0], [[1, 1, 1]] * int((first == 0).sum()))
    np.testing.assert_array_equal(v[first == 1], [[1, 1, 0]] * int((first == 1).sum()))
    assert (first == 0).any() and (first == 1).any()


def test_the_noisy_action_stays_inside_the_bounds_and_passes_the_gradient_of_mu():
    mu = jnp.array([[0.99, -0.99, 0.0]])
    a = clipped_noise_action(jax.random.PRNGKey(0), mu, 10.0, 0.3)
    assert float(jnp.max(jnp.abs(a))) < 1.0 and float(jnp.max(jnp.abs(a - mu))) <= 0.3 + 1e-6
    grad = jax.grad(lambda m: clipped_noise_action(jax.random.PRNGKey(0), m, 10.0, 0.3).sum())(mu)
    np.testing.assert_allclose(np.asarray(grad), 1.0)


def test_the_encoder_learns_from_the_critic_alone():
    """One update's encoder equals one Adam step on the critic loss's gradient alone, recomputed here from the same
    keys (so an actor loss that reached the encoder would show); and that step moved it."""
    from diffsr_jax.agents.drqv2 import n_step_targets as targets
    from diffsr_jax.program.trainer import Trainer

    over = {"env.pixels": 16, "drqv2.channels": 4, "replay.batch_size": 8, "replay.buffer_size": 64,
            "run.total_steps": 64, "actor_critic.actor_hidden": (16, 16), "mlp_critic.hidden": (16, 16)}
    trainer = Trainer(preset("drqv2", overrides=over))
    agent, runner = trainer.agent, jax.jit(trainer.init)(jax.random.PRNGKey(0))
    sampler = trainer.sampler(replay_of_noise(trainer, runner, jax.random.PRNGKey(1)))
    state, key = runner.agent, jax.random.PRNGKey(3)
    new, info = jax.jit(agent.update)(state, sampler, key, 0)

    def critic_step_alone(state, sampler, key):
        k_seg, k_aug, k_aug_next, k_critic, _ = jax.random.split(key, 5)
        seg, valid = sampler.segments(k_seg, agent.batch_size, agent.n_step)
        reward, bootstrap, next_obs = targets(seg, valid, 0.99)
        obs, next_obs = random_shift(k_aug, seg.obs[:, 0], agent.pad), random_shift(k_aug_next, next_obs, agent.pad)
        target, _ = agent.td_target(state, reward, bootstrap, next_obs, k_critic)
        grads = jax.grad(lambda p: agent.critic_loss(state.critic.params, p, state.critic_state, obs, seg.action[:, 0],
                                                     target)[0])(state.encoder.params)
        return state.encoder.apply_gradients(grads).params

    expected = jax.jit(critic_step_alone)(state, sampler, key)
    assert np.isfinite(float(info["critic_loss"])) and np.isfinite(float(info["actor_loss"]))
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), new.encoder.params,
                           expected)
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(state.encoder.params),
                                                        jax.tree_util.tree_leaves(new.encoder.params)))


def test_segments_of_one_step_are_valid():
    """n_step = 1 (and PolyGRAD's starting states) draw segments of length 1: all valid."""
    obs = jnp.zeros((4, 5, 5, 3), jnp.uint8)
    items = Transition(obs, jnp.zeros((4, 1)), jnp.zeros(4), obs, jnp.zeros(4))
    buf = replay_add(replay_init(jax.tree_util.tree_map(lambda x: x[0], items), 4), items)
    _, valid = sample_segments(buf, jax.random.PRNGKey(0), 8, 1)
    np.testing.assert_array_equal(np.asarray(valid), np.ones((8, 1)))


def test_a_model_without_a_camera_is_told_to_use_the_tracking_one():
    with pytest.raises(ConfigError, match=r"camera=0: the model has no camera; use -1"):
        make_env("brax/inverted_pendulum", pixels=16)


@pytest.mark.parametrize("name,camera", [("brax/halfcheetah", 0), ("mbbl/hopper_et", -1)])
def test_brax_and_mbbl_envs_draw_their_bodies(name, camera):
    """Brax's models (MBBL's tasks step them): the torso-tracking model camera, or the tracking camera for a model
    without one; the body is in the picture and moves in it."""
    env = make_env(name, pixels=16, camera=camera)
    s = jax.jit(env.reset)(jax.random.PRNGKey(0))
    assert s.obs.shape == (16, 16, 9) and s.obs.dtype == jnp.uint8
    step = jax.jit(env.step)
    first = np.asarray(s.obs[..., -3:])
    for t in range(10):
        s, _ = step(s, jnp.sin(jnp.arange(env.action_dim) + t))
    assert not np.array_equal(first, np.asarray(s.obs[..., -3:]))
    colours = {tuple(p) for p in first.reshape(-1, 3)}
    assert len(colours) >= 4  # sky, two floor shades, the body


@pytest.mark.slow
def test_drqv2_paper_preset_runs_with_its_sizes(tmp_path):
    """DrQ-v2's ``paper`` preset (84 x 84 frames, batch 256, 4 layers of 32 channels, 2 envs, one update an iteration)
    through the launcher for a few learning iterations; only the budget is cut. Its checkpoint restores, and the
    encoder's and the critic's Adam took one step per learning iteration."""
    import json
    import os
    import subprocess
    import sys

    from tests.helpers import optimizer_steps, restore_run

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    iters, learn, f = 160, 8, 4  # iterations; learning ones; frames per iteration (2 envs x action repeat 2)
    logdir = tmp_path / "run"
    args = ["--config=experiments/configs/drqv2.py:paper", f"--total_steps={iters * f}", f"--eval_every={iters * f}",
            f"--config.run.warmup_steps={(iters - learn) * f}", f"--config.run.checkpoint_every={iters * f}",
            "--config.run.eval_episodes=1", "--config.env.episode_length=40", "--tensorboard=false", f"--logdir={logdir}"]
    p = subprocess.run([sys.executable, "-m", "experiments.train", *args], cwd=root,
                       env=dict(os.environ, PYTHONPATH=root), capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stderr[-3000:]
    saved = json.loads((logdir / "config.json").read_text())
    assert (saved["env"]["pixels"], saved["replay"]["batch_size"], saved["drqv2"]["channels"]) == (84, 256, 32)
    trainer, runner, step = restore_run(logdir)
    assert step == iters and trainer.env.obs_shape == (84, 84, 9)
    assert optimizer_steps(runner.agent.encoder.opt_state) == learn
    assert optimizer_steps(runner.agent.critic.opt_state) == learn


def test_the_trainer_keeps_two_frames_a_transition_and_reads_back_the_env_s_stacks():
    """A pixel run's replay (``data.layout.FrameLayout``, chosen by the trainer for a pixel env) rebuilds the stacks
    the env gave: 2 envs, 3-decision episodes (auto-reset from the pool), 16 transitions into 9 slots; every readable
    slot equals what a replay of whole stacks holds after the same warm-up from the same key."""
    from diffsr_jax.data.layout import FrameLayout, TransitionLayout
    from diffsr_jax.program.trainer import Trainer

    over = {"env.pixels": 16, "env.num_envs": 2, "env.episode_length": 12, "env.action_repeat": 4,
            "replay.buffer_size": 9, "run.total_steps": 64, "run.warmup_steps": 64, "drqv2.channels": 4}
    config = preset("drqv2", overrides=over)
    frames, stacks = Trainer(config), Trainer(config, layout=TransitionLayout())
    assert frames.layout == FrameLayout(3, 2) and frames.warmup_iters == 8

    def warmup(trainer):
        run = jax.jit(lambda r: trainer.run_iterations(r, 0, 8, 8)[0].buffer)
        return run(jax.jit(trainer.init)(jax.random.PRNGKey(0)))

    fb, sb = warmup(frames), warmup(stacks)
    assert int(fb.size) == int(sb.size) == 9 and int(fb.insert_pos) == int(sb.insert_pos)
    slots = (int(fb.insert_pos) + np.arange(frames.layout.readable_from(fb), 9)) % 9
    got = frames.layout.read(fb, jnp.asarray(slots))
    want = jax.tree_util.tree_map(lambda d: d[slots], sb.data)
    jax.tree_util.tree_map(np.testing.assert_array_equal, got, want)
    assert int(np.sum(np.asarray(fb.data.age) == 0)) >= 2  # episodes began inside the replay's window
