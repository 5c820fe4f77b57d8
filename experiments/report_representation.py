"""The report's representation sections: how well each critic fits its TD targets, the linear probes of psi over
training and the ablation table.

Probes (logged by every diffsr_* run at each evaluation, see diffsr_jax/representation/probes.py): held-out ridge R^2
from psi(s, a) to s' - s and to r, for the current psi and for psi at its initialisation. Ablations: runs named
``<agent>+<ablation>`` (experiments.suite --ablations) next to their ``<agent>`` on the same task.
"""

from __future__ import annotations

import os

import numpy as np

PROBES = (("dynamics", "s' - s"), ("reward", "r"))
FLOOR = -1.0  # the figures' lowest R^2: below it a probe predicts worse than the mean by more than the spread


def run_metrics(run: dict) -> list[dict]:
    """Every row of a run's metrics.jsonl: of each of its shards for a run in shards (``report.merge_shards``)."""
    from diffsr_jax.logging.writers import read_metrics

    return [row for piece in run.get("shards", [run])
            for row in read_metrics(os.path.join(piece["path"], "metrics.jsonl"))]


def probe_curves(run: dict) -> tuple[np.ndarray, dict]:
    """(frames (E,), {"dynamics", "dynamics_init", "reward", "reward_init"} -> (seeds, E)) of one run; {} if it
    logged no probes."""
    rows = [r for r in run_metrics(run) if "diag/probe_r2_dynamics" in r]
    if not rows:
        return np.zeros(0), {}
    frames = sorted({r["frames"] for r in rows})
    seeds = sorted({(r.get("setting", 0), r.get("seed", 0)) for r in rows})
    out = {}
    for name, _ in PROBES:
        for key in (name, f"{name}_init"):
            m = np.full((len(seeds), len(frames)), np.nan)
            for r in rows:
                m[seeds.index((r.get("setting", 0), r.get("seed", 0))), frames.index(r["frames"])] = \
                    r[f"diag/probe_r2_{key}"]
            out[key] = m
    return np.asarray(frames), out


def plot_probes(task: str, runs: dict, path: str) -> bool:
    """One figure per task: probe R^2 (mean over seeds) vs env frames, learned psi solid, psi at init dashed, one
    colour per agent; a panel per target. False when no run of the task logged probes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {a: probe_curves(r) for a, r in sorted(runs.items())}
    curves = {a: c for a, c in curves.items() if c[1]}
    if not curves:
        return False
    fig, axes = plt.subplots(1, len(PROBES), figsize=(5 * len(PROBES), 3.6), squeeze=False)
    for ax, (name, label) in zip(axes[0], PROBES):
        for i, (agent, (frames, c)) in enumerate(curves.items()):
            colour = f"C{i}"
            ax.plot(frames, np.nanmean(c[name], 0), color=colour, label=f"{agent}")
            ax.plot(frames, np.nanmean(c[f"{name}_init"], 0), color=colour, ls="--", alpha=0.6)
        ax.set_title(f"{task}: ridge R^2 of psi -> {label}")
        ax.set_xlabel("env frames")
        low = ax.get_ylim()[0]  # R^2 below -1: a held-out batch where the target hardly varies (a sparse reward)
        ax.set_ylim(max(FLOOR, min(-0.1, low)), 1.0)
        if low < FLOOR:
            ax.text(0.01, 0.02, f"below {FLOOR:g}: off the axis (the held-out target hardly varies)",
                    transform=ax.transAxes, fontsize=7)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, title="solid: learned psi, dashed: psi at init", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _last(c: np.ndarray) -> float:
    """Mean over seeds of each seed's last logged value."""
    if c.size == 0:
        return float("nan")
    return float(np.nanmean([row[np.isfinite(row)][-1] for row in c if np.isfinite(row).any()] or [np.nan]))


CRITIC_FIT_EVALS = 4  # the evaluations the fit is averaged over: the score's


def critic_fit(run: dict) -> dict | None:
    """{"loss", "q_mean", "rel"} of one run: its TD loss (``train/critic_loss``: the sum over the critic's heads of
    the mean squared TD error on the batches it trained on, a chunk's mean) and mean Q over its last
    ``CRITIC_FIT_EVALS`` evaluations, averaged over seeds; ``rel`` = the RMS TD error of one head over |mean Q|. None
    without them."""
    from diffsr_jax.agents.registry import BASES, DIFFSR_PREFIX
    rows = [r for r in run_metrics(run) if r.get("train/critic_loss") is not None and r.get("train/q_mean") is not None]
    if not rows:
        return None
    last = sorted({r["frames"] for r in rows})[-CRITIC_FIT_EVALS:]
    kept = [r for r in rows if r["frames"] in last]
    loss = float(np.mean([r["train/critic_loss"] for r in kept]))
    q = float(np.mean([r["train/q_mean"] for r in kept]))
    base = BASES.get(run["agent"].partition("+")[0].removeprefix(DIFFSR_PREFIX))  # None: not an actor-critic base
    rel = float(np.sqrt(loss / base.num_q) / abs(q)) if base and q else float("nan")
    return {"loss": loss, "q_mean": q, "rel": rel}


def critic_fit_section(by_task: dict, table) -> list:
    """Markdown: per task where a Diff-SR agent and its base both ran, each agent's TD loss, mean Q and their ratio:
    whether the critic on psi fits its targets as well as the base's MLP critic fits its own."""
    from experiments.suites import compared_with, task_label

    rows = []
    for (suite, task), runs in sorted(by_task.items()):
        if not any(b in runs for a in runs if a.startswith("diffsr_") for b in compared_with(a)):
            continue
        for agent, r in sorted(runs.items()):
            fit = critic_fit(r)
            if fit:
                rows.append([task_label(suite, task), agent, *(f"{fit[k]:.3g}" for k in ("loss", "q_mean", "rel"))])
    if not rows:
        return []
    return ["## The critics' fit", "",
            (f"Each agent's TD loss (`train/critic_loss`: the critic heads' mean squared TD errors, summed, on the "
             f"batches the critic trained on, averaged over each chunk of updates) and mean Q, over its last "
             f"{CRITIC_FIT_EVALS} evaluations and its seeds; the last column is one head's RMS TD error divided by the "
             "absolute mean Q. Each critic is scored against its own targets, so the columns compare how well each "
             "one fits them, not which Q is right."), ""] + table(
        ["task", "agent", "TD loss", "mean Q", "RMS TD error / abs(mean Q)"], rows) + [""]


def q_regressions(run: dict, agent: str) -> list:
    """Per reference, the newest ``q_regression-<reference>-<frames>.json`` (experiments.q_regression) in the run's
    folder: the base's first, then the run's own (its reference is ``agent`` itself); [] without one. For a run in
    shards (``report.merge_shards``) every shard's records: one reference's records of all the shards merged into one
    record of all their seeds where they were made alike (``merge_q_regressions``), else each shard's on its own."""
    from diffsr_jax.logging.files import read_json

    found: dict = {}
    for piece in run.get("shards", [run]):
        newest = {}
        for n in os.listdir(piece["path"]):
            reference, _, frames = n[len("q_regression-"):-len(".json")].rpartition("-")
            if n.startswith("q_regression-") and n.endswith(".json") and reference and frames.isdigit():
                newest[reference] = max(newest.get(reference, (-1, "")), (int(frames), n))
        for reference, (_, n) in newest.items():
            found.setdefault(reference, []).append(read_json(os.path.join(piece["path"], n), dict))
    out = []
    for reference in sorted(found, key=lambda ref: (ref == agent, ref)):
        records = found[reference]
        merged = merge_q_regressions(records) if len(records) == len(run.get("shards", [run])) else None
        out += [merged] if merged else records
    return out


Q_REGRESSION_SETTINGS = ("agent", "reference", "env", "frames", "steps", "batch_size", "lr", "seed", "held_out",
                         "td_steps")  # what makes two records' fits alike (the seeds apart)


def merge_q_regressions(records: list[dict]) -> dict | None:
    """One record of every seed of ``records`` (each a ``q_regression`` record of other seeds), its per-seed lists
    concatenated in seed order; None where they differ in a setting or in their fits (then each is shown apart)."""
    if len(records) == 1:
        return records[0]
    first = records[0]
    shape = lambda rec: {part: {name: sorted(v) for name, v in rec.get(part, {}).items()}  # noqa: E731
                         for part in ("regressions", "td")}
    if any(any(rec.get(k) != first.get(k) for k in Q_REGRESSION_SETTINGS) or shape(rec) != shape(first)
           for rec in records[1:]):
        return None
    seeds = [s for rec in records for s in rec["seeds"]]
    if len(set(seeds)) < len(seeds):
        return None
    order = np.argsort(seeds)

    def joined(lists):  # per-seed lists of every record, one list in seed order
        flat = [v for values in lists for v in values]
        return [flat[i] for i in order]

    out = {**first, "seeds": sorted(seeds), "mean_abs_q": joined([rec["mean_abs_q"] for rec in records])}
    for part in ("regressions", "td"):
        if part in first:
            out[part] = {name: {k: joined([rec[part][name][k] for rec in records]) for k in v}
                         for name, v in first[part].items()}
    return out


def q_regression_section(by_task: dict, table) -> list:
    """Markdown: per Diff-SR run and reference with a ``q_regression`` record, how well each critic input carries the
    reference's Q when fitted without TD (held-out R^2, mean and range over seed pairs; RMS error over |mean Q|),
    and, where the record has them, how the fits fare under TD with the reference's policy fixed."""
    from experiments.seeds import seeds_label
    from experiments.suites import task_label

    def r2_range(v):
        r2 = np.asarray(v["r2"])
        return f"{r2.mean():.3f} [{r2.min():.3f}, {r2.max():.3f}]"

    def over_q(errors, q_abs, fmt):  # pooled over seeds: a seed whose mean Q is near 0 cannot dominate
        return format(np.mean(errors) / np.mean(q_abs), fmt)

    rows, td_rows, records = [], [], []
    found = [(suite, task, agent, r, rec) for (suite, task), runs in sorted(by_task.items())
             for agent, r in sorted(runs.items()) for rec in q_regressions(r, agent)]
    for suite, task, agent, r, rec in found:
        records.append(rec)
        q_abs = np.asarray(rec["mean_abs_q"])
        whose = "its own" if rec["reference"] == agent else f"{rec['reference']}'s"
        some = "shards" in r and sorted(rec["seeds"]) != sorted(r["seeds"])  # one shard's record, not merged
        label = [task_label(suite, task), f"{agent} vs {whose} Q" + (f" ({seeds_label(rec['seeds'])})" if some else "")]
        for name, v in rec["regressions"].items():
            cos = f"{np.mean(v['grad_cos']):.3f}" if "grad_cos" in v else "-"
            rows.append(label + [name, r2_range(v), f"{q_abs.mean():,.0f} [{q_abs.min():,.0f}, {q_abs.max():,.0f}]",
                                 over_q(v["rmse"], q_abs, ".3f"), cos])
        for name, v in rec.get("td", {}).items():
            td_rows.append(label + [name, r2_range(rec["regressions"][name]), r2_range(v),
                                    over_q(v["bias"], q_abs, "+.3f"), over_q(v["td_rmse"], q_abs, ".3f"),
                                    f"{np.mean(v['grad_cos']):.3f}"])
    if not rows:
        return []
    budget = "; ".join(sorted({f"{rec['steps']:,} Adam steps of batch {rec['batch_size']} at lr {rec['lr']:g}, "
                               f"at env frame {rec['frames']:,}" for rec in records}))
    out = ["## Can psi carry the base's Q? (`experiments.q_regression`)", "",
           ("Without TD: on a reference run's replay, the base's (\"vs sac's Q\") or the Diff-SR run's own (\"vs its "
            "own Q\"), the reference critic's Q (the minimum over its heads) is fitted by supervised regression with "
            "fresh heads on each input, and scored on held-out blocks of the replay "
            f"({budget}; seed i of each run paired). For the base's Q, an R^2 for psi as high as the MLP's on (s, a) "
            "means psi carries what the base's Q needs and the agent's shortfall lies in what its critic learns by TD "
            "on its own data; a lower one means psi lacks it. abs(mean Q) is the size of the reference's Q per seed "
            "(mean [min, max] over seeds); errors are divided by it pooled over seeds (their mean over its mean). The "
            "last column is the mean cosine, on held-out rows, between the fitted Q's gradient in the action and the "
            "reference critic's: the direction each would give the actor."), ""] + table(
        ["task", "run", "regressor", "held-out R^2 [min, max over seeds]", "abs(mean Q) [min, max]",
         "RMS error / abs(mean Q)", "action-gradient cosine"], rows) + [""]
    if td_rows:
        td_budget = "; ".join(sorted({f"{rec['td_steps']:,} steps" for rec in records if "td" in rec}))
        out += [("By TD from the fit: each fitted head (one per input, no twin minimum) goes on learning the "
                 "reference's policy's Q by SAC's critic update on the same replay, the policy and its temperature "
                 f"fixed, the reference's discount, target rate and period ({td_budget}). What it loses of the "
                 "reference's Q is TD's doing on that input, apart from the agent's coupling (a psi that moves, an "
                 "actor that follows its critic). Mean error is the fitted Q's mean minus the reference's (a positive "
                 "one overestimates); TD error is the head's own held-out RMS TD error, beside the agents' own in "
                 "\"The critics' fit\" (theirs on their training batches)."), ""] + table(
            ["task", "run", "head on", "R^2 after regression", "R^2 after TD [min, max]", "mean error / abs(mean Q)",
             "TD error / abs(mean Q)", "action-gradient cosine"], td_rows) + [""]
    return out


def representation_section(by_task: dict, plot_dir: str, plot_rel: str, reps: int, fmt, table, iqm,
                           bootstrap_ci) -> list:
    """Markdown: per task with diffsr_* runs, the ablation table (score, IQM [95% CI], difference to the full agent,
    final probe R^2 learned / at init) and the probe figure."""
    from experiments.suites import ABLATION_QUESTIONS, ABLATIONS, task_label

    ran = sorted({a.partition("+")[2] for runs in by_task.values() for a in runs if "+" in a},
                 key=list(ABLATIONS).index)
    ablations = ("Ablations run the same agent with one change (experiments/suites.py ABLATIONS): " + "; ".join(
        f"`{ab}` {ABLATION_QUESTIONS[ab]}" for ab in ran) + ".") if ran else "No ablation was run in this study."
    out = []
    for (suite, task), runs in sorted(by_task.items()):
        rep_runs = {a: r for a, r in runs.items() if a.startswith("diffsr_")}
        if not rep_runs:
            continue
        if not out:
            out += ["## The representation: probes and ablations", "",
                    ("Probes: at every evaluation a ridge regression from psi(s, a) to s' - s (dynamics) and to r is "
                     "fitted on 1024 replay transitions and scored (R^2) on 1024 others, for the current psi and for "
                     "psi at its random initialisation (the random-feature baseline). " + ablations), ""]
        name = f"probes_{suite}_{task}.png".replace("/", "_")
        rows = []
        for agent, r in sorted(rep_runs.items()):
            base, _, ablation = agent.partition("+")
            fin = r["scores"][np.isfinite(r["scores"])]
            lo, hi = bootstrap_ci(fin, reps=reps) if fin.size else (np.nan, np.nan)
            ref = runs.get(base)
            delta = (iqm(fin) - iqm(ref["scores"][np.isfinite(ref["scores"])])  # a partial run is compared later
                     if ablation and ref is not None and fin.size and not r.get("partial") else np.nan)
            _, c = probe_curves(r)
            probe = [fmt(_last(c[k]), 2) if c else "n/a" for k in ("dynamics", "dynamics_init", "reward",
                                                                     "reward_init")]
            what = ", ".join(f"{k}={v}" for k, v in ABLATIONS.get(ablation, {}).items()) if ablation else "the agent"
            label = agent if r.get("finished", True) else f"{agent} (unfinished: {r['frames']:,} frames)"
            rows.append([label, what, r.get("partial") or str(fin.size), f"{fmt(np.mean(fin) if fin.size else np.nan)} ± "
                         f"{fmt(np.std(fin) if fin.size else np.nan)}",
                         f"{fmt(iqm(fin) if fin.size else np.nan)} [{fmt(lo)}, {fmt(hi)}]",
                         fmt(delta) if ablation else "-", f"{probe[0]} / {probe[1]}", f"{probe[2]} / {probe[3]}"])
        out += [f"### {task_label(suite, task)}", ""]
        out += table(["agent", "change", "seeds", "score mean ± std", "IQM [95% CI]", "IQM - full agent",
                      "probe R^2 s'-s: learned / init", "probe R^2 r: learned / init"], rows) + [""]
        if plot_probes(task, rep_runs, os.path.join(plot_dir, name)):
            out += [f"![probe R^2 on {task}]({plot_rel}/{name})", ""]
    return out
