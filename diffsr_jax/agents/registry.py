"""Every agent, registered once: a name -> how to build it from a config.

A *base* actor-critic (SAC, TD3, DDPG) takes its critic as a component (``agents.critics``); each base registered in
``BASES`` gives two agents: ``<name>`` with the MLP critic on concat(s, a), and ``diffsr_<name>`` with the twin RFF
critic on the Diff-SR representation psi(s, a). ``FULL_AGENTS`` build their own networks (the sampling-based
diffusion baselines). The launcher, the validator and the error messages all read ``AGENTS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from diffsr_jax.agents.critics import MLPCritic, RepresentationCritic
from diffsr_jax.agents.ddpg import DDPG
from diffsr_jax.agents.diffusion_planner import DiffusionPlanner
from diffsr_jax.agents.polygrad import PolyGRAD
from diffsr_jax.agents.sac import SAC
from diffsr_jax.agents.td3 import TD3

BASES = {"sac": SAC, "td3": TD3, "ddpg": DDPG}
DIFFSR_PREFIX = "diffsr_"


def mlp_critic(config, obs_dim: int, action_dim: int, num: int) -> MLPCritic:
    """The standard critic: ``num`` MLP heads on concat(s, a)."""
    from diffsr_jax.networks.critics import MLPQHead

    del obs_dim, action_dim
    return MLPCritic(MLPQHead(tuple(config.critic_hidden), config.activation, config.critic_layer_norm), num)


def diffsr_critic(config, obs_dim: int, action_dim: int, num: int) -> RepresentationCritic:
    """``num`` RFF heads on psi(s, a) of the Diff-SR representation (spec sections 3 and 4)."""
    from diffsr_jax.diffusion import make_schedule
    from diffsr_jax.networks.critics import RFFHead
    from diffsr_jax.representation import DiffusionRepresentation, PsiNet, ZetaNet
    from diffsr_jax.representation.learner import DiffSRRepresentation

    del action_dim
    c = config
    model = DiffusionRepresentation(
        PsiNet(c.feature_dim, c.rep_arch, tuple(c.psi_hidden), c.rep_activation, c.rep_enc_hidden, c.rep_enc_out,
               c.rep_res_width, c.rep_res_blocks),
        ZetaNet(c.feature_dim, obs_dim, c.rep_arch, tuple(c.zeta_hidden), c.rep_activation, c.level_input,
                c.level_embed_dim, c.rep_enc_hidden, c.rep_enc_out, c.rep_res_width, c.rep_res_blocks),
    )

    def rff_head():  # the critic's heads and the reward head have the same shape
        return RFFHead(c.rff_dim, c.rff_hidden, c.rff_kind, c.critic_input_ln, c.critic_hidden_ln, c.critic_activation)

    representation = DiffSRRepresentation(
        model, make_schedule(c.schedule, c.num_levels), parameterization=c.parameterization,
        noise_scale=c.noise_scale, feature_dim=c.feature_dim,
        reward_head=rff_head() if c.reward_weight > 0 else None, updates_per_step=c.rep_updates_per_step,
        keep_target=c.critic_rep == "target")
    return RepresentationCritic(representation, rff_head(), num, c.critic_rep, bool(c.critic_grad_to_rep))


CRITICS = {"mlp": mlp_critic, "diffsr": diffsr_critic}


@dataclasses.dataclass(frozen=True)
class AgentEntry:
    """How to build one agent: ``build(config, obs_dim, action_dim)``; ``trajectory_model``: it trains a
    trajectory diffusion model (config fields horizon, denoise_steps, model_*)."""

    build: Callable
    description: str
    trajectory_model: bool = False
    representation: bool = False  # reads the Diff-SR representation fields


def _composed(base, critic_kind: str) -> Callable:
    def build(config, obs_dim: int, action_dim: int):
        return base(config, obs_dim, action_dim, CRITICS[critic_kind](config, obs_dim, action_dim, base.NUM_Q))
    return build


def _registry() -> dict[str, AgentEntry]:
    agents = {}
    for name, base in BASES.items():
        agents[name] = AgentEntry(_composed(base, "mlp"), f"{name.upper()} with an MLP critic on concat(s, a)")
        agents[DIFFSR_PREFIX + name] = AgentEntry(
            _composed(base, "diffsr"), f"{name.upper()} with an RFF critic on the Diff-SR representation psi(s, a)",
            representation=True)
    agents["polygrad"] = AgentEntry(lambda c, o, a: PolyGRAD(c, o, a), "PolyGRAD: policy-guided trajectory "
                                    "diffusion world model, actor-critic in imagination", trajectory_model=True)
    agents["diffusion_planner"] = AgentEntry(
        lambda c, o, a: DiffusionPlanner(c, o, a, mlp_critic(c, o, a, SAC.NUM_Q)),
        "Diffuser-style planner: sampled trajectories ranked by a SAC critic", trajectory_model=True)
    return agents


AGENTS = _registry()


def unknown_agent_message(name: str) -> str:
    return f"unknown agent {name!r}; choose one of: {', '.join(sorted(AGENTS))}"


def make_agent(config, obs_dim: int, action_dim: int):
    if config.agent not in AGENTS:
        raise ValueError(unknown_agent_message(config.agent))
    return AGENTS[config.agent].build(config, obs_dim, action_dim)


def hparam_names(config) -> tuple:
    """The traced hyperparameters of the config's agent (sweepable with --sweep)."""
    return make_agent(config, 1, 1).hparam_names
