"""Evaluate a saved run's policies again and write one episode out, as one compiled batch over its members.

With no ``seed`` the episodes are those the run itself evaluated at that checkpoint (``Trainer.eval_key`` of the
checkpointed state), so with the run's ``eval_episodes`` the mean return equals the logged ``eval/return``. A
``seed`` gives other episodes: member i uses ``fold_in(PRNGKey(seed), i)``.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from diffsr_jax.envs.rendering import render_episode
from diffsr_jax.logging.writers import member_label
from diffsr_jax.training.saved_run import SavedRun


def evaluation_keys(saved: SavedRun, seed: int | None = None):
    """(M,) keys of the evaluation episodes: the run's own (seed None) or fresh ones from ``seed``."""
    if seed is None:
        return jax.vmap(saved.trainer.eval_key)(saved.runner)
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(seed), i))(np.arange(len(saved.members)))


def evaluate_saved(saved: SavedRun, episodes: int | None = None, seed: int | None = None) -> dict:
    """Deterministic episodes of every member -> {"frames", "episodes", "seed", "members": [{label, seed,
    setting?, returns, lengths, mean, std, min, max, mean_length, and on a task with a success flag successes and
    success (the fraction)}]}."""
    trainer = saved.trainer
    n = int(saved.config.run.eval_episodes) if episodes is None else int(episodes)
    fn = jax.jit(jax.vmap(lambda runner, key: trainer.play_episodes(runner, key, n)[:3]))
    with jax.default_matmul_precision(saved.config.run.matmul_precision):
        returns, lengths, successes = jax.device_get(fn(saved.runner, evaluation_keys(saved, seed)))
    rows = []
    for i, member in enumerate(saved.members):
        r, ln = np.asarray(returns[i], float), np.asarray(lengths[i], int)
        rows.append({"label": member_label(member), **member, "returns": r.tolist(), "lengths": ln.tolist(),
                     "mean": float(r.mean()), "std": float(r.std()), "min": float(r.min()), "max": float(r.max()),
                     "mean_length": float(ln.mean())})
        if trainer.env.defines_success:
            rows[-1].update(successes=np.asarray(successes[i], bool).tolist(),
                            success=float(np.mean(successes[i])))
    return {"logdir": saved.logdir, "env": saved.config.env.name, "agent": saved.config.run.agent,
            "frames": saved.frames, "episodes": n, "seed": seed, "members": rows}


def evaluation_table(result: dict) -> str:
    """The per-member table of ``evaluate_saved``'s result."""
    width = max([len(m["label"]) for m in result["members"]] + [6])
    rate = all("success" in m for m in result["members"])
    head = f"{'run':>{width}} {'mean':>9} {'std':>8} {'min':>9} {'max':>9} {'length':>7}" + (" success" if rate else "")
    lines = [head, "-" * len(head)]
    small = all(abs(m[k]) < 10 for m in result["members"] for k in ("mean", "min", "max"))
    num = (lambda v, w: f"{v:>{w}.3f}") if small else (lambda v, w: f"{v:>{w}.1f}")  # noqa: E731
    for m in result["members"]:
        lines.append(f"{m['label']:>{width}} {num(m['mean'], 9)} {num(m['std'], 8)} {num(m['min'], 9)} "
                     f"{num(m['max'], 9)} {m['mean_length']:>7.1f}" + (f" {m['success']:>7.2f}" if rate else ""))
    return "\n".join(lines)


def render_saved(saved: SavedRun, episodes: int | None = None, seed: int | None = None, member: int = 0) -> str:
    """Write episode 0 of ``member``'s evaluation (the first row of ``evaluate_saved`` with the same arguments) as
    ``<logdir>/rollout-<frames>`` (.html for Brax, .gif otherwise). Returns the path."""
    trainer = saved.trainer
    n = int(saved.config.run.eval_episodes) if episodes is None else int(episodes)
    one = jax.tree_util.tree_map(lambda x: x[member], saved.runner)
    key = evaluation_keys(saved, seed)[member]
    with jax.default_matmul_precision(saved.config.run.matmul_precision):
        states, length = jax.device_get(jax.jit(lambda r, k: trainer.rollout(r, k, n))(one, key))
    return render_episode(trainer.env, states, int(length), os.path.join(saved.logdir, f"rollout-{saved.frames}"))
