import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.envs import make_env, validate_env_name


def _rollout(env, actions, key=0):
    state = env.reset(jax.random.PRNGKey(key))

    def body(s, a):
        s2, res = env.step(s, a)
        return s2, (res, s2)

    return state, jax.lax.scan(body, state, actions)


def test_gymnax_pendulum_shapes_scaling_and_reward():
    env = make_env("gymnax/Pendulum-v1")
    assert (env.obs_dim, env.action_dim, env.max_episode_steps) == (3, 1, 200)
    np.testing.assert_allclose(env.action_low, [-2.0])
    np.testing.assert_allclose(env.action_high, [2.0])
    state = env.reset(jax.random.PRNGKey(0))
    assert state.obs.shape == (3,)
    th, thdot = state.inner.theta, state.inner.theta_dot
    new_state, res = jax.jit(env.step)(state, jnp.array([0.5]))  # 0.5 in [-1, 1] -> torque 1.0
    assert float(new_state.inner.last_u) == pytest.approx(1.0)
    norm_th = ((th + jnp.pi) % (2 * jnp.pi)) - jnp.pi
    expected = -(norm_th**2 + 0.1 * thdot**2 + 0.001 * 1.0**2)
    assert float(res.reward) == pytest.approx(float(expected), rel=1e-5)
    assert res.next_obs.shape == (3,) and not bool(res.done)


def test_auto_reset_and_truncation_are_tracked():
    env = make_env("gymnax/Pendulum-v1", max_episode_steps=5)
    actions = jnp.zeros((12, 1))
    _, (_, (res, states)) = _rollout(env, actions)
    trunc = np.asarray(res.truncated)
    assert trunc.tolist() == [False] * 4 + [True] + [False] * 4 + [True] + [False] * 2
    assert not np.asarray(res.terminated).any()  # a time limit is never termination
    rewards = np.asarray(res.reward)
    np.testing.assert_allclose(np.asarray(res.episode_return)[4], rewards[:5].sum(), rtol=1e-5)
    assert int(res.episode_length[4]) == 5
    # after the reset the counters restart and the agent sees a fresh observation, while next_obs keeps the
    # true final observation for the replay buffer
    assert int(states.episode_length[4]) == 0 and float(states.episode_return[4]) == 0.0
    assert not np.allclose(np.asarray(states.obs[4]), np.asarray(res.next_obs[4]))
    np.testing.assert_allclose(np.asarray(states.obs[3]), np.asarray(res.next_obs[3]))


def test_brax_termination_is_not_truncation():
    env = make_env("brax/inverted_pendulum", backend="positional", max_episode_steps=1000)
    assert env.obs_dim == 4 and env.action_dim == 1
    actions = jnp.ones((60, 1))  # push one way: the pole falls and the episode terminates
    _, (_, (res, states)) = _rollout(env, actions)
    term = np.asarray(res.terminated)
    assert term.any(), "pushing constantly must topple the pole"
    first = int(np.argmax(term))
    assert not np.asarray(res.truncated).any()
    assert int(res.episode_length[first]) == first + 1
    assert int(states.episode_length[first]) == 0  # auto-reset


def test_playground_dm_control_loads_with_jax_impl():
    env = make_env("playground/PendulumSwingup")
    assert env.action_dim == 1 and env.obs_dim == 3 and env.max_episode_steps == 1000
    _, (_, (res, _)) = _rollout(env, jnp.zeros((10, 1)))
    assert np.isfinite(np.asarray(res.reward)).all()
    assert np.asarray(res.next_obs).shape == (10, 3)


@pytest.mark.parametrize("name,msg", [
    ("gymnax/Pendulum-v9", "choose one of: Pendulum-v1, MountainCarContinuous-v0"),
    ("mujoco/hopper", "family one of brax, playground, gymnax"),
    ("brax/hoper", "choose one of: ant, halfcheetah, hopper"),
    ("playground/Cheetah", "CheetahRun"),
])
def test_unknown_env_lists_valid_names(name, msg):
    with pytest.raises(ValueError, match=msg):
        validate_env_name(name)


def test_discrete_gymnax_env_is_refused():
    from diffsr_jax.envs.gymnax_env import GymnaxEnv

    with pytest.raises(ValueError, match="discrete action space"):
        GymnaxEnv("CartPole-v1")
