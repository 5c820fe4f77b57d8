import jax
import numpy as np

from diffsr_jax.networks.rff import LearnedRFF


def test_learned_rff_is_sin_and_cos_of_its_own_dense_layer():
    """The layer computes sin(x W + b) ("sin") or [sin(x W + b), cos(x W + b)] ("sincos") from its own parameters:
    checked against the formula, so a layer with another non-linearity, no bias or swapped halves fails."""
    x = jax.random.normal(jax.random.PRNGKey(1), (3, 7)) * 2.0
    for kind, width in (("sin", 16), ("sincos", 32)):
        m = LearnedRFF(16, kind)
        p = m.init(jax.random.PRNGKey(0), x)
        y = np.asarray(m.apply(p, x))
        dense = p["params"]["Dense_0"]
        z = np.asarray(x @ dense["kernel"] + dense["bias"])
        assert y.shape == (3, width)
        np.testing.assert_allclose(y[:, :16], np.sin(z), rtol=1e-5, atol=1e-6)
        if kind == "sincos":
            np.testing.assert_allclose(y[:, 16:], np.cos(z), rtol=1e-5, atol=1e-6)
        assert np.abs(z).max() > np.pi / 2  # the inputs reach past the linear range of sin


def test_polynomial_sin_and_cos_match_float64_to_float32_rounding():
    """networks.trig against numpy's float64 sin/cos over 1e6 points up to |x| = 1e5: within one float32 ulp of 1
    (1.2e-7; measured 7.7e-8), at the quadrant boundaries too, and far below what a wrong quadrant, a dropped Cody-Waite
    term or a truncated series would give (1e-4 and up)."""
    import jax.numpy as jnp

    from diffsr_jax.networks import trig

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1e5, 1e5, 500_000), rng.uniform(-8.0, 8.0, 500_000),
                        np.arange(-64, 65) * np.pi / 4]).astype(np.float32)
    s, c = map(np.asarray, jax.jit(trig.sin_cos)(x))
    exact = x.astype(np.float64)
    assert np.abs(s - np.sin(exact)).max() < 1.2e-7
    assert np.abs(c - np.cos(exact)).max() < 1.2e-7
    np.testing.assert_array_equal(np.asarray(jax.jit(trig.sin)(x)), s)  # compiled alike: the same fused arithmetic
    np.testing.assert_array_equal(np.asarray(jax.jit(trig.cos)(x)), c)
    assert np.abs(np.asarray(jnp.sin(x)) - s).max() < 1.2e-7  # XLA's own, for scale


def test_polynomial_sin_and_cos_differentiate_to_each_other():
    """d sin = cos and d cos = -sin, first and second order (the critic's actor gradient goes through one)."""
    import jax.numpy as jnp

    from diffsr_jax.networks import trig

    x = jnp.linspace(-20.0, 20.0, 401)
    s, c = jax.jit(trig.sin_cos)(x)
    np.testing.assert_array_equal(np.asarray(jax.jit(jax.vmap(jax.grad(trig.sin)))(x)), np.asarray(c))
    np.testing.assert_array_equal(np.asarray(jax.jit(jax.vmap(jax.grad(trig.cos)))(x)), np.asarray(-s))
    second = jax.vmap(jax.grad(jax.grad(trig.sin)))(x)
    np.testing.assert_allclose(np.asarray(second), -np.sin(np.asarray(x, np.float64)), atol=1e-6)
