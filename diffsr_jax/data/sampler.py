"""What an agent's update may draw from the run's replay: a pytree, so it passes through jit / vmap / scan.

``sampler.batch(key)`` -> Transition with leaves (batch_size, ...), drawn uniformly with replacement;
``sampler.window(start, length)`` -> (Transition with leaves (length, ...), valid (length,)): the replay's slots
``start .. start + length - 1`` (a sweep over the whole replay);
``sampler.segments(key, batch_size, length)`` -> (Transition with leaves (batch_size, length, ...), valid
(batch_size, length)): contiguous steps of one env (see ``data.segments``).
Observations come out normalised as the agent sees them (``obs_stats`` None: as stored), read through the replay's
``layout`` (``data.layout``: pixel stacks are kept as their newest frames and rebuilt here).
``FixedSampler(transitions).batch(key)`` -> ``transitions`` for every key (a batch an agent has already formed).
"""

from __future__ import annotations

import flax.struct

from diffsr_jax.data.layout import FrameLayout, TransitionLayout
from diffsr_jax.data.normalizer import RunningStats, normalize
from diffsr_jax.data.replay import ReplayBuffer


@flax.struct.dataclass
class ReplaySampler:
    buffer: ReplayBuffer
    obs_stats: RunningStats | None  # None: observations are not normalised
    batch_size: int = flax.struct.field(pytree_node=False)
    stride: int = flax.struct.field(pytree_node=False, default=1)  # slots between one env's consecutive steps
    clip: float = flax.struct.field(pytree_node=False, default=10.0)  # normalised observations' bound (0: none)
    layout: TransitionLayout | FrameLayout = flax.struct.field(pytree_node=False, default=TransitionLayout())

    def _normalized(self, tr):
        if self.obs_stats is None:
            return tr
        return tr.replace(obs=normalize(self.obs_stats, tr.obs, self.clip),
                          next_obs=normalize(self.obs_stats, tr.next_obs, self.clip))

    def batch(self, key):
        """(batch_size, ...) transitions, uniform over the filled replay."""
        return self._normalized(self.layout.batch(self.buffer, key, self.batch_size))

    def window(self, start, length: int):
        """(Transition (length, ...), valid (length,) bool): the replay's slots start .. start + length - 1."""
        tr, valid = self.layout.window(self.buffer, start, length)
        return self._normalized(tr), valid

    def segments(self, key, batch_size: int, length: int):
        """(Transition (batch_size, length, ...), valid (batch_size, length) float)."""
        seg, valid = self.layout.segments(self.buffer, key, batch_size, length, self.stride)
        return self._normalized(seg), valid


@flax.struct.dataclass
class FixedSampler:
    """A sampler that hands out one batch for every key: a learner that draws ``batch(key)`` trains on transitions
    an agent has already formed (``agents.drqv2``: psi and zeta on the latents of the update's own batch)."""

    transitions: object  # Transition with leaves (B, ...)

    def batch(self, key):
        del key
        return self.transitions
