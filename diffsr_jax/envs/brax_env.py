"""Brax environments (``brax/<name>``), any backend (default ``mjx``).

Velocity layout (``velocity_indices``, for the partially observable setting, ``envs.pomdp``), verified against
each env's ``_get_obs``: ``q[k:] ++ qd ++ ...`` envs hide the whole ``qd`` block, ``[nq - k, nq - k + nv)``:
ant/humanoid/humanoidstandup/swimmer k = 2, halfcheetah/hopper/walker2d k = 1, inverted_pendulum k = 0. Humanoid
keeps its centre-of-mass inertia/velocity and actuator-force blocks ("only q-velocity", as in the paper).
inverted_double_pendulum ``[x, sin(2), cos(2), qd(3)]`` -> [5, 8); reacher ``[cos(2), sin(2), target(2),
tip_vel(2), tip_to_target(3)]`` -> [6, 8); pusher ``[q[:7], qd[:7], ...]`` -> [7, 14).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.envs.base import Env
from diffsr_jax.envs.physics import solver_options

BRAX_BACKENDS = ("mjx", "generalized", "positional", "spring")
# brax env -> number of leading q entries left out of the observation (obs = q[k:] ++ qd ++ ...)
BRAX_Q_SKIP = {"ant": 2, "humanoid": 2, "humanoidstandup": 2, "swimmer": 2, "halfcheetah": 1, "hopper": 1,
               "walker2d": 1, "inverted_pendulum": 0}
BRAX_FIXED = {"inverted_double_pendulum": (5, 8), "reacher": (6, 8), "pusher": (7, 14)}
POMDP_NAMES = tuple(sorted({**BRAX_Q_SKIP, **BRAX_FIXED}))


PUSH_SUCCESS_M = 0.05  # Meta-World's push tasks: the object within 5 cm of the goal


def pusher_success(inner):
    """brax/pusher (Gym's Pusher: an arm pushes a cylinder to a goal on the table): the object's centre within
    ``PUSH_SUCCESS_M`` of the goal's in the table's plane (x, y; the goal marker sits lower than the object's centre,
    so the 3-D distance never falls under 5 cm). Positions from the observation's object and goal entries."""
    obj, goal = inner.obs[17:19], inner.obs[20:22]
    return jnp.linalg.norm(obj - goal) < PUSH_SUCCESS_M


BRAX_SUCCESS = {"pusher": pusher_success}  # brax env -> its success test (a manipulation task's)


def pomdp_supported(name: str) -> bool:
    """Whether the velocity layout of ``brax/<name>`` is known."""
    return name in BRAX_Q_SKIP or name in BRAX_FIXED


class BraxLikeEnv(Env):
    """Adapter for envs with the Brax API (``reset(key) -> State``, ``step(State, action) -> State`` with
    ``obs``, ``reward``, ``done``): Brax itself and MuJoCo Playground. Subclasses set ``self._env``."""

    @property
    def backend_env(self):
        """The Brax / Playground environment this adapter steps (read only)."""
        return self._env

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
                 **kwargs):
        from brax import envs

        self.name = f"brax/{name}"
        self._env = envs.get_environment(name, backend=backend, **kwargs)
        self.physics = "native"  # the env's own solver settings; envs.physics.apply_to_env sets another
        # env.observation_size runs an un-jitted reset (slow); trace the shapes instead
        shape = jax.eval_shape(self._env.reset, jax.random.PRNGKey(0)).obs.shape
        self.obs_dim = int(np.prod(shape))
        self.action_dim = int(self._env.action_size)
        self.action_low = -np.ones(self.action_dim, np.float32)
        self.action_high = np.ones(self.action_dim, np.float32)
        self.max_episode_steps = int(max_episode_steps or 1000)
        self.task_success = BRAX_SUCCESS.get(name)

    @property
    def solver(self) -> dict:
        """The solver settings that run (``envs.physics.solver_options``); {} off the mjx backend."""
        return solver_options(self.system.opt) if self._env.backend == "mjx" else {}

    @property
    def system(self):
        """The Brax ``System`` the env steps (what Brax's viewer draws)."""
        return self._env.sys

    def scene(self, inner):
        """(MJX model, MJX data) of a backend state: on the mjx backend the System is an MJX model and the pipeline
        state its data."""
        return self.system, inner.pipeline_state

    def velocity_indices(self) -> np.ndarray:
        """(n_vel,) int: the velocity entries of the observation (names ``pomdp_supported`` accepts)."""
        name = self.name.split("/", 1)[1]
        if name in BRAX_FIXED:
            return np.arange(*BRAX_FIXED[name])
        start = self.system.q_size() - BRAX_Q_SKIP[name]
        return np.arange(start, start + self.system.qd_size())
