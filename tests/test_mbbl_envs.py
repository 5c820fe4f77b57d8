"""MBBL's task definitions (``mbbl/<name>``, envs/mbbl.py) against MBBL's formulas on states with known values, and
one stepped env whose reward, termination and observation are checked against the Brax state it steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.envs.mbbl import MBBL_TASKS, mbbl_reward
from diffsr_jax.envs.registry import make_env
from diffsr_jax.fields import ConfigError


def _obs(size, **entries):
    obs = np.zeros(size, np.float32)
    for index, value in entries.items():
        obs[int(index[1:])] = value
    return jnp.asarray(obs)


def test_hopper_reward_and_termination_formulas():
    task = MBBL_TASKS["hopper_et"]
    a = jnp.array([0.5, -0.5, 1.0])  # ||a||^2 = 1.5
    # velocity 2, height 1.0, upright: 2 - 3 (1.0 - 1.3)^2 - 0.1 * 1.5 + 1 = 2.58
    assert mbbl_reward(task, _obs(11, i0=1.0, i5=2.0), a) == pytest.approx(2.58, abs=1e-6)
    # the same, fallen below 0.7: no alive bonus, height penalty 3 (0.6 - 1.3)^2 = 1.47
    assert mbbl_reward(task, _obs(11, i0=0.6, i5=2.0), a) == pytest.approx(2.0 - 1.47 - 0.15, abs=1e-6)
    assert bool(task.unhealthy(_obs(11, i0=0.7))) and not bool(task.unhealthy(_obs(11, i0=0.71)))
    assert bool(task.unhealthy(_obs(11, i0=1.2, i1=-0.2))) and not bool(task.unhealthy(_obs(11, i0=1.2, i1=0.19)))


def test_walker_ant_cheetah_humanoid_formulas():
    a6 = jnp.full(6, 0.5)  # ||a||^2 = 1.5
    walker = MBBL_TASKS["walker_et"]
    assert mbbl_reward(walker, _obs(17, i0=1.3, i8=-1.0), a6) == pytest.approx(-1.0 - 0.15 + 1.0, abs=1e-6)
    assert [bool(walker.unhealthy(_obs(17, i0=h, i1=ang))) for h, ang in
            ((2.0, 0), (0.8, 0), (1.2, 1.0), (1.2, -0.99), (1.99, 0))] == [True, True, True, False, False]
    cheetah = MBBL_TASKS["halfcheetah"]  # velocity - 0.1 ||a||^2 only, whatever the height
    assert mbbl_reward(cheetah, _obs(17, i0=-5.0, i8=3.0), a6) == pytest.approx(3.0 - 0.15, abs=1e-6)
    assert cheetah.unhealthy is None
    ant = MBBL_TASKS["ant_et"]
    a8 = jnp.ones(8)  # ||a||^2 = 8
    assert mbbl_reward(ant, _obs(27, i0=0.57, i13=1.5), a8) == pytest.approx(1.5 - 0.8 + 1.0, abs=1e-6)
    assert mbbl_reward(ant, _obs(27, i0=1.07, i13=1.5), a8) == pytest.approx(1.5 - 3 * 0.25 - 0.8, abs=1e-5)
    assert [bool(ant.unhealthy(_obs(27, i0=h))) for h in (1.01, 0.19, 1.0, 0.2)] == [True, True, False, False]
    humanoid = MBBL_TASKS["slimhumanoid_et"]
    a17 = jnp.zeros(17)
    assert mbbl_reward(humanoid, _obs(45, i0=1.4, i22=0.3), a17) == pytest.approx(0.25 / 0.015 * 0.3 + 5, rel=1e-6)
    assert mbbl_reward(humanoid, _obs(45, i0=0.9, i22=0.3), a17) == pytest.approx(0.25 / 0.015 * 0.3, rel=1e-6)


def test_hopper_steps_with_mbbl_reward_termination_and_observation():
    env = make_env("mbbl/hopper_et", "mjx", physics="native")
    assert (env.obs_dim, env.action_dim, env.max_episode_steps) == (11, 3, 1000)
    state = jax.jit(env.reset)(jax.random.PRNGKey(3))
    ps = state.inner
    # observation = Gym's qpos[1:] ++ qvel: the height is the torso's world z (Brax's q[1] has no ref)
    np.testing.assert_allclose(state.obs[0], ps.x.pos[0, 2], atol=1e-6)
    np.testing.assert_allclose(state.obs[1:5], ps.q[2:], atol=1e-7)
    np.testing.assert_allclose(state.obs[5:], ps.qd, atol=1e-7)
    assert abs(float(state.obs[0]) - 1.25) <= 0.005 + 1e-6  # Gym's reset: 1.25 + U(-0.005, 0.005); Brax's q[1] is ~0
    step = jax.jit(env.step)
    action = jnp.array([1.0, -1.0, 0.5])
    terminated_at = None
    for t in range(400):
        before = state.obs
        state, res = step(state, action)
        expected = mbbl_reward(MBBL_TASKS["hopper_et"], before, action)
        np.testing.assert_allclose(res.reward, expected, rtol=1e-5, atol=1e-5)
        assert bool(res.terminated) == bool(MBBL_TASKS["hopper_et"].unhealthy(res.next_obs))
        if res.terminated:
            terminated_at = t
            break
    assert terminated_at is not None, "a constant extreme action should topple the hopper within 400 steps"


def test_mbbl_rules():
    with pytest.raises(ConfigError, match="mbbl/halfcheetah has no termination on falling"):
        make_env("mbbl/halfcheetah", early_termination=False)
    with pytest.raises(ConfigError, match="unknown mbbl env 'hopper'"):
        make_env("mbbl/hopper")
    env = make_env("mbbl/ant_et", pomdp=True)  # the qvel block hidden, 3 observations stacked
    assert env.obs_dim == 3 * 13
