"""gymnax continuous-control environments (e.g. ``gymnax/Pendulum-v1``).

Velocity layout (``velocity_indices``, for the partially observable setting, ``envs.pomdp``): Pendulum-v1
``[cos, sin, thetadot]`` -> [2]; MountainCarContinuous-v0 ``[position, velocity]`` -> [1].
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from diffsr_jax.envs.base import Env

GYMNAX_VELOCITY = {"Pendulum-v1": (2,), "MountainCarContinuous-v0": (1,)}
POMDP_NAMES = tuple(GYMNAX_VELOCITY)


def pomdp_supported(name: str) -> bool:
    """Whether the velocity layout of ``gymnax/<name>`` is known."""
    return name in GYMNAX_VELOCITY


class GymnaxEnv(Env):
    def __init__(self, name: str, max_episode_steps: int | None = None):
        import gymnax
        from gymnax.environments import spaces

        self.name = f"gymnax/{name}"
        self._env, self._params = gymnax.make(name)
        space = self._env.action_space(self._params)
        if not isinstance(space, spaces.Box):
            raise ValueError(f"gymnax/{name} has a discrete action space; use a continuous-action env such as "
                             "gymnax/Pendulum-v1 or gymnax/MountainCarContinuous-v0")
        self.action_dim = int(np.prod(space.shape)) if space.shape else 1
        self._action_shape = space.shape
        self.action_low = np.broadcast_to(np.asarray(space.low, np.float32), (self.action_dim,)).copy()
        self.action_high = np.broadcast_to(np.asarray(space.high, np.float32), (self.action_dim,)).copy()
        self.obs_dim = int(np.prod(self._env.observation_space(self._params).shape))
        self.max_episode_steps = int(max_episode_steps or self._params.max_steps_in_episode)
        # our own time limit (as truncation) replaces gymnax's, which would count as termination
        self._params = self._params.replace(max_steps_in_episode=10**9)
        self.frame_seconds = float(getattr(self._params, "dt", Env.frame_seconds))

    @property
    def backend_env(self):
        """The gymnax environment this adapter steps (read only)."""
        return self._env

    @property
    def params(self):
        """The gymnax ``EnvParams`` it steps with (its own time limit lifted: ours truncates)."""
        return self._params

    def velocity_indices(self) -> np.ndarray:
        """(n_vel,) int: the velocity entries of the observation (names ``pomdp_supported`` accepts)."""
        return np.asarray(GYMNAX_VELOCITY[self.name.split("/", 1)[1]])

    def _reset(self, key):
        obs, inner = self._env.reset_env(key, self._params)
        return inner, jnp.reshape(obs, (-1,))

    def _step(self, inner, action, key):
        action = jnp.reshape(action, self._action_shape)
        obs, inner, reward, terminated, _ = self._env.step_env(key, inner, action, self._params)
        return inner, jnp.reshape(obs, (-1,)), reward, terminated
