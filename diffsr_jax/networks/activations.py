"""Activation lookup by name, so networks can be configured from plain strings."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax.numpy as jnp


def mish(x):
    """Mish: x * tanh(softplus(x))."""
    return x * jnp.tanh(nn.softplus(x))


ACTIVATIONS: dict[str, Callable] = {
    "relu": nn.relu,
    "elu": nn.elu,
    "mish": mish,
    "tanh": jnp.tanh,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "identity": lambda x: x,
}


def get_activation(name: str) -> Callable:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]
