"""Checkpoints of the complete run state with orbax-checkpoint.

A checkpoint holds the whole vmapped ``RunnerState`` (parameters, optimizer states, targets, alpha, replay
buffer, env states, normaliser statistics, PRNG keys) plus JSON metadata (iteration, metrics rows written,
wall time). orbax writes each step to a temporary directory and renames it when complete, so a crash mid-write
leaves the previous checkpoint intact; the last ``max_to_keep`` are kept. ``restore_latest`` walks back from the
newest step and skips any that fail to load (a truncated or corrupt file), reporting what it skipped.
"""

from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp


class Checkpointer:
    def __init__(self, directory: str, max_to_keep: int = 3):
        self.directory = os.path.abspath(directory)
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                                 enable_async_checkpointing=False),
        )

    def save(self, iteration: int, state, meta: dict) -> None:
        """Write ``state`` (any pytree of arrays) and ``meta`` (JSON) as step ``iteration``; returns when on disk."""
        if iteration in self._manager.all_steps():  # a re-run of an iteration replaces its old checkpoint
            self._manager.delete(iteration)
        self._manager.save(iteration, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                              meta=ocp.args.JsonSave(meta)), force=True)
        self._manager.wait_until_finished()

    def steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def restore_latest(self, abstract_state, on_skip=None):
        """-> (iteration, state, meta) from the newest loadable checkpoint, or None if there is none.

        ``abstract_state``: a pytree of ``jax.ShapeDtypeStruct`` (e.g. from ``jax.eval_shape``) giving the
        structure to restore into. ``on_skip(step, error)`` is called for each checkpoint that fails to load.
        """
        for step in reversed(self.steps()):
            try:
                out = self._manager.restore(step, args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
                state = out["state"]
                jax.block_until_ready(state)
                return step, state, out["meta"]
            except Exception as e:  # noqa: BLE001 - any failure to read means: try the previous one
                if on_skip is not None:
                    on_skip(step, e)
        return None

    def close(self):
        self._manager.close()
