"""One way to prepare a run: (preset with overrides, sweeps, log dir, resume) -> a ``RunPlan`` every check has passed.

``experiments.train``, ``experiments.suite`` and ``experiments.evaluate`` parse flags, call these and print; none of
them validates, reconciles a resume or checks memory on its own. In order:

1. ``plan_run``: a new run's config validated once and fixed at its first start (replay capacity, physics); a
   resumed run's stored config (``stored_run``), with the fields the user asked for compared to it: only
   ``RESUMABLE_FIELDS`` may differ. No JAX computation, so the launcher may lay members over devices next.
2. ``prepare_run``: the sweeps checked against the agent's traced hyperparameters, the env built and the replay's
   memory checked (``training.memory``), still before anything compiles or the log dir is touched.

Every refusal is a ``ConfigError`` of one line naming the fix.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os

from diffsr_jax.agents.registry import hparam_names
from diffsr_jax.config import ConfigError, default_config, legacy, set_fields, stored_config, validate_config
from diffsr_jax.config.budget import frames_per_iteration, replay_capacity
from diffsr_jax.envs.families import resolve_physics
from diffsr_jax.envs.registry import make_env_from_config
from diffsr_jax.logging.files import damaged, read_json
from diffsr_jax.training.memory import free_memory_bytes, replay_memory
from diffsr_jax.training.members import parse_sweeps
from diffsr_jax.training.logdir import check_logdir

RESUMABLE_FIELDS = ("run.total_steps", "run.devices", "run.cpu_devices", "run.command_buffers")
"""What a resumed run may change: its budget and the devices it runs on."""
DERIVED_FIELDS = ("replay.capacity",)
"""Fixed at the first start, not chosen by the user."""


@dataclasses.dataclass
class RunPlan:
    config: object  # the ConfigDict that will run (validated; the stored one on resume)
    sweep_specs: list  # ["group.field=v1,v2", ...]
    logdir: str
    resume: bool

    @property
    def num_members(self) -> int:
        return int(self.config.run.num_seeds) * len(parse_sweeps(self.sweep_specs))


@dataclasses.dataclass
class PreparedRun:
    env: object  # the built env (``envs.base.Env``)
    sweeps: list  # [{"group.field": value}, ...], one per setting
    memory: str  # the replay's size, one line


def fix_at_first_start(config) -> None:
    """Fields a run fixes when it first starts, so config.json says what ran and a resume restores it: the replay's
    capacity (a resume with more steps keeps it) and the env's physics (``auto`` resolved to native or light)."""
    with config.unlocked():
        config.replay.capacity = replay_capacity(config)
        config.env.physics = resolve_physics(config.env.name, config.env.backend, config.env.physics)


def _refuse_older(logdir: str, use: str, why: str, rev: str):
    raise ConfigError(f"the run in {logdir} {why}, so its checkpoints hold another agent state and cannot be {use}; "
                      f"{use.rstrip('d')} it with diffsr-jax {rev} (git checkout {rev}) or start a new run in another "
                      "--logdir")


def stored_run(logdir: str, use: str = "read"):
    """(config, sweep specs) of the run in ``logdir``; ConfigError naming the problem when it is not a run or was
    written by a version whose agent state no longer matches (``use``: what the caller would do with it)."""
    path = os.path.join(logdir, "config.json")
    if not os.path.exists(path):
        raise ConfigError(f"{logdir} holds no run (no config.json); pass the --logdir of a run of experiments.train")
    saved = read_json(path, dict)
    if "run" not in saved:
        raise ConfigError(f"the run in {logdir} was written by an older version of diffsr-jax (its config has no "
                          f"field groups) and cannot be {use}; start a new run in another --logdir")
    if use != "read" and legacy.is_first_generation(saved):
        _refuse_older(logdir, use, "was written before the config groups were split per component",
                      legacy.LAST_FIRST_GENERATION)
    older = legacy.older_optimism(saved) if use != "read" else None
    if older:
        _refuse_older(logdir, use, *older)
    sweep_path = os.path.join(logdir, "sweep.json")
    specs = read_json(sweep_path, list) if os.path.exists(sweep_path) else []
    if not all(isinstance(s, str) for s in specs):
        raise damaged(sweep_path, "not a list of sweep specs")
    try:
        return stored_config(saved), specs
    except (TypeError, ValueError, AttributeError) as e:  # a value of the wrong type for its field
        raise damaged(path, str(e).splitlines()[0]) from None


def _field(config, name: str):
    group, _, key = name.partition(".")
    return config.get(group, {}).get(key) if key else config.get(group)


def _plain(v):
    return json.loads(json.dumps(v, default=list))


def resume_differences(saved, requested, fields, requested_sweeps, saved_sweeps) -> list[str]:
    """'field: saved -> requested' for every field in ``fields`` (those the user set) that differs from the stored
    run, but the resumable and derived ones; and the sweeps when ``requested_sweeps`` is not None."""
    defaults = default_config()
    diffs = []
    for k in fields:
        if k in RESUMABLE_FIELDS or k in DERIVED_FIELDS or _field(requested, k) is None:
            continue
        old = _field(saved, k)
        old = _field(defaults, k) if old is None else old
        if _plain(old) != _plain(_field(requested, k)):
            diffs.append(f"{k}: {_plain(old)!r} -> {_plain(_field(requested, k))!r}")
    if requested_sweeps is not None and list(requested_sweeps) != list(saved_sweeps):
        diffs.append(f"sweep: {list(saved_sweeps)} -> {list(requested_sweeps)}")
    return diffs


def plan_run(config, logdir: str, *, resume: bool = False, sweeps=None, requested=()) -> RunPlan:
    """The plan of a run in ``logdir``. ``config``: the preset with the user's overrides; ``sweeps``: the --sweep
    specs (None: not given); ``requested``: the ``group.field`` names the user set explicitly (on resume, those and
    the sweeps are compared with the stored run, and ``RESUMABLE_FIELDS`` among them are taken)."""
    if not resume:
        validate_config(config)
        fix_at_first_start(config)  # replay size and physics: what a resumed run restores
        return RunPlan(config, list(sweeps or []), logdir, resume=False)
    check_logdir(logdir, resume=True)
    try:
        saved, saved_sweeps = stored_run(logdir, use="continued")
    except ConfigError as e:
        raise ConfigError(f"--resume: {e}") from None
    diffs = resume_differences(saved, config, requested, sweeps, saved_sweeps)
    if diffs:
        raise ConfigError(f"--resume: the run in {logdir} was started with another config ({'; '.join(diffs)}); "
                          "only --total_steps and the devices may change on --resume: drop the other flags, or start "
                          "a new run in another --logdir")
    for k in RESUMABLE_FIELDS:
        if k in requested:
            group, field = k.split(".")
            saved[group][field] = config[group][field]
    try:
        validate_config(saved)
    except ConfigError as e:  # the stored config itself breaks a rule (edited by hand, or from an older version)
        raise ConfigError(f"--resume: the config.json of the run in {logdir}: {e}") from None
    ckpt_dir = os.path.join(logdir, "checkpoints")
    steps = [int(n) for n in os.listdir(ckpt_dir) if n.isdigit()] if os.path.isdir(ckpt_dir) else []
    reached = max(steps, default=0) * frames_per_iteration(saved)
    if saved.run.total_steps < reached:
        raise ConfigError(f"--resume: --total_steps={saved.run.total_steps:,} is below the {reached:,} env frames of the "
                          f"run's last checkpoint in {ckpt_dir}; pass --total_steps={reached:,} or more, or evaluate it "
                          "as it is (python -m experiments.evaluate)")
    return RunPlan(saved, list(saved_sweeps), logdir, resume=True)


def prepare_run(plan: RunPlan, env=None) -> PreparedRun:
    """The sweeps checked against the agent's traced hyperparameters, the env built (unless given) and the replay's
    memory checked. Builds agents and envs, so call it after the members are laid over devices."""
    config = plan.config
    sweeps = parse_sweeps(plan.sweep_specs, hparam_names(config))
    for setting in sweeps:  # each setting's values obey the rules of their fields (a rate > 0, gamma in [0, 1], ...)
        trial = copy.deepcopy(config)
        set_fields(trial, setting)
        try:
            validate_config(trial)
        except ConfigError as e:
            raise ConfigError(f"--sweep setting {', '.join(f'{k}={v:g}' for k, v in setting.items())}: {e}") from None
    if env is None:
        try:
            env = make_env_from_config(config)
        except ValueError as e:  # e.g. an env whose observations are not a flat array
            raise ConfigError(str(e).splitlines()[0]) from None
    memory = replay_memory(env, replay_capacity(config), config.run.num_seeds * len(sweeps), free_memory_bytes())
    return PreparedRun(env, sweeps, memory)
