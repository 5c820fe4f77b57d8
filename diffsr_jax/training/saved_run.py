"""A run read back from its log dir: its config, members and one checkpoint's policy, without writing anything there.

The run may still be training: its checkpoints are opened read-only, and only the leaves a policy needs (agent
state, observation statistics, PRNG key) are read, not the replay buffer or the env states.
"""

from __future__ import annotations

import dataclasses
import json
import os

import jax

from diffsr_jax.config import stored_config
from diffsr_jax.training.checkpoint import Checkpointer
from diffsr_jax.training.members import make_members, parse_sweeps
from diffsr_jax.training.trainer import RunnerState, Trainer
from diffsr_jax.training.validate import ConfigError

POLICY_FIELDS = (".agent", ".obs_stats", ".key")  # the RunnerState fields a policy (and its evaluation key) needs


@dataclasses.dataclass
class SavedRun:
    """``runner`` is vmapped over ``members`` (M,) and holds only the policy fields (the others are None)."""

    logdir: str
    config: object
    members: list
    trainer: Trainer
    iteration: int
    runner: RunnerState

    @property
    def frames(self) -> int:
        return self.iteration * self.trainer.frames_per_iter


def read_run_files(logdir: str, use: str = "read"):
    """(stored config, sweep specs) of the run in ``logdir``; ConfigError naming the problem when it is not a run
    (``use``: what the caller would do with it, for the message)."""
    path = os.path.join(logdir, "config.json")
    if not os.path.exists(path):
        raise ConfigError(f"{logdir} holds no run (no config.json); pass the --logdir of a run of experiments.train")
    with open(path) as f:
        saved = json.load(f)
    if "run" not in saved:
        raise ConfigError(f"the run in {logdir} was written by an older version of diffsr-jax (its config has no "
                          f"field groups) and cannot be {use}; start a new run in another --logdir")
    sweep_path = os.path.join(logdir, "sweep.json")
    specs = json.load(open(sweep_path)) if os.path.exists(sweep_path) else []
    return stored_config(saved), specs


def _no_checkpoint_yet(logdir: str, config) -> ConfigError:
    return ConfigError(f"the run in {logdir} has no checkpoint yet (checkpoints are written every "
                       f"{int(config.run.checkpoint_every):,} env frames); evaluate it after its first one")


def load_saved_run(logdir: str, frames: int | None = None, env=None) -> SavedRun:
    """The policy of every member at the checkpoint of env frame ``frames`` (None: the newest readable one).
    Raises ConfigError with one line when ``logdir`` has no run, no checkpoint, or none at ``frames``."""
    config, specs = read_run_files(logdir)
    sweeps = parse_sweeps(specs)
    trainer = Trainer(config, env)
    members, keys, hp = make_members(config, trainer.default_hparams(), sweeps)
    directory = os.path.join(logdir, "checkpoints")
    if not os.path.isdir(directory):
        raise _no_checkpoint_yet(logdir, config)
    ckpt = Checkpointer(directory, read_only=True)
    try:
        steps = ckpt.steps()
        fpi = trainer.frames_per_iter
        if not steps:
            raise _no_checkpoint_yet(logdir, config)
        if frames is not None and (frames % fpi or frames // fpi not in steps):
            raise ConfigError(f"no checkpoint at env frame {frames:,} in {logdir}; checkpoints are at env frames "
                              f"{', '.join(f'{s * fpi:,}' for s in steps)} (or pass --step=latest)")
        abstract = jax.eval_shape(jax.vmap(trainer.init), keys, hp)
        policy = lambda path: path.startswith(POLICY_FIELDS)  # noqa: E731
        if frames is None:
            restored = ckpt.restore_latest(abstract, select=policy)
            if restored is None:
                raise ConfigError(f"none of the checkpoints in {directory} could be read")
            iteration, runner, _ = restored
        else:
            iteration = frames // fpi
            try:
                runner, _ = ckpt.restore(iteration, abstract, select=policy)
            except Exception as e:  # noqa: BLE001 - a corrupt or half-deleted checkpoint: one line, not a traceback
                raise ConfigError(f"the checkpoint at env frame {frames:,} in {logdir} cannot be read "
                                  f"({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''})") from None
    finally:
        ckpt.close()
    runner = runner.replace(env_state=None, reset_pool=None, buffer=None)
    return SavedRun(logdir, config, members, trainer, int(iteration), runner)
