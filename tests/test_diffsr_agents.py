"""Diff-SR as a critic component on every base (SAC, TD3, DDPG): the RFF critic is the one its optimizer trains
(the official code's bug: an optimizer over another critic), alpha is learned, the critic's gradient reaches psi
only when asked to, the actor's gradient flows through psi of the action, and score matching makes psi carry
what (s, a) says about s'."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from diffsr_jax.data.transition import Transition
from diffsr_jax.agents.registry import make_agent
from diffsr_jax.data import ReplaySampler, replay_add, replay_init
from tests.helpers import preset

DS, DA, B = 3, 1, 64
DIFFSR_AGENTS = ["diffsr_sac", "diffsr_td3", "diffsr_ddpg"]


def _data(key, n):
    """s' = 0.9 s + 0.3 a + small noise: s' is mostly determined by (s, a)."""
    k = jax.random.split(key, 4)
    obs = jax.random.normal(k[0], (n, DS))
    act = jax.random.uniform(k[1], (n, DA), minval=-1, maxval=1)
    nxt = 0.9 * obs + 0.3 * act + 0.05 * jax.random.normal(k[2], (n, DS))
    return Transition(obs, act, -jnp.sum(obs**2, -1), nxt, jnp.zeros(n))


def _sampler(data, batch=B):
    n = data.obs.shape[0]
    return ReplaySampler(replay_add(replay_init(jax.tree_util.tree_map(lambda x: x[0], data), n), data), None, batch)


def _agent(name, **overrides):  # overrides: {"group.field": value}
    cfg = preset(name, overrides={"replay.batch_size": B, **overrides})
    agent = make_agent(cfg, DS, DA)
    return agent, agent.init(jax.random.PRNGKey(0), agent.hparams())


def _updates(agent, state, n, sampler=None):
    sampler = sampler or _sampler(_data(jax.random.PRNGKey(1), 1024))

    def body(s, xs):
        k, i = xs
        return agent.update(s, sampler, k, i)

    keys = (jax.random.split(jax.random.PRNGKey(2), n), jnp.arange(n))
    return jax.jit(lambda s: jax.lax.scan(body, s, keys))(state)


def _max_change(a, b):
    return max(float(jnp.max(jnp.abs(x - y))) for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def _adam_moments(opt_state):
    found = [s for s in jax.tree_util.tree_leaves(opt_state, is_leaf=lambda x: isinstance(x, optax.ScaleByAdamState))
             if isinstance(s, optax.ScaleByAdamState)]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("name", DIFFSR_AGENTS)
def test_the_critic_optimizer_moves_exactly_the_rff_critic(name):
    """After one update, the critic's parameter change is Adam's first step computed from the critic optimizer's
    own moments: -lr * m_hat / (sqrt(v_hat) + eps) leaf by leaf. An optimizer that holds another network's
    moments (even of the same shapes) or a critic the optimizer never touches fails this."""
    agent, state = _agent(name)
    assert "LearnedRFF_0" in state.q_heads.params["params"]["head"], "the critic must be the RFF head"
    new, _ = _updates(agent, state, 1)
    adam = _adam_moments(new.q_heads.opt_state)
    lr = float(agent.shared.critic_lr)  # config.actor_critic
    b1, b2, eps = 0.9, 0.999, 1e-8
    expected = jax.tree_util.tree_map(
        lambda m, v: -lr * (m / (1 - b1)) / (jnp.sqrt(v / (1 - b2)) + eps), adam.mu, adam.nu)
    delta = jax.tree_util.tree_map(lambda a, b: a - b, new.q_heads.params, state.q_heads.params)
    chex.assert_trees_all_close(delta, expected, rtol=1e-3, atol=1e-7)  # leaf by leaf, the same tree
    assert _max_change(state.q_heads.params, new.q_heads.params) > 0.5 * lr  # a real step, not zeros


@pytest.mark.parametrize("name", DIFFSR_AGENTS)
def test_critic_representation_and_actor_are_all_trained(name):
    agent, state = _agent(name)
    new, metrics = _updates(agent, state, 30)
    rff = "LearnedRFF_0"
    assert _max_change(state.q_heads.params["params"]["head"][rff], new.q_heads.params["params"]["head"][rff]) > 1e-4
    assert _max_change(state.critic_state.learner.params, new.critic_state.learner.params) > 1e-4
    assert _max_change(state.actor.params, new.actor.params) > 1e-4
    assert np.isfinite(np.asarray(metrics["critic_loss"])).all()
    if name == "diffsr_sac":
        assert abs(float(new.log_alpha.params) - float(state.log_alpha.params)) > 1e-3  # alpha is learned
    if name == "diffsr_td3":
        assert _max_change(state.critic_state.target, new.critic_state.target) > 1e-6  # EMA target psi moves
        assert _max_change(new.critic_state.target, new.critic_state.learner.params) > 1e-6  # ... and lags the online psi


# diffsr_ddpg shares diffsr_td3's critic path: -m slow
@pytest.mark.parametrize("name", ["diffsr_sac", "diffsr_td3", pytest.param("diffsr_ddpg", marks=pytest.mark.slow)])
def test_critic_gradient_reaches_psi_only_when_enabled(name):
    batch = _data(jax.random.PRNGKey(3), B)
    for enabled in (False, True):
        overrides = {"psi_critic.grad_to_rep": enabled}
        if enabled:
            overrides["psi_critic.reads"] = "online"
        agent, state = _agent(name, **overrides)
        state, _ = _updates(agent, state, 3)  # non-trivial parameters

        def loss_wrt_rep(rep_params, state=state, agent=agent):
            f = state.critic_state
            f = f.replace(learner=f.learner.replace(params=rep_params),
                          target=rep_params if f.target is not None else None)
            return agent.critic_loss(state.q_heads.params, state.replace(critic_state=f), batch, jax.random.PRNGKey(4))[0]

        g = jax.grad(loss_wrt_rep)(state.critic_state.learner.params)
        norm = max(float(jnp.max(jnp.abs(x))) for x in jax.tree_util.tree_leaves(g["model"]))
        assert (norm > 1e-6) if enabled else (norm == 0.0), (enabled, norm)


def test_actor_gradient_flows_through_psi_of_the_action():
    """stop_gradient sits on psi's parameters, not on psi: dQ/da must be non-zero for the actor to learn."""
    agent, state = _agent("diffsr_sac")
    batch = _data(jax.random.PRNGKey(5), B)
    g = jax.grad(lambda a: agent.critic.q(state.q_heads.params, state.critic_state, batch.obs, a).sum())(batch.action)
    assert float(jnp.max(jnp.abs(g))) > 1e-6


def _mid_noise_loss(name, blind, objective="score_matching", steps=300):
    """Held-out loss of the representation's objective at the two middle diagnostic levels (score matching: noise
    levels where s' is blurred but (s, a) still pins it down; flow matching: t = 1/3 and 2/3 of the noise-to-s'
    path) after ``steps`` representation steps on fresh batches and fresh noise; ``blind``: psi sees zeros instead of
    (s, a), so it can only learn the marginal of s'."""
    agent, state = _agent(name, **{"representation.objective": objective})
    rep = agent.critic.representation
    data = _data(jax.random.PRNGKey(6), 4096)
    if blind:
        data = data.replace(obs=jnp.zeros_like(data.obs), action=jnp.zeros_like(data.action))
    sampler = _sampler(data)
    steps = jax.random.split(jax.random.PRNGKey(7), steps)
    features = jax.jit(lambda f: jax.lax.scan(lambda f, k: rep.update(f, sampler, k, state.hp), f, steps))(
        state.critic_state)[0]
    held_out = _data(jax.random.PRNGKey(8), 512)
    if blind:
        held_out = held_out.replace(obs=jnp.zeros_like(held_out.obs), action=jnp.zeros_like(held_out.action))
    diag = rep.diagnostics(features, held_out, jax.random.PRNGKey(9))
    prefix = "fm_loss_level" if objective == "flow_matching" else "sm_loss_level"
    levels = sorted((int(k[len(prefix):]), float(v)) for k, v in diag.items() if k.startswith(prefix))
    return levels[1][1] + levels[2][1]


@pytest.mark.parametrize("name", ["diffsr_sac", "diffsr_td3"])
def test_score_matching_makes_psi_carry_the_dynamics(name):
    """With (s, a) in view the held-out mid-noise loss falls far below what the best psi blind to (s, a) reaches:
    the loss falls because psi learned the dynamics, not because one batch was memorised."""
    informed, blind = _mid_noise_loss(name, False), _mid_noise_loss(name, True)
    assert informed < 0.4 * blind, (informed, blind)  # measured: 0.045 vs 0.264 (sac), 0.30 vs 1.76 (td3)


def test_flow_matching_makes_psi_carry_the_dynamics():
    """The same with ``representation.objective=flow_matching``: the held-out flow loss at t = 1/3, 2/3 falls from
    its value at initialisation, and with (s, a) in view it ends well below what a psi blind to (s, a) reaches."""
    informed, blind = _mid_noise_loss("diffsr_sac", False, "flow_matching"), _mid_noise_loss("diffsr_sac", True,
                                                                                                "flow_matching")
    at_init = _mid_noise_loss("diffsr_sac", False, "flow_matching", steps=0)
    assert informed < 0.5 * at_init and informed < 0.4 * blind, (informed, blind, at_init)


def test_diagnostics_track_the_representation_as_it_learns():
    """The diagnostics (per-level losses at 4 levels, psi norm, reward-head loss) are computed on the agent's current
    representation: after 200 updates the mid-level losses and the reward-head loss have fallen well below init."""
    agent, state = _agent("diffsr_td3")
    batch, key = _data(jax.random.PRNGKey(8), 512), jax.random.PRNGKey(9)
    before = agent.diagnostics(state, batch, key)
    new, _ = _updates(agent, state, 200)
    after = agent.diagnostics(new, batch, key)
    assert {"sm_loss_level0", "sm_loss_level16", "sm_loss_level32", "sm_loss_level49", "psi_norm", "reward_loss",
            "probe_r2_dynamics", "probe_r2_reward", "probe_r2_dynamics_init", "probe_r2_reward_init"} == set(after)
    assert float(after["psi_norm"]) > 0
    for k in ("sm_loss_level16", "reward_loss"):
        assert float(after[k]) < 0.5 * float(before[k]), (k, float(before[k]), float(after[k]))


class _KeySpy:
    """A replay sampler that records the key of every batch drawn (run eagerly, under ``jax.disable_jit``)."""

    def __init__(self, sampler):
        self.inner, self.keys = sampler, []

    def batch(self, key):
        self.keys.append(np.asarray(key).tolist())
        return self.inner.batch(key)


@pytest.mark.parametrize("step_batch", ["fresh", "last_feature"])
def test_the_actor_critic_step_reuses_the_last_feature_batch_when_asked(step_batch):
    """rl-rep's critic and actor learn on the last of the 4 score-matching batches (``psi_critic.step_batch=
    last_feature``); by default the actor-critic step draws a batch of its own."""
    agent, state = _agent("diffsr_sac", **{"representation.steps_per_update": 3, "psi_critic.step_batch": step_batch})
    spy = _KeySpy(_sampler(_data(jax.random.PRNGKey(1), 1024)))
    with jax.disable_jit():
        agent.update(state, spy, jax.random.PRNGKey(4), 0)
    assert len(spy.keys) == 4  # 3 psi/zeta steps, then the actor-critic step
    assert len({str(k) for k in spy.keys[:3]}) == 3  # fresh batches for psi/zeta
    assert (spy.keys[3] == spy.keys[2]) == (step_batch == "last_feature")
