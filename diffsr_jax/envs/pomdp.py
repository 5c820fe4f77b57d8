"""The paper's partially observable setting (App. E): hide the velocity entries, feed the last L observations.

``PartialObsEnv`` wraps any ``Env`` whose velocity layout is listed here. The velocity entries are *dropped*
(not zeroed): each masked observation has ``d_s - |vel|`` entries, and the agent sees the concatenation of the
last ``L`` masked observations, oldest first: ``obs = [m_{t-L+1}, ..., m_t]`` of size ``L * (d_s - |vel|)``.
At the start of an episode (``reset``; auto-resets start episodes from ``reset`` states, see ``envs.autoreset``)
the history is the first masked observation repeated ``L`` times. ``step`` never resets, so ``StepResult.next_obs``
is always the history ending in the true next observation.

Velocity indices (into the unwrapped observation) per family, verified against each simulator's
``_get_obs``; tests compare the hidden entries with the simulator's own ``qd``/``qvel``:

- gymnax: Pendulum-v1 ``[cos, sin, thetadot]`` -> [2]; MountainCarContinuous-v0 ``[position, velocity]`` -> [1].
- brax: ``q[k:] ++ qd ++ ...`` envs hide the whole ``qd`` block, ``[nq - k, nq - k + nv)``: ant/humanoid/
  humanoidstandup/swimmer k = 2, halfcheetah/hopper/walker2d k = 1, inverted_pendulum k = 0. Humanoid keeps its
  centre-of-mass inertia/velocity and actuator-force blocks ("only q-velocity", as in the paper).
  inverted_double_pendulum ``[x, sin(2), cos(2), qd(3)]`` -> [5, 8); reacher ``[cos(2), sin(2), target(2),
  tip_vel(2), tip_to_target(3)]`` -> [6, 8); pusher ``[q[:7], qd[:7], ...]`` -> [7, 14).
- playground (DM Control): the ``qvel`` block, which is the tail of the observation for Acrobot, BallInCup,
  Cartpole, Fish, Pendulum, PointMass, Reacher and Walker; ``[nq - 1, nq - 1 + nv)`` for Cheetah and Hopper
  (``qpos[1:] ++ qvel ++ touch``); before the touch sensors (2) for FingerSpin and before touch + target +
  distance (5) for FingerTurn*; for Humanoid* the centre-of-mass velocity (3) and ``qvel``, the tail.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from diffsr_jax.envs.base import Env, EnvState, StepResult

GYMNAX_VELOCITY = {"Pendulum-v1": [2], "MountainCarContinuous-v0": [1]}
# brax env -> number of leading q entries left out of the observation (obs = q[k:] ++ qd ++ ...)
BRAX_Q_SKIP = {"ant": 2, "humanoid": 2, "humanoidstandup": 2, "swimmer": 2, "halfcheetah": 1, "hopper": 1,
               "walker2d": 1, "inverted_pendulum": 0}
BRAX_FIXED = {"inverted_double_pendulum": (5, 8), "reacher": (6, 8), "pusher": (7, 14)}
# playground env-name prefix -> (where qvel sits, entries after it, extra velocity entries just before qvel)
PLAYGROUND_LAYOUT = {
    "Acrobot": ("tail", 0, 0), "BallInCup": ("tail", 0, 0), "Cartpole": ("tail", 0, 0), "FishSwim": ("tail", 0, 0),
    "Pendulum": ("tail", 0, 0), "PointMass": ("tail", 0, 0), "Reacher": ("tail", 0, 0), "Walker": ("tail", 0, 0),
    "Cheetah": ("after_qpos1", 0, 0), "Hopper": ("after_qpos1", 0, 0), "FingerSpin": ("tail", 2, 0),
    "FingerTurn": ("tail", 5, 0), "Humanoid": ("tail", 0, 3),
}


def gymnax_supported(name: str) -> bool:
    return name in GYMNAX_VELOCITY


def gymnax_velocity(env: Env, name: str) -> np.ndarray:
    return np.asarray(GYMNAX_VELOCITY[name])


def brax_supported(name: str) -> bool:
    return name in BRAX_Q_SKIP or name in BRAX_FIXED


def brax_velocity(env: Env, name: str) -> np.ndarray:
    if name in BRAX_FIXED:
        return np.arange(*BRAX_FIXED[name])
    sys = env._env.sys
    start = sys.q_size() - BRAX_Q_SKIP[name]
    return np.arange(start, start + sys.qd_size())


def playground_supported(name: str) -> bool:
    return any(name.startswith(p) for p in PLAYGROUND_LAYOUT)


def playground_velocity(env: Env, name: str) -> np.ndarray:
    prefix = next(p for p in PLAYGROUND_LAYOUT if name.startswith(p))
    where, after, before = PLAYGROUND_LAYOUT[prefix]
    nq, nv = env._env.mj_model.nq, env._env.mj_model.nv
    start = nq - 1 if where == "after_qpos1" else env.obs_dim - after - nv
    return np.arange(start - before, start + nv)


SUPPORTED_NAMES = {"gymnax": list(GYMNAX_VELOCITY), "brax": sorted({**BRAX_Q_SKIP, **BRAX_FIXED}),
                   "playground": [f"{p}*" for p in PLAYGROUND_LAYOUT]}


def pomdp_supported(env: str) -> bool:
    """Whether the velocity layout of ``family/name`` is known."""
    from diffsr_jax.envs.registry import ENV_FAMILIES

    family, _, name = env.partition("/")
    return family in ENV_FAMILIES and ENV_FAMILIES[family].pomdp_supported(name)


def pomdp_supported_names() -> list[str]:
    return [f"{family}/{n}" for family, names in SUPPORTED_NAMES.items() for n in names]


def velocity_indices(env: Env) -> np.ndarray:
    """Indices of the velocity entries in ``env``'s (unwrapped) observation, (n_vel,) int."""
    from diffsr_jax.envs.registry import ENV_FAMILIES

    if not pomdp_supported(env.name):
        raise ValueError(f"config.env.pomdp: the velocity layout of {env.name} is unknown; use one of "
                         f"{', '.join(pomdp_supported_names())} or set config.env.pomdp=False")
    family, _, name = env.name.partition("/")
    return ENV_FAMILIES[family].velocity_indices(env, name)


class PartialObsEnv(Env):
    """``env`` with its velocity entries dropped and the last ``history`` masked observations stacked.

    State: ``EnvState(inner=(inner EnvState, history (L, d_m)), obs=(L * d_m,), ...)``; episode statistics,
    time limit, action repeat and termination/truncation are the wrapped env's.
    """

    def __init__(self, env: Env, history: int = 3):
        if history < 1:
            raise ValueError(f"config.env.pomdp_history must be >= 1, got {history}")
        self.env = env
        self.history = int(history)
        self.velocity_idx = velocity_indices(env)
        self.keep_idx = np.setdiff1d(np.arange(env.obs_dim), self.velocity_idx)
        self.name = f"{env.name}[pomdp,L={self.history}]"
        self.masked_dim = int(self.keep_idx.size)
        self.obs_dim = self.history * self.masked_dim
        self.action_dim = env.action_dim
        self.max_episode_steps = env.max_episode_steps
        self.action_repeat = env.action_repeat
        self.action_low, self.action_high = env.action_low, env.action_high

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


def wrap_pomdp(env: Env, history: int = 3) -> PartialObsEnv:
    return PartialObsEnv(env, history)


__all__ = ["PartialObsEnv", "pomdp_supported", "velocity_indices", "wrap_pomdp"]
