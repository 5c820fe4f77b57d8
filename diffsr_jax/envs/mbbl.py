"""MBBL's task definitions (``mbbl/<name>``), the tasks of the Diff-SR paper's Table 1, over Brax's MuJoCo models.

MBBL (Wang et al. 2019, ``WilsonWangTHU/mbbl``: ``gym_cheetah``, ``gym_fhopper``, ``gym_fwalker2d``, ``gym_fant``,
``gym_slimhumanoid``) keeps Gym's v1 models and reset distributions and replaces the observation, the reward and the
termination:

- observation: ``qpos[k:] ++ qvel`` (k = 1 for halfcheetah, hopper, walker2d; 2 for ant and humanoid; no contact
  forces, no clipping);
- reward of a step, computed from the observation *before* it (``s``) and the action:
  ``c_v s[v] - c_h (s[0] - h*)^2 - 0.1 ||a||^2 + alive(s)``, with ``s[v]`` the forward velocity ``qvel[0]``;
  halfcheetah has no height term and no alive bonus, slim humanoid c_v = 0.25 / 0.015, alive 5 and no height term;
- termination, on the observation *after* the step (hopper: h <= 0.7 or |angle| >= 0.2; walker: h >= 2.0, h <= 0.8
  or |angle| >= 1.0; ant: h > 1.0 or h < 0.2; humanoid: h > 2.0 or h < 1.0; h = s[0], angle = s[1]); the alive
  bonus is paid where ``s`` passes that check; episodes of 1000 steps (a time limit: truncation).

MBBL's Humanoid-ET (``gym_humanoid``, 376-d observation with Gym's centre-of-mass inertias and velocities, actuator
forces and external contact forces, and a contact cost) is not built: its observation is MuJoCo 1.31's quantities,
not a layout of qpos/qvel this adapter can reproduce from a Brax state.

The physics is Brax's (``brax.envs.<model>``: its System, its ``reset`` distribution, which is Gym's, and its
``pipeline_step``); only Brax's reward, termination and observation are replaced. Where Brax's models differ from
Gym's v1: hopper, walker2d, ant and humanoid run Euler instead of Gym's RK4 (halfcheetah is Euler in both); the
solver runs 4 iterations (Gym: MuJoCo 1.31's default, humanoid PGS 50); Brax's MJX ant and humanoid run one Newton
iteration with Euler damping off (Brax's own setting, which ``physics=native`` keeps); hopper and walker2d drop the
rootz joint's ``ref`` (restored in ``observe``). Chosen over building on ``mujoco.mjx`` with Gym's own XMLs because Gym's model files
are not a dependency we have, and Brax's were measured faithful under the native solver (docs/physics.md);
Brax's deprecation warning concerns its env classes, of which only ``reset`` (the reset distribution) is used here.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from diffsr_jax.envs.base import Env
from diffsr_jax.envs.brax_env import BraxEnv


@dataclasses.dataclass(frozen=True)
class MBBLTask:
    """One MBBL task: the Brax model it runs, its observation layout and the terms of its reward and termination.

    ``unhealthy(obs) -> bool`` is the termination check (None: the task never terminates and has no alive bonus).
    """

    model: str  # the Brax env whose System and reset distribution the task uses
    q_skip: int  # leading qpos entries left out of the observation
    velocity_index: int  # observation index of qvel[0], the forward velocity the reward pays
    velocity_coeff: float = 1.0  # the reward's velocity_coeff * obs[velocity_index]
    alive_bonus: float = 1.0  # paid where the state before the step is healthy (tasks with a termination check)
    height_target: float = 0.0  # h*: the reward's height term is -height_coeff (obs[0] - h*)^2
    height_coeff: float = 0.0
    ctrl_coeff: float = 0.1  # the reward's -ctrl_coeff ||a||^2
    unhealthy: object = None
    q_ref: tuple = ()  # (index, value): Gym's joint ``ref`` values that Brax's model drops; Gym's qpos = Brax's q + ref


def _hopper_unhealthy(obs):
    return (obs[0] <= 0.7) | (jnp.abs(obs[1]) >= 0.2)


def _walker_unhealthy(obs):
    return (obs[0] >= 2.0) | (obs[0] <= 0.8) | (jnp.abs(obs[1]) >= 1.0)


def _ant_unhealthy(obs):
    return (obs[0] > 1.0) | (obs[0] < 0.2)


def _humanoid_unhealthy(obs):
    return (obs[0] > 2.0) | (obs[0] < 1.0)


MBBL_TASKS = {
    "halfcheetah": MBBLTask("halfcheetah", q_skip=1, velocity_index=8),  # gym_cheetah
    "hopper_et": MBBLTask("hopper", q_skip=1, velocity_index=5, height_target=1.3, height_coeff=3.0,
                          unhealthy=_hopper_unhealthy, q_ref=((1, 1.25),)),  # gym_fhopper
    "walker_et": MBBLTask("walker2d", q_skip=1, velocity_index=8, height_target=1.3, height_coeff=3.0,
                          unhealthy=_walker_unhealthy, q_ref=((1, 1.25),)),  # gym_fwalker2d
    "ant_et": MBBLTask("ant", q_skip=2, velocity_index=13, height_target=0.57, height_coeff=3.0,
                       unhealthy=_ant_unhealthy),  # gym_fant
    # gym_slimhumanoid: 0.25 / 0.015 qvel[0] (Gym's Humanoid-v1 velocity weight over its 0.015 s step) + 5 alive
    "slimhumanoid_et": MBBLTask("humanoid", q_skip=2, velocity_index=22, velocity_coeff=0.25 / 0.015, alive_bonus=5.0,
                                unhealthy=_humanoid_unhealthy),
}
MBBL_EARLY_TERMINATION = tuple(n for n, t in MBBL_TASKS.items() if t.unhealthy is not None)
EPISODE_STEPS = 1000


def mbbl_reward(task: MBBLTask, obs, action):
    """MBBL's reward of a step from ``obs``, the observation before it, and ``action`` (in the env's bounds):
    velocity_coeff v - height_coeff (h - h*)^2 - ctrl_coeff ||a||^2 + alive_bonus [``obs`` healthy] (tasks with a
    termination check; no alive term otherwise). Every term is written here."""
    velocity = task.velocity_coeff * obs[task.velocity_index]
    height = -task.height_coeff * (obs[0] - task.height_target) ** 2 if task.height_coeff else 0.0
    control = -task.ctrl_coeff * jnp.sum(jnp.square(action))
    healthy = 0.0 if task.unhealthy is None else 1.0 - task.unhealthy(obs).astype(jnp.float32)
    alive = task.alive_bonus * healthy
    return velocity + height + control + alive


class MBBLEnv(Env):
    """``mbbl/<name>``: an MBBL task (``MBBL_TASKS``) stepped by a Brax env's pipeline on any Brax backend.

    ``early_termination=False`` is MBBL's ``no_termination`` option: episodes end only at the time limit (the alive
    bonus still follows the check)."""

    def __init__(self, name: str, backend: str = "mjx", max_episode_steps: int | None = None,
                 early_termination: bool = True):
        self.task = MBBL_TASKS[name]
        self.name = f"mbbl/{name}"
        self.brax = BraxEnv(self.task.model, backend, max_episode_steps)
        self.physics = "native"  # envs.physics.apply_to_env sets another solver setting (on self.brax too)
        self.early_termination = bool(early_termination) and self.task.unhealthy is not None
        sys = self.brax.system
        self.obs_dim = sys.q_size() - self.task.q_skip + sys.qd_size()
        self.action_dim = self.brax.action_dim
        self.action_low, self.action_high = self.brax.action_low, self.brax.action_high
        self.max_episode_steps = int(max_episode_steps or EPISODE_STEPS)

    @property
    def backend_env(self):
        """The Brax environment whose pipeline and reset this task uses (read only)."""
        return self.brax.backend_env

    @property
    def system(self):
        return self.brax.system

    @property
    def solver(self) -> dict:
        return self.brax.solver

    def scene(self, inner):
        """(MJX model, MJX data) of a backend state (the Brax pipeline state, on the mjx backend)."""
        return self.system, inner

    @property
    def frame_seconds(self) -> float:
        return self.brax.frame_seconds

    def observe(self, pipeline_state):
        """MBBL's observation of a Brax pipeline state: qpos[k:] ++ qvel, with qpos as Gym's model has it (Brax's
        hopper and walker2d drop the rootz joint's ``ref`` of 1.25, so Gym's qpos[1], the torso's height, is Brax's
        q[1] + 1.25)."""
        q = pipeline_state.q
        for index, ref in self.task.q_ref:
            q = q.at[index].add(ref)
        return jnp.concatenate([q[self.task.q_skip:], pipeline_state.qd])

    def _reset(self, key):
        pipeline_state = self.backend_env.reset(key).pipeline_state
        return pipeline_state, self.observe(pipeline_state)

    def _step(self, inner, action, key):
        del key
        obs = self.observe(inner)
        reward = mbbl_reward(self.task, obs, action)
        inner = self.backend_env.pipeline_step(inner, action)
        next_obs = self.observe(inner)
        terminated = self.task.unhealthy(next_obs) if self.early_termination else jnp.zeros((), bool)
        return inner, next_obs, reward, terminated

    def velocity_indices(self) -> np.ndarray:
        """(nv,) int: the qvel block of the observation."""
        start = self.system.q_size() - self.task.q_skip
        return np.arange(start, start + self.system.qd_size())
