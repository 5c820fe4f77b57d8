"""``config.actor_critic``: the base algorithm (SAC, TD3, DDPG), and ``config.critic``: the critic's heads.

The critic reads concat(s, a) through an MLP (``hidden``, ``hidden_layer_norm``, ``activation``) or, for the
``diffsr_*`` agents, psi(s, a) through twin RFF heads (``rff_*``, ``input_layer_norm``, ``hidden_layer_norm``,
``activation``; ``reads`` the online psi or its EMA target; ``grad_to_rep``: the critic's loss also trains psi).
"""

from __future__ import annotations

import ml_collections

from diffsr_jax.config.checks import Fields


def actor_critic_defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.gamma = 0.99
    g.tau = 0.005  # Polyak rate of the target networks
    g.actor_lr = 3e-4
    g.critic_lr = 3e-4
    g.actor_hidden = (256, 256)
    g.activation = "relu"  # the actor's
    g.actor_layer_norm = False
    # SAC
    g.alpha_lr = 3e-4
    g.init_alpha = 1.0
    g.target_entropy_scale = 1.0  # target entropy = -scale * |A|
    g.log_std_min = -5.0
    g.log_std_max = 2.0
    g.target_update_every = 1
    # TD3 (DDPG: expl_noise)
    g.expl_noise = 0.1
    g.policy_noise = 0.2
    g.noise_clip = 0.5
    g.policy_delay = 2
    g.actor_q_reduce = "q1"  # q1, mean, min
    return g


def critic_defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.hidden = (256, 256)  # MLP critic
    g.activation = "relu"
    g.input_layer_norm = False  # RFF critic: LayerNorm on psi
    g.hidden_layer_norm = False  # LayerNorm after the hidden layer(s)
    g.rff_dim = 256  # RFF critic on psi
    g.rff_hidden = 256
    g.rff_kind = "sin"  # sin | sincos
    g.reads = "online"  # online | target: the psi the RFF critic reads
    g.grad_to_rep = False  # the critic's TD loss also trains psi (end to end)
    return g


def validate_actor_critic(config) -> None:
    from diffsr_jax.networks.activations import ACTIVATIONS

    f = Fields(config.actor_critic, "actor_critic")
    f.within("gamma", 0.0, 1.0)
    f.within("tau", 0.0, 1.0, low_open=True)
    f.positive("actor_lr", "critic_lr", "alpha_lr", "init_alpha")
    f.integer("target_update_every", "policy_delay")
    f.choice("actor_q_reduce", ("q1", "mean", "min"))
    f.choice("activation", tuple(ACTIVATIONS))


def validate_critic(config) -> None:
    from diffsr_jax.networks.activations import ACTIVATIONS
    from diffsr_jax.networks.rff import RFF_KINDS

    f = Fields(config.critic, "critic")
    f.choice("activation", tuple(ACTIVATIONS))
    f.choice("rff_kind", RFF_KINDS)
    f.choice("reads", ("online", "target"))
    f.integer("rff_dim", "rff_hidden")
    if config.critic.grad_to_rep and config.critic.reads == "target":
        f.fail("grad_to_rep", "=True trains psi through the critic, so the critic must read the online psi: set "
               "config.critic.reads=online")
