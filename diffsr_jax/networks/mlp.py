"""Plain and residual MLPs."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn

from diffsr_jax.networks.activations import get_activation
from diffsr_jax.networks.init import dense


class MLP(nn.Module):
    """x (..., in) -> (..., out_dim). Hidden layers: Dense -> [LayerNorm] -> activation.

    ``out_dim=None`` returns the last hidden layer (after its activation). ``init``: every layer's initialisation
    (``networks.init.INITS``).
    """

    hidden: Sequence[int]
    out_dim: int | None = None
    activation: str = "relu"
    layer_norm: bool = False
    out_activation: str = "identity"
    init_scheme: str = "lecun"

    @nn.compact
    def __call__(self, x):
        act = get_activation(self.activation)
        for width in self.hidden:
            x = dense(width, self.init_scheme, x.shape[-1])(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = act(x)
        if self.out_dim is not None:
            x = dense(self.out_dim, self.init_scheme, x.shape[-1])(x)
        return get_activation(self.out_activation)(x)


class ResidualBlock(nn.Module):
    """Pre-LayerNorm residual block: x + Dense(act(Dense(LN(x))))."""

    hidden: int
    activation: str = "mish"
    init_scheme: str = "lecun"

    @nn.compact
    def __call__(self, x):
        h = nn.LayerNorm()(x)
        h = dense(self.hidden, self.init_scheme, h.shape[-1])(h)
        h = get_activation(self.activation)(h)
        return x + dense(x.shape[-1], self.init_scheme, h.shape[-1])(h)


class ResidualMLP(nn.Module):
    """x (..., in) -> Dense(width) -> num_blocks ResidualBlocks -> [LN] -> act -> Dense(out_dim).

    ``final_layer_norm``: the LayerNorm before the last activation (spectral-rl2's residual MLP has none)."""

    width: int
    num_blocks: int
    out_dim: int
    activation: str = "mish"
    final_layer_norm: bool = True
    init_scheme: str = "lecun"

    @nn.compact
    def __call__(self, x):
        x = dense(self.width, self.init_scheme, x.shape[-1])(x)
        for _ in range(self.num_blocks):
            x = ResidualBlock(self.width, self.activation, self.init_scheme)(x)
        if self.final_layer_norm:
            x = nn.LayerNorm()(x)
        x = get_activation(self.activation)(x)
        return dense(self.out_dim, self.init_scheme, x.shape[-1])(x)
