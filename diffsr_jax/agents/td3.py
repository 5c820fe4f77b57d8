"""TD3 (Fujimoto et al. 2018): twin critics, target policy smoothing, a delayed actor and targets, on any critic
component (``agents.critics``). With an MLP critic it is TD3; with the critic on psi it is Diff-SR-TD3. The algorithm
is ``agents.deterministic``; this module owns its config group ``config.td3`` and its setting."""

from __future__ import annotations

import ml_collections

from diffsr_jax.agents.deterministic import Q_REDUCTIONS, DeterministicActorCritic, Variant
from diffsr_jax.fields import ConfigGroup, Fields


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.expl_noise = 0.1  # std of the Gaussian exploration noise on mu(s)
    g.policy_noise = 0.2  # std of the target policy smoothing noise ...
    g.noise_clip = 0.5  # ... clipped to +-noise_clip
    g.policy_delay = 2  # critic steps per actor (and target) step
    g.actor_q_reduce = "q1"  # how the actor's loss reads the twin critics: q1, mean, min
    return g


def validate(config) -> None:
    f = Fields(config.td3, "td3")
    f.integer("policy_delay")
    f.choice("actor_q_reduce", Q_REDUCTIONS)
    for name in ("expl_noise", "policy_noise", "noise_clip"):
        if config.td3[name] < 0:
            f.fail(name, f"must be >= 0, got {config.td3[name]}")


TD3_CONFIG = ConfigGroup("td3", defaults, validate, "TD3's own: exploration and smoothing noise, the actor's delay")
NUM_Q = 2


def TD3(config, obs_dim: int, action_dim: int, critic) -> DeterministicActorCritic:  # noqa: N802 (an algorithm's name)
    """TD3 on ``critic`` (twin heads) from ``config.actor_critic`` and ``config.td3``."""
    own = config.td3
    variant = Variant("td3", NUM_Q, smoothing=True, policy_delay=int(own.policy_delay), actor_q=own.actor_q_reduce)
    return DeterministicActorCritic(variant, config.actor_critic, own, obs_dim, action_dim, critic)
