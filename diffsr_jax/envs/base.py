"""The functional environment interface every backend adapter implements.

An ``Env`` is a static Python object (shapes, bounds, time limit, action repeat) with pure ``reset`` and
``step``. Agents act in [-1, 1]; ``step`` rescales to the backend's bounds, repeats the action for
``action_repeat`` frames (rewards summed, stopping at termination), applies the time limit, keeps termination
(no bootstrap) apart from time-limit truncation (bootstrap) and tracks episode return and length.

``step`` does not reset: a finished episode's state is returned as it ended, and starting the next episode is
the caller's choice (``envs.autoreset``): a reset costs a physics forward on MJX and Playground, so computing
one on every step and throwing it away unless the episode ended would double the work of cheap steps.
All arrays are for one environment; batch with ``jax.vmap``.

Units: ``max_episode_steps`` counts environment *frames* (the simulator's own steps); an episode has at most
``max_decisions = ceil(max_episode_steps / action_repeat)`` agent decisions, and ``episode_length`` counts decisions.
"""

from __future__ import annotations

import math
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class EnvState:
    inner: Any  # backend state
    obs: jnp.ndarray  # (d_s,) observation the agent sees now
    key: jax.Array  # for stochastic dynamics
    episode_return: jnp.ndarray  # () running return of the current episode
    episode_length: jnp.ndarray  # () int32 decisions in the current episode


@flax.struct.dataclass
class StepResult:
    next_obs: jnp.ndarray  # (d_s,) next observation (the true final one when the episode ended): store this in replay
    reward: jnp.ndarray  # () summed over the repeated frames
    terminated: jnp.ndarray  # () bool: absorbing end, do not bootstrap
    truncated: jnp.ndarray  # () bool: time limit, bootstrap through it
    episode_return: jnp.ndarray  # () return of the episode so far (its final return where done)
    episode_length: jnp.ndarray  # () its length in decisions

    @property
    def done(self):
        return jnp.logical_or(self.terminated, self.truncated)


def freeze_where(stop, old, new):
    """``new`` where ``stop`` is False, else ``old`` (leafwise; ``stop`` is a scalar)."""
    return jax.tree_util.tree_map(lambda o, n: jnp.where(stop, o, n), old, new)


class Env:
    """Base adapter. Subclasses set the static fields and implement ``_reset`` / ``_step``.

    Static fields: name, obs_dim, action_dim, max_episode_steps (frames), action_low (d_a,), action_high (d_a,),
    action_repeat (frames per decision, default 1).

    Public read-only accessors (code outside an adapter reads these, never its private ``_env`` / ``_params``):

    - every ``Env``: ``innermost(state) -> (adapter, its EnvState)`` through any wrappers (``envs.pomdp``);
      ``defines_success`` and ``success(state) -> () bool``: whether the task's goal holds in a state (a manipulation
      task's success flag, read from the adapter's backend state through any wrappers), for the tasks whose adapter
      has a ``task_success`` (backend state -> () bool); ``success`` is False everywhere for the others;
    - every adapter: ``backend_env``, the third-party env object it steps (Brax, Playground, gymnax);
      ``velocity_indices() -> (n_vel,) int``, where the velocity entries of its observation sit, for the names its
      family's ``pomdp_supported`` accepts (``envs.families.EnvFamily``);
    - ``BraxEnv``: ``system`` (the Brax ``System`` it steps), ``solver``, ``physics``;
    - ``PlaygroundEnv``: ``mj_model`` (``mujoco.MjModel``), ``mjx_model`` (the MJX model it steps), ``solver``,
      ``physics``, ``impl``;
    - ``GymnaxEnv``: ``params`` (the gymnax ``EnvParams`` it steps with).

    - adapters of MuJoCo-based envs (Brax on mjx, MBBL on mjx, Playground on jax): ``scene(inner) -> (MJX model, MJX
      data)`` of a backend state, what ``envs.camera`` draws.

    Observations are ``obs_shape`` arrays of ``obs_dtype``: (obs_dim,) float32 state vectors, except for the pixel
    wrapper's (H, W, 3 * frames) uint8 images (``envs.pixels``); ``obs_dim`` is their number of entries.

    Wrappers (``PartialObsEnv``, ``PixelEnv``) keep the wrapped env as ``env``.
    """

    name: str
    obs_dim: int
    action_dim: int
    max_episode_steps: int
    action_low: Any
    action_high: Any
    action_repeat: int = 1
    obs_dtype = jnp.float32

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return (int(self.obs_dim),)

    # --- backend hooks -------------------------------------------------------------------------
    def _reset(self, key):
        """key -> (inner_state, obs (d_s,))."""
        raise NotImplementedError

    def _step(self, inner, action, key):
        """(inner, action in env bounds (d_a,), key) -> (inner, obs (d_s,), reward (), terminated () bool)."""
        raise NotImplementedError

    # --- public API ----------------------------------------------------------------------------
    frame_seconds: float = 0.05  # simulated seconds per env frame (subclasses set the backend's own)

    @property
    def decision_seconds(self) -> float:
        """Simulated seconds between two agent decisions (``action_repeat`` frames)."""
        return float(self.frame_seconds) * int(self.action_repeat)

    @property
    def max_decisions(self) -> int:
        """Agent decisions in an episode that runs to the time limit."""
        return math.ceil(self.max_episode_steps / self.action_repeat)

    def scale_action(self, action):
        """Map an action in [-1, 1]^d_a to the env's bounds."""
        low, high = jnp.asarray(self.action_low), jnp.asarray(self.action_high)
        action = jnp.clip(action, -1.0, 1.0)
        return low + 0.5 * (action + 1.0) * (high - low)

    def innermost(self, state: EnvState) -> tuple[Env, EnvState]:
        """The adapter under any wrappers and its part of ``state`` (leading batch/time axes kept); an adapter is
        its own innermost env."""
        return self, state

    task_success = None  # an adapter's success test of its backend state (-> () bool), for tasks that define one

    @property
    def defines_success(self) -> bool:
        """Whether the task (the adapter under any wrappers) has a success flag."""
        wrapped = getattr(self, "env", None)
        return wrapped.defines_success if isinstance(wrapped, Env) else self.task_success is not None

    def success(self, state: EnvState):
        """() bool: whether the task's goal holds in ``state`` (False where the task defines none)."""
        adapter, own = self.innermost(state)
        if adapter.task_success is None:
            return jnp.zeros((), bool)
        return jnp.asarray(adapter.task_success(own.inner), bool)

    def reset(self, key) -> EnvState:
        key, k_reset = jax.random.split(key)
        inner, obs = self._reset(k_reset)
        return EnvState(inner, obs.astype(jnp.float32), key, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))

    def _frames(self, inner, action, key):
        """``action_repeat`` frames of one action: (inner, obs, summed reward, terminated). Frames after a
        termination are not simulated (the state stays as it ended) and add no reward."""
        if self.action_repeat == 1:
            inner, obs, reward, term = self._step(inner, action, key)
            return inner, obs.astype(jnp.float32), jnp.asarray(reward, jnp.float32), jnp.asarray(term, bool)

        def frame(carry, k):
            inner, obs, total, ended = carry
            n_inner, n_obs, r, term = self._step(inner, action, k)
            inner = freeze_where(ended, inner, n_inner)
            obs = jnp.where(ended, obs, n_obs.astype(jnp.float32))
            total = total + jnp.where(ended, 0.0, jnp.asarray(r, jnp.float32))
            return (inner, obs, total, jnp.logical_or(ended, jnp.asarray(term, bool))), None

        obs0 = jnp.zeros((self.obs_dim,), jnp.float32)
        carry = (inner, obs0, jnp.zeros((), jnp.float32), jnp.zeros((), bool))
        (inner, obs, total, ended), _ = jax.lax.scan(frame, carry, jax.random.split(key, self.action_repeat))
        return inner, obs, total, ended

    def step(self, state: EnvState, action) -> tuple[EnvState, StepResult]:
        """One decision (``action_repeat`` frames) without reset. ``action`` in [-1, 1]^d_a."""
        key, k_step = jax.random.split(state.key)
        inner, obs, reward, terminated = self._frames(state.inner, self.scale_action(action), k_step)
        ep_return = state.episode_return + reward
        ep_length = state.episode_length + 1
        truncated = jnp.logical_and(ep_length >= self.max_decisions, jnp.logical_not(terminated))
        new_state = EnvState(inner=inner, obs=obs, key=key, episode_return=ep_return, episode_length=ep_length)
        return new_state, StepResult(obs, reward, terminated, truncated, ep_return, ep_length)
