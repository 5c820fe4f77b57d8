"""Policy networks: a tanh-squashed Gaussian (SAC) and a deterministic tanh actor (TD3)."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from diffsr_jax.networks.mlp import MLP


class TanhGaussianActor(nn.Module):
    """obs (B, d_s) -> (mean (B, d_a), log_std (B, d_a)) of the pre-tanh Gaussian; log_std in [min, max]."""

    action_dim: int
    hidden: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    log_std_min: float = -5.0
    log_std_max: float = 2.0

    @nn.compact
    def __call__(self, obs):
        h = MLP(self.hidden, None, self.activation, self.layer_norm)(obs)
        mean = nn.Dense(self.action_dim)(h)
        log_std = jnp.tanh(nn.Dense(self.action_dim)(h))
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (log_std + 1.0)
        return mean, log_std


def sample_tanh_gaussian(key, mean, log_std):
    """Reparameterised sample a = tanh(u), u ~ N(mean, std^2), and its log-density (B,)."""
    std = jnp.exp(log_std)
    u = mean + std * jax.random.normal(key, mean.shape)
    logp_u = jnp.sum(-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)
    # log |d tanh(u)/du| = log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), numerically stable
    log_det = jnp.sum(2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u)), axis=-1)
    return jnp.tanh(u), logp_u - log_det


class DeterministicActor(nn.Module):
    """obs (B, d_s) -> action (B, d_a) in [-1, 1]."""

    action_dim: int
    hidden: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs):
        return jnp.tanh(MLP(self.hidden, self.action_dim, self.activation, self.layer_norm)(obs))
