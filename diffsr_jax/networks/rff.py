"""Random-Fourier-feature maps.

- ``gaussian_rff_init`` / ``gaussian_rff``: the fixed map of the paper's derivation,
  phi(x) = sqrt(2/D) cos(W x + b), W ~ N(0, I/bandwidth^2), b ~ U[0, 2pi], so that
  E[phi(x)^T phi(y)] = exp(-||x - y||^2 / (2 bandwidth^2)).
- ``LearnedRFF``: the learnable layer both published critics use: Dense(D) followed by sin
  ("sin", D outputs) or by [sin, cos] ("sincos", 2D outputs).
"""

from __future__ import annotations

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from diffsr_jax.networks.init import dense

RFF_KINDS = ("sin", "sincos")


def gaussian_rff_init(key, in_dim: int, num_features: int, bandwidth: float = 1.0):
    """Sample the fixed frequencies W (in_dim, D) and phases b (D,) of a Gaussian-kernel RFF map."""
    kw, kb = jax.random.split(key)
    w = jax.random.normal(kw, (in_dim, num_features)) / bandwidth
    b = jax.random.uniform(kb, (num_features,), minval=0.0, maxval=2.0 * jnp.pi)
    chex.assert_shape(w, (in_dim, num_features))
    chex.assert_shape(b, (num_features,))
    return w, b


def gaussian_rff(x, w, b):
    """x (..., in_dim) -> (..., D) features whose inner products approximate the Gaussian kernel."""
    chex.assert_rank(w, 2)  # (in_dim, D)
    chex.assert_shape(b, w.shape[1:])
    chex.assert_axis_dimension(x, -1, w.shape[0])
    phi = jnp.sqrt(2.0 / w.shape[-1]) * jnp.cos(x @ w + b)
    chex.assert_shape(phi, x.shape[:-1] + w.shape[1:])
    return phi


def gaussian_kernel(x, y, bandwidth: float = 1.0):
    """exp(-||x - y||^2 / (2 bandwidth^2)) for x (N, d), y (M, d) -> (N, M)."""
    chex.assert_rank([x, y], 2)
    chex.assert_equal_shape_suffix([x, y], 1)  # the same d
    sq = jnp.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)
    chex.assert_shape(sq, (x.shape[0], y.shape[0]))
    return jnp.exp(-sq / (2.0 * bandwidth**2))


class LearnedRFF(nn.Module):
    """x (..., in) -> sin(Dense(D)(x)) : (..., D), or [sin, cos] : (..., 2D) for kind="sincos"."""

    num_features: int
    kind: str = "sin"
    init_scheme: str = "lecun"

    @nn.compact
    def __call__(self, x):
        if self.kind not in RFF_KINDS:
            raise ValueError(f"unknown RFF kind {self.kind!r}; choose one of {', '.join(RFF_KINDS)}")
        z = dense(self.num_features, self.init_scheme, x.shape[-1])(x)
        out = jnp.sin(z) if self.kind == "sin" else jnp.concatenate([jnp.sin(z), jnp.cos(z)], axis=-1)
        width = self.num_features * (1 if self.kind == "sin" else 2)
        chex.assert_shape(out, x.shape[:-1] + (width,))  # (..., D) or (..., 2D)
        return out
