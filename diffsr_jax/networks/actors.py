"""Policy networks: tanh-squashed Gaussians (SAC; on-policy with a global std) and a deterministic tanh actor (TD3)."""

from __future__ import annotations

from collections.abc import Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from diffsr_jax.networks.init import dense
from diffsr_jax.networks.mlp import MLP


class TanhGaussianActor(nn.Module):
    """obs (B, d_s) -> (mean (B, d_a), log_std (B, d_a)) of the pre-tanh Gaussian; log_std in [min, max]."""

    action_dim: int
    hidden: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    init_scheme: str = "lecun"  # every dense layer's (networks.init)

    @nn.compact
    def __call__(self, obs):
        h = MLP(self.hidden, None, self.activation, self.layer_norm, init_scheme=self.init_scheme)(obs)
        mean = dense(self.action_dim, self.init_scheme, h.shape[-1])(h)
        log_std = jnp.tanh(dense(self.action_dim, self.init_scheme, h.shape[-1])(h))
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (log_std + 1.0)
        chex.assert_shape([mean, log_std], obs.shape[:-1] + (self.action_dim,))
        return mean, log_std


class GlobalStdTanhGaussianActor(nn.Module):
    """obs (B, d_s) -> (mean (B, d_a), log_std (B, d_a)) with a state-independent learned std,
    std = exp(p) + min_std (p one parameter per action dim, std = init_std at init): the on-policy actor of
    policy-gradient agents, whose exploration must not collapse with the state."""

    action_dim: int
    hidden: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    min_std: float = 0.1
    init_std: float = 1.0

    @nn.compact
    def __call__(self, obs):
        h = MLP(self.hidden, None, self.activation, self.layer_norm)(obs)
        mean = nn.Dense(self.action_dim)(h)
        init = jnp.log(self.init_std - self.min_std)
        p = self.param("std_param", lambda _, shape: jnp.full(shape, init, jnp.float32), (self.action_dim,))
        log_std = jnp.log(jnp.exp(p) + self.min_std)
        chex.assert_shape(mean, obs.shape[:-1] + (self.action_dim,))
        return mean, jnp.broadcast_to(log_std, mean.shape)


def sample_tanh_gaussian(key, mean, log_std):
    """Reparameterised sample a = tanh(u), u ~ N(mean, std^2), and its log-density (B,)."""
    chex.assert_equal_shape([mean, log_std])
    std = jnp.exp(log_std)
    u = mean + std * jax.random.normal(key, mean.shape)
    logp_u = jnp.sum(-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)
    # log |d tanh(u)/du| = log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), numerically stable
    log_det = jnp.sum(2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u)), axis=-1)
    logp = logp_u - log_det
    chex.assert_shape(logp, mean.shape[:-1])  # one log-density per row
    return jnp.tanh(u), logp


class DeterministicActor(nn.Module):
    """obs (B, d_s) -> action (B, d_a) in [-1, 1]."""

    action_dim: int
    hidden: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    init_scheme: str = "lecun"  # every dense layer's (networks.init)

    @nn.compact
    def __call__(self, obs):
        action = jnp.tanh(MLP(self.hidden, self.action_dim, self.activation, self.layer_norm,
                                 init_scheme=self.init_scheme)(obs))
        chex.assert_shape(action, obs.shape[:-1] + (self.action_dim,))
        return action
