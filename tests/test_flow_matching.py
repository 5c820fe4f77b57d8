"""Flow matching beside score matching (``representation.objective = flow_matching``): the path, the loss's
minimiser, the analytic check on the linear-Gaussian toy (the learned velocity field psi^T zeta against its closed
form), and the objective training psi inside a Diff-SR agent."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.representation.flow import flow_matching_loss, flow_path, level_of
from diffsr_jax.toy.linear_gaussian import ScoreFitConfig, fit_score_model, make_system, relative_velocity_error


def test_the_path_runs_from_noise_to_the_next_state_at_the_path_velocity():
    s_next = jax.random.normal(jax.random.PRNGKey(0), (5, 3))
    key = jax.random.PRNGKey(1)
    x0_end, u = flow_path(key, s_next, jnp.zeros(5), noise_scale=2.0)
    x1_end, u1 = flow_path(key, s_next, jnp.ones(5), noise_scale=2.0)
    np.testing.assert_allclose(x1_end, s_next, rtol=1e-6)
    np.testing.assert_allclose(u, u1)
    np.testing.assert_allclose(x0_end + u, s_next, rtol=1e-5, atol=1e-6)  # x_1 = x_0 + u: a straight line
    x_mid, _ = flow_path(key, s_next, jnp.full(5, 0.25), noise_scale=2.0)
    np.testing.assert_allclose(x_mid, x0_end + 0.25 * u, rtol=1e-5, atol=1e-6)
    assert level_of(jnp.array([0.0, 0.5, 1.0]), 11).tolist() == [0, 5, 10]


def test_the_loss_is_least_at_the_conditional_expectation():
    """With psi = 1 (F = 1) and zeta returning v for every row, the loss is E||v - u||^2 = ||v - E[u | x_t, t]||^2
    + the path's own variance. For one fixed next state s' and t = 1: x_t = s', u = s' - x_0, E[u | x_t] = s', the
    variance is d sigma^2 = 2, and a v off by 0.5 in one entry costs 0.25 more (to sampling error)."""
    s_next = jnp.tile(jnp.array([[1.0, -2.0]]), (4096, 1))
    psi = jnp.ones((4096, 1))

    def loss_with(v):
        zeta_fn = lambda x, level, t: v[None, None, :] * jnp.ones((x.shape[0], 1, 1))  # noqa: E731
        return flow_matching_loss(psi, zeta_fn, jax.random.PRNGKey(2), s_next, 10, 1.0, times=jnp.array([1.0]))[0]

    best = loss_with(jnp.array([1.0, -2.0]))
    off = loss_with(jnp.array([1.5, -2.0]))
    assert float(best) == pytest.approx(2.0, rel=0.05)
    assert float(off - best) == pytest.approx(0.25, abs=0.05)
    assert float(loss_with(jnp.array([1.0, -1.0])) - best) == pytest.approx(1.0, abs=0.1)


def test_the_learned_velocity_field_matches_the_closed_form():
    """psi^T zeta trained by flow matching on s' = A s + B a + 0.5 n recovers the analytic velocity field
    mu + c(t)(x_t - t mu) at held-out (s, a, x_t): relative error below 15% at every t in {0.1, 0.3, 0.5, 0.7, 0.9}
    and 10% on average (measured: 0.05 at t = 0.1 rising to 0.13 at t = 0.9, where the field leans most on x_t); a
    model at its initialisation is off by far more (about 1). The score's counterpart: tests/test_score_recovery.py."""
    system = make_system(jax.random.PRNGKey(0))
    cfg = ScoreFitConfig(num_levels=20, num_steps=3000, batch_size=2048, learning_rate=2e-3)
    model, params, _, losses = fit_score_model(jax.random.PRNGKey(1), system, cfg, objective="flow_matching")
    times = jnp.linspace(0.1, 0.9, 5)
    err = relative_velocity_error(model, params, system, jax.random.PRNGKey(7), cfg, times)
    assert float(jnp.max(err)) < 0.15 and float(jnp.mean(err)) < 0.10, err
    init_model, init_params, _, _ = fit_score_model(jax.random.PRNGKey(1), system,
                                                    ScoreFitConfig(num_levels=20, num_steps=1), "flow_matching")
    init_err = relative_velocity_error(init_model, init_params, system, jax.random.PRNGKey(7), cfg, times)
    assert float(jnp.min(init_err)) > 0.5, init_err
    assert float(jnp.mean(losses[-100:])) < 0.7 * float(jnp.mean(losses[:100]))  # 3.7 -> 2.4: the rest is the
    # path's own variance, which no velocity field removes
