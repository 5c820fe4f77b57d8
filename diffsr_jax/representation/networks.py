"""psi(s, a) and zeta(x_noisy, level) in both published architectures.

arch="mlp" (Diff-SR-SAC): psi = MLP(concat(s, a)) with ``hidden`` layers -> F (no output activation);
  zeta = MLP(concat(x_noisy, level input)) -> F * d_s.
arch="residual" (Diff-SR-TD3): s and a each go through Dense(enc_hidden)-act-Dense(enc_out), are
  concatenated and fed to a ResidualMLP(res_width, res_blocks) -> F; zeta embeds the level, concatenates
  it with x_noisy and uses a ResidualMLP -> F * d_s.
level_input="alpha_bar": zeta sees the raw scalar alpha_bar; "embedding": a sinusoidal embedding of the
  level index followed by a small MLP.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from diffsr_jax.networks.activations import get_activation
from diffsr_jax.networks.embeddings import LevelEmbedding
from diffsr_jax.networks.init import dense
from diffsr_jax.networks.mlp import MLP, ResidualMLP
from diffsr_jax.representation.score import factorized_score

ARCHS = ("mlp", "residual")
LEVEL_INPUTS = ("alpha_bar", "embedding")


class _Encoder(nn.Module):
    hidden: int
    out: int
    activation: str
    init_scheme: str = "lecun"

    @nn.compact
    def __call__(self, x):
        h = get_activation(self.activation)(dense(self.hidden, self.init_scheme, x.shape[-1])(x))
        return dense(self.out, self.init_scheme, self.hidden)(h)


class PsiNet(nn.Module):
    """(s (B, d_s), a (B, d_a)) -> psi (B, F)."""

    feature_dim: int
    arch: str = "mlp"
    hidden: Sequence[int] = (256,)
    activation: str = "elu"
    enc_hidden: int = 256
    enc_out: int = 128
    res_width: int = 512
    res_blocks: int = 3
    final_layer_norm: bool = True  # residual arch: LayerNorm before the last activation
    init_scheme: str = "lecun"  # every dense layer's (networks.init)

    @nn.compact
    def __call__(self, obs, action):
        if self.arch == "mlp":
            return MLP(self.hidden, self.feature_dim, self.activation, init_scheme=self.init_scheme)(
                jnp.concatenate([obs, action], -1))
        if self.arch == "residual":
            hs = _Encoder(self.enc_hidden, self.enc_out, self.activation, self.init_scheme)(obs)
            ha = _Encoder(self.enc_hidden, self.enc_out, self.activation, self.init_scheme)(action)
            x = jnp.concatenate([hs, ha], -1)
            return ResidualMLP(self.res_width, self.res_blocks, self.feature_dim, self.activation,
                               self.final_layer_norm, self.init_scheme)(x)
        raise ValueError(f"unknown representation arch {self.arch!r}; choose one of {', '.join(ARCHS)}")


class ZetaNet(nn.Module):
    """(x_noisy (B, d_s), level (B,) int, alpha_bar (B,)) -> zeta (B, F, d_s)."""

    feature_dim: int
    state_dim: int
    arch: str = "mlp"
    hidden: Sequence[int] = (512,)
    activation: str = "elu"
    level_input: str = "alpha_bar"
    embed_dim: int = 128
    enc_hidden: int = 256
    enc_out: int = 128
    res_width: int = 512
    res_blocks: int = 3
    final_layer_norm: bool = True  # residual arch: LayerNorm before the last activation
    init_scheme: str = "lecun"  # every dense layer's (networks.init)

    @nn.compact
    def __call__(self, x_noisy, level, alpha_bar):
        if self.level_input == "alpha_bar":
            cond = jnp.asarray(alpha_bar, x_noisy.dtype)[:, None]
        elif self.level_input == "embedding":
            cond = LevelEmbedding(self.embed_dim, self.enc_hidden, self.enc_out, self.activation, self.init_scheme)(level)
        else:
            raise ValueError(f"unknown level_input {self.level_input!r}; choose one of {', '.join(LEVEL_INPUTS)}")
        x = jnp.concatenate([x_noisy, cond], -1)
        out = self.feature_dim * self.state_dim
        if self.arch == "mlp":
            z = MLP(self.hidden, out, self.activation, init_scheme=self.init_scheme)(x)
        elif self.arch == "residual":
            z = ResidualMLP(self.res_width, self.res_blocks, out, self.activation, self.final_layer_norm, self.init_scheme)(x)
        else:
            raise ValueError(f"unknown representation arch {self.arch!r}; choose one of {', '.join(ARCHS)}")
        return z.reshape(z.shape[:-1] + (self.feature_dim, self.state_dim))


class PsiZeta(nn.Module):
    """psi and zeta as one flax module (the networks; ``learner.DiffSRRepresentation`` trains them). ``__call__``
    returns the factorised prediction psi^T zeta : (B, d_s).

    Use ``method=PsiZeta.psi`` for psi alone.
    """

    psi_net: PsiNet
    zeta_net: ZetaNet

    def psi(self, obs, action):
        """psi(s, a) : (B, F)."""
        return self.psi_net(obs, action)

    def zeta(self, x_noisy, level, alpha_bar):
        """zeta(x_noisy, level) : (B, F, d_s)."""
        return self.zeta_net(x_noisy, level, alpha_bar)

    def __call__(self, obs, action, x_noisy, level, alpha_bar):
        psi = self.psi_net(obs, action)
        zeta = self.zeta_net(x_noisy, level, alpha_bar)
        return factorized_score(psi, zeta)
