"""The Diff-SR ablations (experiments/suites.py ABLATIONS) are config values that run through the launcher and change
what they claim to: with score matching off psi stays at its initialisation; trained only through the critic psi
moves and zeta (no longer in any loss) does not; the representation update ratio and the feature size are the
ones asked for. The probes (diag/probe_r2_*) are logged at every evaluation."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from tests.helpers import optimizer_steps, restore_run, run_rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS, WARMUP = 400, 300  # 100 learning iterations of the fast preset (one env, one update each)
PROBES = ("probe_r2_dynamics", "probe_r2_reward", "probe_r2_dynamics_init", "probe_r2_reward_init")


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


def _moved(a, b) -> bool:
    return any(not np.array_equal(x, y) for x, y in zip(_leaves(a), _leaves(b)))


def _psi_zeta_moved(rep) -> tuple[bool, bool]:
    """Whether psi's and zeta's parameters differ from their values at initialisation."""
    now, init = rep.learner.params["model"]["params"], rep.initial["params"]
    return _moved(now["psi_net"], init["psi_net"]), _moved(now["zeta_net"], init["zeta_net"])


@pytest.fixture(scope="module")
def suite_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablations")
    args = ["--suite=cpu", "--tasks=pendulum", "--agents=diffsr_sac", "--num_seeds=1", f"--total_steps={STEPS}",
            "--eval_every=200", "--ablations=frozen_psi,frozen_psi_ln,critic_psi,rep_updates4,features256",
            f"--set=run.warmup_steps={WARMUP},run.eval_episodes=2,run.checkpoint_every={STEPS}", f"--root={root}"]
    p = subprocess.run([sys.executable, "-m", "experiments.suite", *args], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=ROOT), timeout=1500)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return root / "cpu" / "pendulum"


def _run(root, variant):
    logdir = str(root / variant)
    trainer, runner, step = restore_run(logdir)
    assert step == STEPS
    rows = run_rows(logdir)
    assert [r["frames"] for r in rows] == [200, 400]
    for k in PROBES:  # logged at every evaluation, finite, an R^2
        assert all(np.isfinite(r[f"diag/{k}"]) and r[f"diag/{k}"] <= 1.0 for r in rows), k
    with open(os.path.join(logdir, "run.json")) as f:
        assert json.load(f)["agent"] == variant
    return trainer.config, runner.agent.critic_state, rows


@pytest.mark.xdist_group("ablations")
def test_diffsr_trains_psi_and_zeta_by_score_matching(suite_root):
    config, rep, rows = _run(suite_root, "diffsr_sac")
    assert _psi_zeta_moved(rep) == (True, True)
    assert optimizer_steps(rep.learner.opt_state) == 100 * config.representation.steps_per_update == 100
    assert np.isfinite(rows[-1]["train/score_matching_loss"])


@pytest.mark.xdist_group("ablations")
def test_frozen_psi_stays_at_its_initialisation(suite_root):
    config, rep, rows = _run(suite_root, "diffsr_sac+frozen_psi")
    assert config.representation.objective == "none" and not config.psi_critic.grad_to_rep
    assert not _moved(rep.learner.params["model"], rep.initial)
    assert optimizer_steps(rep.learner.opt_state) == 0  # no representation step is taken at all
    assert "train/score_matching_loss" not in rows[-1]
    # the probes of the current psi and of psi at initialisation are the same numbers
    assert rows[-1]["diag/probe_r2_dynamics"] == rows[-1]["diag/probe_r2_dynamics_init"]
    critic = critic_param_paths(suite_root, "diffsr_sac")
    assert not any("LayerNorm" in k for k in critic)  # the fast preset's critic reads psi as it is


def critic_param_paths(root, variant):
    """Paths of every critic parameter of a finished run (e.g. containing ``LayerNorm_0``, ``LearnedRFF_0``)."""
    _, runner, _ = restore_run(str(root / variant))
    params = runner.agent.q_heads.params
    return set(jax.tree_util.tree_leaves(jax.tree_util.tree_map_with_path(
        lambda p, _: jax.tree_util.keystr(p), params)))


@pytest.mark.xdist_group("ablations")
def test_frozen_psi_with_a_layer_norm_on_the_critic_input(suite_root):
    config, rep, rows = _run(suite_root, "diffsr_sac+frozen_psi_ln")
    assert config.representation.objective == "none" and config.psi_critic.input_layer_norm
    assert not _moved(rep.learner.params["model"], rep.initial) and optimizer_steps(rep.learner.opt_state) == 0
    assert any("LayerNorm" in k for k in critic_param_paths(suite_root, "diffsr_sac+frozen_psi_ln"))


@pytest.mark.xdist_group("ablations")
def test_psi_trained_only_through_the_critic(suite_root):
    config, rep, rows = _run(suite_root, "diffsr_sac+critic_psi")
    assert config.psi_critic.grad_to_rep
    assert _psi_zeta_moved(rep) == (True, False)  # the TD loss reaches psi; nothing trains zeta any more
    assert optimizer_steps(rep.learner.opt_state) == 100
    assert "train/score_matching_loss" not in rows[-1]


@pytest.mark.xdist_group("ablations")
def test_representation_update_ratio_and_feature_size(suite_root):
    config, rep, _ = _run(suite_root, "diffsr_sac+rep_updates4")
    assert config.representation.steps_per_update == 4
    assert optimizer_steps(rep.learner.opt_state) == 400  # 4 representation steps per learning iteration
    config, rep, _ = _run(suite_root, "diffsr_sac+features256")
    assert config.representation.feature_dim == 256
    psi_out = [x for p, x in jax.tree_util.tree_flatten_with_path(rep.learner.params["model"]["params"]["psi_net"])[0]
               if jax.tree_util.keystr(p).endswith("['kernel']")][-1]
    assert psi_out.shape[-1] == 256  # psi's last layer has F outputs


@pytest.mark.parametrize("name", ["diffsr_td3", "diffsr_ddpg"])
def test_ablations_on_the_other_bases(name):
    """The same config values on TD3 (whose preset reads the target psi and trains a reward head on psi) and DDPG:
    frozen psi does not move, critic-trained psi does, zeta does not."""
    from experiments.suites import ABLATIONS
    from tests.test_diffsr_agents import _agent, _updates

    agent, state = _agent(name, **ABLATIONS["frozen_psi"])
    new, _ = _updates(agent, state, 5)
    assert not _moved(new.critic_state.learner.params, state.critic_state.learner.params)
    agent, state = _agent(name, **ABLATIONS["critic_psi"])
    new, _ = _updates(agent, state, 5)
    assert _psi_zeta_moved(new.critic_state) == (True, False)


def test_critic_reads_target_reads_the_ema_psi():
    """``critic_reads_target``: the heads (Q for the TD loss, its bootstrap and the actor) read the EMA target psi,
    which moves and lags the online psi; scaling the online psi's parameters leaves Q as it is, scaling the target's
    changes it. Without the arm the same check reads the other way."""
    from experiments.suites import ABLATIONS
    from tests.test_diffsr_agents import _agent, _data, _max_change, _updates

    batch = _data(jax.random.PRNGKey(7), 64)

    def q_after_scaling(agent, state, which):
        cs = state.critic_state
        scale = lambda tree: jax.tree_util.tree_map(lambda p: 1.1 * p, tree)  # noqa: E731
        cs = (cs.replace(learner=cs.learner.replace(params=scale(cs.learner.params))) if which == "online"
              else cs.replace(target=scale(cs.target)) if which == "target" else cs)
        return np.concatenate([np.asarray(f(state.q_heads.params, cs, batch.obs, batch.action))
                               for f in (agent.critic.q, agent.critic.target_q)])

    agent, state = _agent("diffsr_sac", **ABLATIONS["critic_reads_target"])
    new, _ = _updates(agent, state, 5)
    assert _max_change(state.critic_state.target, new.critic_state.target) > 1e-6  # the EMA psi moves
    assert _max_change(new.critic_state.target, new.critic_state.learner.params) > 1e-6  # ... and lags the online psi
    q = q_after_scaling(agent, new, None)
    np.testing.assert_array_equal(q_after_scaling(agent, new, "online"), q)
    assert np.max(np.abs(q_after_scaling(agent, new, "target") - q)) > 1e-3
    agent, state = _agent("diffsr_sac")  # the agent itself reads the online psi and keeps no EMA copy
    new, _ = _updates(agent, state, 5)
    assert new.critic_state.target is None
    assert np.max(np.abs(q_after_scaling(agent, new, "online") - q_after_scaling(agent, new, None))) > 1e-3


@pytest.mark.xdist_group("ablations")
def test_report_has_the_ablation_table_and_probe_figure(suite_root, tmp_path):
    out = tmp_path / "RESULTS.md"
    conclusion = tmp_path / "conclusion.md"
    conclusion.write_text("Written by hand.")
    p = subprocess.run([sys.executable, "-m", "experiments.report", str(suite_root.parent), f"--out={out}",
                        "--bootstrap_reps=50", f"--conclusion={conclusion}"], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    text = out.read_text()
    assert "## Conclusion\n\nWritten by hand." in text
    assert "## The representation: probes and ablations" in text
    section = text.split("## The representation: probes and ablations")[1].split("## Wall-clock")[0]
    table = [line for line in section.splitlines() if line.startswith("| diffsr_sac")]
    assert [line.split("|")[1].strip() for line in table] == [
        "diffsr_sac", "diffsr_sac+critic_psi", "diffsr_sac+features256", "diffsr_sac+frozen_psi",
        "diffsr_sac+frozen_psi_ln", "diffsr_sac+rep_updates4"]
    frozen = next(line for line in table if line.startswith("| diffsr_sac+frozen_psi"))
    learned, init = frozen.split("|")[7].split("/")  # frozen psi: its probe equals psi at init's
    assert learned.strip() == init.strip()
    assert (tmp_path / "results" / "probes_cpu_pendulum.png").stat().st_size > 10_000
