"""psi^T zeta trained with our loss recovers the analytic score of a linear-Gaussian transition."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.toy.linear_gaussian import ScoreFitConfig, fit_score_model, make_system, relative_score_error

# vp schedule with 20 levels: these indices span alpha_bar from ~0.35 to ~0.017, where the denoising
# objective weights the levels enough to pin the score down (near alpha_bar = 1 it is mostly noise).
LEVELS = [8, 10, 12, 14, 16]


@pytest.mark.parametrize("parameterization", ["eps", "score"])
def test_learned_score_matches_closed_form(parameterization):
    system = make_system(jax.random.PRNGKey(0))
    cfg = ScoreFitConfig(parameterization=parameterization, schedule="vp", num_levels=20, num_steps=3000,
                         batch_size=1024, learning_rate=2e-3)
    model, params, schedule, losses = fit_score_model(jax.random.PRNGKey(1), system, cfg)
    assert float(losses[-100:].mean()) < 0.7 * float(losses[:100].mean())
    err = np.asarray(relative_score_error(model, params, system, jax.random.PRNGKey(2), schedule, cfg, jnp.array(LEVELS)))
    assert np.all(err < 0.08), f"relative score error per level {dict(zip(LEVELS, err.round(3)))}"
    assert err.mean() < 0.06, err


def test_untrained_model_is_far_from_the_score():
    """The error measure can fail: an untrained model is nowhere near the analytic score."""
    system = make_system(jax.random.PRNGKey(0))
    cfg = ScoreFitConfig(num_steps=1)
    model, params, schedule, _ = fit_score_model(jax.random.PRNGKey(1), system, cfg)
    err = np.asarray(relative_score_error(model, params, system, jax.random.PRNGKey(2), schedule, cfg, jnp.array(LEVELS)))
    assert np.all(err > 0.5)
