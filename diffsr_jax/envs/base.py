"""The functional environment interface every backend adapter implements.

An ``Env`` is a static Python object (shapes, bounds, time limit) with pure ``reset`` and ``step``.
Agents act in [-1, 1]; ``step`` rescales to the backend's bounds, applies the time limit, keeps
termination (no bootstrap) apart from time-limit truncation (bootstrap), tracks episode return and
length, and auto-resets. All arrays are for one environment; batch with ``jax.vmap``.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class EnvState:
    inner: Any  # backend state
    obs: jnp.ndarray  # (d_s,) observation the agent sees now
    key: jax.Array  # for resets and stochastic dynamics
    episode_return: jnp.ndarray  # () running return of the current episode
    episode_length: jnp.ndarray  # () int32 steps in the current episode


@flax.struct.dataclass
class StepResult:
    next_obs: jnp.ndarray  # (d_s,) true next observation (before any reset): store this in replay
    reward: jnp.ndarray  # ()
    terminated: jnp.ndarray  # () bool: absorbing end, do not bootstrap
    truncated: jnp.ndarray  # () bool: time limit, bootstrap through it
    episode_return: jnp.ndarray  # () return of the episode that just ended (valid where done)
    episode_length: jnp.ndarray  # () its length (valid where done)

    @property
    def done(self):
        return jnp.logical_or(self.terminated, self.truncated)


class Env:
    """Base adapter. Subclasses set the static fields and implement ``_reset`` / ``_step``.

    Static fields: name, obs_dim, action_dim, max_episode_steps, action_low (d_a,), action_high (d_a,).
    """

    name: str
    obs_dim: int
    action_dim: int
    max_episode_steps: int
    action_low: Any
    action_high: Any

    # --- backend hooks -------------------------------------------------------------------------
    def _reset(self, key):
        """key -> (inner_state, obs (d_s,))."""
        raise NotImplementedError

    def _step(self, inner, action, key):
        """(inner, action in env bounds (d_a,), key) -> (inner, obs (d_s,), reward (), terminated () bool)."""
        raise NotImplementedError

    # --- public API ----------------------------------------------------------------------------
    def scale_action(self, action):
        """Map an action in [-1, 1]^d_a to the env's bounds."""
        low, high = jnp.asarray(self.action_low), jnp.asarray(self.action_high)
        action = jnp.clip(action, -1.0, 1.0)
        return low + 0.5 * (action + 1.0) * (high - low)

    def reset(self, key) -> EnvState:
        key, k_reset = jax.random.split(key)
        inner, obs = self._reset(k_reset)
        return EnvState(inner, obs.astype(jnp.float32), key, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))

    def step(self, state: EnvState, action) -> tuple[EnvState, StepResult]:
        """One step with auto-reset. ``action`` in [-1, 1]^d_a."""
        key, k_step, k_reset = jax.random.split(state.key, 3)
        inner, obs, reward, terminated = self._step(state.inner, self.scale_action(action), k_step)
        obs = obs.astype(jnp.float32)
        reward = jnp.asarray(reward, jnp.float32)
        terminated = jnp.asarray(terminated, bool)
        ep_return = state.episode_return + reward
        ep_length = state.episode_length + 1
        truncated = jnp.logical_and(ep_length >= self.max_episode_steps, jnp.logical_not(terminated))
        done = jnp.logical_or(terminated, truncated)
        reset_inner, reset_obs = self._reset(k_reset)
        pick = lambda a, b: jnp.where(done, a, b)
        new_inner = jax.tree_util.tree_map(pick, reset_inner, inner)
        new_state = EnvState(
            inner=new_inner,
            obs=pick(reset_obs.astype(jnp.float32), obs),
            key=key,
            episode_return=pick(jnp.zeros_like(ep_return), ep_return),
            episode_length=pick(jnp.zeros_like(ep_length), ep_length),
        )
        return new_state, StepResult(obs, reward, terminated, truncated, ep_return, ep_length)
