"""Seeds as commands and reports name them: spans of consecutive seeds, and a label a reader reads.

A run trains seeds first .. first + n - 1 (``experiments.suite --seed --num_seeds``); runs in shards, and records
pairing some of a run's seeds (``experiments.q_regression``), hold any set of them.
"""

from __future__ import annotations


def seed_spans(seeds) -> list[tuple[int, int]]:
    """Seeds as (first, last) of each span of consecutive ones, in order: [0, 1, 2, 5] -> [(0, 2), (5, 5)]."""
    spans = []
    for s in sorted(seeds):
        if spans and s == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], s)
        else:
            spans.append((s, s))
    return spans


def seeds_label(seeds) -> str:
    """Seeds as a reader names them: "seed 2", "seeds 0-3", "seeds 0-1, 4"."""
    spans = ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in seed_spans(seeds))
    return f"seed {spans}" if len(seeds) == 1 else f"seeds {spans}"
