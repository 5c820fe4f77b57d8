import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.envs import make_env, validate_env_name
from tests.helpers import rollout as _rollout


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


@pytest.mark.parametrize("name,msg", [
    ("gymnax/Pendulum-v9", "choose one of: Pendulum-v1, MountainCarContinuous-v0"),
    ("mujoco/hopper", "family one of brax, mbbl, playground, gymnax"),
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


def test_action_repeat_on_dmc_halves_decisions_and_sums_rewards():
    """playground/CartpoleSwingup (a DM Control env, MJX with impl=jax), 40-frame episodes: repeat 2 = 20 decisions,
    each the sum of two frames."""
    assert make_env("playground/CartpoleSwingup").max_episode_steps == 1000  # DM Control's own episode length
    env1 = make_env("playground/CartpoleSwingup", max_episode_steps=40)
    env2 = make_env("playground/CartpoleSwingup", max_episode_steps=40, action_repeat=2)
    assert env1.action_dim == 1 and env1.obs_dim == 5
    assert (env1.max_decisions, env2.max_decisions, env2.action_repeat) == (40, 20, 2)
    actions = jax.random.uniform(jax.random.PRNGKey(1), (20, 1), minval=-1, maxval=1)
    _, (_, (r1, _)) = _rollout(env1, jnp.repeat(actions, 2, axis=0))
    _, (_, (r2, _)) = _rollout(env2, actions)
    rew1 = np.asarray(r1.reward)
    assert np.abs(rew1).sum() > 0, "the rewards must not be trivially zero"
    np.testing.assert_allclose(np.asarray(r2.reward), rew1[0::2] + rew1[1::2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(r2.next_obs), np.asarray(r1.next_obs)[1::2], rtol=1e-5, atol=1e-6)
    assert np.flatnonzero(np.asarray(r2.truncated)).tolist() == [19]  # one episode: 20 decisions
    assert np.flatnonzero(np.asarray(r1.truncated)).tolist() == [39]  # the same episode: 40 frames
    assert int(r2.episode_length[19]) == 20 and int(r1.episode_length[39]) == 40
    np.testing.assert_allclose(float(r2.episode_return[19]), float(r1.episode_return[39]), rtol=1e-5)


def test_termination_stops_the_repeat():
    env1 = make_env("brax/inverted_pendulum", backend="positional")
    env3 = make_env("brax/inverted_pendulum", backend="positional", action_repeat=3)
    _, (_, (r1, _)) = _rollout(env1, jnp.ones((90, 1)))  # push one way: the pole falls
    _, (_, (r3, _)) = _rollout(env3, jnp.ones((30, 1)))
    f = int(np.argmax(np.asarray(r1.terminated)))  # the frame on which the first episode terminates
    d = f // 3
    assert np.asarray(r1.terminated).any() and int(np.argmax(np.asarray(r3.terminated))) == d
    rew1 = np.asarray(r1.reward)
    np.testing.assert_allclose(float(r3.reward[d]), rew1[3 * d: f + 1].sum(), rtol=1e-5)  # frames after f: none
    np.testing.assert_allclose(np.asarray(r3.next_obs[d]), np.asarray(r1.next_obs[f]), rtol=1e-5, atol=1e-6)
    assert int(r3.episode_length[d]) == d + 1


class _CountingPendulum:
    """gymnax Pendulum whose backend reset reports every execution (a physics reset on MJX/Playground)."""

    def __new__(cls, max_episode_steps, counter):
        from diffsr_jax.envs.gymnax_env import GymnaxEnv

        class Counting(GymnaxEnv):
            def _reset(self, key):
                inner, obs = super()._reset(key)
                jax.debug.callback(lambda x: counter.append(np.size(x)), obs[0])
                return inner, obs

        return Counting("Pendulum-v1", max_episode_steps)


def _batch_rollout(env, mode, pool_size, refill_every, num_envs=2, iters=48):
    from diffsr_jax.envs import AutoReset

    ar = AutoReset(env, mode, pool_size, refill_every)
    k0, k1, k2 = jax.random.split(jax.random.PRNGKey(0), 3)
    states = jax.vmap(env.reset)(jax.random.split(k0, num_envs))

    def body(carry, k):
        s, pool, _ = carry
        s, res = jax.vmap(env.step)(s, jnp.zeros((num_envs, 1)))
        s, pool, reused = ar(s, res.done, pool, k)
        return (s, pool, k), (res.done, s.obs, reused)

    def refill(carry):  # the trainer's nested scan: a fresh pool at the start of every block
        s, pool, k = carry
        return s, (ar.refill(pool, jax.random.fold_in(k, 1)) if pool is not None else None), k

    xs = jax.random.split(k2, iters)
    _, (done, obs, reused) = jax.jit(lambda xs: ar.scan(body, (states, ar.init(k1), k1), xs, refill))(xs)
    done, obs = np.asarray(done), np.asarray(obs)
    return obs[done], int(np.asarray(reused).sum())  # the first observation of every new episode


@pytest.mark.parametrize("pool_size,expected_reuse", [(8, 0), (4, 16)])
def test_reset_pool_starts_fresh_episodes_and_reports_reuse(pool_size, expected_reuse):
    """3-step episodes in 2 envs: 8 episodes end per 12-iteration refill window, 32 in all."""
    counter = []
    env = _CountingPendulum(3, counter)
    starts, reused = _batch_rollout(env, "pool", pool_size, refill_every=12)
    jax.effects_barrier()
    assert len(starts) == 32 and reused == expected_reuse
    distinct = len({tuple(np.round(s, 6)) for s in starts})
    assert distinct == 32 - expected_reuse  # every start is fresh unless reported as reused
    # physics resets: the first states (2), the initial pool and one refill per window -- not one per env-step
    assert sum(counter) == 2 + pool_size * (1 + 48 // 12)
    counter.clear()
    starts_exact, _ = _batch_rollout(env, "every_step", pool_size, refill_every=12)
    jax.effects_barrier()
    assert len({tuple(np.round(s, 6)) for s in starts_exact}) == 32
    assert sum(counter) == 2 + 2 * 48
