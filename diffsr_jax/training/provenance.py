"""Which code trained a run: one line of ``provenance.jsonl`` per start or resume of the run.

Each line is ``{"started", "from_frames", "version", "revision", "dirty"}``: the time, the env frame the run
(re)started from, the package version, and the git commit of the diffsr-jax checkout with whether its tracked files
had uncommitted changes. ``revision`` and ``dirty`` are None when the package is not a git checkout (an installed
wheel) or git is missing. A run resumed by newer code has one line per revision, in order.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import diffsr_jax
from diffsr_jax.logging.files import read_jsonl

FILENAME = "provenance.jsonl"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(diffsr_jax.__file__))


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", _PACKAGE_DIR, *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_revision() -> dict:
    """{"version", "revision" (full commit hash or None), "dirty" (bool or None)} of the running diffsr-jax."""
    revision = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if revision else None
    return {"version": diffsr_jax.__version__, "revision": revision,
            "dirty": None if status is None else bool(status)}


def short(entry: dict) -> str:
    """'<12 hex>', '<12 hex>+dirty', or 'version <v> (no git revision)' for one provenance entry."""
    if not entry.get("revision"):
        return f"version {entry.get('version', '?')} (no git revision)"
    return entry["revision"][:12] + ("+dirty" if entry.get("dirty") else "")


def record_start(logdir: str, from_frames: int) -> dict:
    """Append this start (or resume, from env frame ``from_frames``) of the run in ``logdir``; returns the entry.
    Lines of starts past ``from_frames`` (a resume from an older checkpoint) are dropped with the work they did."""
    entry = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "from_frames": int(from_frames), **code_revision()}
    kept = [e for e in read(logdir) if e["from_frames"] < from_frames] if from_frames > 0 else []
    with open(os.path.join(logdir, FILENAME), "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in kept + [entry])
    return entry


def read(logdir: str) -> list[dict]:
    """The run's provenance entries in order; [] for a run made before provenance was recorded."""
    path = os.path.join(logdir, FILENAME)
    if not os.path.exists(path):
        return []
    return read_jsonl(path)


def trained_by(logdir: str, frames: int) -> dict | None:
    """The entry of the start that trained the run up to its checkpoint at env frame ``frames``, or None."""
    before = [e for e in read(logdir) if e["from_frames"] < frames]
    return before[-1] if before else None


def revision_note(entry: dict | None) -> str | None:
    """A one-line caution when the code now running is not the code that trained a checkpoint (``entry``, from
    ``trained_by``; then evaluation episodes may differ from the ones the run logged), or when it records none."""
    now = code_revision()
    if entry is None:
        return ("note: this run records no code revision (it was made before diffsr-jax recorded one); if older "
                "code trained it, its logged returns may come from other evaluation episodes")
    if entry.get("revision") and now["revision"] and entry["revision"] != now["revision"]:
        return (f"note: code {short(entry)} trained this checkpoint and this is {short(now)}; if evaluation changed in "
                "between, the episodes differ from the ones the run logged")
    return None
