"""What every launcher shares: bad input is one line on stderr and a non-zero exit, never a usage dump."""

from __future__ import annotations

import sys

from absl import flags


def fail(message: str, code: int = 2):
    """One clear line on stderr and exit ``code``."""
    sys.stderr.write(f"error: {message}\n")
    sys.exit(code)


def parse_flags(argv):
    """absl's parser, but a bad flag is one line on stderr (no usage dump) and exit code 2."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        fail(f"{str(e).splitlines()[0]} (see --helpshort)")
