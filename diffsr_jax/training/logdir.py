"""The log dir of a run, checked before anything compiles: one line naming the fix for each problem."""

from __future__ import annotations

import os

from diffsr_jax.fields import ConfigError
from diffsr_jax.training.run_lock import LOCK_NAME


def check_logdir(logdir: str, resume: bool = False, overwrite: bool = False, prepare: bool = True) -> None:
    """Create ``logdir`` if needed and prove it is writable, or raise ConfigError. An existing non-empty
    ``logdir`` is refused unless ``resume`` (continue it) or ``overwrite`` (replace it) is given. ``prepare``
    False: only the refusals, nothing created or removed (the processes of a multi-process run other than the
    one that writes). The writer's lock file (``run_lock``) is not a run's: it neither makes ``logdir`` non-empty nor
    is removed."""
    if os.path.exists(logdir) and not os.path.isdir(logdir):
        raise ConfigError(f"log dir {logdir!r} is a file; pass --logdir=<a folder for the run>")
    if os.path.isdir(logdir) and _run_files(logdir) and not (resume or overwrite):
        raise ConfigError(f"log dir {logdir!r} already holds a run; pass --resume to continue it, --overwrite to "
                          "replace it, or choose another --logdir")
    if resume and not os.path.exists(os.path.join(logdir, "config.json")):
        raise ConfigError(f"--resume: {logdir!r} holds no run (no config.json); drop --resume to start a new one")
    if not prepare:
        return
    if overwrite and not resume and os.path.isdir(logdir):
        import shutil

        for name in _run_files(logdir):
            path = os.path.join(logdir, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    try:
        os.makedirs(logdir, exist_ok=True)
        probe = os.path.join(logdir, f".write_test.{os.getpid()}")  # one per process of a multi-process run
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ConfigError(f"log dir {logdir!r} is not writable ({e.strerror}); pass --logdir=<a writable path>") from None


def _run_files(logdir: str) -> list[str]:
    return [n for n in os.listdir(logdir) if n != LOCK_NAME]
