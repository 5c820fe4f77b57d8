import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.diffusion import corrupt, denoising_loss, pred_to_score


def test_corrupt_mean_and_variance():
    n = 200_000
    x0 = jnp.tile(jnp.array([[1.0, -2.0, 0.5]]), (n, 1))
    ab, sigma = 0.6, 0.449
    x, eps = corrupt(jax.random.PRNGKey(0), x0, ab, sigma)
    mean, var = np.asarray(x.mean(0)), np.asarray(x.var(0))
    np.testing.assert_allclose(mean, np.sqrt(ab) * np.asarray(x0[0]), atol=4 * np.sqrt((1 - ab) * sigma**2 / n))
    np.testing.assert_allclose(var, (1 - ab) * sigma**2, rtol=0.02)
    np.testing.assert_allclose(np.asarray(x), np.sqrt(ab) * np.asarray(x0) + np.sqrt(1 - ab) * sigma * np.asarray(eps), atol=1e-5)


def test_corrupt_per_row_alpha_bar():
    x0 = jnp.ones((4, 2))
    ab = jnp.array([1.0, 0.5, 0.25, 0.0])
    x, eps = corrupt(jax.random.PRNGKey(1), x0, ab)
    np.testing.assert_allclose(np.asarray(x[0]), 1.0, atol=1e-6)  # no noise at alpha_bar = 1
    np.testing.assert_allclose(np.asarray(x[3]), np.asarray(eps[3]), atol=1e-6)  # pure noise at 0


def test_corrupt_reproducible_for_a_key():
    x0 = jax.random.normal(jax.random.PRNGKey(2), (16, 5))
    a = corrupt(jax.random.PRNGKey(3), x0, 0.3)
    b = corrupt(jax.random.PRNGKey(3), x0, 0.3)
    c = corrupt(jax.random.PRNGKey(4), x0, 0.3)
    assert np.array_equal(np.asarray(a[0]), np.asarray(b[0]))
    assert not np.allclose(np.asarray(a[0]), np.asarray(c[0]))


def test_corrupt_rejects_bad_alpha_bar_shape():
    with pytest.raises(ValueError, match="alpha_bar must be a scalar or have shape"):
        corrupt(jax.random.PRNGKey(0), jnp.ones((4, 2)), jnp.ones((3,)))


@pytest.mark.parametrize("sigma", [1.0, 0.449])
def test_loss_minimisers(sigma):
    """eps loss is zero at eps; score loss is zero at -eps / (sqrt(1 - ab) sigma), for per-row ab."""
    eps = jax.random.normal(jax.random.PRNGKey(0), (8, 3))
    ab = jnp.linspace(0.1, 0.9, 8)
    np.testing.assert_allclose(np.asarray(denoising_loss(eps, eps, ab, "eps", sigma)), 0.0, atol=1e-10)
    score = -eps / (jnp.sqrt(1 - ab)[:, None] * sigma)
    np.testing.assert_allclose(np.asarray(denoising_loss(score, eps, ab, "score", sigma)), 0.0, atol=1e-9)
    # and pred_to_score maps the eps minimiser to the score minimiser
    np.testing.assert_allclose(np.asarray(pred_to_score(eps, ab, "eps", sigma)), np.asarray(score), rtol=1e-5)


def test_score_loss_is_paper_eq18():
    """With sigma = 1: loss = beta * ||eps + sqrt(beta) * pred||^2, beta = 1 - alpha_bar."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(5))
    eps, pred = jax.random.normal(k1, (6, 4)), jax.random.normal(k2, (6, 4))
    ab = jnp.linspace(0.2, 0.95, 6)
    beta = (1 - ab)[:, None]
    expected = jnp.sum(beta * (eps + jnp.sqrt(beta) * pred) ** 2, -1)
    np.testing.assert_allclose(np.asarray(denoising_loss(pred, eps, ab, "score")), np.asarray(expected), rtol=1e-5)


def test_loss_shape_and_reduction():
    pred = jnp.ones((5, 3))
    eps = jnp.zeros((5, 3))
    out = denoising_loss(pred, eps, 0.5, "eps")
    assert out.shape == (5,)
    np.testing.assert_allclose(np.asarray(out), 3.0)  # summed over state dims


def test_loss_rejects_unknown_parameterization():
    with pytest.raises(ValueError, match="eps, score"):
        denoising_loss(jnp.ones((2, 2)), jnp.ones((2, 2)), 0.5, "velocity")
