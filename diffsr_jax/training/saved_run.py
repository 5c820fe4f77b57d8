"""A run read back from its log dir: its config, members and one checkpoint's policy, without writing anything there.

The run may still be training: its checkpoints are opened read-only, and only the leaves a policy needs (agent
state, observation statistics, PRNG key) are read, with the replay buffer where asked for, never the env states.
"""

from __future__ import annotations

import dataclasses
import os

import jax

from diffsr_jax.training.checkpoint import Checkpointer
from diffsr_jax.training.members import make_members, parse_sweeps
from diffsr_jax.program.trainer import RunnerState, Trainer
from diffsr_jax.fields import ConfigError
from diffsr_jax.training.plan import stored_run

POLICY_FIELDS = (".agent", ".obs_stats", ".key")  # the RunnerState fields a policy (and its evaluation key) needs


@dataclasses.dataclass
class SavedRun:
    """``runner`` is vmapped over ``members`` (M,) and holds only the policy fields, and the replay buffer where it was
    asked for (the others are None); ``keys`` (M, 2) and ``hp`` (leaves (M,)) are the members' run keys and traced
    hyperparameters, as the run started from them."""

    logdir: str
    config: object
    members: list
    keys: jax.Array
    hp: dict
    trainer: Trainer
    iteration: int
    runner: RunnerState

    @property
    def frames(self) -> int:
        return self.iteration * self.trainer.frames_per_iter

    def narrowed(self, members: list) -> "SavedRun":
        """This run with only ``members`` (some of its members, in that order): every leaf of the member axis
        indexed, so that member k of the result is the run's member ``members[k]``. ValueError for a member the run
        does not hold."""
        missing = [m for m in members if m not in self.members]
        if missing:
            raise ValueError(f"{self.logdir} holds no member {missing[0]} (its members: {self.members})")
        index = jax.numpy.asarray([self.members.index(m) for m in members])
        take = lambda leaf: leaf[index]  # noqa: E731
        return dataclasses.replace(self, members=list(members), keys=take(self.keys),
                                   hp=jax.tree_util.tree_map(take, self.hp),
                                   runner=jax.tree_util.tree_map(take, self.runner))


def _no_checkpoint_yet(logdir: str, config) -> ConfigError:
    return ConfigError(f"the run in {logdir} has no checkpoint yet (checkpoints are written every "
                       f"{int(config.run.checkpoint_every):,} env frames); evaluate it after its first one")


def load_saved_run(logdir: str, frames: int | None = None, env=None, replay: bool = False) -> SavedRun:
    """The policy of every member at the checkpoint of env frame ``frames`` (None: the newest readable one), with
    each member's replay buffer when ``replay``. Raises ConfigError with one line when ``logdir`` has no run, no
    checkpoint, or none at ``frames``."""
    config, specs = stored_run(logdir, use="evaluated")
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
        fields = POLICY_FIELDS + ((".buffer",) if replay else ())
        policy = lambda path: path.startswith(fields)  # noqa: E731
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
    runner = runner.replace(env_state=None, reset_pool=None, buffer=runner.buffer if replay else None)
    return SavedRun(logdir, config, members, keys, hp, trainer, int(iteration), runner)
