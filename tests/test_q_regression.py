"""experiments.q_regression and its cores: a target that is a function of the input is fitted (held-out R^2 near 1),
one that is not gets none (held-out R^2 near 0); held-out blocks are disjoint from the fitted rows; TD with a fixed
policy reaches the soft Q of a chain known in closed form, and misses it when the terminal flag is dropped; on two
small gymnax runs the command writes its tables and JSON, fits a run's own Q from its own psi (a target its head can
represent exactly), goes on by TD from each fit, pairs a shard of one seed with the reference's member of that seed,
and refuses bad pairs and inputs in one line."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.representation.regression import fit_regression, held_out_blocks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = pytest.mark.xdist_group("q_regression")  # the tests on the two small runs share one worker: made once


def _linear(p, x):
    return x @ p["w"] + p["b"]


def _data(n=4000, d=5, seed=0):
    x = jax.random.normal(jax.random.PRNGKey(seed), (n, d))
    return x, held_out_blocks(n, 100, 10)


def test_a_target_that_is_a_function_of_the_input_is_fitted():
    x, (fit, test) = _data()
    y = 40.0 + 7.0 * (x @ jnp.arange(1.0, 6.0))  # Q-like: far from 0, large spread
    params = {"w": jnp.zeros(5), "b": jnp.zeros(())}
    out, _ = fit_regression(_linear, params, (x,), y, fit, test, jax.random.PRNGKey(1), 2000, 128, 1e-2)
    assert float(out["r2"]) > 0.999
    assert float(out["rmse"]) < 0.03 * float(y.std())


def test_a_target_independent_of_the_input_gets_no_held_out_r2():
    x, (fit, test) = _data()
    y = 40.0 + 7.0 * jax.random.normal(jax.random.PRNGKey(9), (x.shape[0],))
    params = {"w": jnp.zeros(5), "b": jnp.zeros(())}
    out, _ = fit_regression(_linear, params, (x,), y, fit, test, jax.random.PRNGKey(1), 2000, 128, 1e-2)
    assert -0.05 < float(out["r2"]) < 0.02


def test_gradient_agreement_is_the_cosine_of_the_action_gradients():
    from diffsr_jax.representation.regression import gradient_agreement

    a = jax.random.normal(jax.random.PRNGKey(0), (64, 3))
    w = jnp.array([1.0, -2.0, 0.5])
    same = gradient_agreement(lambda x: 5.0 * x @ w, lambda x: x @ w + 3.0, a)  # same direction, other scale
    opposite = gradient_agreement(lambda x: x @ w, lambda x: -(x @ w), a)
    quadratic = gradient_agreement(lambda x: -jnp.sum(x ** 2, -1), lambda x: -2.0 * jnp.sum(x ** 2, -1), a)
    orthogonal = gradient_agreement(lambda x: x[:, 0], lambda x: x[:, 1], a)
    assert float(same) == pytest.approx(1.0, abs=1e-5) and float(opposite) == pytest.approx(-1.0, abs=1e-5)
    assert float(quadratic) == pytest.approx(1.0, abs=1e-5) and float(orthogonal) == pytest.approx(0.0, abs=1e-6)
    flat = gradient_agreement(lambda x: jnp.zeros(x.shape[0]), lambda x: x @ w, a)  # a vanishing gradient counts 0
    assert float(flat) == 0.0


def test_held_out_blocks_are_whole_blocks_disjoint_from_the_fitted_rows():
    fit, test = held_out_blocks(10_000, 1000, 10)
    assert len(set(fit) & set(test)) == 0 and len(fit) + len(test) == 10_000
    assert list(test) == list(range(9000, 10_000))
    fit, test = held_out_blocks(5_000, 50, 10)
    blocks = test.reshape(-1, 50)  # 10 held-out blocks of 50 consecutive rows, 450 rows apart
    assert blocks.shape == (10, 50) and (np.diff(blocks, axis=1) == 1).all() and (np.diff(blocks[:, 0]) == 500).all()


# --- the command on two small runs ---------------------------------------------------------------------------------
SMALL = ["--config.actor_critic.actor_hidden=32,32", "--config.mlp_critic.hidden=32,32",
         "--config.representation.feature_dim=16", "--config.representation.psi_hidden=32",
         "--config.representation.zeta_hidden=32", "--config.psi_critic.rff_dim=32",
         "--config.psi_critic.rff_hidden=32"]


def _env():
    return dict(os.environ, PYTHONPATH=ROOT)


def _train(agent, logdir, env="gymnax/Pendulum-v1", num_seeds=2, seed=0):
    cmd = [sys.executable, "-m", "experiments.train", f"--agent={agent}", f"--env={env}", *SMALL,
           f"--num_seeds={num_seeds}", f"--seed={seed}",
           "--total_steps=1600", "--eval_every=800", "--config.run.checkpoint_every=800",
           "--config.run.warmup_steps=200", "--config.run.eval_episodes=1", "--config.replay.batch_size=32",
           "--tensorboard=false", "--compile_cache=", f"--logdir={logdir}"]
    if env.startswith("gymnax/Pendulum"):
        cmd.append("--config.env.episode_length=200")
    r = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]


def _regress(*args):
    return subprocess.run([sys.executable, "-m", "experiments.q_regression", "--compile_cache=", *args], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=900)


def _record(logdir, reference):
    (name,) = [n for n in os.listdir(logdir) if n.startswith(f"q_regression-{reference}-")]
    return json.load(open(os.path.join(logdir, name)))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("qreg")
    out = {}
    for agent in ("diffsr_sac", "sac"):
        out[agent] = str(root / agent)
        _train(agent, out[agent])
    return out


@RUNS
def test_a_runs_own_q_is_fitted_from_its_own_psi(runs):
    r = _regress(f"--logdir={runs['diffsr_sac']}", f"--reference={runs['diffsr_sac']}", "--steps=1500", "--lr=3e-3",
                 "--block=40", "--rff_widths=32,64", "--td_steps=0")
    assert r.returncode == 0, r.stderr[-2000:]
    record = _record(runs["diffsr_sac"], "diffsr_sac")
    reg = record["regressions"]
    # the target is this head architecture on this psi: representable exactly, so the fit is near perfect; the
    # head at width 32 is the run's own and is not repeated, width 64 is added
    assert set(reg) == {"mlp on (s, a)", "rff on psi", "rff on psi at init", "rff 64 on psi"}
    assert np.mean(reg["rff on psi"]["r2"]) > 0.9, reg
    # fitted to the same Q on the same psi, its action gradient points where the run's critic's does: Pendulum's action
    # has one dimension, so each row's cosine is +-1 (the signs agree or not) and 0 is chance; near the greedy action
    # the gradient is small and its sign the first to go, so the bar is 3 rows in 4 agreeing
    assert np.mean(reg["rff on psi"]["grad_cos"]) > 0.5, reg
    assert len(reg["rff on psi"]["r2"]) == 2 and record["seeds"] == [0, 1]
    assert "held-out R^2" in r.stdout and "rff on psi at init" in r.stdout
    assert "td" not in record and "TD from the fit" not in r.stdout  # --td_steps=0: no TD fits


@RUNS
def test_the_base_runs_q_is_regressed_on_both_inputs(runs):
    r = _regress(f"--logdir={runs['diffsr_sac']}", f"--reference={runs['sac']}", "--steps=300", "--block=40",
                 "--rff_widths=64", "--td_steps=200")
    assert r.returncode == 0, r.stderr[-2000:]
    record = _record(runs["diffsr_sac"], "sac")
    reg, td = record["regressions"], record["td"]
    assert set(reg) == {"mlp on (s, a)", "rff on psi", "rff on psi at init", "rff 64 on psi"}
    assert all(np.isfinite(v["r2"]).all() and np.isfinite(v["rmse"]).all() for v in reg.values())
    # TD goes on from each input's own fit (the extra widths are regression only)
    assert set(td) == {"mlp on (s, a)", "rff on psi", "rff on psi at init"} and record["td_steps"] == 200
    assert all(np.isfinite(v[k]).all() for v in td.values() for k in ("r2", "rmse", "bias", "td_rmse", "grad_cos"))
    assert "TD from the fit, on" in r.stdout


@RUNS
def test_runs_of_different_tasks_or_seeds_are_refused(runs):
    import dataclasses

    from diffsr_jax.fields import ConfigError
    from diffsr_jax.training.saved_run import load_saved_run
    from experiments.q_regression import check_pair

    run, reference = load_saved_run(runs["diffsr_sac"]), load_saved_run(runs["sac"], replay=True)
    check_pair(run, reference)  # the pair the other tests regress
    other = reference.config.copy_and_resolve_references()
    other.env.episode_length = 100
    with pytest.raises(ConfigError, match="different tasks .config.env.episode_length: 200 vs 100"):
        check_pair(run, dataclasses.replace(reference, config=other))
    with pytest.raises(ConfigError, match="no member of seed 1 .the run's seeds \\[0, 1\\], the reference's "
                                          "\\[0, 2\\]"):
        check_pair(run, dataclasses.replace(reference, members=[{"seed": 0}, {"seed": 2}]))
    check_pair(run.narrowed([{"seed": 1}]), reference)  # a shard of seed 1 pairs with the reference's seed 1


@RUNS
def test_a_shard_is_paired_with_the_references_member_of_its_seed(runs, tmp_path):
    """A run of seed 1 alone (a shard) against the 2-seed reference: fitted on seed 1's replay and Q, not seed 0's."""
    from diffsr_jax.training.saved_run import load_saved_run
    from experiments.q_regression import reference_targets, replay_rows

    shard = str(tmp_path / "diffsr_sac_seed1")
    _train("diffsr_sac", shard, num_seeds=1, seed=1)
    r = _regress(f"--logdir={shard}", f"--reference={runs['sac']}", "--steps=200", "--block=40", "--rff_widths=",
                 "--td_steps=0")
    assert r.returncode == 0, r.stderr[-2000:]
    record = _record(shard, "sac")
    assert record["seeds"] == [1] and len(record["regressions"]["rff on psi"]["r2"]) == 1
    reference = load_saved_run(runs["sac"], record["frames"], replay=True)
    q_abs = np.abs(np.asarray(reference_targets(reference, replay_rows(reference, 40), 40)).mean(axis=1))
    assert abs(q_abs[0] - q_abs[1]) > 1e-3 * q_abs[1]  # the seeds' Q tell them apart
    assert record["mean_abs_q"] == pytest.approx([q_abs[1]], rel=1e-5)
    one = reference.narrowed([{"seed": 1}])  # member 0 of the narrowed run is member 1 of the run, leaf for leaf
    assert one.members == [{"seed": 1}]
    for a, b in zip(jax.tree_util.tree_leaves((one.keys, one.runner)),
                    jax.tree_util.tree_leaves((reference.keys, reference.runner))):
        np.testing.assert_array_equal(np.asarray(a)[0], np.asarray(b)[1])


@RUNS
@pytest.mark.parametrize("case", ["base_as_run", "too_few_rows", "bad_width", "missing_reference", "td_steps"])
def test_bad_input_is_one_line(runs, case):
    args = {
        "base_as_run": [f"--logdir={runs['sac']}", f"--reference={runs['sac']}"],
        "too_few_rows": [f"--logdir={runs['diffsr_sac']}", f"--reference={runs['sac']}", "--block=1000"],
        "bad_width": [f"--logdir={runs['diffsr_sac']}", f"--reference={runs['sac']}", "--rff_widths=0"],
        "missing_reference": [f"--logdir={runs['diffsr_sac']}", "--reference=/nonexistent/run"],
        "td_steps": [f"--logdir={runs['diffsr_sac']}", f"--reference={runs['sac']}", "--td_steps=-5"],
    }[case]
    r = _regress(*args)
    assert r.returncode != 0
    lines = [x for x in r.stderr.splitlines() if x.strip() and "warn" not in x.lower()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert {"base_as_run": "no critic on psi", "too_few_rows": "at least 10,000", "bad_width": "--rff_widths",
            "missing_reference": "no such directory", "td_steps": "--td_steps >= 0"}[case] in lines[0]


def test_td_fits_need_a_sac_reference():
    from types import SimpleNamespace

    from diffsr_jax.fields import ConfigError
    from experiments.q_regression import check_policy

    td3 = SimpleNamespace(trainer=SimpleNamespace(agent=object()), runner=SimpleNamespace(agent=object()),
                          logdir="runs/td3", config=SimpleNamespace(run=SimpleNamespace(agent="td3")))
    with pytest.raises(ConfigError, match="td3 is not SAC's.*--td_steps=0"):
        check_policy(td3)


@pytest.mark.parametrize("head", ["rff", "mlp"])
def test_output_affine_scales_and_shifts_a_heads_output(head):
    from diffsr_jax.agents.policy_evaluation import output_affine
    from diffsr_jax.networks.critics import MLPQHead, RFFHead

    x, a = jax.random.normal(jax.random.PRNGKey(0), (16, 5)), jax.random.normal(jax.random.PRNGKey(1), (16, 2))
    net, args = (RFFHead(16, 16), (x,)) if head == "rff" else (MLPQHead((16, 16)), (x, a))
    params = net.init(jax.random.PRNGKey(2), *args)
    moved = net.apply(output_affine(params, 7.5, -40.0), *args)
    np.testing.assert_allclose(np.asarray(moved), 7.5 * np.asarray(net.apply(params, *args)) - 40.0, rtol=1e-5,
                               atol=1e-4)
    with pytest.raises(ValueError, match="found 0"):
        output_affine({"w": {"kernel": jnp.ones((3, 2)), "bias": jnp.zeros(2)}}, 2.0, 1.0)


# --- policy evaluation by TD -----------------------------------------------------------------------------------------
def _chain(num_states=6, alpha=0.0, logp=0.0, gamma=0.9):
    """A chain of one-hot states k -> k + 1, the episode ending after the last; reward r_k = k + 1; a fixed policy
    whose log-density is ``logp`` everywhere. Its soft Q: Q(K-1) = r_{K-1}, Q(k) = r_k + gamma (Q(k+1) - alpha logp)."""
    from diffsr_jax.data.transition import Transition

    k = np.arange(num_states)
    eye = np.eye(num_states, dtype=np.float32)
    tr = Transition(obs=jnp.asarray(eye[k]), action=jnp.zeros((num_states, 1)), reward=jnp.asarray(k + 1.0),
                    next_obs=jnp.asarray(eye[np.minimum(k + 1, num_states - 1)]),
                    terminated=jnp.asarray((k == num_states - 1).astype(np.float32)))
    q = np.zeros(num_states)
    q[-1] = num_states
    for i in range(num_states - 2, -1, -1):
        q[i] = (i + 1) + gamma * (q[i + 1] - alpha * logp)
    next_action = lambda key, rows: (jnp.zeros((rows.shape[0], 1)), jnp.full(rows.shape, logp))  # noqa: E731
    return tr, next_action, q


@pytest.mark.parametrize("alpha,logp", [(0.0, 0.0), (0.2, -1.5)])
def test_td_fit_reaches_the_fixed_policys_soft_q(alpha, logp):
    from diffsr_jax.agents.policy_evaluation import fit_td, heads_q

    gamma = 0.9
    tr, next_action, q = _chain(alpha=alpha, logp=logp, gamma=gamma)
    apply = lambda p, o, a: o @ p["w"] + a[:, 0] * p["v"]  # noqa: E731  a table over the one-hot states
    params = {"w": jnp.zeros((2, 6)), "v": jnp.zeros(2)}
    params, target, losses = fit_td(apply, params, tr, next_action, alpha, gamma, 0.05, 2, np.arange(6),
                                    jax.random.PRNGKey(0), 4000, 32, 0.05)
    fitted = np.asarray(heads_q(apply, params, tr.obs, tr.action))
    np.testing.assert_allclose(fitted, np.stack([q, q]), rtol=2e-3, atol=2e-3)
    assert float(losses[-100:].mean()) < 1e-3 < float(losses[:100].mean())
    np.testing.assert_allclose(np.asarray(heads_q(apply, target, tr.obs, tr.action)), np.stack([q, q]), rtol=1e-2)


def test_td_fit_with_the_terminal_flag_ignored_would_not_reach_it():
    """The same chain, its last step not marked terminal: the fit bootstraps past the end, so a broken terminal
    mask is visible as a fit far from the true Q (the test above can fail)."""
    from diffsr_jax.agents.policy_evaluation import fit_td, heads_q

    tr, next_action, q = _chain()
    tr = tr.replace(terminated=jnp.zeros(6))
    apply = lambda p, o, a: o @ p["w"]  # noqa: E731
    params, _, _ = fit_td(apply, {"w": jnp.zeros((2, 6))}, tr, next_action, 0.0, 0.9, 0.05, 2, np.arange(6),
                          jax.random.PRNGKey(0), 4000, 32, 0.05)
    assert float(np.asarray(heads_q(apply, params, tr.obs, tr.action))[0, -1]) > 2 * q[-1]
