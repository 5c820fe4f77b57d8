"""Diff-SR agents: the RFF critic is trained (the official code's bug), alpha is learned, the critic's
gradient reaches psi only when asked to, and the representation objective falls."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.agents.common import Transition
from diffsr_jax.agents.registry import make_agent
from tests.helpers import preset

DS, DA, B = 3, 1, 64


def _batch(key, n=B):
    k = jax.random.split(key, 4)
    obs = jax.random.normal(k[0], (n, DS))
    act = jax.random.uniform(k[1], (n, DA), minval=-1, maxval=1)
    nxt = 0.9 * obs + 0.3 * act + 0.05 * jax.random.normal(k[2], (n, DS))
    return Transition(obs, act, -jnp.sum(obs**2, -1), nxt, jnp.zeros(n))


def _agent(name, **overrides):
    cfg = preset(name, batch_size=B, **overrides)
    agent = make_agent(cfg, DS, DA)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    return agent, state


def _updates(agent, state, n):
    data = _batch(jax.random.PRNGKey(1), 1024)

    def sample(k):
        idx = jax.random.randint(k, (B,), 0, 1024)
        return jax.tree_util.tree_map(lambda x: x[idx], data)

    def body(s, xs):
        k, i = xs
        return agent.update(s, sample, k, i)

    return jax.jit(lambda s: jax.lax.scan(body, s, (jax.random.split(jax.random.PRNGKey(2), n), jnp.arange(n))))(state)


def _max_change(a, b):
    return max(float(jnp.max(jnp.abs(x - y))) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


@pytest.mark.parametrize("name", ["diffsr_sac", "diffsr_td3"])
def test_rff_critic_and_representation_are_trained(name):
    agent, state = _agent(name)
    critic = state.critic.params["params"]["head"]
    assert "LearnedRFF_0" in critic, "the critic must be the RFF head"
    # the critic optimizer holds exactly the RFF critic's parameters
    opt_leaves = jax.tree_util.tree_leaves(state.critic.opt_state)
    for leaf in jax.tree_util.tree_leaves(state.critic.params):
        assert any(o.shape == leaf.shape for o in opt_leaves)
    new, metrics = _updates(agent, state, 30)
    assert _max_change(state.critic.params, new.critic.params) > 1e-3
    rff = "LearnedRFF_0"
    assert _max_change(critic[rff], new.critic.params["params"]["head"][rff]) > 1e-4
    assert _max_change(state.rep.params, new.rep.params) > 1e-4
    assert _max_change(state.actor.params, new.actor.params) > 1e-4
    assert np.isfinite(np.asarray(metrics["critic_loss"])).all()
    if name == "diffsr_sac":
        assert abs(float(new.log_alpha.params) - float(state.log_alpha.params)) > 1e-3  # alpha is learned
    else:
        assert _max_change(state.target_rep, new.target_rep) > 1e-6  # EMA target psi moves


@pytest.mark.parametrize("name", ["diffsr_sac", "diffsr_td3"])
def test_critic_gradient_reaches_psi_only_when_enabled(name):
    batch = _batch(jax.random.PRNGKey(3))
    for enabled in (False, True):
        overrides = {"critic_grad_to_rep": enabled}
        if enabled:
            overrides["critic_rep"] = "online"
        agent, state = _agent(name, **overrides)
        state, _ = _updates(agent, state, 3)  # non-trivial parameters

        def loss_wrt_rep(rep_params):
            s = state.replace(rep=state.rep.replace(params=rep_params))
            if agent.cfg.critic_rep == "target":
                s = s.replace(target_rep=rep_params)
            return agent.critic_loss(state.critic.params, s, batch, jax.random.PRNGKey(4))[0]

        g = jax.grad(loss_wrt_rep)(state.rep.params)
        norm = max(float(jnp.max(jnp.abs(x))) for x in jax.tree_util.tree_leaves(g["model"]))
        if enabled:
            assert norm > 1e-6
        else:
            assert norm == 0.0


def test_actor_gradient_flows_through_psi_of_the_action():
    """stop_gradient sits on psi's parameters, not on psi: dQ/da must be non-zero for the actor to learn."""
    agent, state = _agent("diffsr_sac")
    batch = _batch(jax.random.PRNGKey(5))
    g = jax.grad(lambda a: agent.q_values(state.critic.params, state.rep.params, batch.obs, a).sum())(batch.action)
    assert float(jnp.max(jnp.abs(g))) > 1e-6


@pytest.mark.parametrize("name", ["diffsr_sac", "diffsr_td3"])
def test_representation_loss_falls_on_a_fixed_batch(name):
    agent, state = _agent(name)
    batch = _batch(jax.random.PRNGKey(6), 256)
    key = jax.random.PRNGKey(7)
    loss = jax.jit(lambda p: agent.rep_loss(p, state, batch, key)[1]["score_matching_loss"])
    before = float(loss(state.rep.params))

    def step(rep, _):
        g = jax.grad(lambda p: agent.rep_loss(p, state, batch, key)[0])(rep.params)
        return rep.apply_gradients(g), None

    rep, _ = jax.jit(lambda r: jax.lax.scan(step, r, None, length=200))(state.rep)
    after = float(loss(rep.params))
    assert after < 0.5 * before, (before, after)


def test_diagnostics_report_per_level_losses():
    agent, state = _agent("diffsr_td3")
    d = agent.diagnostics(state, _batch(jax.random.PRNGKey(8)), jax.random.PRNGKey(9))
    assert {"sm_loss_level0", "sm_loss_level49", "psi_norm", "reward_loss"} <= set(d)
    assert all(np.isfinite(float(v)) for v in d.values())
