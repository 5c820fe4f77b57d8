"""A manipulation task with a success flag (brax/pusher, standing in for Meta-World's push): the flag, its view from
pixels, and the evaluation's success rate."""

import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.envs import make_env
from diffsr_jax.envs.camera import Camera
from tests.helpers import preset


def _object_on_goal(env, state):
    """``state`` (of the unwrapped env) with the pushed cylinder moved onto the goal (its slide joints at the goal's
    offset) and at rest."""
    ps = state.inner.pipeline_state
    q = ps.q.at[-4:-2].set(ps.q[-2:])  # object (x, y) slides = the goal's
    moved = env.backend_env.pipeline_init(q, jnp.zeros_like(ps.qd))
    return state.replace(inner=state.inner.replace(pipeline_state=moved))


def test_pusher_succeeds_only_with_the_object_on_the_goal():
    env = make_env("brax/pusher", backend="mjx")
    assert env.defines_success and not make_env("brax/reacher", backend="mjx").defines_success
    s = jax.jit(env.reset)(jax.random.PRNGKey(0))
    obj, goal = np.asarray(s.inner.obs[17:19]), np.asarray(s.inner.obs[20:22])
    assert np.linalg.norm(obj - goal) > 0.05 and not bool(env.success(s))  # a reset keeps them >= 0.17 apart
    step = jax.jit(env.step)
    s_on, _ = step(jax.jit(lambda st: _object_on_goal(env, st))(s), jnp.zeros(env.action_dim))
    assert bool(env.success(s_on))
    s_off, _ = step(s, jnp.zeros(env.action_dim))
    assert not bool(env.success(s_off))


def test_pusher_from_pixels_sees_the_table_from_its_corner_and_keeps_the_flag():
    """camera -1 gives brax/pusher its fixed view: the goal's red marker and the arm are in the frame; the success
    flag reads the wrapped adapter's state through the pixel wrapper."""
    env = make_env("brax/pusher", backend="mjx", pixels=32, camera=-1)
    assert isinstance(env.camera, Camera) and env.camera.body == 0 and env.defines_success
    s = jax.jit(env.reset)(jax.random.PRNGKey(0))
    frame = np.asarray(s.obs[..., -3:]).reshape(-1, 3).astype(int)
    red = (frame[:, 0] > 150) & (frame[:, 1] < 80) & (frame[:, 2] < 80)
    assert red.sum() >= 2  # the goal
    assert not bool(env.success(s))


def test_the_evaluation_counts_the_episodes_that_reach_the_goal():
    """``Trainer.play_episodes``: an episode succeeds when the task's flag holds after any of its decisions (here a
    stand-in flag on gymnax Pendulum's clock, cheap to compile: it holds from the third decision of a 5-decision
    episode, or never); ``chunk_program`` logs ``eval/success`` only on a task with a flag."""
    from diffsr_jax.program.trainer import Trainer

    over = {"env.episode_length": 5, "run.total_steps": 16, "run.eval_episodes": 2,
            "actor_critic.actor_hidden": (8,), "mlp_critic.hidden": (8,)}
    for holds_from, expected in ((3, True), (6, False)):
        trainer = Trainer(preset("sac", overrides=over))
        assert not trainer.env.defines_success
        trainer.env.task_success = lambda inner, t=holds_from: inner.time >= t
        assert trainer.env.defines_success
        runner = jax.jit(trainer.init)(jax.random.PRNGKey(0))
        ret, length, success = jax.jit(lambda r, k: trainer.play_episodes(r, k, 2)[:3])(runner, jax.random.PRNGKey(1))
        np.testing.assert_array_equal(np.asarray(length), [5, 5])
        np.testing.assert_array_equal(np.asarray(success), [expected, expected])
        if expected:  # one warm-up iteration, then the chunk's evaluation: its success rate
            _, m = jax.jit(lambda r: trainer.chunk_program(r, 0, 1, 1))(runner)
            assert float(m["eval/success"]) == 1.0
