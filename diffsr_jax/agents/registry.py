"""Every agent, registered once: a name -> how to build it from a config.

A *base* actor-critic (SAC, TD3, DDPG, DrQ-v2) takes its critic as a component (``agents.critics``); each base
registered in ``BASES`` gives two agents: ``<name>`` with the MLP critic on concat(s, a) (``config.mlp_critic``), and
``diffsr_<name>`` with heads on the Diff-SR representation psi(s, a) (``config.psi_critic``, ``config.representation``).
A base on pixels (DrQ-v2) also takes an encoder component (``agents.frame_features``), one per critic kind: the
critic reads the encoder's features as its s (DrQ-v2's convolutions for ``drqv2``; the VAE's stacked latents, with
zeta modelling the next frame's, for ``diffsr_drqv2``).
The sampling-based diffusion baselines build their own networks. The launcher, the validator and the error messages
all read ``AGENTS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from diffsr_jax.agents import ddpg, drqv2, sac, td3
from diffsr_jax.agents.critics import mlp_critic, psi_critic
from diffsr_jax.agents.frame_features import VAE_CONFIG, ConvFeatures, LatentFeatures
from diffsr_jax.agents.diffusion_planner import DiffusionPlanner
from diffsr_jax.agents.polygrad import PolyGRAD
from diffsr_jax.agents.protocol import Agent
from diffsr_jax.fields import ConfigGroup


@dataclasses.dataclass(frozen=True)
class Encoder:
    """A pixel base's encoder for one critic kind: ``build(config) -> encoder component`` (``agents.frame_features``)
    and the config groups it reads besides the base's."""

    build: Callable
    reads: str  # what the critic's s is, for the agent's description
    groups: tuple = ()


@dataclasses.dataclass(frozen=True)
class Base:
    """A base actor-critic: ``build(config, obs_dim, action_dim, critic[, encoder]) -> Agent`` on a critic with
    ``num_q`` heads, reading ``config.actor_critic`` and its own ``config`` group (collected by ``diffsr_jax.config``).
    ``encoders``: for a base on pixels, critic kind -> ``Encoder`` (the critic then reads the encoder's features);
    None for a base on state vectors."""

    build: Callable
    num_q: int
    config: ConfigGroup
    encoders: dict | None = None
    title: str = ""  # how a description names it (its name in capitals by default)

    @property
    def groups(self) -> tuple:
        return ("actor_critic", self.config.name)

    @property
    def pixels(self) -> bool:
        return self.encoders is not None


BASES = {  # one line per base algorithm
    "sac": Base(sac.SAC, sac.NUM_Q, sac.SAC_CONFIG),
    "td3": Base(td3.TD3, td3.NUM_Q, td3.TD3_CONFIG),
    "ddpg": Base(ddpg.DDPG, ddpg.NUM_Q, ddpg.DDPG_CONFIG),
    "drqv2": Base(drqv2.DrQV2, drqv2.NUM_Q, drqv2.DRQV2_CONFIG, title="DrQ-v2 from pixels",
                  encoders={"mlp": Encoder(ConvFeatures, "s: conv features trained by the critic"),
                            "diffsr": Encoder(LatentFeatures, "s: a VAE's stacked latents", (VAE_CONFIG.name,))}),
}
DIFFSR_PREFIX = "diffsr_"
CRITICS = {"mlp": (mlp_critic, ("mlp_critic",)), "diffsr": (psi_critic, ("psi_critic", "representation", "optimism"))}
"""critic kind -> (builder (config, obs_dim, action_dim, num, next_dim) -> critic component, the config groups it
reads)."""
PIXEL_BASE_SKIPS = ("optimism",)
"""Critic groups a pixel base does not read: its TD target has no exploration bonus (``config.optimism`` stays off)."""


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
    make_critic = CRITICS[critic_kind][0]
    if not base.pixels:
        def build(config, obs_dim: int, action_dim: int):
            return base.build(config, obs_dim, action_dim, make_critic(config, obs_dim, action_dim, base.num_q))
        return build

    def build_on_pixels(config, obs_dim: int, action_dim: int):
        encoder = base.encoders[critic_kind].build(config)
        critic = make_critic(config, encoder.critic_dim, action_dim, base.num_q, encoder.next_dim)
        return base.build(config, obs_dim, action_dim, critic, encoder)
    return build_on_pixels


def _description(base: Base, name: str, critic_kind: str) -> str:
    title = base.title or name.upper()
    critic = {"mlp": "an MLP critic on concat(s, a)", "diffsr": "the critic on the Diff-SR representation psi(s, a)"}
    text = f"{title} with {critic[critic_kind]}"
    return f"{text} ({base.encoders[critic_kind].reads})" if base.pixels else text


def _groups(base: Base, critic_kind: str) -> tuple:
    if not base.pixels:
        return base.groups + CRITICS[critic_kind][1]
    critic = tuple(g for g in CRITICS[critic_kind][1] if g not in PIXEL_BASE_SKIPS)
    return base.groups + critic + base.encoders[critic_kind].groups


def _registry() -> dict[str, AgentEntry]:
    agents = {}
    for name, base in BASES.items():
        agents[name] = AgentEntry(_composed(base, "mlp"), _description(base, name, "mlp"), _groups(base, "mlp"),
                                  base.pixels)
        agents[DIFFSR_PREFIX + name] = AgentEntry(_composed(base, "diffsr"), _description(base, name, "diffsr"),
                                                  _groups(base, "diffsr"), base.pixels)
    agents["polygrad"] = AgentEntry(lambda c, o, a: PolyGRAD(c, o, a), "PolyGRAD: policy-guided trajectory "
                                    "diffusion world model, actor-critic in imagination",
                                    ("actor_critic", "sac", "mlp_critic", "trajectory_model", "polygrad"))
    agents["diffusion_planner"] = AgentEntry(
        lambda c, o, a: DiffusionPlanner(c, o, a, mlp_critic(c, o, a, sac.NUM_Q)),
        "Diffuser-style planner: sampled trajectories ranked by a SAC critic",
        ("actor_critic", "sac", "mlp_critic", "trajectory_model", "planner"))
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
