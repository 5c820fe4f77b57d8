"""On-device replay, observation normalisation and the sampler agents draw batches with."""

from diffsr_jax.data.replay import ReplayBuffer, replay_add, replay_init, replay_sample
from diffsr_jax.data.sampler import ReplaySampler

__all__ = ["ReplayBuffer", "ReplaySampler", "replay_add", "replay_init", "replay_sample"]
