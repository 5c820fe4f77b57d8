"""MuJoCo Playground DM Control suite environments (``playground/<Name>``), loaded with ``impl='jax'``."""

from __future__ import annotations

import jax
import numpy as np

from diffsr_jax.envs.brax_env import BraxLikeEnv


class PlaygroundEnv(BraxLikeEnv):
    def __init__(self, name: str, max_episode_steps: int | None = None):
        from mujoco_playground import registry

        self.name = f"playground/{name}"
        self._env = registry.load(name, config_overrides={"impl": "jax"})
        shape = jax.eval_shape(self._env.reset, jax.random.PRNGKey(0)).obs
        if isinstance(shape, dict):
            raise ValueError(f"playground/{name} has dict observations, which are not supported")
        self.obs_dim = int(np.prod(shape.shape))
        self.action_dim = int(self._env.action_size)
        self.action_low = -np.ones(self.action_dim, np.float32)
        self.action_high = np.ones(self.action_dim, np.float32)
        default_len = getattr(getattr(self._env, "_config", None), "episode_length", 1000)
        self.max_episode_steps = int(max_episode_steps or default_len)

    @property
    def mj_model(self):
        """The env's ``mujoco.MjModel`` (what MuJoCo's renderer draws)."""
        return self._env.mj_model
