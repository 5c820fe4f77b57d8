"""The paper's partially observable setting (App. E): hide the velocity entries, feed the last L observations.

``PartialObsEnv`` wraps any ``Env`` given where its velocities sit (``velocity_idx``; each family's layout lives with
its adapter, ``EnvFamily.velocity_indices``, and ``envs.registry.make_env`` passes it). The velocity entries are
*dropped* (not zeroed): each masked observation has ``d_s - |vel|`` entries, and the agent sees the concatenation of
the last ``L`` masked observations, oldest first: ``obs = [m_{t-L+1}, ..., m_t]`` of size ``L * (d_s - |vel|)``.
At the start of an episode (``reset``; auto-resets start episodes from ``reset`` states, see ``envs.autoreset``)
the history is the first masked observation repeated ``L`` times. ``step`` never resets, so ``StepResult.next_obs``
is always the history ending in the true next observation.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from diffsr_jax.envs.base import Env, EnvState, StepResult
from diffsr_jax.fields import Fields


def check_history(history) -> None:
    """The rule on ``config.env.pomdp_history`` (observations stacked): an integer >= 1."""
    Fields({"pomdp_history": history}, "env").integer("pomdp_history")


class PartialObsEnv(Env):
    """``env`` with its velocity entries ``velocity_idx`` (n_vel,) dropped and the last ``history`` masked
    observations stacked.

    State: ``EnvState(inner=(inner EnvState, history (L, d_m)), obs=(L * d_m,), ...)``; episode statistics,
    time limit, action repeat and termination/truncation are the wrapped env's.
    """

    def __init__(self, env: Env, velocity_idx, history: int = 3):
        check_history(history)
        self.env = env
        self.history = int(history)
        self.velocity_idx = np.asarray(velocity_idx, dtype=int).reshape(-1)
        self.keep_idx = np.setdiff1d(np.arange(env.obs_dim), self.velocity_idx)
        self.name = f"{env.name}[pomdp,L={self.history}]"
        self.masked_dim = int(self.keep_idx.size)
        self.obs_dim = self.history * self.masked_dim
        self.action_dim = env.action_dim
        self.max_episode_steps = env.max_episode_steps
        self.action_repeat = env.action_repeat
        self.action_low, self.action_high = env.action_low, env.action_high

    def innermost(self, state: EnvState) -> tuple[Env, EnvState]:
        """The wrapped adapter and its states: this wrapper keeps the wrapped env's ``EnvState`` first."""
        return self.env.innermost(state.inner[0])

    def mask(self, obs):
        """(d_s,) -> (d_m,): the observation without its velocity entries."""
        return obs[jnp.asarray(self.keep_idx)]

    def _fresh(self, obs):
        return jnp.tile(self.mask(obs)[None], (self.history, 1))

    def reset(self, key) -> EnvState:
        inner = self.env.reset(key)
        hist = self._fresh(inner.obs)
        return EnvState((inner, hist), hist.reshape(-1), inner.key, inner.episode_return, inner.episode_length)

    def step(self, state: EnvState, action) -> tuple[EnvState, StepResult]:
        """One decision of the wrapped env (``action`` in [-1, 1]^d_a): the newest masked observation joins the
        history and the oldest leaves."""
        inner, hist = state.inner
        inner, res = self.env.step(inner, action)
        hist = jnp.concatenate([hist[1:], self.mask(res.next_obs)[None]], 0)
        new_state = EnvState((inner, hist), hist.reshape(-1), inner.key, inner.episode_return, inner.episode_length)
        return new_state, res.replace(next_obs=hist.reshape(-1))

    def _reset(self, key):  # pragma: no cover - the public reset/step above replace the backend hooks
        raise NotImplementedError

    def _step(self, inner, action, key):  # pragma: no cover
        raise NotImplementedError


__all__ = ["PartialObsEnv", "check_history"]
