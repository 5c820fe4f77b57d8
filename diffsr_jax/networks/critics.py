"""Q-function heads and the twin-ensemble wrapper.

- ``RFFHead``: the Diff-SR critic / reward head on a representation psi (B, F) -> (B,):
  [LN] -> LearnedRFF(rff_dim, sin | sincos) -> Dense(hidden) -> [LN] -> act -> Dense(1).
  Diff-SR-SAC: no LN, sin, 256/256, ELU. Diff-SR-TD3: LN, sincos, 512/512, ELU.
- ``MLPQHead``: the standard critic on concat(s, a) -> (B,).
- ``Ensemble``: n independent copies of a head (stacked params), output (n, B).
"""

from __future__ import annotations

from collections.abc import Sequence

import chex
import flax.linen as nn
import jax.numpy as jnp

from diffsr_jax.networks.activations import get_activation
from diffsr_jax.networks.init import dense
from diffsr_jax.networks.mlp import MLP
from diffsr_jax.networks.rff import LearnedRFF


class RFFHead(nn.Module):
    rff_dim: int = 256
    hidden: int = 256
    rff_kind: str = "sin"
    input_layer_norm: bool = False
    hidden_layer_norm: bool = False
    activation: str = "elu"
    init_scheme: str = "lecun"  # every dense layer's (networks.init)

    @nn.compact
    def __call__(self, psi):
        chex.assert_rank(psi, 2)  # (B, F)
        x = nn.LayerNorm()(psi) if self.input_layer_norm else psi
        x = LearnedRFF(self.rff_dim, self.rff_kind, self.init_scheme)(x)
        x = dense(self.hidden, self.init_scheme, x.shape[-1])(x)
        if self.hidden_layer_norm:
            x = nn.LayerNorm()(x)
        x = get_activation(self.activation)(x)
        q = dense(1, self.init_scheme, x.shape[-1])(x)[..., 0]
        chex.assert_shape(q, psi.shape[:1])  # (B,)
        return q


class MLPQHead(nn.Module):
    hidden: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    init_scheme: str = "lecun"

    @nn.compact
    def __call__(self, obs, action):
        chex.assert_rank([obs, action], 2)  # (B, d_s), (B, d_a)
        chex.assert_equal_shape_prefix([obs, action], 1)
        x = jnp.concatenate([obs, action], axis=-1)
        q = MLP(self.hidden, 1, self.activation, self.layer_norm, init_scheme=self.init_scheme)(x)[..., 0]
        chex.assert_shape(q, obs.shape[:1])  # (B,)
        return q


class Ensemble(nn.Module):
    """``num`` independently initialised copies of ``head``; outputs stacked on axis 0: (num, B)."""

    head: nn.Module
    num: int = 2

    @nn.compact
    def __call__(self, *args):
        stacked = nn.vmap(
            lambda module, *a: module(*a),
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num,
        )
        out = stacked(self.head, *args)
        chex.assert_axis_dimension(out, 0, self.num)  # (num, B)
        return out
