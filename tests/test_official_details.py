"""The official code's details as config fields (issue: the paper's comparison, exactly): each field does what its
docstring says, measured on the networks and losses it changes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.diffusion import denoising_loss, pred_to_score
from diffsr_jax.networks.critics import RFFHead
from diffsr_jax.networks.mlp import MLP


def test_torch_init_is_uniform_within_one_over_sqrt_fan_in_biases_too():
    params = MLP((300,), 50, init_scheme="torch").init(jax.random.PRNGKey(0), jnp.zeros((1, 400)))["params"]
    k0, b0 = params["Dense_0"]["kernel"], params["Dense_0"]["bias"]
    bound = 1 / np.sqrt(400)
    for x in (k0, b0):
        assert float(jnp.abs(x).max()) <= bound and float(jnp.abs(x).max()) > 0.95 * bound
    # uniform: variance bound^2 / 3; a normal init of the same scale would put ~5% of entries past 2 sigma
    assert float(k0.var()) == pytest.approx(bound**2 / 3, rel=0.03)
    k1 = params["Dense_1"]["kernel"]
    assert float(jnp.abs(k1).max()) <= 1 / np.sqrt(300)


def test_orthogonal_init_has_orthonormal_columns_and_zero_bias():
    params = MLP((64,), None, init_scheme="orthogonal").init(jax.random.PRNGKey(1), jnp.zeros((1, 100)))["params"]
    k = params["Dense_0"]["kernel"]  # (100, 64)
    np.testing.assert_allclose(k.T @ k, np.eye(64), atol=1e-5)
    assert float(jnp.abs(params["Dense_0"]["bias"]).max()) == 0.0


def test_lecun_default_unchanged_and_rff_head_reads_its_init():
    x = jnp.zeros((2, 256))
    lecun = RFFHead(init_scheme="lecun").init(jax.random.PRNGKey(0), x)["params"]
    torch = RFFHead(init_scheme="torch").init(jax.random.PRNGKey(0), x)["params"]
    assert float(jnp.abs(lecun["LearnedRFF_0"]["Dense_0"]["bias"]).max()) == 0.0  # Flax: zero biases
    assert float(jnp.abs(torch["LearnedRFF_0"]["Dense_0"]["bias"]).max()) > 0.0

    ratio = float(lecun["LearnedRFF_0"]["Dense_0"]["kernel"].std() / torch["LearnedRFF_0"]["Dense_0"]["kernel"].std())
    # lecun-normal std 1/sqrt(fan_in) vs torch 1/sqrt(3 fan_in): the sin layer starts sqrt(3) wider
    assert ratio == pytest.approx(np.sqrt(3), rel=0.03)


@pytest.mark.parametrize("power", [1, 2])
def test_score_loss_sigma_power_minimiser(power):
    """The loss is minimised at pred = -eps / (sqrt(1 - a) sigma^(p - 1)); pred_to_score maps it to the true score
    -eps / (sqrt(1 - a) sigma) either way, and the loss values at the two minimisers' scales agree."""
    sigma, a = 0.449, jnp.array([0.6, 0.9])
    eps = jax.random.normal(jax.random.PRNGKey(2), (2, 5))
    best = -eps / (jnp.sqrt(1 - a)[:, None] * sigma ** (power - 1))
    np.testing.assert_allclose(denoising_loss(best, eps, a, "score", sigma, power), 0.0, atol=1e-10)
    grad = jax.grad(lambda p: denoising_loss(p, eps, a, "score", sigma, power).sum())(best)
    np.testing.assert_allclose(grad, 0.0, atol=1e-5)
    np.testing.assert_allclose(pred_to_score(best, a, "score", sigma, power), -eps / (jnp.sqrt(1 - a)[:, None] * sigma),
                               rtol=1e-5)
    other = best + 0.3
    l_p = denoising_loss(other * sigma ** (2 - power), eps, a, "score", sigma, power)
    l_2 = denoising_loss(other, eps, a, "score", sigma, 2)
    np.testing.assert_allclose(l_p, l_2, rtol=1e-5)  # the same loss, the output on another scale


def test_random_action_prob_replaces_the_policy_action_with_a_uniform_one():
    from diffsr_jax.program.trainer import Trainer
    from tests.helpers import preset

    always = Trainer(preset("sac", "fast", {"run.random_action_prob": 1.0, "env.num_envs": 3}))
    never = Trainer(preset("sac", "fast", {"env.num_envs": 3}))
    runner = always.init(jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(5)
    np.testing.assert_array_equal(always.explore_action(runner, key),
                                  always.random_action(jax.random.split(key, 3)[2]))
    # without the option the policy acts with the key as given (the random stream of earlier runs is kept)
    policy = never.agent.act(runner.agent, runner.env_state.obs, key, False)
    np.testing.assert_array_equal(never.explore_action(runner, key), policy)


def test_alpha_lr_zero_keeps_alpha_fixed_and_the_critic_still_learns():
    from diffsr_jax.program import make_train
    from tests.helpers import preset

    cfg = preset("diffsr_sac", "fast", {"sac.alpha_lr": 0.0, "run.total_steps": 1_400, "run.eval_every": 700,
                                        "run.eval_episodes": 1})
    _, m = jax.jit(make_train(cfg))(jax.random.PRNGKey(0))
    np.testing.assert_allclose(np.asarray(m["train/alpha"])[-1], 0.1, rtol=1e-6)  # init_alpha, never moved
    assert np.isfinite(np.asarray(m["train/critic_loss"])[-1])


def test_orthogonal_init_without_lapack_wide_and_tall():
    """The orthogonal kernel is built from matrix products only (no LAPACK custom call, which deadlocks a program
    sharded over several CPU devices); wide kernels get orthonormal rows."""
    from diffsr_jax.networks.init import orthogonal

    wide = orthogonal(jax.random.PRNGKey(0), (17, 256))
    np.testing.assert_allclose(wide @ wide.T, np.eye(17), atol=1e-5)
    square = orthogonal(jax.random.PRNGKey(1), (256, 256))
    np.testing.assert_allclose(square.T @ square, np.eye(256), atol=2e-5)
    hlo = jax.jit(lambda k: orthogonal(k, (64, 32))).lower(jax.random.PRNGKey(0)).as_text()
    assert "custom_call" not in hlo and "lapack" not in hlo.lower()
    # Haar: the entries of a 256x256 orthogonal matrix have variance 1/256
    assert float(square.var()) == pytest.approx(1 / 256, rel=0.05)
