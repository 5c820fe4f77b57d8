"""Forward (noising) corruption of clean samples."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def _per_row(value: jnp.ndarray, x: jnp.ndarray) -> jnp.ndarray:
    """Broadcast a scalar or a (B,) vector against x of shape (B, ...)."""
    value = jnp.asarray(value, x.dtype)
    if value.ndim == 0:
        return value
    if value.ndim != 1 or value.shape[0] != x.shape[0]:
        raise ValueError(
            f"alpha_bar must be a scalar or have shape ({x.shape[0]},) to match x0 {x.shape}; got {value.shape}"
        )
    return value.reshape((-1,) + (1,) * (x.ndim - 1))


def corrupt(key: jax.Array, x0: jnp.ndarray, alpha_bar, noise_scale: float = 1.0):
    """Noise clean samples: x = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) * noise_scale * eps.

    Args:
      key: PRNG key.
      x0: (B, d) clean samples (any trailing shape).
      alpha_bar: scalar or (B,) signal fraction.
      noise_scale: multiplies the Gaussian noise (0.449 in Diff-SR-SAC).
    Returns:
      (x_noisy, eps), both shaped like x0; eps ~ N(0, I).
    """
    chex.assert_type(x0, float)
    eps = jax.random.normal(key, x0.shape, x0.dtype)
    ab = _per_row(alpha_bar, x0)
    x = jnp.sqrt(ab) * x0 + jnp.sqrt(1.0 - ab) * noise_scale * eps
    chex.assert_equal_shape([x, eps, x0])  # both shaped like x0, and of its dtype
    chex.assert_type([x, eps], x0.dtype)
    return x, eps
