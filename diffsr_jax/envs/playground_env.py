"""MuJoCo Playground DM Control suite environments (``playground/<Name>``), loaded with ``impl='jax'`` (or ``warp``)."""

from __future__ import annotations

import jax
import numpy as np

from diffsr_jax.envs.brax_env import BraxLikeEnv


class PlaygroundEnv(BraxLikeEnv):
    def __init__(self, name: str, max_episode_steps: int | None = None, physics: str = "native", impl: str = "jax"):
        from mujoco_playground import registry

        self.name = f"playground/{name}"
        if impl == "warp" and jax.default_backend() != "gpu":
            raise ValueError(f"impl=warp steps MuJoCo Warp on a GPU and this host has none ({jax.default_backend()}); "
                             "use --config.env.impl=jax")
        self._env = registry.load(name, config_overrides={"impl": impl})
        self.physics, self.impl = physics, impl
        if physics == "light":  # the env steps its MJX model: rebuild it from the MuJoCo model with the new options
            from mujoco import mjx

            from diffsr_jax.envs.physics import light_mj_model

            light_mj_model(self._env._mj_model)
            self._env._mjx_model = mjx.put_model(self._env._mj_model, impl=impl)
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
    def solver(self) -> dict:
        """The solver settings that run (``envs.physics.solver_options``)."""
        from diffsr_jax.envs.physics import solver_options

        return solver_options(self._env.mj_model.opt)

    @property
    def mj_model(self):
        """The env's ``mujoco.MjModel`` (what MuJoCo's renderer draws)."""
        return self._env.mj_model
