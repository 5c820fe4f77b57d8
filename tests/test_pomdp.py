"""The partially observable wrapper hides exactly the velocity entries and stacks history across auto-resets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.envs import make_env, make_env_from_config
from diffsr_jax.envs.pomdp import PartialObsEnv
from diffsr_jax.config import ConfigError, validate_config
from tests.helpers import preset, rollout


def _paired_rollout(raw, wrapped, actions, key=0):
    """Step the unwrapped env and the wrapper (built on an identical env) with the same keys and actions, each
    auto-reset after every finished episode. Returns (raw state0, wrapped state0, per-step raw (res, state),
    per-step wrapped (res, state))."""
    s_raw, (_, raw_out) = rollout(raw, actions, key)
    s_wr, (_, wr_out) = rollout(wrapped, actions, key)
    return s_raw, s_wr, raw_out, wr_out


def _expected_stacks(first_obs, next_obs, reset_obs, done, keep, L):
    """Reference history in plain numpy: (agent obs after each step, next_obs stacks)."""
    m = lambda o: np.asarray(o)[keep]
    hist = [m(first_obs)] * L
    obs_after, next_stacks = [], []
    for t in range(len(done)):
        cont = hist[1:] + [m(next_obs[t])]
        next_stacks.append(np.concatenate(cont))
        hist = [m(reset_obs[t])] * L if done[t] else cont
        obs_after.append(np.concatenate(hist))
    return np.stack(obs_after), np.stack(next_stacks)


def _check_history(raw, wrapped, L, raw_out, wr_out, s_raw0, s_wr0):
    (r_raw, st_raw), (r_wr, st_wr) = raw_out, wr_out
    keep = wrapped.keep_idx
    # the first agent observation is the masked first observation repeated L times
    np.testing.assert_allclose(np.asarray(s_wr0.obs), np.tile(np.asarray(s_raw0.obs)[keep], L), rtol=1e-6)
    done = np.asarray(r_raw.done)
    assert done.any(), "the rollout must cross an auto-reset"
    exp_obs, exp_next = _expected_stacks(s_raw0.obs, np.asarray(r_raw.next_obs), np.asarray(st_raw.obs), done, keep, L)
    np.testing.assert_allclose(np.asarray(st_wr.obs), exp_obs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(r_wr.next_obs), exp_next, rtol=1e-5, atol=1e-6)
    # rewards, termination, truncation and episode statistics are the wrapped env's
    for f in ("reward", "terminated", "truncated", "episode_return", "episode_length"):
        np.testing.assert_array_equal(np.asarray(getattr(r_wr, f)), np.asarray(getattr(r_raw, f)))
    # right after a reset every block equals the new episode's first observation
    d = int(np.flatnonzero(done)[0])
    blocks = np.asarray(st_wr.obs[d]).reshape(L, -1)
    np.testing.assert_allclose(blocks, np.tile(np.asarray(st_raw.obs[d])[keep], (L, 1)), rtol=1e-6)
    # on the final step next_obs ends in the true final observation, not the reset one
    np.testing.assert_allclose(np.asarray(r_wr.next_obs[d]).reshape(L, -1)[-1], np.asarray(r_raw.next_obs[d])[keep],
                               rtol=1e-6)
    assert not np.allclose(np.asarray(r_wr.next_obs[d]), np.asarray(st_wr.obs[d]))


def test_pendulum_hides_thetadot_and_stacks_across_resets():
    L = 3
    raw = make_env("gymnax/Pendulum-v1", max_episode_steps=5)
    wrapped = make_env("gymnax/Pendulum-v1", max_episode_steps=5, pomdp=True, pomdp_history=L)
    assert isinstance(wrapped, PartialObsEnv)
    assert wrapped.velocity_idx.tolist() == [2] and wrapped.keep_idx.tolist() == [0, 1]
    assert (wrapped.obs_dim, wrapped.action_dim, wrapped.max_episode_steps) == (6, 1, 5)
    actions = jnp.linspace(-1, 1, 13)[:, None]
    s_raw0, s_wr0, raw_out, wr_out = _paired_rollout(raw, wrapped, actions)
    # the hidden entry is exactly the angular velocity of the simulator state, the kept ones are cos/sin
    r_raw, st_raw = raw_out
    obs = np.asarray(st_raw.obs)
    np.testing.assert_allclose(obs[:, 2], np.asarray(st_raw.inner.theta_dot), rtol=1e-6)
    np.testing.assert_allclose(obs[:, 0], np.cos(np.asarray(st_raw.inner.theta)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(r_raw.truncated).nonzero()[0], [4, 9])
    _check_history(raw, wrapped, L, raw_out, wr_out, s_raw0, s_wr0)


def test_brax_hopper_hides_exactly_qd_and_stacks_across_resets():
    """Only the wrapper is rolled out (one brax compile): the unwrapped observations are its inner env's."""
    L = 2
    wrapped = make_env("brax/hopper", backend="positional", max_episode_steps=7, pomdp=True, pomdp_history=L)
    # hopper obs = [q[1:] with q[1] := torso z (5), clip(qd, -10, 10) (6)]
    assert wrapped.velocity_idx.tolist() == list(range(5, 11)) and wrapped.obs_dim == L * 5
    actions = jax.random.uniform(jax.random.PRNGKey(3), (16, wrapped.action_dim), minval=-1, maxval=1)
    state0, (_, (res, st)) = rollout(wrapped, actions)
    inner = st.inner[0]
    raw_obs, ps = np.asarray(inner.obs), inner.inner.pipeline_state
    # the hidden entries are exactly the simulator's (clipped) joint velocities; the kept ones are positions
    np.testing.assert_allclose(raw_obs[:, 5:], np.clip(np.asarray(ps.qd), -10, 10), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(raw_obs[:, 2:5], np.asarray(ps.q)[:, 3:6], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(st.obs).reshape(16, L, 5)[:, -1], raw_obs[:, :5], rtol=1e-6)
    done = np.asarray(res.done)
    assert done.any(), "the rollout must cross an auto-reset"
    # reference history from the inner observations; on a done step the true final obs is next_obs's last block
    hist = [np.asarray(state0.inner[0].obs)[:5]] * L
    for t in range(16):
        nxt = np.asarray(res.next_obs[t]).reshape(L, 5)
        np.testing.assert_allclose(nxt[:-1], np.stack(hist[1:]), rtol=1e-6)
        if not done[t]:
            np.testing.assert_allclose(nxt[-1], raw_obs[t, :5], rtol=1e-6)
            hist = [*hist[1:], raw_obs[t, :5]]
        else:
            assert not np.allclose(nxt[-1], raw_obs[t, :5])  # the final obs, not the next episode's first
            hist = [raw_obs[t, :5]] * L
        np.testing.assert_allclose(np.asarray(st.obs[t]), np.concatenate(hist), rtol=1e-6)


def test_config_wires_pomdp_and_rejects_unknown_layouts():
    cfg = preset("sac", overrides={"env.name": "gymnax/Pendulum-v1", "env.pomdp": True, "env.pomdp_history": 4})
    validate_config(cfg)
    env = make_env_from_config(cfg)
    assert isinstance(env, PartialObsEnv) and env.obs_dim == 8
    with pytest.raises(ConfigError, match=r"velocity layout of playground/SwimmerSwimmer6 is unknown.*pomdp=False"):
        validate_config(preset("sac", overrides={"env.name": "playground/SwimmerSwimmer6", "env.pomdp": True}))
    with pytest.raises(ConfigError, match="pomdp_history must be an integer >= 1"):
        validate_config(preset("sac", overrides={"env.pomdp": True, "env.pomdp_history": 0}))
    with pytest.raises(ConfigError, match="early_termination=False: gymnax/Pendulum-v1 has no termination"):
        validate_config(preset("sac", overrides={"env.early_termination": False}))
    validate_config(preset("sac", overrides={"env.name": "brax/hopper", "env.early_termination": False}))
