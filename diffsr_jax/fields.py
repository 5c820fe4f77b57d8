"""The checks every config group's validator uses (each component owns its group: defaults and validation next to it);
each failure is a ``ConfigError`` of one line naming the field and the fix. The lowest layer: imports nothing of
ours."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax.numpy as jnp
import ml_collections


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

    def sizes(self, *names: str) -> None:
        """Layer widths: a sequence of integers >= 1 (``(256, 256)``)."""
        for name in names:
            v = self.group[name]
            if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__") or not all(
                    isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v):
                self.fail(name, f"must be layer widths, integers >= 1 such as 256,256; got {v!r}")

    def positive(self, *names: str) -> None:
        for name in names:
            if not self.group[name] > 0:
                self.fail(name, f"must be > 0, got {self.group[name]}")

    def within(self, name: str, low: float, high: float, low_open: bool = False, high_open: bool = False) -> None:
        v = self.group[name]
        if not ((low < v) if low_open else (low <= v)) or not ((v < high) if high_open else (v <= high)):
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            self.fail(name, f"must be in {lo}{low:g}, {high:g}{hi}, got {v}")

    def choice(self, name: str, choices) -> None:
        if self.group[name] not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}; got {self.group[name]!r}")


@dataclasses.dataclass(frozen=True)
class ConfigGroup:
    """One component's config group: ``config.<name>``, its ``defaults() -> ConfigDict`` and its ``validate(config)``
    (reads the whole config, for the few rules that span groups; raises ConfigError). Defined next to the component
    it configures and collected by ``diffsr_jax.config``."""

    name: str
    defaults: Callable[[], ml_collections.ConfigDict]
    validate: Callable[[ml_collections.ConfigDict], None]
    doc: str = ""


def traced_values(group, names) -> dict:
    """The fields ``names`` of a config group as float32 scalars: an agent's ``state.hp[<group>]``, traced so they can
    be vmapped (swept) inside one compiled program."""
    return {k: jnp.asarray(group[k], jnp.float32) for k in names}


class named:  # noqa: N801 (read as a function: named(hp).actor_critic.gamma)
    """A read-only view of a {group: {field: value}} mapping (an agent's traced ``hp``) by attribute:
    ``named(hp).actor_critic.gamma``. Only a view: ``hp`` itself stays the plain dict pytree that is vmapped, swept
    and checkpointed."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping):
        object.__setattr__(self, "_mapping", mapping)

    def __getattr__(self, name):
        try:
            value = self._mapping[name]
        except KeyError:
            raise AttributeError(f"no traced value {name!r}; there are: {', '.join(self._mapping)}") from None
        return named(value) if isinstance(value, dict) else value

    __getitem__ = __getattr__
