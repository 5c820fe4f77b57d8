"""The optimism bonus on psi (agents/optimism.py): b = beta sqrt(psi^T Sigma^-1 psi), Sigma = lambda I + n E[psi psi^T].

Its closed form on features with a known second moment; large where the replay's features are sparse and small where
they are dense, shrinking as 1 / sqrt(n); the tracked inverse; through every base (SAC, TD3, DDPG) the TD target
reads r + b from the inverse the critic keeps; beta = 0 learns what no bonus learns; off, the agent is the one it was
(no wrapper, no traced values); the config's rules."""

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.agents.critics import RepresentationCritic
from diffsr_jax.agents.optimism import (OptimisticCritic, bonus, feature_scale, moment_step, residual, sigma,
                                        track_inverse)
from diffsr_jax.agents.registry import hparam_names
from diffsr_jax.config import validate_config
from diffsr_jax.fields import ConfigError
from tests.helpers import preset
from tests.test_diffsr_agents import DIFFSR_AGENTS, _agent, _data, _sampler, _updates


def _converged(sig, iters=40):
    """Sigma^-1 by Newton-Schulz steps from the last update's P = I / ridge (out of reach: the safe start)."""
    return track_inverse(sig, jnp.eye(sig.shape[0]), iters)


def _bonus_after_one_step(features, count, ridge, beta, rate=0.3):
    f = features.shape[-1]
    moment, weight = moment_step(jnp.zeros((f, f)), jnp.zeros(()), features, rate)
    scale = feature_scale(moment, weight)
    return lambda x: bonus(x, _converged(sigma(moment, weight, count, ridge)), beta, scale)


def test_bonus_is_the_closed_form_on_a_known_second_moment():
    """Rows sqrt(F m_i) e_i have E[psi psi^T] = diag(m); one bias-corrected step of the average is that moment, so
    with s = tr(m) (psi's mean squared norm), b(x) = beta sqrt(sum_i (x_i^2 / s) / (lambda + n m_i / s))."""
    m = jnp.array([4.0, 1.0, 0.25, 0.0])
    features = jnp.sqrt(4 * m)[:, None] * jnp.eye(4)
    n, ridge, beta = 1000.0, 0.5, 2.0
    b = _bonus_after_one_step(features, n, ridge, beta)
    x = jax.random.normal(jax.random.PRNGKey(0), (16, 4))
    sc = float(m.sum())
    expected = beta * jnp.sqrt(jnp.sum((x**2 / sc) / (ridge + n * m / sc), axis=-1))
    np.testing.assert_allclose(b(x), expected, rtol=1e-4)
    # nothing seen yet (weight 0): Sigma = lambda I, and I / lambda is its inverse (within reach: kept)
    sig0 = sigma(jnp.zeros((4, 4)), jnp.zeros(()), 0.0, ridge)
    p0 = track_inverse(sig0, jnp.eye(4) / ridge, 1)
    np.testing.assert_allclose(bonus(x, p0, beta, 1.0), beta * jnp.linalg.norm(x, axis=-1) / np.sqrt(ridge), rtol=1e-5)


def test_tracking_converges_from_any_start_and_follows_a_moving_sigma():
    """From a P far out of reach (plain Newton-Schulz would diverge) the scaled start converges; warm-started, one
    update's steps follow Sigma as it moves by the moment's rate."""
    a = jax.random.normal(jax.random.PRNGKey(3), (64, 256)) * jnp.linspace(0.01, 1.0, 64)[:, None]
    sig = sigma(a @ a.T / 256, 1.0, 1e4, 1.0)  # condition number ~1e4
    bad = 1e3 * jnp.eye(64)
    assert float(residual(sig, bad)) > 1e3
    p = _converged(sig, 40)
    np.testing.assert_allclose(p @ sig, np.eye(64), atol=1e-2)
    # Sigma moves by 1% (the moment's rate): 2 warm-started steps bring P back close
    b = jax.random.normal(jax.random.PRNGKey(4), (64, 256)) * jnp.linspace(0.01, 1.0, 64)[:, None]
    moved = 0.99 * sig + 0.01 * sigma(b @ b.T / 256, 1.0, 1e4, 1.0)
    before, after = float(residual(moved, p)), float(residual(moved, track_inverse(moved, p, 2)))
    assert after < 0.2 * before and after / 8 < 1e-2, (before, after)


def test_tracking_stays_exact_over_a_long_run_with_large_features():
    """What a MountainCar run does to the tracker: psi with norms ~30, the replay growing from 5k to 50k, and half the
    directions appearing only midway, a few never (psi of a 3-dim (s, a) spans few of its 64 directions). Over 400
    updates the bonus stays within 2% of the float64 closed form (it went to 0 when psi was not measured in units of
    its RMS norm: condition number ~1e8 in float32)."""
    f, steps = 16, 400
    keys = jax.random.split(jax.random.PRNGKey(5), steps)
    late = jnp.concatenate([jnp.ones(6), 1e-3 * jnp.ones(10)])  # the first half's spread
    always = jnp.concatenate([jnp.ones(12), 1e-3 * jnp.ones(4)])  # the second half's

    def update(carry, xs):
        moment, weight, p = carry
        k, t = xs
        scale = jnp.where(t < steps // 2, late, always)
        feats = 30.0 * jax.random.normal(k, (256, f)) * scale
        moment, weight = moment_step(moment, weight, feats, 0.01)
        sig = sigma(moment, weight, 5000.0 + 112.5 * t, 1.0)
        p = track_inverse(sig, p, 2)
        return (moment, weight, p), residual(sig, p) / np.sqrt(f)

    (moment, weight, p), resid = jax.jit(lambda c: jax.lax.scan(update, c, (keys, jnp.arange(steps))))(
        (jnp.zeros((f, f)), jnp.zeros(()), jnp.eye(f)))
    x = 30.0 * jax.random.normal(jax.random.PRNGKey(6), (64, f))
    sig64 = np.asarray(sigma(moment, weight, 5000.0 + 112.5 * (steps - 1), 1.0), np.float64)
    exact = np.sqrt(np.einsum("bf,fg,bg->b", np.asarray(x, np.float64), np.linalg.inv(sig64), np.asarray(x, np.float64))
                    / float(feature_scale(moment, weight)))
    got = np.asarray(bonus(x, p, 1.0, feature_scale(moment, weight)))
    np.testing.assert_allclose(got, exact, rtol=2e-2)
    assert float(resid[-1]) < 0.05 and float(jnp.max(resid)) < 1.5, resid


def test_moment_average_is_bias_corrected():
    x1, x2 = jnp.eye(3), 2.0 * jnp.eye(3)
    m, w = moment_step(jnp.zeros((3, 3)), jnp.zeros(()), x1, 0.1)
    np.testing.assert_allclose(m / w, jnp.eye(3) / 3, rtol=1e-6)  # one step: the batch's own moment
    m, w = moment_step(m, w, x2, 0.1)
    expected = (0.9 * 0.1 * (1 / 3) + 0.1 * (4 / 3)) / (0.9 * 0.1 + 0.1)
    np.testing.assert_allclose(m / w, expected * jnp.eye(3), rtol=1e-6)


@pytest.mark.parametrize("name", DIFFSR_AGENTS)
def test_every_base_reads_reward_plus_bonus_from_the_tracked_inverse(name):
    agent, state = _agent(name, **{"optimism.enabled": True, "optimism.beta": 0.5})
    assert isinstance(agent.critic, OptimisticCritic)
    assert "optimism" in state.hp
    data = _data(jax.random.PRNGKey(1), 1024)
    sampler = _sampler(data)
    new, metrics = _updates(agent, state, 60, sampler)
    cs = new.critic_state
    # P tracks the inverse of Sigma = ridge I + n moment / weight (60 updates from I / lambda; measured ~0.025, and
    # ~0.97 where the scaling is too cautious for the small directions to arrive)
    sig = sigma(cs.moment, cs.weight, 1024.0, 1.0)
    residuals = np.asarray(metrics["optimism_inverse_residual"])
    assert residuals[0] > 0.5 and residuals[-1] < 0.06, residuals
    assert 0.0 < float(cs.weight) < 1.0 and float(jnp.trace(cs.moment)) > 0
    batch = sampler.batch(jax.random.PRNGKey(3))
    b = agent.critic.td_reward(cs, batch, new.hp) - batch.reward
    feats = agent.critic.features(cs, batch.obs, batch.action)
    exact = 0.5 * jnp.sqrt(jnp.einsum("bf,fg,bg->b", feats, jnp.linalg.inv(sig), feats)
                           / feature_scale(cs.moment, cs.weight))
    np.testing.assert_allclose(b, exact, rtol=1e-2, atol=1e-6)  # measured: within 3e-4
    assert float(b.min()) > 0
    # states the replay never held (10x the data's spread) get more bonus than the replay's own
    far = batch.replace(obs=10.0 * batch.obs)
    assert float((agent.critic.td_reward(cs, far, new.hp) - far.reward).mean()) > 1.5 * float(b.mean())
    assert np.all(np.isfinite(np.asarray(metrics["optimism_bonus_mean"])))


@pytest.mark.parametrize("name", ["diffsr_sac", "diffsr_td3"])
def test_beta_zero_learns_what_no_bonus_learns(name):
    plain, s_plain = _agent(name)
    zero, s_zero = _agent(name, **{"optimism.enabled": True, "optimism.beta": 0.0})
    new_plain, _ = _updates(plain, s_plain, 10)
    new_zero, _ = _updates(zero, s_zero, 10)
    chex.assert_trees_all_close(new_zero.critic.params, new_plain.critic.params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(new_zero.actor.params, new_plain.actor.params, rtol=1e-5, atol=1e-6)
    # and a bonus changes the critic
    some, s_some = _agent(name, **{"optimism.enabled": True, "optimism.beta": 1.0})
    new_some, _ = _updates(some, s_some, 10)
    diff = jax.tree_util.tree_map(lambda a, b: float(jnp.abs(a - b).max()), new_some.critic.params,
                                  new_plain.critic.params)
    assert max(jax.tree_util.tree_leaves(diff)) > 1e-4


@pytest.mark.parametrize("name", DIFFSR_AGENTS)
def test_off_the_agent_is_unwrapped_and_has_no_optimism_values(name):
    agent, state = _agent(name)
    assert isinstance(agent.critic, RepresentationCritic) and "optimism" not in state.hp
    cfg = preset(name, overrides={"optimism.enabled": True})
    assert {"optimism.beta", "optimism.ridge", "optimism.moment_rate"} <= set(hparam_names(cfg))  # --sweep covers them
    assert not any(h.startswith("optimism.") for h in hparam_names(preset(name)))


@pytest.mark.parametrize("overrides,message", [
    ({"run.agent": "sac", "optimism.enabled": True}, "which sac has not: use a diffsr_* agent (diffsr_sac"),
    ({"run.agent": "polygrad", "optimism.enabled": True}, "which polygrad has not"),
    ({"optimism.ridge": 0.0}, "config.optimism.ridge must be > 0"),
    ({"optimism.beta": -1.0}, "config.optimism.beta must be >= 0"),
    ({"optimism.moment_rate": 0.0}, "config.optimism.moment_rate"),
    ({"optimism.inverse_iters": 0}, "config.optimism.inverse_iters must be an integer >= 1"),
])
def test_config_rules(overrides, message):
    agent = overrides.get("run.agent", "diffsr_sac")
    cfg = preset(agent, overrides={**overrides, "run.agent": agent})
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_config(cfg)


@pytest.mark.parametrize("name", ["diffsr_sac", "diffsr_td3"])
def test_paper_presets_carry_the_bonus(name):
    """At the paper's sizes (F = 256 for Diff-SR-SAC, 512 for Diff-SR-TD3) the bonus is tracked and finite."""
    cfg = preset(name, "paper", {"optimism.enabled": True, "replay.batch_size": 64})
    validate_config(cfg)
    from diffsr_jax.agents.registry import make_agent

    agent = make_agent(cfg, 3, 1)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    assert state.critic_state.inverse.shape == (cfg.representation.feature_dim,) * 2
    new, metrics = _updates(agent, state, 3)
    assert np.all(np.isfinite(np.asarray(metrics["optimism_bonus_mean"])))
    assert np.all(np.asarray(metrics["optimism_bonus_mean"]) > 0)


def test_sweeping_the_bonus_while_it_is_off_says_how_to_switch_it_on():
    from diffsr_jax.agents.registry import hparam_names as names
    from diffsr_jax.training.members import parse_sweeps

    with pytest.raises(ConfigError, match=r"--config\.optimism\.enabled=true"):
        parse_sweeps(["optimism.beta=0.1,1"], names(preset("diffsr_sac")))
    assert len(parse_sweeps(["optimism.beta=0.1,1"], names(preset("diffsr_sac", overrides={
        "optimism.enabled": True})))) == 2
