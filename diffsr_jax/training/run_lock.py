"""One writer per run directory: an OS file lock held by the process that writes a run, for as long as it lives.

``RunLock(logdir)`` takes ``flock(LOCK_EX | LOCK_NB)`` on ``<logdir>/.writer.lock`` and writes the holder (host, pid,
start time) into it. The kernel drops the lock when the process ends, however it ends (a killed run never blocks its
own ``--resume``). A second writer, from this machine or another one that shares the filesystem, gets
``RunLockedError`` naming the holder, before it changes anything in the directory; the launchers print that line and
exit 2. Readers (``experiments.evaluate``, reports) take no lock.

On a network filesystem the lock is only as good as the filesystem's: NFS maps ``flock`` to its byte-range locks,
which hold across machines while its lock manager runs; a filesystem without working locks (an NFS mount with
``nolock``, some FUSE mounts) grants every caller the lock, and then nothing stops a second writer.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time

from diffsr_jax.fields import ConfigError

LOCK_NAME = ".writer.lock"


class RunLockedError(ConfigError):
    """Another live process holds the run directory's writer lock."""


class RunLock:
    """The writer lock of ``logdir`` (created if missing); a context manager, or ``acquire`` / ``release``."""

    def __init__(self, logdir: str):
        self.logdir = logdir
        self.path = os.path.join(logdir, LOCK_NAME)
        self._fd = None

    def acquire(self) -> "RunLock":
        if os.path.exists(self.logdir) and not os.path.isdir(self.logdir):
            raise ConfigError(f"log dir {self.logdir!r} is a file; pass --logdir=<a folder for the run>")
        try:
            os.makedirs(self.logdir, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise ConfigError(f"log dir {self.logdir!r} is not writable ({e.strerror}); pass --logdir=<a writable "
                              "path>") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunLockedError(
                f"log dir {self.logdir!r} is being written by {holder}; wait for that run to end (or stop it) before "
                "writing it again, or choose another --logdir") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                 "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    """'pid P on host H since T' from the lock file, or a plain description where it cannot be read."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        h = json.loads(os.read(fd, 4096).decode() or "{}")
        return f"pid {h['pid']} on host {h['host']} since {h['started']}"
    except (OSError, ValueError, KeyError):
        return "another process"
