"""A fixed-capacity circular replay buffer that lives on device as a pytree.

Insert and sample are pure and O(batch): ``add`` writes a batch of n items at the write pointer
(wrapping), ``sample`` draws indices uniformly with replacement from the filled part, ``window`` reads consecutive
slots (a sweep over the whole replay, a window per step).
"""

from __future__ import annotations

from typing import Any

import chex
import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class ReplayBuffer:
    data: Any  # pytree, each leaf (capacity, ...)
    insert_pos: jnp.ndarray  # () int32 next write slot
    size: jnp.ndarray  # () int32 filled slots

    @property
    def capacity(self) -> int:
        return jax.tree_util.tree_leaves(self.data)[0].shape[0]


def replay_init(example_item, capacity: int) -> ReplayBuffer:
    """An empty buffer whose items look like ``example_item`` (a pytree of unbatched arrays)."""
    data = jax.tree_util.tree_map(
        lambda x: jnp.zeros((capacity,) + jnp.shape(x), jnp.asarray(x).dtype), example_item
    )
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def replay_add(buffer: ReplayBuffer, items) -> ReplayBuffer:
    """Insert a batch: every leaf of ``items`` has shape (n, ...), n <= capacity."""
    cap = buffer.capacity
    n = jax.tree_util.tree_leaves(items)[0].shape[0]
    _check_buffer(buffer)
    chex.assert_trees_all_equal_structs(items, buffer.data)
    for d, x in zip(jax.tree_util.tree_leaves(buffer.data), jax.tree_util.tree_leaves(items)):
        chex.assert_shape(x, (n,) + d.shape[1:])  # n items, each shaped like the buffer's
    idx = (buffer.insert_pos + jnp.arange(n)) % cap
    data = jax.tree_util.tree_map(lambda d, x: d.at[idx].set(x.astype(d.dtype)), buffer.data, items)
    return ReplayBuffer(data, (buffer.insert_pos + n) % cap, jnp.minimum(buffer.size + n, cap))


def replay_sample(buffer: ReplayBuffer, key, batch_size: int):
    """Uniform with replacement over the filled slots: each leaf (batch_size, ...)."""
    _check_buffer(buffer)
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    batch = jax.tree_util.tree_map(lambda d: d[idx], buffer.data)
    chex.assert_tree_shape_prefix(batch, (batch_size,))
    return batch


def replay_window(buffer: ReplayBuffer, start, length: int):
    """Slots ``start .. start + length - 1`` (``start`` traced, ``length`` static): (items with leaves (length, ...),
    valid (length,) bool), valid where the slot is filled; slots past the capacity read the last one, marked invalid."""
    _check_buffer(buffer)
    slots = start + jnp.arange(length)
    valid = slots < buffer.size
    idx = jnp.minimum(slots, buffer.capacity - 1)
    items = jax.tree_util.tree_map(lambda d: d[idx], buffer.data)
    chex.assert_tree_shape_prefix(items, (length,))
    return items, valid


def _check_buffer(buffer: ReplayBuffer):
    """Every leaf (capacity, ...), the pointers () int32."""
    chex.assert_tree_shape_prefix(buffer.data, (buffer.capacity,))
    chex.assert_shape([buffer.insert_pos, buffer.size], ())
    chex.assert_type([buffer.insert_pos, buffer.size], jnp.int32)
