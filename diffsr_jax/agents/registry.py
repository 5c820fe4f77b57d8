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
    """The standard critic: ``num`` MLP heads on concat(s, a) (``config.critic``: hidden, activation,
    hidden_layer_norm)."""
    from diffsr_jax.networks.critics import MLPQHead

    del obs_dim, action_dim
    c = config.critic
    return MLPCritic(MLPQHead(tuple(c.hidden), c.activation, c.hidden_layer_norm), num)


def diffsr_critic(config, obs_dim: int, action_dim: int, num: int) -> RepresentationCritic:
    """``num`` RFF heads on psi(s, a) of the Diff-SR representation (spec sections 3 and 4)."""
    from diffsr_jax.diffusion import make_schedule
    from diffsr_jax.networks.critics import RFFHead
    from diffsr_jax.representation import DiffusionRepresentation, PsiNet, ZetaNet
    from diffsr_jax.representation.learner import DiffSRRepresentation

    del action_dim
    r, q = config.representation, config.critic
    model = DiffusionRepresentation(
        PsiNet(r.feature_dim, r.arch, tuple(r.psi_hidden), r.activation, r.enc_hidden, r.enc_out, r.res_width,
               r.res_blocks),
        ZetaNet(r.feature_dim, obs_dim, r.arch, tuple(r.zeta_hidden), r.activation, r.level_input, r.level_embed_dim,
                r.enc_hidden, r.enc_out, r.res_width, r.res_blocks),
    )

    def rff_head():  # the critic's heads and the reward head have the same shape
        return RFFHead(q.rff_dim, q.rff_hidden, q.rff_kind, q.input_layer_norm, q.hidden_layer_norm, q.activation)

    representation = DiffSRRepresentation(
        model, make_schedule(r.schedule, r.num_levels), parameterization=r.parameterization,
        noise_scale=r.noise_scale, feature_dim=r.feature_dim, traced=r,
        reward_head=rff_head() if r.reward_weight > 0 else None, updates_per_step=r.updates_per_step,
        keep_target=q.reads == "target", objective=r.objective)
    return RepresentationCritic(representation, rff_head(), num, q.reads, bool(q.grad_to_rep))


CRITICS = {"mlp": mlp_critic, "diffsr": diffsr_critic}


@dataclasses.dataclass(frozen=True)
class AgentEntry:
    """How to build one agent: ``build(config, obs_dim, action_dim)``; ``groups``: the config groups it reads besides
    run, env and replay (the validator checks those)."""

    build: Callable
    description: str
    groups: tuple = ("actor_critic", "critic")


def _composed(base, critic_kind: str) -> Callable:
    def build(config, obs_dim: int, action_dim: int):
        critic = CRITICS[critic_kind](config, obs_dim, action_dim, base.NUM_Q)
        return base(config.actor_critic, obs_dim, action_dim, critic)
    return build


def _registry() -> dict[str, AgentEntry]:
    agents = {}
    for name, base in BASES.items():
        agents[name] = AgentEntry(_composed(base, "mlp"), f"{name.upper()} with an MLP critic on concat(s, a)")
        agents[DIFFSR_PREFIX + name] = AgentEntry(
            _composed(base, "diffsr"), f"{name.upper()} with an RFF critic on the Diff-SR representation psi(s, a)",
            ("actor_critic", "critic", "representation"))
    agents["polygrad"] = AgentEntry(lambda c, o, a: PolyGRAD(c, o, a), "PolyGRAD: policy-guided trajectory "
                                    "diffusion world model, actor-critic in imagination", ("actor_critic", "critic", "baselines"))
    agents["diffusion_planner"] = AgentEntry(
        lambda c, o, a: DiffusionPlanner(c, o, a, mlp_critic(c, o, a, SAC.NUM_Q)),
        "Diffuser-style planner: sampled trajectories ranked by a SAC critic", ("actor_critic", "critic", "baselines"))
    return agents


AGENTS = _registry()


def unknown_agent_message(name: str) -> str:
    return f"unknown agent {name!r}; choose one of: {', '.join(sorted(AGENTS))}"


def make_agent(config, obs_dim: int, action_dim: int):
    if config.run.agent not in AGENTS:
        raise ValueError(unknown_agent_message(config.run.agent))
    return AGENTS[config.run.agent].build(config, obs_dim, action_dim)


def hparam_names(config) -> tuple:
    """The traced hyperparameters of the config's agent as ``group.field`` (sweepable with --sweep)."""
    return tuple(f"{g}.{k}" for g, fields in make_agent(config, 1, 1).hparams().items() for k in fields)
