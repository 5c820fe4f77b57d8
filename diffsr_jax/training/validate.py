"""Whole-config validation before anything compiles: each problem is one line naming the fix."""

from __future__ import annotations

import os

from diffsr_jax.envs.registry import validate_env_name


class ConfigError(ValueError):
    """A bad config value; the message is one line that names the problem and the fix."""


def _positive_int(config, name, allow_zero=False):
    v = config[name]
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"config.{name} must be an integer, got {v!r}")
    if v < 0 or (v == 0 and not allow_zero):
        raise ConfigError(f"config.{name} must be {'>= 0' if allow_zero else '> 0'}, got {v}")


def validate_config(config) -> None:
    from diffsr_jax.agents.registry import AGENTS, unknown_agent_message

    if config.agent not in AGENTS:
        raise ConfigError(unknown_agent_message(config.agent))
    entry = AGENTS[config.agent]
    try:
        validate_env_name(config.env)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    for name in ("total_steps", "eval_every", "eval_episodes", "num_envs", "updates_per_step", "batch_size",
                 "buffer_size", "num_seeds"):
        _positive_int(config, name)
    for name in ("warmup_steps", "episode_length", "seed"):
        _positive_int(config, name, allow_zero=True)
    _validate_loop(config)
    for name in ("actor_lr", "critic_lr"):
        if not config[name] > 0:
            raise ConfigError(f"config.{name} must be > 0, got {config[name]}")
    if not 0.0 <= config.gamma <= 1.0:
        raise ConfigError(f"config.gamma must be in [0, 1], got {config.gamma}")
    if not 0.0 < config.tau <= 1.0:
        raise ConfigError(f"config.tau must be in (0, 1], got {config.tau}")
    if "init_alpha" in hparam_names_of(config) and not config.init_alpha > 0:
        raise ConfigError(f"config.init_alpha must be > 0, got {config.init_alpha}")
    if config.actor_q_reduce not in ("q1", "mean", "min"):
        raise ConfigError(f"config.actor_q_reduce must be one of q1, mean, min; got {config.actor_q_reduce!r}")
    for name in ("target_update_every", "policy_delay", "checkpoint_every", "keep_checkpoints"):
        _positive_int(config, name)
    if config.nan_policy not in ("stop", "drop"):
        raise ConfigError(f"config.nan_policy must be one of stop, drop; got {config.nan_policy!r}")
    _validate_env_options(config)
    if entry.representation:
        _validate_diffsr(config)
    if entry.trajectory_model:
        _validate_trajectory_model(config)


def hparam_names_of(config) -> tuple:
    from diffsr_jax.agents.registry import hparam_names

    return hparam_names(config)


def _validate_loop(config) -> None:
    """Action repeat, auto-reset, and the replay against the batch it must serve (configs saved before these
    fields existed pass with their defaults)."""
    from diffsr_jax.envs import AUTO_RESET_MODES
    from diffsr_jax.training.budget import frames_per_iteration, replay_capacity

    for name, default in (("action_repeat", 1), ("reset_pool_size", 16), ("reset_pool_refill", 256)):
        v = config.get(name, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"config.{name} must be an integer >= 1, got {v!r}")
    if config.get("auto_reset", "pool") not in AUTO_RESET_MODES:
        raise ConfigError(f"config.auto_reset must be one of {', '.join(AUTO_RESET_MODES)}; got "
                          f"{config.get('auto_reset')!r}")
    fpi = frames_per_iteration(config)
    if config.total_steps < fpi:
        raise ConfigError(f"config.total_steps ({config.total_steps} env frames) must be at least num_envs x "
                          f"action_repeat ({fpi}), the frames of one iteration")
    fixed = config.get("replay_capacity", 0)
    if isinstance(fixed, bool) or not isinstance(fixed, int) or fixed < 0:
        raise ConfigError(f"config.replay_capacity must be an integer >= 0 (0: derived), got {fixed!r}")
    capacity = replay_capacity(config)
    if config.batch_size > capacity:
        raise ConfigError(f"config.batch_size ({config.batch_size:,}) is larger than the replay, which holds "
                          f"{capacity:,} transitions (min of buffer_size and the run's transitions): pass "
                          f"--config.batch_size<={capacity:,} or a larger --config.buffer_size")


def _validate_env_options(config) -> None:
    """Partial observability and early termination (configs saved before these fields existed pass)."""
    from diffsr_jax.envs.pomdp import pomdp_supported, pomdp_supported_names
    from diffsr_jax.envs.registry import BRAX_EARLY_TERMINATION

    history = config.get("pomdp_history", 3)
    if isinstance(history, bool) or not isinstance(history, int) or history < 1:
        raise ConfigError(f"config.pomdp_history must be an integer >= 1, got {history!r}")
    if config.get("pomdp", False) and not pomdp_supported(config.env):
        raise ConfigError(f"config.pomdp=True: the velocity layout of {config.env} is unknown; use one of "
                          f"{', '.join(pomdp_supported_names())} or set config.pomdp=False")
    if not config.get("early_termination", True):
        family, _, name = config.env.partition("/")
        if family != "brax" or name not in BRAX_EARLY_TERMINATION:
            raise ConfigError(f"config.early_termination=False: {config.env} has no termination on falling to turn "
                              f"off (it applies to brax/{', brax/'.join(BRAX_EARLY_TERMINATION)}); drop it")


def _choice(config, name, choices):
    if config[name] not in choices:
        raise ConfigError(f"config.{name} must be one of {', '.join(choices)}; got {config[name]!r}")


def _validate_diffsr(config) -> None:
    from diffsr_jax.diffusion import PARAMETERIZATIONS, SCHEDULE_KINDS
    from diffsr_jax.networks.activations import ACTIVATIONS
    from diffsr_jax.networks.rff import RFF_KINDS
    from diffsr_jax.representation.networks import ARCHS, LEVEL_INPUTS

    _choice(config, "rep_arch", ARCHS)
    _choice(config, "level_input", LEVEL_INPUTS)
    _choice(config, "schedule", SCHEDULE_KINDS)
    _choice(config, "parameterization", PARAMETERIZATIONS)
    _choice(config, "rff_kind", RFF_KINDS)
    _choice(config, "critic_rep", ("online", "target"))
    _choice(config, "rep_activation", tuple(ACTIVATIONS))
    _choice(config, "critic_activation", tuple(ACTIVATIONS))
    for name in ("feature_dim", "num_levels", "rep_updates_per_step", "rff_dim", "rff_hidden", "rep_res_width",
                 "rep_enc_hidden", "rep_enc_out", "level_embed_dim"):
        _positive_int(config, name)
    _positive_int(config, "rep_res_blocks", allow_zero=True)
    if config.schedule == "beta_cdf" and config.num_levels < 3:
        raise ConfigError("config.num_levels must be >= 3 for the beta_cdf schedule")
    if config.level_input == "embedding" and config.level_embed_dim % 2:
        raise ConfigError(f"config.level_embed_dim must be even, got {config.level_embed_dim}")
    if not config.rep_lr > 0:
        raise ConfigError(f"config.rep_lr must be > 0, got {config.rep_lr}")
    if not config.noise_scale > 0:
        raise ConfigError(f"config.noise_scale must be > 0, got {config.noise_scale}")
    if config.reward_weight < 0:
        raise ConfigError(f"config.reward_weight must be >= 0, got {config.reward_weight}")
    if config.critic_grad_to_rep and config.critic_rep == "target":
        raise ConfigError("config.critic_grad_to_rep=True trains psi through the critic, so the critic must read "
                          "the online psi: set config.critic_rep=online")


def _validate_trajectory_model(config) -> None:
    from diffsr_jax.diffusion import SCHEDULE_KINDS

    _choice(config, "model_schedule", SCHEDULE_KINDS)
    for name in ("denoise_steps", "model_width", "model_layers", "time_embed_dim", "model_batch"):
        _positive_int(config, name)
    _positive_int(config, "horizon")
    if config.horizon < 2:
        raise ConfigError(f"config.horizon must be >= 2 (a trajectory needs a next state), got {config.horizon}")
    if config.time_embed_dim % 2:
        raise ConfigError(f"config.time_embed_dim must be even, got {config.time_embed_dim}")
    for name in ("model_lr", "x0_clip"):
        if not config[name] > 0:
            raise ConfigError(f"config.{name} must be > 0, got {config[name]}")
    if config.agent == "polygrad":
        _positive_int(config, "imagined_batch")
        _choice(config, "guidance_type", ("grad", "sample"))
        for name in ("guidance_scale", "action_clip_std"):
            if not config[name] > 0:
                raise ConfigError(f"config.{name} must be > 0, got {config[name]}")
        if not 0.0 <= config.lam <= 1.0:
            raise ConfigError(f"config.lam must be in [0, 1], got {config.lam}")
        _choice(config, "actor_std", ("global", "state"))
        if not 0.0 < config.min_std < config.init_std:
            raise ConfigError(f"config.min_std and config.init_std must satisfy 0 < min_std < init_std, got "
                              f"{config.min_std} and {config.init_std}")
        if not 0.0 <= config.model_ema < 1.0:
            raise ConfigError(f"config.model_ema must be in [0, 1) (0 samples from the live model), got "
                              f"{config.model_ema}")
    else:
        _positive_int(config, "num_candidates")


def check_logdir(logdir: str, resume: bool = False, overwrite: bool = False) -> None:
    """Create ``logdir`` if needed and prove it is writable, or raise ConfigError. An existing non-empty
    ``logdir`` is refused unless ``resume`` (continue it) or ``overwrite`` (replace it) is given."""
    if os.path.isdir(logdir) and os.listdir(logdir) and not (resume or overwrite):
        raise ConfigError(f"log dir {logdir!r} already holds a run; pass --resume to continue it, --overwrite to "
                          "replace it, or choose another --logdir")
    if resume and not os.path.exists(os.path.join(logdir, "config.json")):
        raise ConfigError(f"--resume: {logdir!r} holds no run (no config.json); drop --resume to start a new one")
    if overwrite and not resume and os.path.isdir(logdir):
        import shutil

        for name in os.listdir(logdir):
            path = os.path.join(logdir, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    try:
        os.makedirs(logdir, exist_ok=True)
        probe = os.path.join(logdir, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ConfigError(f"log dir {logdir!r} is not writable ({e.strerror}); pass --logdir=<a writable path>") from None
