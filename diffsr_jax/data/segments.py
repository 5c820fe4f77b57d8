"""Contiguous trajectory segments from the circular replay buffer (for trajectory world models).

With ``num_envs`` parallel envs the buffer interleaves them, so env e's consecutive steps sit ``stride =
num_envs`` slots apart. A segment never crosses the write pointer; where it crosses an episode boundary
(termination, or an auto-reset seen as next_obs[t] != obs[t+1]) the later steps are masked out.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from diffsr_jax.data.replay import ReplayBuffer


def segment_indices(buffer: ReplayBuffer, key, batch_size: int, length: int, stride: int = 1, skip=0):
    """-> (idx (B, L) slots of segments of one env's consecutive steps, whether the replay holds a full one). A
    segment starts ``skip`` or more slots after the oldest (a layout whose oldest slots cannot be read skips them)."""
    cap = buffer.capacity
    span = (length - 1) * stride
    oldest = (buffer.insert_pos - buffer.size) % cap
    start = jax.random.randint(key, (batch_size,), skip, jnp.maximum(buffer.size - span, skip + 1))
    idx = (oldest + start[:, None] + stride * jnp.arange(length)[None, :]) % cap
    return idx, buffer.size > span + skip


def sample_segments(buffer: ReplayBuffer, key, batch_size: int, length: int, stride: int = 1):
    """-> (segments, valid): every Transition leaf (B, L, ...); valid (B, L) float, 1 while still the episode
    of step 0 (valid[:, 0] == 1 always). Needs ``size > (length - 1) * stride`` for any full segment."""
    idx, enough = segment_indices(buffer, key, batch_size, length, stride)
    seg = jax.tree_util.tree_map(lambda d: d[idx], buffer.data)
    chex.assert_tree_shape_prefix(seg, (batch_size, length))
    valid = segment_mask(seg, enough)
    chex.assert_shape(valid, (batch_size, length))
    return seg, valid


def segment_mask(seg, enough_data=True):
    """(B, L) validity: step t counts when steps 0..t-1 neither terminated nor were followed by a reset."""
    equal = seg.next_obs[:, :-1] == seg.obs[:, 1:]
    same = jnp.all(equal, axis=tuple(range(2, equal.ndim)))  # every entry of the observation (a vector, or frames)
    cont = same & (seg.terminated[:, :-1] < 0.5)
    valid = jnp.concatenate([jnp.ones((cont.shape[0], 1), bool), jnp.cumprod(cont, axis=1).astype(bool)], axis=1)
    first = jnp.zeros_like(valid).at[:, 0].set(True)
    return jnp.where(enough_data, valid, first).astype(jnp.float32)
