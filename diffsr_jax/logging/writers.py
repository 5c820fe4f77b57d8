"""Writers for a run's log directory."""

from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np

from diffsr_jax.logging.files import read_jsonl


def _clean(v):
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


class RunLogger:
    """metrics.jsonl (one row per evaluation per seed) + TensorBoard scalars (seed-mean and per seed).

    Metric names carry their namespace (``train/``, ``eval/``, ``diag/``, ``run/``) everywhere: as row keys and as
    TensorBoard tags (``eval/return`` is the mean over members, ``eval/return/seed0`` one member)."""

    def __init__(self, logdir: str, tensorboard: bool = True, write: bool = True):
        """``write`` False: build the rows only (a process of a multi-process run other than the one that writes)."""
        self.logdir = logdir
        self.path = os.path.join(logdir, "metrics.jsonl")
        self.write = write
        self._tb = None
        if tensorboard and write:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(os.path.join(logdir, "tb"))

    def log(self, counters: dict, members: list, metrics: dict, extra: dict):
        """counters: {"frames": env frames per seed, "decisions": agent decisions per seed};
        members: one dict per vmapped run ({"seed": s} plus, in a sweep, {"setting": "name=value,..."});
        metrics: name -> (num_members,) array; extra: scalars shared by all members (wall time, speed)."""
        rows = []
        step = int(counters["frames"])
        for i, member in enumerate(members):
            row = {**{k: int(v) for k, v in counters.items()}, **member}
            row.update({k: _clean(np.asarray(v)[i]) for k, v in metrics.items()})
            row.update({k: _clean(v) for k, v in extra.items()})
            rows.append(row)
        if not self.write:
            return rows
        with open(self.path, "a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
        if self._tb is not None:
            for k, v in metrics.items():
                v = np.asarray(v, np.float64)
                if np.all(np.isnan(v)):
                    continue
                self._tb.add_scalar(k, float(np.nanmean(v)), step)
                for i, member in enumerate(members):
                    self._tb.add_scalar(f"{k}/{member_label(member)}", float(v[i]), step)
            for k, v in extra.items():
                self._tb.add_scalar(k, float(v), step)
            self._tb.flush()
        return rows

    def close(self):
        if self._tb is not None:
            self._tb.close()


def member_label(member: dict) -> str:
    """'seed3' or 'critic_lr=0.001/seed3' for a run in a sweep."""
    setting = member.get("setting")
    return f"{setting}/seed{member['seed']}" if setting else f"seed{member['seed']}"


def read_metrics(path: str) -> list[dict]:
    """Rows of a metrics.jsonl (``files.read_jsonl``: a last row cut short left out, a damaged file one line)."""
    return read_jsonl(path)


def curves_from_rows(rows: list[dict], key: str = "eval/return", default_label: str = "mean") -> dict:
    """Group metric rows by sweep setting: label -> (frames (E,), values (seeds, E)); NaN where a seed has no row
    (e.g. a seed dropped by the NaN guard)."""
    steps = sorted({r["frames"] for r in rows})
    col = {s: j for j, s in enumerate(steps)}
    groups: dict = {}
    for r in rows:
        seeds = groups.setdefault(r.get("setting") or default_label, {})
        vals = seeds.setdefault(r["seed"], np.full(len(steps), np.nan))
        vals[col[r["frames"]]] = np.nan if r.get(key) is None else r[key]
    return {label: (steps, np.stack(list(seeds.values()))) for label, seeds in groups.items()}


class Progress:
    """A one-line progress bar with env frames/s and the latest evaluation."""

    def __init__(self, total: int, stream=sys.stdout):
        self.total, self.stream, self.t0 = total, stream, time.time()

    def update(self, step: int, frames_per_s: float, eval_return: float | None):
        frac = step / max(self.total, 1)
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        ev = "   n/a" if eval_return is None else f"{eval_return:9.1f}"
        self.stream.write(f"\r[{bar}] {step:>9,}/{self.total:,} env frames | {frames_per_s:8.0f} frames/s | "
                          f"eval return {ev} | {time.time() - self.t0:6.0f}s")
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


def plot_bands(bands: dict, out_path: str, title: str, ylabel: str = "eval return"):
    """bands: label -> (steps (E,), centre (E,), lo (E,), hi (E,), seeds): one line with its shaded band per label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, (steps, centre, lo, hi, seeds) in bands.items():
        line, = ax.plot(steps, centre, label=f"{label} ({seeds} seeds)")
        ax.fill_between(steps, lo, hi, alpha=0.2, color=line.get_color())
    ax.set_xlabel("env frames")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)


def plot_comparison(curves: dict, out_path: str, title: str):
    """curves: label -> (steps (E,), returns (seeds, E)). Mean line and min-max band per label."""
    bands = {}
    for label, (steps, vals) in curves.items():
        vals = np.asarray(vals, np.float64)
        bands[label] = (steps, np.nanmean(vals, 0), np.nanmin(vals, 0), np.nanmax(vals, 0), vals.shape[0])
    plot_bands(bands, out_path, title)
