"""The checks every group validator uses; each failure is a ``ConfigError`` of one line naming the field and the fix."""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad config value; the message is one line that names the problem and the fix."""


class Fields:
    """Checks on the fields of one config group, named ``config.<path>.<field>`` in the messages."""

    def __init__(self, group, path: str):
        self.group, self.path = group, path

    def fail(self, name: str, what: str):
        raise ConfigError(f"config.{self.path}.{name}{'' if what.startswith('=') else ' '}{what}")

    def integer(self, *names: str, minimum: int = 1) -> None:
        for name in names:
            v = self.group[name]
            if isinstance(v, bool) or not isinstance(v, int):
                self.fail(name, f"must be an integer, got {v!r}")
            if v < minimum:
                self.fail(name, f"must be an integer >= {minimum}, got {v}")

    def positive(self, *names: str) -> None:
        for name in names:
            if not self.group[name] > 0:
                self.fail(name, f"must be > 0, got {self.group[name]}")

    def within(self, name: str, low: float, high: float, low_open: bool = False, high_open: bool = False) -> None:
        v = self.group[name]
        if not ((low < v) if low_open else (low <= v)) or not ((v < high) if high_open else (v <= high)):
            self.fail(name, f"must be in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}, got {v}")

    def choice(self, name: str, choices) -> None:
        if self.group[name] not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}; got {self.group[name]!r}")
