"""The run's configuration: one group of fields per component, each group's defaults and validation next to the
component it configures (a ``fields.ConfigGroup``), collected here.

    config.run               what to train, budgets in env frames, devices, checkpoints  (config/run.py)
    config.replay            replay size, batch, observation normalisation               (config/run.py)
    config.env               env name, backend, physics, action repeat, reset, POMDP     (envs/config.py)
    config.actor_critic      what every base shares: gamma, tau, learning rates, actor   (agents/actor_critic.py)
    config.sac / td3 / ddpg / drqv2  each base algorithm's own fields                    (agents/<base>.py)
    config.vae               the per-frame VAE whose latents diffsr_drqv2 reads          (agents/frame_features.py)
    config.mlp_critic        the MLP critic on concat(s, a)                              (agents/critics.py)
    config.psi_critic        the critic's heads on psi(s, a) (diffsr_* agents)          (agents/critics.py)
    config.representation    psi, zeta and their objective (score or flow matching)      (representation/config.py)
    config.optimism          an exploration bonus on psi in the TD target (diffsr_* agents) (agents/optimism.py)
    config.trajectory_model  the sampling-based baselines' trajectory diffusion model    (agents/trajectory_model.py)
    config.planner / polygrad  each baseline's own fields                                (agents/<baseline>.py)

Override any field as ``--config.<group>.<field>=value``. Which groups an agent reads is said by its registry entry
(``agents.registry.AGENTS``); only those are validated. Old names (the first groups') are refused with the new name
(``legacy``).
"""

from __future__ import annotations

import ml_collections

from diffsr_jax.agents.actor_critic import ACTOR_CRITIC
from diffsr_jax.agents.critics import MLP_CRITIC, PSI_CRITIC
from diffsr_jax.agents.diffusion_planner import PLANNER
from diffsr_jax.agents.frame_features import VAE_CONFIG
from diffsr_jax.agents.optimism import OPTIMISM, check_reader
from diffsr_jax.agents.polygrad import POLYGRAD
from diffsr_jax.agents.registry import AGENTS, BASES, unknown_agent_message
from diffsr_jax.agents.trajectory_model import TRAJECTORY_MODEL
from diffsr_jax.config import legacy
from diffsr_jax.config.run import REPLAY, RUN
from diffsr_jax.envs.config import env_defaults, validate_env
from diffsr_jax.fields import ConfigError, ConfigGroup
from diffsr_jax.representation.config import REPRESENTATION

ENV = ConfigGroup("env", env_defaults, validate_env, "the environment, how it is stepped and reset")
COMPONENT_GROUPS = (ACTOR_CRITIC, *(base.config for base in BASES.values()), MLP_CRITIC, PSI_CRITIC, REPRESENTATION,
                    OPTIMISM, TRAJECTORY_MODEL, PLANNER, POLYGRAD, VAE_CONFIG)  # each base's own group comes with its registry line
GROUPS = {g.name: g for g in (RUN, ENV, REPLAY, *COMPONENT_GROUPS)}
ALWAYS = ("run", "env", "replay")  # the groups every agent reads

__all__ = ["GROUPS", "ConfigError", "default_config", "get_field", "set_fields", "stored_config", "validate_config"]


def default_config() -> ml_collections.ConfigDict:
    """Every group with its defaults."""
    c = ml_collections.ConfigDict()
    for name, group in GROUPS.items():
        c[name] = group.defaults()
    return c


def stored_config(saved: dict) -> ml_collections.ConfigDict:
    """A run's config.json as a config: its values over today's defaults, so a run started before a field existed
    reads that field's default (which is what the run did), or ``legacy.BEFORE_FIELD``'s value where today's default
    would change what it computes. A config.json from before the groups were split is read with its fields moved
    (``legacy.split_groups``); whether such a run may resume is the run plan's question (``training.plan``)."""
    if legacy.is_first_generation(saved):
        saved = legacy.split_groups(saved)
    c = default_config()
    for (group, field), value in legacy.BEFORE_FIELD.items():
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
    missing = [g for g in ALWAYS if g not in config]
    if missing:
        raise ConfigError(f"the config has no group(s) {', '.join(missing)}: it was written before fields were "
                          "grouped; start from a preset (experiments/configs/<agent>.py)")
    if config.run.agent not in AGENTS:
        raise ConfigError(unknown_agent_message(config.run.agent))
    groups = (*ALWAYS, *AGENTS[config.run.agent].groups)
    missing = [g for g in groups if g not in config]
    if missing:
        raise ConfigError(f"the config has no group(s) {', '.join(missing)}, which {config.run.agent} reads: start "
                          "from a preset (experiments/configs/<agent>.py) or diffsr_jax.config.default_config()")
    check_observations(config)
    for group in groups:
        GROUPS[group].validate(config)
    if "optimism" in config:
        check_reader(config, "optimism" in groups)


def check_observations(config) -> None:
    """Pixel observations (``config.env.pixels``) go to an agent that reads pixels, state vectors to one that reads
    them, and pixels are not normalised by the running statistics (the agent's encoder scales them)."""
    pixels, agent = int(config.env.pixels), config.run.agent
    readers = sorted(name for name, entry in AGENTS.items() if entry.pixels)
    if pixels and not AGENTS[agent].pixels:
        raise ConfigError(f"config.env.pixels={pixels}: {agent} reads state vectors; use an agent that reads pixels "
                          f"({', '.join(readers)}) or pixels=0")
    if pixels and config.replay.normalize_obs:
        raise ConfigError(f"config.replay.normalize_obs=True: pixel observations are scaled by {agent}'s encoder, not "
                          "by running statistics; set it False")


def unknown_field_message(name: str, config=None) -> str:
    """One line for a field ``name`` (``group.field``, or an old flat name) that does not exist: where an old name
    lives now, or the fields its group has, or the groups."""
    config = config if config is not None else default_config()
    moved = legacy.new_name(name)
    if moved:
        return f"config.{name} was renamed: write {moved}"
    group, _, key = name.partition(".")
    if group in config and key:
        return f"config.{group} has no field {key!r}; it has: {', '.join(config[group].keys())}"
    return f"no config field {name!r}; the groups are: {', '.join(GROUPS)} (config.<group>.<field>)"


def get_field(config, name: str):
    """The value of ``name`` (``group.field``); ConfigError (``unknown_field_message``) if there is none."""
    group, _, key = name.partition(".")
    if group not in config or not key or key not in config[group]:
        raise ConfigError(unknown_field_message(name, config))
    return config[group][key]


def set_fields(config, values: dict) -> None:
    """Set ``{"group.field": value}`` on ``config`` (unlocked here); unknown names are a ConfigError."""
    for name, value in values.items():
        get_field(config, name)
        group, key = name.split(".")
        with config.unlocked():
            config[group][key] = value
