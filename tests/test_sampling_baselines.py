"""The sampling-based diffusion baselines' own parts: reverse chain, replay segments, PolyGRAD imagination,
the planner, and a smoke run of each through the launcher."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.data.transition import Transition
from diffsr_jax.agents.polygrad import PolyGRAD, lambda_returns
from diffsr_jax.agents.registry import make_agent
from diffsr_jax.data.replay import replay_add, replay_init
from diffsr_jax.data.segments import sample_segments
from diffsr_jax.diffusion import make_schedule
from diffsr_jax.diffusion.sampling import sample_chain
from tests.helpers import preset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _gaussian_eps(schedule, mean, std):
    """Exact E[eps | x_k] for data ~ N(mean, diag(std^2))."""
    def eps_fn(x, k):
        ab = schedule.alpha_bar[k]
        return jnp.sqrt(1.0 - ab) * (x - jnp.sqrt(ab) * mean) / (ab * std**2 + 1.0 - ab)
    return eps_fn


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_reverse_chain_reproduces_a_known_gaussian(kind):
    mean, std = jnp.array([1.5, -0.5, 0.0]), jnp.array([0.3, 2.0, 1.0])
    sch = make_schedule(kind, 1000)
    n = 20_000
    x = jax.jit(lambda k: sample_chain(sch, _gaussian_eps(sch, mean, std), k, (n, 3)))(jax.random.PRNGKey(0))
    np.testing.assert_allclose(x.mean(0), mean, atol=4 * float(std.max()) / np.sqrt(n) + 0.01)
    np.testing.assert_allclose(x.var(0) / std**2, 1.0, atol=0.05)


def test_reverse_chain_keeps_conditioned_entries():
    sch = make_schedule("cosine", 50)
    eps_fn = _gaussian_eps(sch, jnp.zeros(4), jnp.ones(4))
    x = sample_chain(sch, eps_fn, jax.random.PRNGKey(1), (16, 4), condition=lambda x: x.at[:, 0].set(7.0))
    np.testing.assert_array_equal(x[:, 0], 7.0)


def _episodes_buffer(lengths, num_envs=1, terminal_last=True):
    """Replay of consecutive episodes (obs = [episode id, step], next_obs continues it) for each env."""
    items = []
    for ep, length in enumerate(lengths):
        for t in range(length):
            items.append((float(ep), float(t), t == length - 1 and terminal_last))
    ex = Transition(jnp.zeros(2), jnp.zeros(1), jnp.zeros(()), jnp.zeros(2), jnp.zeros(()))
    buf = replay_init(ex, 4 * len(items) * num_envs)
    for ep, t, term in items:
        obs = jnp.tile(jnp.array([[ep, t]]), (num_envs, 1)) + jnp.arange(num_envs)[:, None] * 100.0
        nxt = obs + jnp.array([0.0, 1.0])
        tr = Transition(obs, jnp.zeros((num_envs, 1)), obs[:, 1], nxt, jnp.full((num_envs,), float(term)))
        buf = replay_add(buf, tr)
    return buf


@pytest.mark.parametrize("num_envs", [1, 3])
def test_segments_are_contiguous_and_masked_at_episode_ends(num_envs):
    buf = _episodes_buffer([5, 7, 4], num_envs)
    seg, valid = sample_segments(buf, jax.random.PRNGKey(0), 512, 4, stride=num_envs)
    obs, valid = np.asarray(seg.obs), np.asarray(valid)
    assert valid[:, 0].all()
    for i in range(512):
        for t in range(1, 4):
            same_episode = obs[i, t, 0] == obs[i, 0, 0] and obs[i, t, 0] < 100 * (1 + obs[i, 0, 0] // 100)
            assert valid[i, t] == (same_episode and obs[i, t, 1] == obs[i, 0, 1] + t), (i, t, obs[i])
            if valid[i, t]:  # one env's consecutive steps, never another env's
                assert obs[i, t, 0] == obs[i, 0, 0]
    assert 0.3 < valid[:, -1].mean() < 0.9  # both kinds occur


def test_segments_mask_after_a_reset_without_termination():
    buf = _episodes_buffer([6, 6], terminal_last=False)  # time-limit truncation: next_obs != next row's obs
    seg, valid = sample_segments(buf, jax.random.PRNGKey(3), 256, 6)
    obs, valid = np.asarray(seg.obs), np.asarray(valid)
    crossing = obs[:, -1, 0] != obs[:, 0, 0]
    assert crossing.any() and (valid[crossing, -1] == 0).all() and (valid[~crossing, -1] == 1).all()


def test_lambda_returns_match_the_recursion():
    r = jnp.array([[1.0, 2.0, 3.0]])
    d = jnp.array([[0.9, 0.9, 0.0]])
    v = jnp.array([[10.0, 20.0, 30.0, 40.0]])
    lam = 0.5
    r2 = 3.0 + 0.0
    r1 = 2.0 + 0.9 * (0.5 * 30.0 + 0.5 * r2)
    r0 = 1.0 + 0.9 * (0.5 * 20.0 + 0.5 * r1)
    np.testing.assert_allclose(lambda_returns(r, d, v, lam)[0], [r0, r1, r2], rtol=1e-6)


def _polygrad(**overrides):  # {"group.field": value} with "__" for the dot
    cfg = preset("polygrad", overrides={
        "trajectory_model.denoise_steps": 8, "trajectory_model.width": 32, "trajectory_model.layers": 2,
        "trajectory_model.time_embed_dim": 8, "actor_critic.actor_hidden": (16,), "mlp_critic.hidden": (16,),
        **{k.replace("__", "."): v for k, v in overrides.items()}})
    agent = PolyGRAD(cfg, 3, 2)
    return agent, agent.init(jax.random.PRNGKey(0), agent.hparams())


def test_polygrad_sample_guidance_gives_exact_policy_samples():
    agent, state = _polygrad(polygrad__guidance_type="sample")
    s0 = jax.random.normal(jax.random.PRNGKey(1), (512, 3))
    states, u, rewards, term, act_std = jax.jit(agent.imagine)(state, s0, jax.random.PRNGKey(2))
    assert states.shape == (512, agent.horizon, 3) and u.shape == (512, agent.horizon, 2)
    assert rewards.shape == term.shape == (512, agent.horizon)
    np.testing.assert_array_equal(states[:, 0], s0)  # the observed start state is kept
    assert abs(float(act_std) - 1.0) < 0.05  # z-scores of exact policy samples: unit spread


def test_polygrad_guidance_scale_controls_the_action_spread():
    agent, state = _polygrad(polygrad__guidance_type="grad")
    s0 = jax.random.normal(jax.random.PRNGKey(1), (256, 3))
    imagine = jax.jit(agent.imagine)
    spreads = [float(imagine(state.replace(log_guidance=jnp.float32(g)), s0, jax.random.PRNGKey(2))[4])
               for g in (-6.0, -2.0, 2.0)]
    assert spreads[0] > spreads[1] > spreads[2]  # stronger guidance pulls actions onto the policy mode


def test_polygrad_actor_critic_moves_the_policy_to_the_rewarded_action():
    """Imagined batches rewarded -(u - 0.5)^2 per pre-tanh action dim, whose expectation -(sigma^2 + (mu - 0.5)^2)
    peaks at mu = 0.5 for any std: the REINFORCE actor on the target-critic advantages must move the policy mean
    from ~0 to 0.5 and shrink the std (a sign or baseline error does neither)."""
    agent, state = _polygrad(actor_critic__actor_lr=3e-3, actor_critic__critic_lr=3e-3)
    b, h = 256, agent.horizon
    probe = jax.random.normal(jax.random.PRNGKey(7), (512, 3))

    def step(state, key):
        k_s, k_u = jax.random.split(key)
        states = jax.random.normal(k_s, (b, h, 3))
        mean, log_std = agent.actor_net.apply(state.actor.params, states)
        u = mean + jnp.exp(log_std) * jax.random.normal(k_u, mean.shape)
        rewards = -jnp.sum((u - 0.5) ** 2, axis=-1)
        state, _ = agent.update_actor_critic(state, states, u, rewards, jnp.zeros((b, h)))
        return state, None

    mean0, log_std0 = agent.actor_net.apply(state.actor.params, probe)
    state, _ = jax.jit(lambda s, k: jax.lax.scan(step, s, k))(state, jax.random.split(jax.random.PRNGKey(3), 400))
    mean1, log_std1 = agent.actor_net.apply(state.actor.params, probe)
    assert float(jnp.abs(mean0 - 0.5).mean()) > 0.3
    assert float(jnp.abs(mean1 - 0.5).mean()) < 0.05
    assert float(jnp.exp(log_std1).mean()) < 0.8 * float(jnp.exp(log_std0).mean())


def test_planner_returns_actions_in_bounds_and_its_best_candidate():
    cfg = preset("diffusion_planner", overrides={
        "trajectory_model.denoise_steps": 6, "trajectory_model.width": 32, "trajectory_model.layers": 2,
        "trajectory_model.time_embed_dim": 8, "trajectory_model.horizon": 4, "planner.num_candidates": 8,
        "actor_critic.actor_hidden": (16,), "mlp_critic.hidden": (16,), "trajectory_model.x0_clip": 50.0})
    agent = make_agent(cfg, 3, 2)
    state = agent.init(jax.random.PRNGKey(0), agent.hparams())
    obs = 3.0 * jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    for det in (True, False):
        a = jax.jit(agent.act, static_argnums=3)(state, obs, jax.random.PRNGKey(2), det)
        assert a.shape == (5, 2) and bool(jnp.all(jnp.abs(a) <= 1.0))
    a, q = agent.plan(state, obs, jax.random.PRNGKey(2))
    cand_a, cand_q = agent.candidates(state, obs, jax.random.PRNGKey(2))
    assert cand_a.shape == (5, 8, 2) and bool(jnp.all(jnp.abs(cand_a) <= 1.0))
    np.testing.assert_allclose(q, cand_q.max(axis=1), rtol=1e-6)  # acts on the best candidate by Q
    assert float(jnp.std(cand_a, axis=1).mean()) > 1e-3  # candidates differ (sampled, not one mode)
    sac = state.sac
    np.testing.assert_allclose(jnp.min(agent.sac.critic.q(sac.q_heads.params, sac.critic_state, obs, a), axis=0), q,
                               rtol=1e-5)


@pytest.mark.parametrize("agent", ["polygrad", "diffusion_planner"])
def test_sampling_baseline_smoke_run_through_the_launcher(agent, tmp_path):
    logdir = tmp_path / agent
    env = dict(os.environ, PYTHONPATH=ROOT)
    args = [f"--agent={agent}", "--num_seeds=2", "--total_steps=300", "--eval_every=150",
            "--config.run.warmup_steps=100", "--config.run.eval_episodes=2", "--config.env.episode_length=50",
            "--config.replay.batch_size=32", "--config.trajectory_model.batch=16", "--config.trajectory_model.denoise_steps=4",
            "--config.trajectory_model.width=32", "--config.trajectory_model.layers=2", "--config.trajectory_model.time_embed_dim=8",
            f"--logdir={logdir}", "--tensorboard=false"]
    if agent == "polygrad":
        args.append("--config.polygrad.imagined_batch=16")
    else:
        args.append("--config.planner.num_candidates=4")
    p = subprocess.run([sys.executable, "-m", "experiments.train", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = [json.loads(line) for line in (logdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["frames"] for r in rows] == [150, 150, 300, 300]
    assert all(np.isfinite(r["eval/return"]) and np.isfinite(r["train/model_loss"]) for r in rows[2:])
