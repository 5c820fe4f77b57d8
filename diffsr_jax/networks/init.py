"""Weight initialisation schemes of a dense layer, by name (``INITS``), so a config field can choose them.

- ``lecun``: Flax's default, kernel lecun-normal (variance 1 / fan_in, truncated normal), bias zero.
- ``torch``: PyTorch's ``nn.Linear`` default, kernel and bias uniform in +-1/sqrt(fan_in) (kaiming-uniform with
  a = sqrt(5)); what rl-rep's psi, zeta and RFF critic layers keep (spec section 3).
- ``orthogonal``: an orthogonal kernel (gain 1) and a zero bias; rl-rep's ``weight_init`` of its SAC actor.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

INITS = ("lecun", "torch", "orthogonal")


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
        return nn.Dense(features, kernel_init=nn.initializers.orthogonal(), bias_init=nn.initializers.zeros)
    raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
