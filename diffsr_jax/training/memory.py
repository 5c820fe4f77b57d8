"""How much memory the replay takes, how much is free, and a one-line refusal when it cannot fit."""

from __future__ import annotations

import os

import jax

from diffsr_jax.data.layout import item_bytes, replay_layout
from diffsr_jax.fields import ConfigError


class ReplayMemoryError(ConfigError):
    """The replay of all members cannot fit in the free memory."""


def format_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000.0
    return ""


def free_memory_bytes() -> int | None:
    """Free memory where the replay lives: the accelerator's (bytes_limit - in use) or the host's MemAvailable."""
    dev = jax.local_devices()[0]  # this process's (in a run over several processes, device 0 may be another's)
    if dev.platform != "cpu":
        stats = dev.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def replay_memory(env, capacity: int, num_members: int, free: int | None) -> str:
    """One line stating the replay's size for all members (a transition's bytes as ``data.layout`` keeps it: pixel
    stacks as two uint8 frames); raises ReplayMemoryError (one line with the fix) if it cannot fit: a chunk of the
    compiled program holds its input and its output state, so twice the replay."""
    layout = replay_layout(env, 1)
    per = item_bytes(layout.example(jax.numpy.zeros(env.obs_shape, env.obs_dtype), env.action_dim))
    total = per * capacity * num_members
    line = (f"replay: {capacity:,} transitions x {num_members} member(s) x {per} B = {format_bytes(total)}"
            + (f" ({format_bytes(free)} free)" if free is not None else ""))
    if free is not None and 2 * total > free:
        raise ReplayMemoryError(
            f"the replay needs {format_bytes(total)} ({capacity:,} transitions x {num_members} member(s) x "
            f"{per} B), twice that while a chunk runs, but only {format_bytes(free)} is free: use fewer seeds "
            f"(--num_seeds) or a smaller --config.replay.buffer_size")
    return line
