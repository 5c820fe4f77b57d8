"""Reading a run folder's JSON files (config.json, sweep.json, run.json, metrics.jsonl, provenance.jsonl).

A file that does not parse is a ``ConfigError`` of one line naming it, never a traceback: the user can restore it, and
the run's checkpoints are untouched. A JSON-lines file whose last line was cut short (a process killed while writing
it) reads as the lines before it: that line is what a resume writes again.
"""

from __future__ import annotations

import json

from diffsr_jax.fields import ConfigError


def damaged(path: str, what: str) -> ConfigError:
    """The one-line error for a run file that does not parse (``what``: where and why)."""
    return ConfigError(f"{path} is damaged ({what}): restore it from a copy (git, a backup), or move its run folder "
                       "aside and start again; its checkpoints are not touched")


def read_json(path: str, expect: type | None = None):
    """The JSON document in ``path``; ConfigError naming the file where it does not parse, or where it is not an
    ``expect`` (dict: an object, list: an array) when given."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise damaged(path, f"{e.msg}, line {e.lineno}") from None
    except UnicodeDecodeError:
        raise damaged(path, "not text") from None
    if expect is not None and not isinstance(doc, expect):
        raise damaged(path, f"not a JSON {'object' if expect is dict else 'array'}")
    return doc


def read_jsonl(path: str) -> list[dict]:
    """The rows of a JSON-lines file; a last line cut short is left out, a damaged line before it is a ConfigError."""
    try:
        with open(path) as f:
            lines = [(i, line) for i, line in enumerate(f, 1) if line.strip()]
    except UnicodeDecodeError:
        raise damaged(path, "not text") from None
    rows = []
    for i, line in lines:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            if i == lines[-1][0] and not line.endswith("\n"):
                break  # the last write was cut short
            raise damaged(path, f"{e.msg}, line {i}") from None
    return rows
