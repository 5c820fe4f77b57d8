"""Parameters with their optimizer, and target-network averaging: what the agents and the representation share."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class Learner:
    """Parameters and their optimizer state (the optimizer itself is static)."""

    params: Any
    opt_state: Any
    tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)

    @classmethod
    def create(cls, params, tx):
        return cls(params, tx.init(params), tx)

    def apply_gradients(self, grads):
        updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
        return self.replace(params=optax.apply_updates(self.params, updates), opt_state=opt_state)


def adam(learning_rate, max_grad_norm: float = 0.0) -> optax.GradientTransformation:
    """Adam whose learning rate lives in the optimizer state, so it may be a traced (vmapped) value."""
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)
    if max_grad_norm and max_grad_norm > 0:
        tx = optax.chain(optax.clip_by_global_norm(max_grad_norm), tx)
    return tx


def soft_update(target, online, tau):
    """Polyak averaging: target <- (1 - tau) target + tau online."""
    return jax.tree_util.tree_map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def periodic_soft_update(target, online, tau, do_update):
    """``soft_update`` where ``do_update`` (bool scalar) holds, else ``target`` unchanged."""
    return jax.tree_util.tree_map(lambda t, o: jnp.where(do_update, (1.0 - tau) * t + tau * o, t), target, online)
