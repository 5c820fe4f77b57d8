import jax
import jax.numpy as jnp

from benchmarks.flops import matmul_flops


def test_flops_of_matmul_scan_and_grad():
    x, w = jnp.ones((256, 64)), jnp.ones((64, 128))
    one = 2 * 256 * 64 * 128
    assert matmul_flops(lambda x, w: x @ w, x, w) == one
    scanned = lambda x, w: jax.lax.scan(lambda c, _: (c, (x @ w).sum()), 0.0, None, length=4)[1]  # noqa: E731
    assert matmul_flops(scanned, x, w) == 4 * one
    assert matmul_flops(jax.grad(lambda w: jnp.tanh(x @ w).sum()), w) == 2 * one  # forward + dW


def test_flops_of_an_mlp_match_layer_shapes():
    import flax.linen as nn

    from diffsr_jax.networks.mlp import MLP

    net = MLP((256, 256), 1)
    x = jnp.ones((32, 17))
    p = net.init(jax.random.PRNGKey(0), x)
    assert matmul_flops(net.apply, p, x) == 2 * 32 * (17 * 256 + 256 * 256 + 256 * 1)
    del nn
