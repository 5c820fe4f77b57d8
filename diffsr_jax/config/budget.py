"""The units of a run: env frames, iterations, chunks, and the replay's size.

One iteration = one decision in each of ``num_envs`` envs = ``num_envs * action_repeat`` env frames. Budgets in the
config (``total_steps``, ``warmup_steps``, ``eval_every``, ``checkpoint_every``) count frames.
"""

from __future__ import annotations


def frames_per_iteration(config) -> int:
    """Env frames one iteration takes: a decision in each of ``num_envs`` envs, ``action_repeat`` frames each."""
    return int(config.env.num_envs) * int(config.env.action_repeat)


def iterations(config, frames: int) -> int:
    """Whole iterations in ``frames`` env frames (at least 1)."""
    return max(int(frames) // frames_per_iteration(config), 1)


def replay_capacity(config) -> int:
    """Transitions the replay holds: ``config.replay.capacity`` when the run fixed it at its first start, else
    ``min(buffer_size, transitions the run will collect)``."""
    fixed = config.replay.capacity
    if fixed:
        return int(fixed)
    transitions = (int(config.run.total_steps) // frames_per_iteration(config)) * int(config.env.num_envs)
    return int(min(config.replay.buffer_size, max(transitions, int(config.env.num_envs))))


def eval_schedule(total_iters: int, eval_every_iters: int) -> list[int]:
    """Chunk lengths: evaluate after every ``eval_every_iters`` iterations and at the end."""
    chunks, done = [], 0
    while done < total_iters:
        n = min(eval_every_iters, total_iters - done)
        chunks.append(n)
        done += n
    return chunks
