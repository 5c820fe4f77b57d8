import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.networks.rff import LearnedRFF, gaussian_kernel, gaussian_rff, gaussian_rff_init


def _kernel_error(num_features, seed):
    kx, kw = jax.random.split(jax.random.PRNGKey(seed))
    x = jax.random.normal(kx, (64, 4)) * 0.7
    w, b = gaussian_rff_init(kw, 4, num_features, bandwidth=1.5)
    phi = gaussian_rff(x, w, b)
    approx = phi @ phi.T
    exact = gaussian_kernel(x, x, bandwidth=1.5)
    return float(jnp.sqrt(jnp.mean((approx - exact) ** 2)))


def test_gaussian_rff_approximates_kernel_and_improves_with_features():
    errs = {d: np.mean([_kernel_error(d, s) for s in range(5)]) for d in (64, 1024, 16384)}
    # Monte-Carlo error falls like 1/sqrt(D): a 16x increase in D should cut it roughly 4x
    assert errs[16384] < 0.02
    assert errs[1024] < 0.5 * errs[64]
    assert errs[16384] < 0.5 * errs[1024]


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
