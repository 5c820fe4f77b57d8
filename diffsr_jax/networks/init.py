"""Weight initialisation schemes of a dense layer, by name (``INITS``), so a config field can choose them.

- ``lecun``: Flax's default, kernel lecun-normal (variance 1 / fan_in, truncated normal), bias zero.
- ``torch``: PyTorch's ``nn.Linear`` default, kernel and bias uniform in +-1/sqrt(fan_in) (kaiming-uniform with
  a = sqrt(5)); what rl-rep's psi, zeta and RFF critic layers keep (spec section 3).
- ``orthogonal``: an orthogonal kernel (gain 1) and a zero bias; rl-rep's ``weight_init`` of its SAC actor. The
  kernel is the Gram-Schmidt orthonormalisation of a Gaussian matrix (the Q of its QR with a positive diagonal in R,
  which is Haar-distributed, as ``nn.initializers.orthogonal``), computed with matrix products only: a LAPACK QR
  (a custom call) in a program sharded over several CPU devices deadlocks (docs/performance.md, "LAPACK in a multi-device
  CPU chunk deadlocks"; measured again on this init: the run's first chunk waited at 0% CPU).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

INITS = ("lecun", "torch", "orthogonal")


def _orthonormal_columns(a):
    """(n, k), n >= k -> the same span with orthonormal columns, by Gram-Schmidt with one re-orthogonalisation
    (float32 orthonormality to ~1e-6); column j keeps a positive projection on a[:, j]."""
    n, k = a.shape

    def column(j, q):
        v = a[:, j]
        for _ in range(2):  # the second pass restores what rounding lost in the first
            v = v - q @ (q.T @ v)  # the columns of q from j on are still zero
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, k, column, jnp.zeros_like(a))


def orthogonal(key, shape, dtype=jnp.float32):
    """An orthogonal kernel of ``shape`` (fan_in, fan_out) (gain 1): orthonormal columns where fan_in >= fan_out,
    orthonormal rows otherwise."""
    rows, cols = int(shape[0]), int(shape[-1])
    tall = (max(rows, cols), min(rows, cols))
    q = _orthonormal_columns(jax.random.normal(key, tall, jnp.float32))
    return (q if rows >= cols else q.T).reshape(shape).astype(dtype)


def _uniform_bias(fan_in: int):
    bound = 1.0 / jnp.sqrt(float(fan_in))

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def dense(features: int, init: str, fan_in: int) -> nn.Dense:
    """A ``nn.Dense(features)`` whose kernel and bias follow ``init`` (one of ``INITS``) for an input of ``fan_in``
    features. Create it inside a compact module, as ``nn.Dense`` itself (the same parameter names)."""
    if init == "lecun":
        return nn.Dense(features)
    if init == "torch":
        return nn.Dense(features, kernel_init=nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform"),
                        bias_init=_uniform_bias(fan_in))
    if init == "orthogonal":
        return nn.Dense(features, kernel_init=orthogonal, bias_init=nn.initializers.zeros)
    raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
