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
