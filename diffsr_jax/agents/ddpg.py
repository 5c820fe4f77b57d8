"""DDPG (Lillicrap et al. 2016, with Gaussian exploration noise): one critic, no smoothing, no delay, on any critic
component; ``diffsr_ddpg`` puts it on the Diff-SR representation without a line of Diff-SR code here. The algorithm
is ``agents.deterministic``; this module owns its config group ``config.ddpg`` and its setting."""

from __future__ import annotations

import ml_collections

from diffsr_jax.agents.deterministic import DeterministicActorCritic, Variant
from diffsr_jax.fields import ConfigGroup, Fields


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.expl_noise = 0.1  # std of the Gaussian exploration noise on mu(s)
    return g


def validate(config) -> None:
    if config.ddpg.expl_noise < 0:
        Fields(config.ddpg, "ddpg").fail("expl_noise", f"must be >= 0, got {config.ddpg.expl_noise}")


DDPG_CONFIG = ConfigGroup("ddpg", defaults, validate, "DDPG's own: exploration noise")
NUM_Q = 1


def DDPG(config, obs_dim: int, action_dim: int, critic) -> DeterministicActorCritic:  # noqa: N802 (an algorithm's name)
    """DDPG on ``critic`` (one head) from ``config.actor_critic`` and ``config.ddpg``."""
    return DeterministicActorCritic(Variant("ddpg", NUM_Q, smoothing=False), config.actor_critic, config.ddpg, obs_dim,
                                    action_dim, critic)
