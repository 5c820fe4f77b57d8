"""Plain and residual MLPs."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn

from diffsr_jax.networks.activations import get_activation


class MLP(nn.Module):
    """x (..., in) -> (..., out_dim). Hidden layers: Dense -> [LayerNorm] -> activation.

    ``out_dim=None`` returns the last hidden layer (after its activation).
    """

    hidden: Sequence[int]
    out_dim: int | None = None
    activation: str = "relu"
    layer_norm: bool = False
    out_activation: str = "identity"

    @nn.compact
    def __call__(self, x):
        act = get_activation(self.activation)
        for width in self.hidden:
            x = nn.Dense(width)(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = act(x)
        if self.out_dim is not None:
            x = nn.Dense(self.out_dim)(x)
        return get_activation(self.out_activation)(x)


class ResidualBlock(nn.Module):
    """Pre-LayerNorm residual block: x + Dense(act(Dense(LN(x))))."""

    hidden: int
    activation: str = "mish"

    @nn.compact
    def __call__(self, x):
        h = nn.LayerNorm()(x)
        h = nn.Dense(self.hidden)(h)
        h = get_activation(self.activation)(h)
        return x + nn.Dense(x.shape[-1])(h)


class ResidualMLP(nn.Module):
    """x (..., in) -> Dense(width) -> num_blocks ResidualBlocks -> LN -> act -> Dense(out_dim)."""

    width: int
    num_blocks: int
    out_dim: int
    activation: str = "mish"

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(self.width)(x)
        for _ in range(self.num_blocks):
            x = ResidualBlock(self.width, self.activation)(x)
        x = get_activation(self.activation)(nn.LayerNorm()(x))
        return nn.Dense(self.out_dim)(x)
