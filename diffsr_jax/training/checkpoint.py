"""Checkpoints of the complete run state with orbax-checkpoint, for whatever pytree the run state is.

A checkpoint holds the whole vmapped ``RunnerState`` (parameters, optimizer states, targets, replay buffer, env
states of any backend, reset pool, normaliser statistics, PRNG keys) plus JSON metadata (iteration, metrics rows
written, wall time).

The state is stored as a flat, ordered set of its leaves, not as its tree: leaf ``i`` is the array ``"%05d" % i``.
This makes the format independent of what the tree holds. Leaves with no elements (Brax MJX states carry
zero-size arrays, which orbax refuses to write) are not written and come back as zeros of their recorded shape;
empty sub-trees (``None``, ``{}``, ``()``) have no leaves and come back from the run's own tree structure; integer
and boolean leaves keep their dtype; typed PRNG keys are stored as their key data. The metadata records every
leaf's path, shape and dtype, so a checkpoint that does not match the run (other code, other sizes) is refused
with the first differing leaf named, instead of being loaded into the wrong places.

orbax writes each step to a temporary directory and renames it when complete, so a crash mid-write leaves the
previous checkpoint intact; the last ``max_to_keep`` are kept. A failed write raises ``CheckpointWriteError``
(one line: the path and the cause), or ``disk.DiskFullError`` where the disk ran out of space (the space needed and
free), and leaves the earlier checkpoints as they were. ``restore_latest`` walks back
from the newest step and skips any that fail to load (a truncated or corrupt file), reporting what it skipped.
"""

from __future__ import annotations

import glob
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from diffsr_jax.training.disk import DiskFullError, free_bytes, is_disk_full
from diffsr_jax.training.memory import format_bytes

FORMAT = "flat-leaves-v1"


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written; the message names the path and the cause."""


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's leaves do not match the run state it is restored into."""


def _is_key(x) -> bool:
    return jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def stored_bytes(state) -> int:
    """Bytes of the arrays a checkpoint of ``state`` (arrays or ``ShapeDtypeStruct``s) writes (its files are a little
    larger: metadata)."""
    total = 0
    for x in jax.tree_util.tree_leaves(state):
        if x.size:
            x = jax.eval_shape(jax.random.key_data, x) if _is_key(x) else x
            total += int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize
    return total


def leaf_spec(state) -> list[dict]:
    """Path, shape and dtype of every leaf of ``state`` (arrays or ``ShapeDtypeStruct``s), in flattening order."""
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    return [{"path": jax.tree_util.keystr(p), "shape": list(x.shape), "dtype": str(x.dtype)} for p, x in leaves]


def _stored(x):
    """What is written for leaf ``x`` (None: nothing, it has no elements)."""
    if x.size == 0:
        return None
    return jax.random.key_data(x) if _is_key(x) else x


def _abstract_stored(x, sharding=None):
    """What is read back for leaf ``x``: laid out by ``sharding`` (each process reads only its own shards), or
    without one on this process's first device, whatever devices the writer laid it over (a run may resume on
    another number of devices or be evaluated by one process; the caller lays the state out again)."""
    if x.size == 0:
        return None
    if _is_key(x):
        x = jax.eval_shape(jax.random.key_data, x)
    return jax.ShapeDtypeStruct(x.shape, x.dtype,
                                sharding=sharding or jax.sharding.SingleDeviceSharding(jax.local_devices()[0]))


def _rebuild(abstract_leaf, value):
    """The run-state leaf from what was stored (``value``; None for a leaf with no elements: zeros on the host,
    which the caller lays out)."""
    if _is_key(abstract_leaf):
        impl = abstract_leaf.dtype._impl  # the key implementation (public key_impl() wants a concrete key)
        if value is None:
            value = np.zeros(jax.eval_shape(jax.random.key_data, abstract_leaf).shape, np.uint32)
        return jax.random.wrap_key_data(value, impl=impl)
    return np.zeros(abstract_leaf.shape, abstract_leaf.dtype) if value is None else value


def spec_difference(saved: list[dict], wanted: list[dict]) -> str | None:
    """None if the two leaf specs agree, else a short description of the first difference."""
    for a, b in zip(saved, wanted):
        if a != b:
            return (f"leaf {b['path']} is {b['dtype']}{b['shape']} in this run but {a['dtype']}{a['shape']} at "
                    f"{a['path']} in the checkpoint")
    if len(saved) != len(wanted):
        return f"the checkpoint has {len(saved)} leaves, this run's state {len(wanted)}"
    return None


class Checkpointer:
    def __init__(self, directory: str, max_to_keep: int = 3, read_only: bool = False):
        """``read_only``: only read (e.g. a run that another process is still writing); never creates, deletes or
        cleans up anything in ``directory``."""
        from absl import logging

        self.directory = os.path.abspath(directory)
        verbosity = logging.get_verbosity()
        logging.set_verbosity(logging.ERROR if read_only else verbosity)  # orbax warns that read-only is read-only
        try:
            options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=not read_only, read_only=read_only,
                                                   enable_async_checkpointing=False)
            self._manager = ocp.CheckpointManager(self.directory, options=options)
        finally:
            logging.set_verbosity(verbosity)

    def save(self, iteration: int, state, meta: dict) -> None:
        """Write ``state`` (any pytree of arrays) and ``meta`` (JSON) as step ``iteration``; returns when on disk.
        Raises ``CheckpointWriteError`` if it cannot be written (earlier checkpoints are kept)."""
        leaves = jax.tree_util.tree_leaves(state)
        arrays = {f"{i:05d}": v for i, x in enumerate(leaves) if (v := _stored(x)) is not None}
        arrays["format"] = np.ones((1,), np.int32)  # never an empty dict
        meta = {**meta, "format": FORMAT, "leaves": leaf_spec(state)}
        path = os.path.join(self.directory, str(iteration))
        from absl import logging

        verbosity = logging.get_verbosity()
        logging.set_verbosity(logging.FATAL)  # a failure is raised below in one line, not logged by orbax as well
        try:
            if iteration in self._manager.all_steps():  # a re-run of an iteration replaces its old checkpoint
                self._manager.delete(iteration)
            self._manager.save(iteration, args=ocp.args.Composite(state=ocp.args.StandardSave(arrays),
                                                                  meta=ocp.args.JsonSave(meta)), force=True)
            self._manager.wait_until_finished()
        except Exception as e:  # noqa: BLE001 - any failure to write is reported the same way
            self._remove_partial(iteration)
            if is_disk_full(e):
                raise DiskFullError(
                    f"the disk is full: could not write the checkpoint {path} ({format_bytes(stored_bytes(state))} "
                    f"needed, {format_bytes(free_bytes(self.directory))} free in {self.directory})") from None
            cause = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}" if str(e) else type(e).__name__
            raise CheckpointWriteError(f"could not write the checkpoint {path} ({cause})") from e
        finally:
            logging.set_verbosity(verbosity)

    def _remove_partial(self, iteration: int) -> None:
        for tmp in glob.glob(os.path.join(self.directory, f"{iteration}.orbax-checkpoint-tmp*")):
            shutil.rmtree(tmp, ignore_errors=True)
        try:
            self._manager.reload()
        except Exception:  # noqa: BLE001
            pass

    def steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def restore(self, step: int, abstract_state, select=None, sharding=None):
        """-> (state, meta) of checkpoint ``step``. Raises ``CheckpointMismatchError`` if its leaves differ from
        ``abstract_state``'s (a pytree of ``jax.ShapeDtypeStruct``, e.g. from ``jax.eval_shape``).

        ``sharding``: how every leaf (members axis first) is read back, e.g. over the devices of all processes of
        the run (each reads its own shards); None: whole, on this process's first device.

        ``select(path) -> bool`` (path as ``jax.tree_util.keystr`` writes it, e.g. ``.agent.actor...``) reads only
        the leaves it picks; the others come back as None (e.g. the policy without the replay buffer)."""
        meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
        if meta.get("format") != FORMAT:
            raise CheckpointMismatchError(f"checkpoint {step} was written in another format ({meta.get('format')!r}, "
                                          f"this version reads {FORMAT!r})")
        diff = spec_difference(meta["leaves"], leaf_spec(abstract_state))
        if diff is not None:
            raise CheckpointMismatchError(f"checkpoint {step} does not match this run: {diff}")
        abstract_leaves, treedef = jax.tree_util.tree_flatten(abstract_state)
        picked = [select is None or select(spec["path"]) for spec in leaf_spec(abstract_state)]
        wanted = {f"{i:05d}": a for i, x in enumerate(abstract_leaves)
                  if picked[i] and (a := _abstract_stored(x, sharding)) is not None}
        replicated = None if sharding is None else jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
        wanted["format"] = _abstract_stored(jax.ShapeDtypeStruct((1,), np.int32), replicated)
        if select is None:
            restore = ocp.args.StandardRestore(wanted)
        else:  # only the picked leaves are read from disk
            restore = ocp.args.PyTreeRestore(
                wanted, restore_args=jax.tree_util.tree_map(lambda a: ocp.ArrayRestoreArgs(sharding=a.sharding), wanted),
                partial_restore=True)
        arrays = self._manager.restore(step, args=ocp.args.Composite(state=restore))["state"]
        leaves = [_rebuild(x, arrays.get(f"{i:05d}")) if picked[i] else None for i, x in enumerate(abstract_leaves)]
        state = jax.tree_util.tree_unflatten(treedef, leaves)
        jax.block_until_ready(state)
        return state, meta

    def restore_latest(self, abstract_state, on_skip=None, select=None, sharding=None):
        """-> (iteration, state, meta) from the newest loadable checkpoint, or None if there is none.

        ``on_skip(step, error)`` is called for each checkpoint that fails to load; ``select`` and ``sharding`` as in
        ``restore``."""
        for step in reversed(self.steps()):
            try:
                state, meta = self.restore(step, abstract_state, select, sharding)
                return step, state, meta
            except Exception as e:  # noqa: BLE001 - any failure to read means: try the previous one
                if on_skip is not None:
                    on_skip(step, e)
        return None

    def close(self):
        self._manager.close()
