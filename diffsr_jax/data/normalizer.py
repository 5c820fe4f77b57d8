"""Running mean / std of observations (parallel Welford update), as a pytree."""

from __future__ import annotations

import chex
import flax.struct
import jax.numpy as jnp


@flax.struct.dataclass
class RunningStats:
    mean: jnp.ndarray  # (d,)
    var: jnp.ndarray  # (d,)
    count: jnp.ndarray  # ()


def stats_init(dim: int) -> RunningStats:
    return RunningStats(jnp.zeros(dim), jnp.ones(dim), jnp.zeros(()))


def stats_update(stats: RunningStats, x) -> RunningStats:
    """Fold a batch x (n, d) into the statistics."""
    chex.assert_rank([stats.mean, stats.var, stats.count], [1, 1, 0])  # (d,), (d,), ()
    chex.assert_equal_shape([stats.mean, stats.var])
    chex.assert_shape(x, (None,) + stats.mean.shape)  # (n, d)
    n = x.shape[0]
    b_mean, b_var = x.mean(0), x.var(0)
    total = stats.count + n
    delta = b_mean - stats.mean
    mean = stats.mean + delta * n / total
    m2 = stats.var * stats.count + b_var * n + delta**2 * stats.count * n / total
    return RunningStats(mean, m2 / total, total)


def normalize(stats: RunningStats, x, clip: float = 10.0, eps: float = 1e-6):
    """(x - mean) / std, clipped to [-clip, clip] (``clip`` 0: not clipped); identity while no data has been seen."""
    chex.assert_axis_dimension(x, -1, stats.mean.shape[0])  # (..., d)
    z = (x - stats.mean) / jnp.sqrt(stats.var + eps)
    if clip:
        z = jnp.clip(z, -clip, clip)
    return jnp.where(stats.count > 0, z, x)
