"""The run's configuration: named groups of fields, each with its defaults and its validator next to it.

    config.run             what to train, budgets in env frames, checkpoints     (run.py)
    config.env             env name, backend, action repeat, auto-reset, POMDP    (env.py)
    config.replay          replay size, batch, observation normalisation         (run.py)
    config.actor_critic    the base algorithm: SAC / TD3 / DDPG fields            (actor_critic.py)
    config.critic          the critic's heads: MLP on (s, a) or RFF on psi        (actor_critic.py)
    config.representation  psi, zeta and their score-matching objective           (representation.py)
    config.baselines       the sampling-based diffusion baselines                 (baselines.py)

Override any field as ``--config.<group>.<field>=value``. Which groups an agent reads is said by its registry entry
(``agents.registry.AGENTS``); only those are validated.
"""

from __future__ import annotations

import ml_collections

from diffsr_jax.config.actor_critic import (
    actor_critic_defaults,
    critic_defaults,
    validate_actor_critic,
    validate_critic,
)
from diffsr_jax.config.baselines import baselines_defaults, validate_baselines
from diffsr_jax.config.checks import ConfigError
from diffsr_jax.config.env import env_defaults, validate_env
from diffsr_jax.config.representation import representation_defaults, validate_representation
from diffsr_jax.config.run import replay_defaults, run_defaults, validate_replay, validate_run

GROUPS = {
    "run": (run_defaults, validate_run),
    "env": (env_defaults, validate_env),
    "replay": (replay_defaults, validate_replay),
    "actor_critic": (actor_critic_defaults, validate_actor_critic),
    "critic": (critic_defaults, validate_critic),
    "representation": (representation_defaults, validate_representation),
    "baselines": (baselines_defaults, validate_baselines),
}

__all__ = ["GROUPS", "ConfigError", "default_config", "get_field", "set_fields", "stored_config", "validate_config"]


def default_config() -> ml_collections.ConfigDict:
    """Every group with its defaults."""
    c = ml_collections.ConfigDict()
    for name, (defaults, _) in GROUPS.items():
        c[name] = defaults()
    return c


def stored_config(saved: dict) -> ml_collections.ConfigDict:
    """A run's config.json (grouped) as a config: its values over today's defaults, so a run started before a field
    existed resumes with that field's default (which is what the run did), or with ``legacy.BEFORE_FIELD``'s value
    where today's default would change what it computes."""
    from diffsr_jax.config.legacy import BEFORE_FIELD

    c = default_config()
    for (group, field), value in BEFORE_FIELD.items():
        if isinstance(saved.get(group), dict) and field not in saved[group]:
            c[group][field] = value
    for group, fields in saved.items():
        if group in c and isinstance(fields, dict):
            c[group].update(fields)
        else:
            c[group] = fields
    return c


def validate_config(config) -> None:
    """Every group the config's agent reads, before anything compiles; raises ConfigError (one line, the fix)."""
    from diffsr_jax.agents.registry import AGENTS, unknown_agent_message

    missing = [g for g in GROUPS if g not in config]
    if missing:
        raise ConfigError(f"the config has no group(s) {', '.join(missing)}: it was written before fields were "
                          "grouped; start from a preset (experiments/configs/<agent>.py)")
    if config.run.agent not in AGENTS:
        raise ConfigError(unknown_agent_message(config.run.agent))
    for group in ("run", "env", "replay", *AGENTS[config.run.agent].groups):
        GROUPS[group][1](config)


def get_field(config, name: str):
    """The value of ``name`` (``group.field``); ConfigError naming the valid fields of the group if there is none."""
    group, _, key = name.partition(".")
    if not key:
        from diffsr_jax.config.legacy import FLAT_TO_GROUPED

        if name in FLAT_TO_GROUPED:
            raise ConfigError(f"no config field {name!r}: config fields are grouped; write {FLAT_TO_GROUPED[name]}")
    if group not in config or not key or key not in config[group]:
        known = (f"config.{group} has: {', '.join(config[group].keys())}" if group in config else
                 f"groups are: {', '.join(config.keys())}")
        raise ConfigError(f"no config field {name!r} ({known})")
    return config[group][key]


def set_fields(config, values: dict) -> None:
    """Set ``{"group.field": value}`` on ``config`` (unlocked here); unknown names are a ConfigError."""
    for name, value in values.items():
        get_field(config, name)
        group, key = name.split(".")
        with config.unlocked():
            config[group][key] = value
