"""Noise-level embeddings."""

from __future__ import annotations

import math

import flax.linen as nn
import jax.numpy as jnp

from diffsr_jax.networks.activations import get_activation
from diffsr_jax.networks.init import dense


def sinusoidal_embedding(t, dim: int, max_period: float = 10000.0):
    """Transformer-style embedding of a (B,) vector of levels -> (B, dim) ([sin, cos] halves)."""
    if dim % 2:
        raise ValueError(f"sinusoidal embedding dim must be even, got {dim}")
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    args = jnp.asarray(t, jnp.float32)[..., None] * freqs
    return jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=-1)


class LevelEmbedding(nn.Module):
    """(B,) level index -> sinusoidal(dim) -> Dense(hidden) -> act -> Dense(out) : (B, out)."""

    dim: int = 128
    hidden: int = 256
    out: int = 128
    activation: str = "mish"
    init_scheme: str = "lecun"

    @nn.compact
    def __call__(self, t):
        h = sinusoidal_embedding(t, self.dim)
        h = get_activation(self.activation)(dense(self.hidden, self.init_scheme, self.dim)(h))
        return dense(self.out, self.init_scheme, self.hidden)(h)
