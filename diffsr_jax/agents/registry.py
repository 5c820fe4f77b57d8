"""Every agent, registered once: a name -> how to build it from a config.

A *base* actor-critic (SAC, TD3, DDPG) takes its critic as a component (``agents.critics``); each base registered in
``BASES`` gives two agents: ``<name>`` with the MLP critic on concat(s, a) (``config.mlp_critic``), and
``diffsr_<name>`` with heads on the Diff-SR representation psi(s, a) (``config.psi_critic``, ``config.representation``).
The sampling-based diffusion baselines build their own networks. The launcher, the validator and the error messages
all read ``AGENTS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from diffsr_jax.agents import ddpg, drqv2, sac, td3
from diffsr_jax.agents.critics import mlp_critic, psi_critic
from diffsr_jax.agents.diffusion_planner import DiffusionPlanner
from diffsr_jax.agents.polygrad import PolyGRAD
from diffsr_jax.agents.protocol import Agent
from diffsr_jax.fields import ConfigGroup


@dataclasses.dataclass(frozen=True)
class Base:
    """A base actor-critic: ``build(config, obs_dim, action_dim, critic) -> Agent`` on a critic with ``num_q`` heads,
    reading ``config.actor_critic`` and its own ``config`` group (collected by ``diffsr_jax.config``)."""

    build: Callable
    num_q: int
    config: ConfigGroup

    @property
    def groups(self) -> tuple:
        return ("actor_critic", self.config.name)


BASES = {  # one line per base algorithm
    "sac": Base(sac.SAC, sac.NUM_Q, sac.SAC_CONFIG),
    "td3": Base(td3.TD3, td3.NUM_Q, td3.TD3_CONFIG),
    "ddpg": Base(ddpg.DDPG, ddpg.NUM_Q, ddpg.DDPG_CONFIG),
}
DIFFSR_PREFIX = "diffsr_"
CRITICS = {"mlp": (mlp_critic, ("mlp_critic",)), "diffsr": (psi_critic, ("psi_critic", "representation", "optimism"))}
"""critic kind -> (builder (config, obs_dim, action_dim, num) -> critic component, the config groups it reads)."""


@dataclasses.dataclass(frozen=True)
class AgentEntry:
    """How to build one agent: ``build(config, obs_dim, action_dim) -> Agent``; ``groups``: the config groups it reads
    besides run, env and replay (the validator checks those, and only those); ``pixels``: whether it reads pixel
    observations (``envs.pixels``) rather than state vectors."""

    build: Callable
    description: str
    groups: tuple
    pixels: bool = False  # reads pixel observations (config.env.pixels > 0) instead of state vectors


def _composed(base: Base, critic_kind: str) -> Callable:
    def build(config, obs_dim: int, action_dim: int):
        critic = CRITICS[critic_kind][0](config, obs_dim, action_dim, base.num_q)
        return base.build(config, obs_dim, action_dim, critic)
    return build


def _registry() -> dict[str, AgentEntry]:
    agents = {}
    for name, base in BASES.items():
        agents[name] = AgentEntry(_composed(base, "mlp"), f"{name.upper()} with an MLP critic on concat(s, a)",
                                  base.groups + CRITICS["mlp"][1])
        agents[DIFFSR_PREFIX + name] = AgentEntry(
            _composed(base, "diffsr"), f"{name.upper()} with the critic on the Diff-SR representation psi(s, a)",
            base.groups + CRITICS["diffsr"][1])
    agents["polygrad"] = AgentEntry(lambda c, o, a: PolyGRAD(c, o, a), "PolyGRAD: policy-guided trajectory "
                                    "diffusion world model, actor-critic in imagination",
                                    ("actor_critic", "sac", "mlp_critic", "trajectory_model", "polygrad"))
    agents["diffusion_planner"] = AgentEntry(
        lambda c, o, a: DiffusionPlanner(c, o, a, mlp_critic(c, o, a, sac.NUM_Q)),
        "Diffuser-style planner: sampled trajectories ranked by a SAC critic",
        ("actor_critic", "sac", "mlp_critic", "trajectory_model", "planner"))
    agents["drqv2"] = AgentEntry(
        lambda c, o, a: drqv2.DrQV2(c, o, a, mlp_critic(c, o, a, drqv2.NUM_Q)),
        "DrQ-v2 from pixels: conv encoder trained by the critic, random shifts, n-step returns, scheduled noise",
        ("actor_critic", "drqv2", "mlp_critic"), pixels=True)
    return agents


AGENTS = _registry()


def unknown_agent_message(name: str) -> str:
    return f"unknown agent {name!r}; choose one of: {', '.join(sorted(AGENTS))}"


def make_agent(config, obs_dim: int, action_dim: int):
    if config.run.agent not in AGENTS:
        raise ValueError(unknown_agent_message(config.run.agent))
    agent = AGENTS[config.run.agent].build(config, obs_dim, action_dim)
    assert isinstance(agent, Agent), f"{config.run.agent} does not meet agents.protocol.Agent"
    return agent


def hparam_names(config) -> tuple:
    """The traced hyperparameters of the config's agent as ``group.field`` (sweepable with --sweep)."""
    return tuple(f"{g}.{k}" for g, fields in make_agent(config, 1, 1).hparams().items() for k in fields)
