"""The linear probes of psi: ridge R^2 against analytic answers, and on the linear-Gaussian toy a psi trained by
score matching explains the next state where a random psi of the same size does not."""

import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.representation import PsiZeta
from diffsr_jax.representation.probes import ridge_r2
from diffsr_jax.toy.linear_gaussian import ScoreFitConfig, fit_score_model, make_low_rank_system


def _halves(x):
    n = x.shape[0] // 2
    return x[:n], x[n:]


def test_ridge_r2_matches_the_signal_to_noise_ratio():
    """y = X w + noise: the held-out R^2 is var(Xw) / (var(Xw) + noise var) (here 0.8); a target independent of the
    features scores about 0; a perfectly linear one 1; a constant column is left out of the mean."""
    k = jax.random.split(jax.random.PRNGKey(0), 4)
    n, f = 20000, 6
    x = jax.random.normal(k[0], (n, f)) * jnp.arange(1.0, f + 1)  # features on different scales
    w = jax.random.normal(k[1], (f, 1))
    signal = x @ w
    noise = jax.random.normal(k[2], (n, 1)) * jnp.sqrt(0.25 * jnp.var(signal))
    expected = 1.0 / 1.25
    (xf, xt), (yf, yt) = _halves(x), _halves(signal + noise)
    assert abs(float(ridge_r2(xf, yf, xt, yt)) - expected) < 0.02
    (nf, nt) = _halves(jax.random.normal(k[3], (n, 1)))
    assert abs(float(ridge_r2(xf, nf, xt, nt))) < 0.01
    (sf, st) = _halves(signal + 3.0)
    assert float(ridge_r2(xf, sf, xt, st)) > 0.999
    with_const = lambda y: jnp.concatenate([y, jnp.ones_like(y)], 1)  # noqa: E731
    assert np.isclose(float(ridge_r2(xf, with_const(yf), xt, with_const(yt))), float(ridge_r2(xf, yf, xt, yt)))


def test_score_matching_psi_explains_the_next_state_a_random_psi_does_not():
    """Linear-Gaussian toy, d_s 16, d_a 4, transition mean of rank 6 (the mean of s' depends on 6 directions of
    (s, a)), F = 8 features. After score matching, a ridge probe from psi to s' reaches R^2 > 0.9 (the ceiling, a
    probe on (s, a) itself, is 0.976 with this noise), and is far above psi at its random initialisation, which keeps
    only part of the 20 input dimensions. Measured: 0.970 vs 0.403."""
    system = make_low_rank_system(jax.random.PRNGKey(0), sigma_n=0.3)
    cfg = ScoreFitConfig(num_steps=1500, feature_dim=8, noise_scale=1.0)
    model, params, _, _ = fit_score_model(jax.random.PRNGKey(1), system, cfg)
    s, a, s_next = system.sample(jax.random.PRNGKey(5), 4096)
    k_init, _ = jax.random.split(jax.random.PRNGKey(1))  # fit_score_model's initialisation key
    init = model.init(k_init, s[:2], a[:2], s_next[:2], jnp.zeros((2,), jnp.int32), jnp.ones((2,)))

    def probe(p):
        (ff, ft), (yf, yt) = _halves(model.apply(p, s, a, method=PsiZeta.psi)), _halves(s_next)
        return float(ridge_r2(ff, yf, ft, yt))

    learned, random_psi = probe(params), probe(init)
    assert learned > 0.9, learned
    assert learned > random_psi + 0.3, (learned, random_psi)


def test_fixed_step_conjugate_gradients_solves_the_ridge_system():
    """The probes' solver takes a fixed number of steps (no data-dependent loop) and still solves F x F systems."""
    import jax
    import jax.numpy as jnp

    from diffsr_jax.representation.probes import conjugate_gradients

    x = jax.random.normal(jax.random.PRNGKey(0), (500, 64))
    gram = x.T @ x
    lam = 1e-3 * jnp.trace(gram) / 64
    b = jax.random.normal(jax.random.PRNGKey(1), (64, 3))
    w = conjugate_gradients(lambda v: gram @ v + lam * v, b, 128)
    exact = np.linalg.solve(np.asarray(gram + lam * jnp.eye(64), np.float64), np.asarray(b, np.float64))
    assert np.max(np.abs(np.asarray(w) - exact)) / np.max(np.abs(exact)) < 1e-3
    assert np.allclose(conjugate_gradients(lambda v: gram @ v, jnp.zeros((64, 2)), 10), 0.0)  # zero rhs: no NaN
