"""What every launcher shares: bad input is one line on stderr and a non-zero exit, never a usage dump."""

from __future__ import annotations

import sys

from absl import flags


def fail(message: str, code: int = 2):
    """One clear line on stderr and exit ``code``."""
    sys.stderr.write(f"error: {message}\n")
    sys.exit(code)


def _last_line(e: BaseException | None) -> str:
    """The last non-empty line of an exception's message (config-file errors carry a whole traceback)."""
    lines = [x.strip() for x in str(e).splitlines() if x.strip()] if e is not None else []
    return lines[-1] if lines else ""


def parse_flags(argv):
    """absl's parser, but a bad flag is one line on stderr (no usage dump) and exit code 2. A ``--config`` file
    that does not load (missing, unknown preset, an error inside it) is reported the same way."""
    try:
        rest = flags.FLAGS(argv)
    except flags.Error as e:
        detail = _last_line(e.__context__) if "Error whilst parsing config file" in str(e) else ""
        fail(f"{str(e).splitlines()[0]}{' ' + detail if detail else ''} (see --helpshort)")
    if "config" in flags.FLAGS:
        try:
            flags.FLAGS.config.keys()  # a file that failed to load raises on first attribute access
        except Exception as e:  # noqa: BLE001 - any failure to load the file is the user's input
            given = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), "")
            fail(f"--config={given}: could not load it ({_last_line(e.__cause__ or e)}); pass a preset file such as "
                 "experiments/configs/sac.py:paper")
    return rest
