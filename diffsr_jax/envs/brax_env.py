"""Brax environments (``brax/<name>``), any backend (default ``mjx``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.envs.base import Env

BRAX_BACKENDS = ("mjx", "generalized", "positional", "spring")


class BraxLikeEnv(Env):
    """Adapter for envs with the Brax API (``reset(key) -> State``, ``step(State, action) -> State`` with
    ``obs``, ``reward``, ``done``): Brax itself and MuJoCo Playground. Subclasses set ``self._env``."""

    @property
    def frame_seconds(self) -> float:
        return float(self._env.dt)

    def _reset(self, key):
        st = self._env.reset(key)
        return st, jnp.reshape(st.obs, (-1,))

    def _step(self, inner, action, key):
        del key
        st = self._env.step(inner, action)
        return st, jnp.reshape(st.obs, (-1,)), st.reward, st.done > 0.5


class BraxEnv(BraxLikeEnv):
    def __init__(self, name: str, backend: str = "mjx", max_episode_steps: int | None = None,
                 physics: str = "native", **kwargs):
        from brax import envs

        self.name = f"brax/{name}"
        self._env = envs.get_environment(name, backend=backend, **kwargs)
        self.physics = physics
        if physics == "light":  # the env reads its system at every step: replace it on the unwrapped env
            from diffsr_jax.envs.physics import light_brax_system

            self._env.sys = light_brax_system(self._env.sys)
        # env.observation_size runs an un-jitted reset (slow); trace the shapes instead
        shape = jax.eval_shape(self._env.reset, jax.random.PRNGKey(0)).obs.shape
        self.obs_dim = int(np.prod(shape))
        self.action_dim = int(self._env.action_size)
        self.action_low = -np.ones(self.action_dim, np.float32)
        self.action_high = np.ones(self.action_dim, np.float32)
        self.max_episode_steps = int(max_episode_steps or 1000)

    @property
    def solver(self) -> dict:
        """The solver settings that run (``envs.physics.solver_options``); {} off the mjx backend."""
        from diffsr_jax.envs.physics import solver_options

        return solver_options(self._env.sys.opt) if self._env.backend == "mjx" else {}

    @property
    def system(self):
        """The Brax ``System`` (what Brax's viewer draws)."""
        return self._env.sys
