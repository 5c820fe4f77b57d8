"""Noise predictor over whole (flattened) trajectories, as in PolyGRAD / Diffuser-style world models."""

from __future__ import annotations

import chex
import flax.linen as nn
import jax.numpy as jnp

from diffsr_jax.networks.embeddings import LevelEmbedding
from diffsr_jax.networks.mlp import ResidualMLP


class TrajectoryDenoiser(nn.Module):
    """eps_hat(x_k, cond, k): residual MLP on concat(flat x_k, flat cond, level embedding).

    Inputs: x (B, H, d_x) noisy trajectory, cond (B, H, d_c) clean conditioning (e.g. scaled actions; d_c may be 0),
    k (B,) level indices. Output: (B, H, d_x). ``num_layers`` counts Dense layers inside residual blocks (2 per block).
    """

    width: int = 1024
    num_layers: int = 6
    time_embed_dim: int = 128
    activation: str = "mish"

    @nn.compact
    def __call__(self, x, cond, k):
        chex.assert_rank([x, cond, k], [3, 3, 1])
        chex.assert_equal_shape_prefix([x, cond], 2)  # (B, H)
        chex.assert_shape(k, x.shape[:1])
        b, h, d = x.shape
        temb = LevelEmbedding(self.time_embed_dim, 2 * self.time_embed_dim, self.time_embed_dim, self.activation)(k)
        inp = jnp.concatenate([x.reshape(b, h * d), cond.reshape(b, -1), temb], axis=-1)
        out = ResidualMLP(self.width, max(self.num_layers // 2, 1), h * d, self.activation)(inp)
        out = out.reshape(b, h, d)
        chex.assert_equal_shape([out, x])
        return out
