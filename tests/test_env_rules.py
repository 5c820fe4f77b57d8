"""Each rule on the env settings is checked in one place (``envs.rules``; ``pomdp_history``: ``envs.pomdp``) with one
message: the config validator and the env factory raise the same ``ConfigError`` from the same function, and with
that function switched off neither path refuses the setting (no second copy of the rule anywhere)."""

import numpy as np
import pytest

from diffsr_jax.config import default_config, validate_config
from diffsr_jax.envs import pomdp, rules
from tests.helpers import PointMass
from diffsr_jax.envs.config import validate_env
from diffsr_jax.envs.families import ENV_FAMILIES, EnvFamily
from diffsr_jax.envs.registry import make_env
from diffsr_jax.fields import ConfigError

# rule -> (its module, env settings that break it, the message it raises)
CASES = {
    "check_early_termination": (rules, {"name": "gymnax/Pendulum-v1", "early_termination": False},
                                "config.env.early_termination=False: gymnax/Pendulum-v1 has no termination on falling "
                                "to turn off (it applies to no env of its family); drop it"),
    "check_pomdp": (rules, {"name": "playground/SwimmerSwimmer6", "pomdp": True},
                    "config.env.pomdp=True: the velocity layout of playground/SwimmerSwimmer6 is unknown; use one of "
                    "brax/ant, "),
    "check_physics": (rules, {"name": "gymnax/Pendulum-v1", "physics": "light"},
                      "config.env.physics=light: the MuJoCo solver settings apply to Brax's mjx backend and "
                      "Playground envs, not gymnax/Pendulum-v1; use native or auto"),
    "check_backend": (rules, {"name": "brax/hopper", "backend": "bullet"},
                      "config.env.backend must be one of mjx, generalized, positional, spring; got 'bullet'"),
    "check_action_repeat": (rules, {"action_repeat": 0}, "config.env.action_repeat must be an integer >= 1, got 0"),
    "check_history": (pomdp, {"pomdp": True, "pomdp_history": 0},
                      "config.env.pomdp_history must be an integer >= 1, got 0"),
}


def _config(settings):
    c = default_config()
    c.env.update(settings)
    return c


def _factory(settings):
    e = _config(settings).env
    return make_env(e.name, e.backend, 5, early_termination=e.early_termination, pomdp=e.pomdp,
                    pomdp_history=e.pomdp_history, action_repeat=e.action_repeat, physics=e.physics, impl=e.impl)


def _message(call):
    with pytest.raises(ConfigError) as e:
        call()
    return str(e.value)


@pytest.mark.parametrize("rule", CASES)
def test_validator_and_factory_raise_the_same_one_line_message(rule):
    _, settings, expected = CASES[rule]
    by_validator = _message(lambda: validate_config(_config(settings)))
    by_factory = _message(lambda: _factory(settings))
    assert by_validator == by_factory
    assert by_validator.startswith(expected) and "\n" not in by_validator


@pytest.mark.parametrize("rule", CASES)
def test_the_message_comes_from_the_rule_function(rule, monkeypatch):
    module, settings, _ = CASES[rule]

    def sentinel(*args, **kwargs):
        raise ConfigError(f"sentinel {rule}")

    monkeypatch.setattr(module, rule, sentinel)
    assert _message(lambda: validate_config(_config(settings))) == f"sentinel {rule}"
    assert _message(lambda: _factory(settings)) == f"sentinel {rule}"


@pytest.mark.parametrize("rule,settings", [
    ("check_early_termination", {"early_termination": False}), ("check_pomdp", {"pomdp": True}),
    ("check_physics", {"physics": "light"}), ("check_backend", {"backend": "c"}),
    ("check_action_repeat", {"action_repeat": 0}), ("check_history", {"pomdp": True, "pomdp_history": 0}),
])
def test_with_the_rule_off_nothing_else_refuses_it(rule, settings, monkeypatch):
    """A family (cheap to build) where every rule applies: no falling, no light physics, two backends, no velocity
    layout (but for the history rule, which needs one). With one rule a no-op, the setting it refuses passes the env
    group's validator and builds (the rest of ``validate_config`` reads the env fields for other purposes, e.g. the
    run's budget in decisions)."""
    monkeypatch.setitem(ENV_FAMILIES, "toy", EnvFamily(
        names=lambda: ("point",), build=lambda name, backend, max_steps, et: PointMass(max_steps),
        pomdp_supported=lambda name: rule == "check_history", velocity_indices=lambda env, name: np.array([1]),
        backends=("a", "b")))
    settings = {"name": "toy/point", "backend": "a", "pomdp_history": 2, **settings}
    with pytest.raises(ConfigError):
        validate_env(_config(settings))
    module = pomdp if rule == "check_history" else rules
    monkeypatch.setattr(module, rule, lambda *args, **kwargs: None)
    validate_env(_config(settings))
    assert _factory(settings).name.startswith("toy/point")
