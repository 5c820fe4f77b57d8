"""Each config rule lives in one place and speaks with one message, whichever path reaches it; old names of fields
get one line naming the new one; a run's config.json of the first groups is still read, and refused in one line
where its checkpoints would be restored. (The env group's rules: tests/test_env_rules.py.)"""

import glob
import json
import os

import pytest

from diffsr_jax.agents import critics
from diffsr_jax.config import ConfigError, default_config, get_field, stored_config, validate_config
from diffsr_jax.config import legacy
from diffsr_jax.training.plan import plan_run, stored_run
from tests.helpers import preset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _message(fn) -> str:
    with pytest.raises(ConfigError) as e:
        fn()
    return str(e.value)


def _component_with(read: str, grad_to_rep: bool):
    """The critic component built directly (no config validation on the way)."""
    cfg = preset("diffsr_sac", overrides={"psi_critic.reads": read, "psi_critic.grad_to_rep": grad_to_rep})
    return critics.psi_critic(cfg, 3, 1, 2)


def test_which_psi_the_critic_reads_is_one_rule_with_one_message():
    bad = preset("diffsr_sac", overrides={"psi_critic.reads": "target", "psi_critic.grad_to_rep": True})
    from_validator = _message(lambda: validate_config(bad))
    from_component = _message(lambda: _component_with("target", True))
    assert from_validator == from_component == (
        "config.psi_critic.grad_to_rep=True trains psi through the critic, so the critic must read the online psi: "
        "set config.psi_critic.reads=online")


def test_the_critic_rule_comes_from_one_function(monkeypatch):
    def sentinel(reads, grad_to_rep):
        raise ConfigError("sentinel")

    monkeypatch.setattr(critics, "check_reads", sentinel)
    assert _message(lambda: validate_config(preset("diffsr_sac"))) == "sentinel"
    assert _message(lambda: _component_with("online", False)) == "sentinel"


@pytest.mark.parametrize("old,new", [
    ("actor_critic.alpha_lr", "config.sac.alpha_lr"), ("actor_critic.policy_delay", "config.td3.policy_delay"),
    ("actor_critic.expl_noise", "config.td3.expl_noise"),
    ("critic.rff_dim", "config.psi_critic.rff_dim"), ("critic.hidden", "config.mlp_critic.hidden"),
    ("baselines.model_width", "config.trajectory_model.width"), ("baselines.planner_noise", "config.planner.noise"),
    ("baselines.guidance_lr", "config.polygrad.guidance_lr"),
    ("representation.updates_per_step", "config.representation.steps_per_update"),
])
def test_an_old_field_name_gets_one_line_naming_the_new_one(old, new):
    assert _message(lambda: get_field(default_config(), old)) == f"config.{old} was renamed: write {new}"


def _first_generation_run(logdir):
    os.makedirs(logdir)
    saved = {"run": {"agent": "diffsr_td3", "total_steps": 400, "num_seeds": 1},
             "env": {"name": "gymnax/Pendulum-v1"},
             "actor_critic": {"gamma": 0.9, "policy_delay": 3, "expl_noise": 0.3, "alpha_lr": 0.5},
             "critic": {"rff_dim": 7, "hidden": [5], "activation": "elu", "reads": "target"},
             "representation": {"updates_per_step": 2},
             "baselines": {"model_width": 9, "num_candidates": 4, "lam": 0.5}}
    with open(os.path.join(logdir, "config.json"), "w") as f:
        json.dump(saved, f)
    return saved


def test_a_first_generation_config_is_read_with_its_fields_moved(tmp_path):
    c = stored_config(_first_generation_run(tmp_path / "run"))
    assert (c.actor_critic.gamma, c.td3.policy_delay, c.td3.expl_noise, c.sac.alpha_lr) == (0.9, 3, 0.3, 0.5)
    assert (c.psi_critic.rff_dim, c.mlp_critic.hidden, c.psi_critic.activation, c.mlp_critic.activation) == (
        7, (5,), "elu", "elu")
    assert (c.psi_critic.reads, c.representation.steps_per_update, c.trajectory_model.width, c.planner.num_candidates,
            c.polygrad.lam) == ("target", 2, 9, 4, 0.5)
    assert "critic" not in c and "baselines" not in c and "policy_delay" not in c.actor_critic


def test_a_first_generation_run_is_refused_in_one_line_where_its_checkpoints_would_load(tmp_path):
    logdir = str(tmp_path / "run")
    _first_generation_run(logdir)
    message = _message(lambda: plan_run(preset("diffsr_td3"), logdir, resume=True))
    assert message.startswith(f"--resume: the run in {logdir} was written before the config groups were split")
    assert f"git checkout {legacy.LAST_FIRST_GENERATION}" in message and "\n" not in message
    assert "cannot be evaluated" in _message(lambda: stored_run(logdir, use="evaluated"))
    stored_run(logdir)  # reading its config (the report does) is fine


def test_every_committed_run_config_still_reads_and_validates():
    paths = glob.glob(os.path.join(ROOT, "results", "runs", "**", "config.json"), recursive=True)
    assert len(paths) >= 10
    for path in paths:
        with open(path) as f:
            saved = json.load(f)
        config = stored_config(saved)
        validate_config(config)
