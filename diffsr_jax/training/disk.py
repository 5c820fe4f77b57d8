"""Disk space for a run's files: a full disk recognised as such, and checkpoints that cannot fit refused up front.

A write that fails for lack of space surfaces in many shapes: ``OSError`` with ``ENOSPC`` / ``EDQUOT`` from Python,
or an exception from orbax / TensorStore whose text says ``No space left`` or ``RESOURCE_EXHAUSTED: Error writing``,
sometimes only as the cause of another exception. ``is_disk_full`` reads the whole chain, so the run stops with
``DiskFullError`` (exit 3: what is intact and how to continue) and never with the out-of-memory advice that a
``RESOURCE_EXHAUSTED`` would otherwise get.
"""

from __future__ import annotations

import errno
import os
import shutil

from diffsr_jax.fields import ConfigError
from diffsr_jax.training.memory import format_bytes

_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_TEXT = ("no space left", "disk quota exceeded", "error writing local file", "enospc")


class DiskFullError(RuntimeError):
    """A write of the run failed for lack of space; the message names the directory, the space and what is intact."""


class DiskSpaceError(ConfigError):
    """Before compiling: the run's checkpoints cannot fit in the free space of its log dir."""


def is_disk_full(e: BaseException | None) -> bool:
    """Whether ``e`` or any exception in its cause / context chain is a write that ran out of space."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _FULL_ERRNOS:
            return True
        if any(t in str(e).lower() for t in _FULL_TEXT):
            return True
        e = e.__cause__ or e.__context__
    return False


def free_bytes(path: str) -> int:
    """Free bytes on the filesystem holding ``path`` (or its nearest existing parent)."""
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return shutil.disk_usage(path).free


def tree_bytes(directory: str) -> int:
    """Bytes of the files under ``directory`` (0 if it does not exist)."""
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def check_checkpoint_space(directory: str, per_checkpoint: int, keep: int) -> str:
    """One line on the checkpoints' disk use; raises ``DiskSpaceError`` if ``keep`` checkpoints of ``per_checkpoint``
    bytes, plus the one being written before the oldest is deleted, cannot fit beside what ``directory`` holds."""
    held = tree_bytes(directory)
    need = (keep + 1) * per_checkpoint - held
    free = free_bytes(directory)
    line = (f"checkpoints: {format_bytes(per_checkpoint)} each, up to {keep + 1} on disk at once "
            f"({format_bytes(free)} free)")
    if need > free:
        raise DiskSpaceError(
            f"the run's checkpoints need {format_bytes((keep + 1) * per_checkpoint)} ({keep} kept + 1 being written, "
            f"{format_bytes(per_checkpoint)} each, replay included) in {directory}, but only {format_bytes(free)} is "
            "free there: free space, lower --config.run.keep_checkpoints or --config.replay.buffer_size, or choose "
            "another --logdir")
    return line
