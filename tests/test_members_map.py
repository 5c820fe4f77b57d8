"""training.devices.members_map: vmap over the members, one member unbatched, the same numbers either way."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from diffsr_jax.training.devices import members_map


def _adam_step(params, x, lr):
    """One Adam step of a two-layer regression, with the member's own data ``x``; ``lr`` shared (in_axes None)."""
    def loss(p):
        return jnp.mean((jnp.tanh(x @ p["w1"]) @ p["w2"] - 1.0) ** 2)

    tx = optax.adam(lr)
    grads = jax.grad(loss)(params)
    updates, _ = tx.update(grads, tx.init(params), params)
    return optax.apply_updates(params, updates), loss(params)


def _members(n):
    k = jax.random.split(jax.random.PRNGKey(0), 3)
    params = {"w1": jax.random.normal(k[0], (n, 32, 64)) / 6, "w2": jax.random.normal(k[1], (n, 64, 8)) / 8}
    return params, jax.random.normal(k[2], (n, 128, 32))


def test_the_members_axis_is_there_outside_whatever_the_count():
    for n in (1, 3):
        params, x = _members(n)
        out, loss = jax.jit(members_map(_adam_step, in_axes=(0, 0, None)))(params, x, 1e-2)
        assert loss.shape == (n,) and out["w1"].shape == (n, 32, 64) and out["w2"].shape == (n, 64, 8)


def test_one_member_gives_what_vmap_gives_to_float_rounding():
    params, x = _members(1)
    ours = jax.jit(members_map(_adam_step, in_axes=(0, 0, None)))(params, x, 1e-2)
    vmapped = jax.jit(jax.vmap(_adam_step, in_axes=(0, 0, None)))(params, x, 1e-2)
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(vmapped)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_one_member_program_has_no_batched_dots():
    params, x = _members(1)
    text = jax.jit(members_map(_adam_step, in_axes=(0, 0, None))).lower(params, x, 1e-2).as_text()
    assert "dot_general" in text and "batching_dims" not in text  # one member: plain dots
    two = jax.jit(members_map(_adam_step, in_axes=(0, 0, None))).lower(*_members(2), 1e-2).as_text()
    assert "batching_dims = [0] x [0]" in two  # two members: one batched program
