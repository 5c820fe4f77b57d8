"""The optimism bonus on psi (agents/optimism.py): b = beta sqrt(phi^T Sigma^-1 phi), Sigma = lambda I + the sum of phi
phi^T over the replay, phi = psi / rms(psi).

Its closed form on features with a known sum; large where the replay's features are sparse and small where they are
dense, shrinking as 1 / sqrt(n); the sweep that sums every filled slot once; the tracked factor Z (Z Z^T = Sigma^-1),
exact even in a direction a handful of the replay's transitions hold and where psi has one dominant direction (which
loses a tracked Sigma^-1 in float32); through every base (SAC, TD3, DDPG) the TD target reads r + b from the factor
the critic keeps; beta = 0 learns what no bonus learns; off, the agent is the one it was
(no wrapper, no traced values); the config's rules."""

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.agents.critics import RepresentationCritic
from diffsr_jax.agents.optimism import (FULL_F32, OptimisticCritic, bonus, feature_scale, gram_init, gram_step, gram_sum,
                                        root_residual, sigma, track_root)
from diffsr_jax.agents.registry import hparam_names
from diffsr_jax.config import validate_config
from diffsr_jax.fields import ConfigError
from tests.helpers import preset
from tests.test_diffsr_agents import DA, DIFFSR_AGENTS, DS, _agent, _data, _sampler, _updates


def _converged(sig, iters=40):
    """Z (Z Z^T = Sigma^-1) by Newton-Schulz steps from Z = I."""
    return track_root(sig, jnp.eye(sig.shape[0]), iters)


def _swept(features, width=None):
    """The replay's sum of psi psi^T after one complete sweep over ``features`` (N, F), ``width`` slots a step."""
    n, f = features.shape
    width = width or n
    gram = gram_init(f)
    for _ in range(-(-n // width)):
        idx = gram.cursor + jnp.arange(width)
        gram = gram_step(gram, features[jnp.minimum(idx, n - 1)], idx < n, n)
    return gram


def test_bonus_is_the_closed_form_on_a_known_sum():
    """Rows sqrt(c_i) e_i sum to diag(c); with s = tr(c) / N (psi's mean squared norm over the N rows),
    b(x) = beta sqrt(sum_i (x_i^2 / s) / (lambda + c_i / s))."""
    c = jnp.array([4000.0, 1000.0, 250.0, 0.0])
    features = jnp.sqrt(c)[:, None] * jnp.eye(4)
    ridge, beta = 0.5, 2.0
    total, count = gram_sum(_swept(features))
    assert float(count) == 4.0
    x = jax.random.normal(jax.random.PRNGKey(0), (16, 4))
    sc = float(c.sum()) / 4
    got = bonus(x, _converged(sigma(total, count, ridge)), beta, feature_scale(total, count))
    expected = beta * jnp.sqrt(jnp.sum((x**2 / sc) / (ridge + c / sc), axis=-1))
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    # nothing seen yet: Sigma = lambda I, and Z = I / sqrt(lambda) its factor (kept)
    sig0 = sigma(*gram_sum(gram_init(4)), ridge)
    np.testing.assert_allclose(sig0, ridge * np.eye(4))
    z0 = track_root(sig0, jnp.eye(4) / np.sqrt(ridge), 1)
    np.testing.assert_allclose(bonus(x, z0, beta, 1.0), beta * jnp.linalg.norm(x, axis=-1) / np.sqrt(ridge), rtol=1e-5)


def test_the_sweep_sums_every_filled_slot_once():
    """A sweep reads ``width`` slots a step from slot 0; past the filled part it completes (the sum becomes Sigma's)
    and the next starts at 0. Slots filled after the cursor passed them count from the next sweep on; during the
    first sweep, the sum so far is used."""
    x = jax.random.normal(jax.random.PRNGKey(7), (1000, 5))
    g = gram_init(5)
    idx = g.cursor + jnp.arange(256)
    g = gram_step(g, x[jnp.minimum(idx, 999)], idx < 700, 700)  # 700 slots filled
    total, count = gram_sum(g)  # first sweep, under way: its first 256 slots
    assert float(count) == 256 and int(g.cursor) == 256
    np.testing.assert_allclose(total, x[:256].T @ x[:256], rtol=1e-5, atol=1e-3)
    for filled in (700, 760):  # the replay grows while the sweep runs; it ends once the cursor passes the filled part
        idx = g.cursor + jnp.arange(256)
        g = gram_step(g, x[jnp.minimum(idx, 999)], idx < filled, filled)
    assert int(g.cursor) == 0 and float(g.complete_count) == 760
    total, count = gram_sum(g)
    np.testing.assert_allclose(total, x[:760].T @ x[:760], rtol=1e-5, atol=1e-3)
    for _ in range(4):  # the next sweep over 1000 filled slots: the complete sum holds until it ends
        idx = g.cursor + jnp.arange(256)
        g = gram_step(g, x[jnp.minimum(idx, 999)], idx < 1000, 1000)
    total, count = gram_sum(g)
    assert float(count) == 1000
    np.testing.assert_allclose(total, x.T @ x, rtol=1e-5, atol=1e-3)


def test_tracking_converges_from_any_start_and_follows_a_moving_sigma():
    """From a Z far out of reach (unscaled steps would diverge) the scaled start converges; warm-started, one
    update's steps follow Sigma as it moves by 1%."""
    a = jax.random.normal(jax.random.PRNGKey(3), (64, 256)) * jnp.linspace(0.01, 1.0, 64)[:, None]
    sig = sigma(1e4 * a @ a.T / 256, 1e4, 1.0)  # condition number ~1e4
    bad = 1e3 * jnp.eye(64)
    assert float(root_residual(sig, bad)) > 1e3
    z = _converged(sig, 40)
    np.testing.assert_allclose(z @ z.T @ sig, np.eye(64), atol=1e-2)
    # Sigma moves by 1%: 2 warm-started steps bring Z back close
    b = jax.random.normal(jax.random.PRNGKey(4), (64, 256)) * jnp.linspace(0.01, 1.0, 64)[:, None]
    moved = 0.99 * sig + 0.01 * sigma(1e4 * b @ b.T / 256, 1e4, 1.0)
    before, after = float(root_residual(moved, z)), float(root_residual(moved, track_root(moved, z, 2)))
    assert after < 0.2 * before and after < 1e-3, (before, after)


def _eigen_bonus_ratio(sig, z):
    """The tracked bonus^2 over the float64 closed form along each eigenvector of Sigma (F,), smallest eigenvalue
    first."""
    s64, z64 = np.asarray(sig, np.float64), np.asarray(z, np.float64)
    w, v = np.linalg.eigh(s64)
    return np.einsum("fi,fg,gi->i", v, z64 @ z64.T, v) * w


def test_the_factor_holds_where_psi_has_one_dominant_direction():
    """MountainCar's Sigma at 50k frames: psi's mean direction holds 90% of the replay's second moment, a second
    direction 9%, the other 62 the rest, so Sigma's condition number is ~4.5e4. There, Newton-Schulz steps on
    Sigma^-1 itself lose it in float32 even from the exact inverse (measured on that run: its residual rose to 1 and
    P fell to 8% of Sigma^-1 in the sparse directions); the factor Z holds the bonus along every eigenvector within
    0.5% of the float64 closed form, kept from its exact value and reached from a cold start."""
    f, n = 64, 50_000
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(11), 3)
    mean = jax.random.normal(k1, (f,))
    second = jax.random.normal(k2, (f,))
    noise = jax.random.normal(k3, (n, f))
    feats = 30.0 * (mean + 0.33 * jax.random.normal(jax.random.PRNGKey(12), (n, 1)) * second + 0.03 * noise)
    total = jnp.matmul(feats.T, feats, precision=FULL_F32)
    sig = sigma(total, float(n), 1.0)
    w64, v64 = np.linalg.eigh(np.asarray(sig, np.float64))
    assert 2e4 < w64[-1] / w64[0] < 1e5, w64[-1] / w64[0]
    exact_root = jnp.asarray(v64 @ np.diag(w64 ** -0.5) @ v64.T, jnp.float32)

    # Sigma^-1 itself, Newton-Schulz in float32 from the exact inverse: lost (what the first trackers did)
    p, eye = exact_root @ exact_root.T, jnp.eye(f)
    for _ in range(20):
        p = jnp.matmul(p, 2 * eye - jnp.matmul(sig, p, precision=FULL_F32), precision=FULL_F32)
        p = 0.5 * (p + p.T)
    lost = np.linalg.norm(np.eye(f) - np.asarray(sig, np.float64) @ np.asarray(p, np.float64)) / np.sqrt(f)
    assert lost > 0.5, lost

    step = jax.jit(lambda z: track_root(sig, z, 4))
    for start, updates in ((exact_root, 20), (jnp.eye(f), 12)):  # kept for 20 updates; from a cold start
        z = start
        for _ in range(updates):
            z = step(z)
        ratio = _eigen_bonus_ratio(sig, z)
        np.testing.assert_allclose(ratio, 1.0, atol=5e-3)
        assert float(root_residual(sig, z)) < 1e-3


def test_the_bonus_is_exact_in_a_direction_a_handful_of_transitions_hold():
    """What a MountainCar run does to the bonus: psi with norms ~30, the replay growing from 5k to 50k transitions
    while it is swept 256 slots per update, most directions dense, two held by only 3 and 12 transitions (the rare
    states exploration is about), a few never. After every sweep, within the updates the next one takes, the tracked
    bonus is the float64 closed form of the replay's sum within 2%, in the rare directions too."""
    f, width, steps = 16, 256, 600
    spread = jnp.concatenate([jnp.ones(10), jnp.zeros(6)])
    feats = 30.0 * jax.random.normal(jax.random.PRNGKey(5), (50_000, f)) * spread
    rare = jnp.zeros((50_000, f))
    rare = rare.at[jnp.array([7_000, 31_000, 44_000]), 10].set(30.0)  # direction 10: 3 transitions
    rare = rare.at[20_000 + 100 * jnp.arange(12), 11].set(30.0)  # direction 11: 12
    feats = feats + rare

    def update(carry, t):
        gram, p = carry
        filled = 5_000 + 75 * t
        idx = gram.cursor + jnp.arange(width)
        gram = gram_step(gram, feats[jnp.minimum(idx, 49_999)], idx < filled, filled)
        sig = sigma(*gram_sum(gram), 1.0)
        p = track_root(sig, p, 2)
        return (gram, p), root_residual(sig, p)

    (gram, p), resid = jax.jit(lambda c: jax.lax.scan(update, c, jnp.arange(steps)))((gram_init(f), jnp.eye(f)))
    total, count = gram_sum(gram)
    assert 40_000 < float(count) <= 50_000
    probes = jnp.concatenate([30.0 * jnp.eye(f)[10:14], 30.0 * jax.random.normal(jax.random.PRNGKey(6), (8, f))
                              * spread])  # the rare directions, two never seen, and dense draws
    t64, p64 = np.asarray(total, np.float64), np.asarray(probes, np.float64)
    scale = np.trace(t64) / float(count)
    exact = np.sqrt(np.einsum("bf,fg,bg->b", p64, np.linalg.inv(np.eye(f) + t64 / scale), p64) / scale)
    got = np.asarray(bonus(probes, p, 1.0, feature_scale(total, count)))
    np.testing.assert_allclose(got, exact, rtol=2e-2)
    # never seen > 3 transitions > 12 > dense (phi's unit: one transition adds 0.1 to Sigma in a rare direction here)
    assert exact[2] > exact[0] > exact[1] > 10 * exact[4:].max(), exact
    assert float(resid[-1]) < 0.05 and float(jnp.max(resid[steps // 2:])) < 1.0, resid


@pytest.mark.parametrize("name", DIFFSR_AGENTS)
def test_every_base_reads_reward_plus_bonus_from_the_tracked_factor(name):
    agent, state = _agent(name, **{"optimism.enabled": True, "optimism.beta": 0.5, "optimism.sweep_width": 128})
    assert isinstance(agent.critic, OptimisticCritic)
    assert "optimism" in state.hp
    data = _data(jax.random.PRNGKey(1), 1024)
    sampler = _sampler(data)
    new, metrics = _updates(agent, state, 60, sampler)
    cs = new.critic_state
    # Z Z^T tracks the inverse of Sigma = ridge I + the replay's sum (60 updates from I / lambda; 1024 swept
    # 128 a step: a new Sigma every 8 updates, the last 4 updates before the end)
    total, count = gram_sum(cs.gram)
    assert float(count) == 1024 and float(jnp.trace(total)) > 0
    sig = sigma(total, count, 1.0)
    residuals = np.asarray(metrics["optimism_root_residual"])
    assert residuals[0] > 0.1 and residuals[-1] < 1e-4, residuals  # measured: 0.41 after the first update, 2e-6
    batch = sampler.batch(jax.random.PRNGKey(3))
    b = agent.critic.reward_bonus(cs, batch, new.hp)
    feats = agent.critic.features(cs, batch.obs, batch.action)
    exact = 0.5 * jnp.sqrt(jnp.einsum("bf,fg,bg->b", feats, jnp.linalg.inv(sig), feats, precision=FULL_F32)
                           / feature_scale(total, count))
    np.testing.assert_allclose(b, exact, rtol=1e-3, atol=1e-6)
    assert float(b.min()) > 0
    # states the replay never held (10x the data's spread) get more bonus than the replay's own
    far = batch.replace(obs=10.0 * batch.obs)
    assert float(agent.critic.reward_bonus(cs, far, new.hp).mean()) > 1.5 * float(b.mean())
    assert np.all(np.isfinite(np.asarray(metrics["optimism_bonus_mean"])))


@pytest.mark.parametrize("name", ["diffsr_sac", "diffsr_td3"])
def test_beta_zero_learns_what_no_bonus_learns(name):
    plain, s_plain = _agent(name)
    zero, s_zero = _agent(name, **{"optimism.enabled": True, "optimism.beta": 0.0})
    new_plain, _ = _updates(plain, s_plain, 10)
    new_zero, _ = _updates(zero, s_zero, 10)
    chex.assert_trees_all_close(new_zero.q_heads.params, new_plain.q_heads.params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(new_zero.actor.params, new_plain.actor.params, rtol=1e-5, atol=1e-6)
    # and a bonus changes the critic
    some, s_some = _agent(name, **{"optimism.enabled": True, "optimism.beta": 1.0})
    new_some, _ = _updates(some, s_some, 10)
    diff = jax.tree_util.tree_map(lambda a, b: float(jnp.abs(a - b).max()), new_some.q_heads.params,
                                  new_plain.q_heads.params)
    assert max(jax.tree_util.tree_leaves(diff)) > 1e-4


@pytest.mark.parametrize("name", DIFFSR_AGENTS)
def test_off_the_agent_is_unwrapped_and_has_no_optimism_values(name):
    agent, state = _agent(name)
    assert isinstance(agent.critic, RepresentationCritic) and "optimism" not in state.hp
    cfg = preset(name, overrides={"optimism.enabled": True})
    assert {"optimism.beta", "optimism.ridge"} <= set(hparam_names(cfg))  # --sweep covers them
    assert not any(h.startswith("optimism.") for h in hparam_names(preset(name)))


@pytest.mark.parametrize("overrides,message", [
    ({"run.agent": "sac", "optimism.enabled": True}, "which sac has not: use a diffsr_* agent (diffsr_sac"),
    ({"run.agent": "polygrad", "optimism.enabled": True}, "which polygrad has not"),
    ({"optimism.ridge": 0.0}, "config.optimism.ridge must be > 0"),
    ({"optimism.beta": -1.0}, "config.optimism.beta must be >= 0"),
    ({"optimism.sweep_width": 0}, "config.optimism.sweep_width must be an integer >= 1"),
    ({"optimism.root_iters": 0}, "config.optimism.root_iters must be an integer >= 1"),
])
def test_config_rules(overrides, message):
    agent = overrides.get("run.agent", "diffsr_sac")
    cfg = preset(agent, overrides={**overrides, "run.agent": agent})
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_config(cfg)


@pytest.mark.parametrize("name", ["diffsr_sac", "diffsr_td3"])
def test_paper_presets_carry_the_bonus(name):
    """At the paper's sizes (F = 256 for Diff-SR-SAC, 512 for Diff-SR-TD3) the factor is tracked: it moves away from
    its start I / sqrt(ridge) and its residual |Z^T Sigma Z - I| falls to float rounding within a few updates; the
    bonus is finite and positive."""
    cfg = preset(name, "paper", {"optimism.enabled": True, "replay.batch_size": 64})
    validate_config(cfg)
    from diffsr_jax.agents.registry import make_agent

    agent = make_agent(cfg, DS, DA)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    assert state.critic_state.root.shape == (cfg.representation.feature_dim,) * 2
    new, metrics = _updates(agent, state, 6)
    residual = np.asarray(metrics["optimism_root_residual"])
    assert residual[0] > 0.1 and residual[-1] < 1e-4, residual  # measured (Diff-SR-SAC): 0.84, 0.14, then ~7e-6
    assert float(jnp.max(jnp.abs(new.critic_state.root - state.critic_state.root))) > 1e-3
    assert np.all(np.isfinite(np.asarray(metrics["optimism_bonus_mean"])))
    assert np.all(np.asarray(metrics["optimism_bonus_mean"]) > 0)


def test_sweeping_the_bonus_while_it_is_off_says_how_to_switch_it_on():
    from diffsr_jax.agents.registry import hparam_names as names
    from diffsr_jax.training.members import parse_sweeps

    with pytest.raises(ConfigError, match=r"--config\.optimism\.enabled=true"):
        parse_sweeps(["optimism.beta=0.1,1"], names(preset("diffsr_sac")))
    assert len(parse_sweeps(["optimism.beta=0.1,1"], names(preset("diffsr_sac", overrides={
        "optimism.enabled": True})))) == 2


@pytest.mark.parametrize("version,message", [
    ({"moment_rate": 0.01, "inverse_iters": 2}, r"exponential average .*\(git checkout a220fe3\)"),
    ({"sweep_width": 256, "inverse_iters": 4}, r"Sigma\^-1 itself .*\(git checkout dc12d54\)"),
])
def test_a_run_of_an_older_bonus_is_read_but_not_continued(tmp_path, version, message):
    """Runs of the older versions (Sigma as an exponential average, optimism.moment_rate; Sigma^-1 tracked itself,
    optimism.inverse_iters) hold another agent state: their config is read (reports), resuming or evaluating them
    says where they run, in one line."""
    import json

    from diffsr_jax.training.plan import stored_run

    saved = json.loads(json.dumps(preset("diffsr_sac", overrides={"optimism.enabled": True}).to_dict()))
    for field in ("sweep_width", "root_iters"):
        del saved["optimism"][field]
    saved["optimism"].update(version)
    (tmp_path / "config.json").write_text(json.dumps(saved))
    config, _ = stored_run(str(tmp_path))
    assert config.optimism.enabled
    for use in ("continued", "evaluated"):
        with pytest.raises(ConfigError, match=message):
            stored_run(str(tmp_path), use=use)
    saved["optimism"]["enabled"] = False  # off, its state is the plain critic's
    (tmp_path / "config.json").write_text(json.dumps(saved))
    stored_run(str(tmp_path), use="continued")
