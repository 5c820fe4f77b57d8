"""MuJoCo Playground DM Control suite environments (``playground/<Name>``), loaded with ``impl='jax'`` (or ``warp``).

Velocity layout (``velocity_indices``, for the partially observable setting, ``envs.pomdp``): the ``qvel`` block,
which is the tail of the observation for Acrobot, BallInCup, Cartpole, Fish, Pendulum, PointMass, Reacher and
Walker; ``[nq - 1, nq - 1 + nv)`` for Cheetah and Hopper (``qpos[1:] ++ qvel ++ touch``); before the touch sensors
(2) for FingerSpin and before touch + target + distance (5) for FingerTurn*; for Humanoid* the centre-of-mass
velocity (3) and ``qvel``, the tail.
"""

from __future__ import annotations

import jax
import numpy as np

from diffsr_jax.envs.brax_env import BraxLikeEnv
from diffsr_jax.envs.physics import solver_options

# env-name prefix -> (where qvel sits, entries after it, extra velocity entries just before qvel)
PLAYGROUND_LAYOUT = {
    "Acrobot": ("tail", 0, 0), "BallInCup": ("tail", 0, 0), "Cartpole": ("tail", 0, 0), "FishSwim": ("tail", 0, 0),
    "Pendulum": ("tail", 0, 0), "PointMass": ("tail", 0, 0), "Reacher": ("tail", 0, 0), "Walker": ("tail", 0, 0),
    "Cheetah": ("after_qpos1", 0, 0), "Hopper": ("after_qpos1", 0, 0), "FingerSpin": ("tail", 2, 0),
    "FingerTurn": ("tail", 5, 0), "Humanoid": ("tail", 0, 3),
}
POMDP_NAMES = tuple(f"{p}*" for p in PLAYGROUND_LAYOUT)


def pomdp_supported(name: str) -> bool:
    """Whether the velocity layout of ``playground/<name>`` is known."""
    return any(name.startswith(p) for p in PLAYGROUND_LAYOUT)


class PlaygroundEnv(BraxLikeEnv):
    def __init__(self, name: str, max_episode_steps: int | None = None, impl: str = "jax"):
        from mujoco_playground import registry

        self.name = f"playground/{name}"
        if impl == "warp" and jax.default_backend() != "gpu":
            raise ValueError(f"impl=warp steps MuJoCo Warp on a GPU and this host has none ({jax.default_backend()}); "
                             "use --config.env.impl=jax")
        self._env = registry.load(name, config_overrides={"impl": impl})
        self.physics, self.impl = "native", impl  # envs.physics.apply_to_env sets another solver setting
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
        return solver_options(self.mj_model.opt)

    @property
    def mj_model(self):
        """The env's ``mujoco.MjModel`` (what MuJoCo's renderer draws)."""
        return self._env.mj_model

    @property
    def mjx_model(self):
        """The MJX model the env steps (its solver options are ``solver``'s)."""
        return self._env.mjx_model

    def scene(self, inner):
        """(MJX model, MJX data) of a backend state."""
        return self.mjx_model, inner.data

    def velocity_indices(self) -> np.ndarray:
        """(n_vel,) int: the velocity entries of the observation (names ``pomdp_supported`` accepts)."""
        name = self.name.split("/", 1)[1]
        where, after, before = PLAYGROUND_LAYOUT[next(p for p in PLAYGROUND_LAYOUT if name.startswith(p))]
        nq, nv = self.mj_model.nq, self.mj_model.nv
        start = nq - 1 if where == "after_qpos1" else self.obs_dim - after - nv
        return np.arange(start - before, start + nv)
