"""Preset files, one per agent (``<agent>.py``, ``get_config(preset)``), and ``load_preset`` to read them by name:
an agent ``diffsr_<base>`` with no file of its own is ``diffsr.py`` applied to ``<base>.py``."""

import importlib
import os

from diffsr_jax.fields import ConfigError

CONFIG_DIR = os.path.dirname(os.path.abspath(__file__))


def preset_path(agent: str, preset: str = "fast") -> str:
    """The ``--config`` value that loads ``agent``'s ``preset``."""
    own = os.path.join(CONFIG_DIR, f"{agent}.py")
    if os.path.exists(own):
        return f"{own}:{preset}"
    base = agent[len("diffsr_"):] if agent.startswith("diffsr_") else ""
    if base and os.path.exists(os.path.join(CONFIG_DIR, f"{base}.py")):
        return f"{os.path.join(CONFIG_DIR, 'diffsr.py')}:{base},{preset}"
    from diffsr_jax.agents.registry import AGENTS

    raise ConfigError(f"no preset file for agent {agent!r} in {CONFIG_DIR}; choose one of: {', '.join(sorted(AGENTS))}")


def load_preset(agent: str, preset: str = "fast"):
    """The ConfigDict of ``agent``'s ``preset`` (what ``--agent=<agent>`` or ``--config=<preset_path>`` loads)."""
    path, _, arg = preset_path(agent, preset).partition(":")
    module = importlib.import_module(f"experiments.configs.{os.path.basename(path)[:-3]}")
    try:
        return module.get_config(arg)
    except ConfigError:
        raise
    except ValueError as e:  # an unknown preset name
        raise ConfigError(f"{agent}: {e}") from None
