"""Build RESULTS.md from suite (or single) runs: per-task tables, aggregate IQM, learning curves, wall-clock.

    python -m experiments.report runs/suites/cpu --out RESULTS.md

Every directory under the given paths holding config.json + metrics.jsonl is a run (its run.json, written by
experiments.suite when the run ends, names the suite, task and agent; a suite run still training or stopped is named by
its place <suite>/<task>/<agent>, flagged unfinished and left out of the aggregate; otherwise the env name is the
task). A seed's score is the mean of its last 4 evaluations (the paper's protocol). Per task: mean ± std over seeds
and the IQM with a 95% stratified-bootstrap percentile interval. Across tasks: each task's scores are min-max
normalised over every (agent, seed) score on that task, then the IQM over (seeds x tasks) with the same interval.
Plots (PNG) go to ``<dir of --out>/<plots_dir>/`` and are linked.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys

import numpy as np
from absl import flags

from experiments.seeds import seeds_label


# --- loading -------------------------------------------------------------------------------------------------
def find_runs(paths) -> list[str]:
    """Run directories (config.json + metrics.jsonl) under each path, sorted; ValueError if a path has none."""
    found = []
    for p in paths:
        if not os.path.isdir(p):
            raise ValueError(f"{p!r} is not a directory; pass suite roots or run dirs (e.g. runs/suites/cpu)")
        hits = sorted(d for d, _, files in os.walk(p) if "config.json" in files and "metrics.jsonl" in files)
        if not hits:
            raise ValueError(f"no runs under {p!r} (no directory with config.json and metrics.jsonl)")
        found += hits
    return sorted(set(found))


def run_identity(path: str, info: dict, config: dict) -> tuple[str, str, str]:
    """(suite, task, agent) of a run: from its run.json (written by experiments.suite when a run ends); for a suite run
    still training or stopped, from its place ``<root>/<suite>/<task>/<agent>``; otherwise the env name is the task."""
    if info.get("suite") is not None and "task" in info:
        return info["suite"], info["task"], info.get("agent", config["run"]["agent"])
    from experiments.suites import SUITES

    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    if len(parts) >= 3 and parts[-3] in SUITES and any(t.name == parts[-2] for t in SUITES[parts[-3]].tasks):
        return parts[-3], parts[-2], parts[-1]
    return "", config["env"]["name"].replace("/", "_"), config["run"]["agent"]


def load_run(path: str) -> dict:
    """-> {suite, task, agent, config, info, code (its provenance entries), steps (E,), returns (seeds, E), scores
    (seeds,), window_scores (seeds,: the paper's score, experiments.stats.window_score), success_rates (seeds,: each
    seed's eval/success over its last evaluations, as its score; None on a task without a success flag), rollout,
    frames (reached),
    finished, wall_s (training time over all invocations, pauses included),
    frames_per_s (median over chunks past the warm-up), frames_per_s_best (fastest such chunk)}."""
    from diffsr_jax.logging.files import read_json
    from diffsr_jax.logging.writers import curves_from_rows, read_metrics
    from diffsr_jax.training import provenance
    from experiments.stats import window_score
    from experiments.suites import SCORE_LAST_EVALS

    config = read_json(os.path.join(path, "config.json"), dict)
    info = read_json(os.path.join(path, "run.json"), dict) if os.path.exists(os.path.join(path, "run.json")) else {}
    all_rows = read_metrics(os.path.join(path, "metrics.jsonl"))
    rows = [r for r in all_rows if r.get("eval/return") is not None]
    curves = curves_from_rows(rows) if rows else {"mean": ([], np.zeros((0, 0)))}
    steps, returns = next(iter(curves.values()))
    scores = (np.nanmean(returns[:, -SCORE_LAST_EVALS:], 1) if returns.size
              else np.full(config["run"]["num_seeds"], np.nan))
    frames = max((r["frames"] for r in all_rows), default=0)
    # run/wall_time counts on from the checkpoint a run resumed from, so its last value covers every invocation (work
    # lost to a kill after the last checkpoint is not counted); a chunk's frames/s is not skewed by other chunks, so
    # the median over chunks is the run's speed even when it was paused for a while; the fastest chunk is the
    # closest to its speed on a quiet machine when it shared the cores most of the time; a chunk that starts within
    # the random warm-up (acting, no updates, for all or part of it) is left out unless there is nothing else. A
    # chunk starts where the previous logged one ended: a resume drops the rows after its checkpoint
    chunk_fps = {r["frames"]: r["run/frames_per_s"] for r in all_rows if r.get("run/frames_per_s") is not None}
    ends = sorted(chunk_fps)
    learning = {f: chunk_fps[f] for start, f in zip([0, *ends], ends) if start >= config["run"].get("warmup_steps", 0)}
    chunk_fps = learning or chunk_fps
    success_rates = None
    if any(r.get("eval/success") is not None for r in rows):
        by_seed = {}
        for r in sorted(rows, key=lambda r: r["frames"]):
            by_seed.setdefault((r.get("seed"), r.get("setting")), []).append(r.get("eval/success", np.nan))
        success_rates = np.array([np.nanmean(v[-SCORE_LAST_EVALS:]) for v in by_seed.values()], float)
    suite, task, agent = run_identity(path, info, config)
    return {"path": path, "suite": suite, "task": task, "agent": agent, "config": config, "info": info,
            "code": provenance.read(path), "steps": np.asarray(steps), "returns": returns, "scores": scores,
            "window_scores": window_score(steps, returns) if returns.size else scores, "success_rates": success_rates,
            "rollout": latest_rollout(path), "frames": frames, "finished": frames >= config["run"]["total_steps"],
            "wall_s": max((r.get("run/wall_time", 0.0) for r in all_rows), default=float("nan")),
            "frames_per_s": float(np.median(list(chunk_fps.values()))) if chunk_fps else float("nan"),
            "frames_per_s_best": max(chunk_fps.values(), default=float("nan"))}


SHARD_FIELDS = ("run.seed", "run.num_seeds")  # what tells the shards of one run apart: which seeds each ran


def _normal(v):
    """A config value compared as data: JSON lists and tuples alike, nested groups as sorted items."""
    if isinstance(v, list | tuple):
        return tuple(_normal(u) for u in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _normal(u)) for k, u in v.items()))
    return v


def config_fields(saved: dict) -> dict:
    """A stored config.json of either generation (the first groups, today's) as {"group.field": value} of today's
    names, read as a resumed run reads it (``config.stored_config``: today's defaults under the stored values)."""
    from diffsr_jax.config import stored_config

    config = stored_config(saved).to_dict()
    return {f"{g}.{k}" if isinstance(fields, dict) else g: _normal(v)
            for g, fields in config.items() for k, v in (fields.items() if isinstance(fields, dict) else [(g, fields)])}


def run_seeds(run: dict) -> list[int]:
    """The seeds a run trained: its members' seeds, run.seed .. run.seed + run.num_seeds - 1 (``members.make_members``),
    or every shard's for a merged run."""
    if "seeds" in run:
        return list(run["seeds"])
    first = int(run["config"]["run"].get("seed", 0))
    return list(range(first, first + int(run["config"]["run"]["num_seeds"])))


def merge_shards(runs: list[dict]) -> list[dict]:
    """``runs`` with every set of runs of one (suite, task, agent) merged into one run of all their seeds.

    Such runs are shards of one run: the same config but for the seeds (``experiments.suite --seed=<first>
    --num_seeds=<n>``, each in its own --root, on one machine after another or on several at once), so that a run too
    long for one sitting is made of pieces that each finish. A member's seed fixes its PRNG key, so a shard's seed k
    starts as seed k of a run of all the seeds; how its updates round depends on how many members share its device
    (docs/robustness.md), not on which others there are. ValueError where two runs of one identity differ in any
    other field (the fields named: they are not shards of one run), hold a seed twice, or evaluated at different
    frames before the shorter one stopped."""
    groups: dict = {}
    for r in runs:
        groups.setdefault((r["suite"], r["task"], r["agent"]), []).append(r)
    return [group[0] if len(group) == 1 else _merged(group) for group in groups.values()]


def _merged(group: list[dict]) -> dict:
    from experiments.stats import window_score
    from experiments.suites import SCORE_LAST_EVALS

    group = sorted(group, key=lambda r: run_seeds(r)[0])
    first, name = group[0], "/".join(x for x in (group[0]["suite"], group[0]["task"], group[0]["agent"]) if x)
    base = config_fields(first["config"])
    for r in group[1:]:
        other = config_fields(r["config"])
        differ = [k for k in sorted(base.keys() | other.keys())
                  if k not in SHARD_FIELDS and base.get(k, "absent") != other.get(k, "absent")]
        if differ:
            raise ValueError(f"{first['path']} and {r['path']} are both {name} but differ in {', '.join(differ[:5])}"
                             f"{' ...' if len(differ) > 5 else ''}: only runs that differ in their seeds merge into "
                             "one; report the others from separate roots")
    seeds = [s for r in group for s in run_seeds(r)]
    twice = sorted({s for s in seeds if seeds.count(s) > 1})
    if twice:
        raise ValueError(f"{name}: seed(s) {', '.join(map(str, twice))} appear in more than one of "
                         f"{', '.join(r['path'] for r in group)}; keep one run of each seed")
    evals = min(r["returns"].shape[1] for r in group)
    steps = first["steps"][:evals]
    for r in group:
        if not np.array_equal(r["steps"][:evals], steps):
            raise ValueError(f"{name}: {first['path']} and {r['path']} evaluate at different frames; their "
                             "eval_every or total_steps must be the same to merge them")
    returns = np.concatenate([r["returns"][:, :evals] for r in group])
    config = json.loads(json.dumps(first["config"]))
    config["run"].update(seed=min(seeds), num_seeds=len(seeds))
    success = [r["success_rates"] for r in group]
    n = np.array([len(run_seeds(r)) for r in group], float)

    def pooled(key):  # every seed's frames over the time all of them took, one shard after another
        fps = np.array([r[key] for r in group], float)
        return float(n.sum() / np.sum(n / fps))

    return {**first, "config": config, "seeds": seeds, "shards": group,
            "info": {**first["info"], "num_seeds": len(seeds)},
            "code": [e for r in group for e in r["code"]], "steps": steps, "returns": returns,
            "scores": (np.nanmean(returns[:, -SCORE_LAST_EVALS:], 1) if returns.size else
                       np.concatenate([r["scores"] for r in group])),
            "window_scores": window_score(steps, returns) if returns.size else np.concatenate(
                [r["window_scores"] for r in group]),
            "success_rates": None if any(s is None for s in success) else np.concatenate(success),
            "frames": min(r["frames"] for r in group), "finished": all(r["finished"] for r in group),
            "wall_s": float(sum(r["wall_s"] for r in group)), "frames_per_s": pooled("frames_per_s"),
            "frames_per_s_best": pooled("frames_per_s_best")}


def load_runs(paths) -> list[dict]:
    """Every run under ``paths`` (``find_runs``), loaded, with the shards of one run merged (``merge_shards``)."""
    return merge_shards([load_run(p) for p in find_runs(paths)])


def code_line(runs: list[dict]) -> str:
    """The Setup line naming the code revisions that trained the runs (a resumed run may name several)."""
    from diffsr_jax.training.provenance import short

    counts, unknown = {}, 0
    for r in runs:
        for rev in dict.fromkeys(short(e) for e in r["code"]):
            counts[rev] = counts.get(rev, 0) + 1
        unknown += not r["code"]
    parts = [f"`{rev}` ({n} run{'s' * (n > 1)})" for rev, n in sorted(counts.items())]
    if unknown:
        parts.append(f"not recorded for {unknown} run{'s' * (unknown > 1)} (made before diffsr-jax recorded it)")
    return "- Code: " + "; ".join(parts) + "."


def latest_rollout(path: str) -> str | None:
    """The rollout of the latest env frame the run wrote (``rollout-<frames>.gif|html``, by --render_final or
    experiments.evaluate --render), or None."""
    found = [(int(m.group(1)), os.path.join(path, n)) for n in os.listdir(path)
             if (m := re.fullmatch(r"rollout-(\d+)\.(gif|html)", n))]
    return max(found)[1] if found else None


def rollout_lines(runs_t: dict, plot_dir: str, plot_rel: str, prefix: str) -> list[str]:
    """One line per task linking each agent's latest rollout (copied next to the plots, so the report is
    self-contained): GIFs shown, Brax HTML viewers linked."""
    import shutil

    links = []
    for agent, r in sorted(runs_t.items()):
        if not r.get("rollout"):
            continue
        frames = re.search(r"rollout-(\d+)", r["rollout"]).group(1)
        name = f"{prefix}{agent}_rollout-{frames}{os.path.splitext(r['rollout'])[1]}"
        shutil.copy(r["rollout"], os.path.join(plot_dir, name))
        links.append(f"[{agent} at {int(frames):,} frames]({plot_rel}/{name})")
    return ["Rollouts (seed 0, deterministic policy): " + ", ".join(links) + ".", ""] if links else []


# --- statistics (experiments.stats: rliable's functions) -----------------------------------------------------
def normalise(task_scores: dict) -> dict:
    """agent -> (seeds,) scores of one task, min-max normalised over every (agent, seed) score of that task."""
    allv = np.concatenate([v[np.isfinite(v)] for v in task_scores.values()] or [np.zeros(0)])
    if allv.size == 0:
        return {a: np.full_like(v, np.nan) for a, v in task_scores.items()}
    lo, hi = allv.min(), allv.max()
    span = hi - lo if hi > lo else 1.0
    return {a: (v - lo) / span for a, v in task_scores.items()}


# --- markdown ------------------------------------------------------------------------------------------------
def _fmt(v, digits=1):
    return "n/a" if v is None or not np.isfinite(v) else f"{v:,.{digits}f}"


def _md_table(header, rows) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def env_description(env: dict) -> str:
    """The env of a run's config as the report names it: backend and MuJoCo solver setting (``env.physics``; runs
    written before the field ran the env's own, ``native``) where they apply."""
    name = env["name"]
    physics = f"{env.get('physics', 'native')} physics"
    if name.startswith("brax/"):
        return f"`{name}` ({env['backend']}" + (f", {physics})" if env["backend"] == "mjx" else ")")
    if name.startswith("playground/"):
        return f"`{name}` ({physics}" + (f", MuJoCo {env['impl']})" if env.get("impl", "jax") != "jax" else ")")
    return f"`{name}`"


def _task_meta(run):
    from experiments.suites import SUITES

    suite = SUITES.get(run["suite"])
    try:
        return suite.task(run["task"]) if suite else None
    except StopIteration:
        return None


def counted(run: dict) -> bool:
    """Whether a run's scores enter comparisons and the aggregate: finished, with every seed it was planned with (a
    study's run with only some of its seeds, ``partial``, is shown but not compared)."""
    return run["finished"] and not run.get("partial")


def improvement_lines(runs_t: dict, reps: int) -> list[str]:
    """Per comparison of ``compared_with`` whose two runs finished on the task with all their seeds: rliable's
    probability of improvement."""
    from experiments import stats
    from experiments.suites import compared_with

    lines = []
    for agent, r in sorted(runs_t.items()):
        for other in compared_with(agent):
            base = runs_t.get(other)
            if base is None or not (counted(r) and counted(base)):
                continue
            x, y = r["scores"][np.isfinite(r["scores"])], base["scores"][np.isfinite(base["scores"])]
            if x.size and y.size:
                p, lo, hi = stats.improvement(x, y, reps=reps)
                lines.append(f"P({agent} > {other}) = {p:.2f} [95% CI {lo:.2f}, {hi:.2f}] (rliable's probability "
                             f"of improvement over seed scores; 0.5 = level).")
    return [""] + lines if lines else []


def plot_iqm_curves(curves: dict, out_path: str, title: str, reps: int):
    """curves: agent -> (steps (E,), returns (seeds, E)): the IQM over seeds at each evaluation with its 95%
    stratified-bootstrap band (experiments.stats.iqm_curve), one line per agent."""
    from diffsr_jax.logging.writers import plot_bands
    from experiments import stats

    bands = {label: (steps, *stats.iqm_curve(np.asarray(vals, np.float64), reps=reps), len(vals))
             for label, (steps, vals) in curves.items()}
    plot_bands(bands, out_path, title, ylabel="eval return (IQM over seeds, 95% CI)")


def build_report(runs: list[dict], plot_dir: str, plot_rel: str, command: str, reps: int, title: str,
                 notes=(), conclusion: str = "") -> str:
    from experiments import stats
    from experiments.suites import (
        PAPER_AGENT,
        PAPER_BUDGET,
        PAPER_SOURCE,
        SCORE_LAST_EVALS,
        machine_info,
        task_label,
    )

    waiting = [r for r in runs if not r["returns"].size]  # started, nothing evaluated yet: named, not tabled
    partial = sorted((r for r in runs if r["returns"].size and r.get("partial")), key=lambda r: r["path"])
    runs = [r for r in runs if r["returns"].size]
    by_task: dict = {}
    for r in runs:
        by_task.setdefault((r["suite"], r["task"]), {})[r["agent"]] = r
    agents = sorted({r["agent"] for r in runs})
    pieces = [s for r in runs for s in r.get("shards", [r])]  # what ran: a run in shards ran as several
    machines = {json.dumps(s["info"].get("machine"), sort_keys=True) for s in pieces if s["info"].get("machine")}
    here = machine_info()
    out = [f"# {title}", "",
           (f"Generated by `{command}` from {len(runs)} runs "
           f"({len(by_task)} tasks x {len(agents)} agents)."), "", "## Setup", ""]
    for m in sorted(machines) or [json.dumps(here)]:
        m = json.loads(m)
        out.append(f"- Machine: {m['cpu']}, {m['cores']} cores, {m.get('devices', 'cpu')}; {m['platform']}; "
                   f"Python {m['python']}, jax {m['jax']}.")
    commands = sorted({s["info"]["command"] for s in pieces if s["info"].get("command")})
    out.append("- Runs produced by: " + ("; ".join(f"`{c}`" for c in commands) if commands else "unknown (no run.json)"))
    out.append(code_line(runs))
    budgets = sorted({(r["config"]["run"].get("preset", "?"), *(r["config"]["run"][k] for k in (
        "total_steps", "eval_every", "eval_episodes")), r.get("planned_seeds") or r["config"]["run"]["num_seeds"],
        r["config"]["run"]["warmup_steps"], "shards" in r) for r in runs})
    for preset, total, every, eps, seeds, warm, sharded in budgets:
        out.append(f"- Budget: `{preset}` presets, {total:,} env frames per seed ({warm:,} random warm-up), "
                   f"evaluation every {every:,} steps with {eps} episodes, {seeds} seeds "
                   + ("in shards (below)." if sharded else "vmapped in one program."))
    physics = sorted({env_description(r["config"]["env"]) for r in runs
                      if r["config"]["env"]["name"].startswith(("brax/", "playground/"))})
    if physics:
        out.append("- Physics (backend, MuJoCo solver setting: `native` = the env's own, `light` = 1 solver iteration, "
                   "4 line-search iterations, no Euler damping): " + "; ".join(physics) + ".")
    paper_steps = dict(PAPER_BUDGET)["run.total_steps"]
    if any(b[1] < paper_steps for b in budgets):
        out.append(f"- Reduced budget: the paper trains {paper_steps:,} env frames per seed (eval every "
                   f"{dict(PAPER_BUDGET)['run.eval_every']:,} steps, 10 episodes, 4 seeds); these numbers show early "
                   "learning, not final performance.")
    for r in runs:
        if "shards" in r:
            out.append(f"- Shards: {task_label(r['suite'], r['task'])} / {r['agent']} ran as {len(r['shards'])} runs "
                       "of the same config but for their seeds (" + "; ".join(
                           seeds_label(run_seeds(s)) for s in r["shards"]) + "), each its seeds "
                       "vmapped in one program; merged here into one run of every seed.")
    out += [f"- Note: {n}" for n in notes]
    unfinished = [r for r in runs if not r["finished"]]
    if unfinished:
        out.append("- Unfinished (still training, or stopped; resume with the command that started them): " + ", ".join(
            f"{task_label(r['suite'], r['task'])} / {r['agent']} at {r['frames']:,} of "
            f"{r['config']['run']['total_steps']:,} frames" for r in sorted(unfinished, key=lambda r: r["path"]))
            + ". Their rows show the frames reached and their scores are from there; the aggregate leaves them out.")
    if partial:
        out.append("- Finished with some of their planned seeds (the rest to run: RESULTS.md's planned comparisons): "
                   + ", ".join(f"{task_label(r['suite'], r['task'])} / {r['agent']} with {r['partial']} seeds "
                               f"({seeds_label(run_seeds(r))})" for r in partial)
                   + ". Their rows show those seeds; comparisons and the aggregate leave them out.")
    if waiting:
        out.append("- Started, no evaluation logged yet (not in the tables): " + ", ".join(
            f"{task_label(r['suite'], r['task'])} / {r['agent']}"
            for r in sorted(waiting, key=lambda r: r["path"])) + ".")
    out += [(f"- Score of a seed = mean of its last {SCORE_LAST_EVALS} evaluations (fewer if the run has fewer; the "
             "protocol of the paper's section 5). The paper's window score = mean of the evaluations in the last "
             f"{stats.PAPER_WINDOW:,} env steps (its project page's protocol). Per task: mean ± std (population std) "
             "over seeds, and the IQM with a 95% stratified-bootstrap percentile interval; P(X > Y) = the probability "
             "that a seed of X scores above a seed of Y (ties half), with its interval; learning curves = IQM over "
             f"seeds at each evaluation with its 95% band. All from rliable ({reps} resamples, seed {stats.SEED}). "
             "With 4 seeds the IQM is the mean of the middle two and its 95% interval is just the range of the seeds, "
             "lowest to highest (with 3, the IQM is the plain mean and its interval again the range): read the "
             "intervals as the spread of the seeds."),
            (f"- Paper numbers are spec section 5 ({PAPER_SOURCE}; 200K steps, 4 seeds): other reward scales and "
            "episode definitions, so compare standings, not values."), ""]
    if conclusion:
        out += ["## Conclusion", "", conclusion.strip(), ""]

    # per-task tables and curves
    out += ["## Per-task results", ""]
    norm_scores: dict = {a: {} for a in agents}
    for (suite, task), runs_t in sorted(by_task.items()):
        any_run = next(iter(runs_t.values()))
        meta = _task_meta(any_run)
        paper = meta.paper_scores() if meta else {}
        cfg = any_run["config"]
        env = cfg["env"]
        env_desc = env_description(env)
        if env["pomdp"]:
            env_desc += f", partially observable (velocities dropped, last {env['pomdp_history']} obs)"
        if env["episode_length"]:
            env_desc += f", episodes of {env['episode_length']} steps"
        paper_name = meta.paper_task if meta and paper else None
        out += [f"### {task_label(suite, task)}", "",
                f"Env {env_desc}." + (f" Paper task: {paper_name}." if paper_name else " No paper number.")
                + (f" {meta.note}" if meta and meta.note else ""), ""]
        rows = []
        for agent, r in sorted(runs_t.items()):
            s = r["scores"]
            fin = s[np.isfinite(s)]
            m = stats.iqm(fin) if fin.size else float("nan")
            lo, hi = stats.interval(fin, reps=reps) if fin.size else (float("nan"), float("nan"))
            col = PAPER_AGENT.get(agent)
            pv = paper.get(col) if col else None
            paper_txt = "n/a" if pv is None else (f"{pv[0]:.1f}" + (f" ± {pv[1]:.1f}" if pv[1] is not None else "")
                                                   + f" ({col})")
            win = r["window_scores"][np.isfinite(r["window_scores"])]
            rows.append([agent, r.get("partial") or str(fin.size), (f"{_fmt(np.mean(fin) if fin.size else np.nan)} ± "
                         f"{_fmt(np.std(fin) if fin.size else np.nan)}"), f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]",
                         (f"{_fmt(np.mean(win))} ± {_fmt(np.std(win))}" if win.size else "n/a"),
                         f"{r['frames']:,}" + ("" if r["finished"] else " (unfinished)"),
                         f"{_fmt(r['wall_s'], 0)}", paper_txt])
        out += _md_table(["agent", "seeds", "score mean ± std", "IQM [95% CI]",
                          f"paper's window score (last {stats.PAPER_WINDOW // 1000}k steps)", "env frames",
                          "wall-clock (s)", f"paper ({PAPER_SOURCE})"], rows)
        out += improvement_lines(runs_t, reps)
        rates = {a: r["success_rates"] for a, r in sorted(runs_t.items()) if r.get("success_rates") is not None}
        if rates:
            out += ["", f"Success rate (eval/success: the fraction of evaluation episodes that reached the task's goal, "
                    f"each seed's mean over its last {SCORE_LAST_EVALS} evaluations): " + "; ".join(
                        f"{a} {np.mean(v):.2f} (seeds: {', '.join(f'{x:.2f}' for x in v)})" for a, v in rates.items())
                    + "."]
        if paper:
            out += ["", "Paper row (" + PAPER_SOURCE + "): " + ", ".join(
                f"{k} {v[0]:.1f}" + (f" ± {v[1]:.1f}" if v[1] is not None else "") for k, v in paper.items()) + "."]
        fname = f"{suite + '_' if suite else ''}{task}.png"
        curves = {a: (r["steps"], r["returns"]) for a, r in sorted(runs_t.items()) if r["returns"].size}
        if curves:
            plot_iqm_curves(curves, os.path.join(plot_dir, fname), task_label(suite, task), reps)
        out += ["", f"![{task} learning curves: IQM over seeds, 95% CI]({plot_rel}/{fname})", ""]
        out += rollout_lines(runs_t, plot_dir, plot_rel, fname[:-len(".png")] + "_")
        for agent, v in normalise({a: r["scores"] for a, r in runs_t.items() if counted(r)}).items():
            norm_scores[agent][(suite, task)] = v

    # aggregate
    out += ["## Aggregate across tasks", "",
            ("Each task's seed scores are min-max normalised over all (agent, seed) scores on that task (0 = the "
            "worst seed of any agent, 1 = the best), then the IQM over the (seeds x tasks) matrix with a 95% "
            "stratified-bootstrap interval; tasks an agent did not run are left out of its row."), ""]
    rows = []
    for agent in agents:
        cols = [v for v in norm_scores[agent].values() if np.isfinite(v).any()]
        if not cols:
            rows.append([agent, "0", "n/a", "n/a"])
            continue
        n = min(len(v) for v in cols)
        mat = np.stack([v[:n] for v in cols], 1)  # (seeds, tasks)
        lo, hi = stats.interval(mat, reps=reps)
        rows.append([agent, str(mat.shape[1]), f"{stats.iqm(mat):.3f} [{lo:.3f}, {hi:.3f}]",
                     f"{np.nanmean(mat):.3f}"])
    out += _md_table(["agent", "tasks", "normalised IQM [95% CI]", "normalised mean"], rows) + [""]

    from experiments.report_representation import critic_fit_section, q_regression_section, representation_section

    out += critic_fit_section(by_task, _md_table)
    out += q_regression_section(by_task, _md_table)
    out += representation_section(by_task, plot_dir, plot_rel, reps, _fmt, _md_table, stats.iqm, stats.interval)
    # wall-clock
    out += ["## Wall-clock per run", "",
            ("Wall-clock: seconds of training (compile, updates, evaluations; all seeds together in one program) "
            "summed over the invocations of a resumed run, including any time the machine was shared or the run "
            "paused. Env frames/s: every seed's frames per second in an evaluation chunk, the median over chunks "
            "(a pause or compile in a few chunks does not move it) and the fastest chunk (the nearest to a quiet "
            "machine when other jobs shared the cores).") + (
                " A run in shards: wall-clock summed over its shards, env frames/s every seed's frames over the time "
                "its shards took one after another (each shard's median or fastest chunk)." if any(
                    "shards" in r for r in runs) else ""), ""]
    rows = []
    for r in sorted(runs, key=lambda r: (r["suite"], r["task"], r["agent"])):
        c = r["config"]
        run = c["run"]
        rows.append([task_label(r["suite"], r["task"]), r["agent"],
                     f"{r['frames']:,}" + ("" if r["finished"] else f" of {run['total_steps']:,}"),
                     str(run["num_seeds"]) + (f" ({len(r['shards'])} shards)" if "shards" in r else ""),
                     _fmt(r["wall_s"], 0), _fmt(r["frames_per_s"], 0),
                     _fmt(r["frames_per_s_best"], 0)])
    out += _md_table(["task", "agent", "env frames / seed", "seeds", "wall-clock (s)",
                      "env frames/s, median chunk", "env frames/s, fastest chunk"],
                     rows) + [""]
    out += ["## Reproduce", "", "```bash"] + commands + [command, "```", ""]
    return "\n".join(out)


def define_flags():
    """Flags of the command line (defined only when run as a script, so importing this module is side-effect free)."""
    flags.DEFINE_string("out", "RESULTS.md", "markdown file to write")
    flags.DEFINE_string("plots_dir", "results", "folder for the PNG plots, relative to the directory of --out")
    flags.DEFINE_integer("bootstrap_reps", 2000, "bootstrap resamples for the 95% intervals")
    flags.DEFINE_string("title", "Results", "heading of the report")
    flags.DEFINE_multi_string("note", [], "a line for the Setup section (e.g. what else loaded the machine); repeatable")
    flags.DEFINE_string("conclusion", None, "a markdown file with the written conclusion, placed after the Setup")


def file_in_the_way(folder: str) -> str | None:
    """The file (not a folder) at ``folder`` or above it that would stop ``os.makedirs(folder)``; None if none."""
    path = os.path.abspath(folder)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return None if os.path.isdir(path) else path


def main(argv):
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # rliable logs every interval it computes
    from diffsr_jax.fields import ConfigError
    from experiments.cli import fail

    FLAGS = flags.FLAGS
    paths = argv[1:]
    if not paths:
        fail("pass one or more run roots, e.g. python -m experiments.report runs/suites/cpu")
    if FLAGS.bootstrap_reps < 1:
        fail(f"--bootstrap_reps={FLAGS.bootstrap_reps}: must be at least 1 (2000 gives stable intervals)")
    if FLAGS.conclusion and not os.path.isfile(FLAGS.conclusion):
        fail(f"--conclusion={FLAGS.conclusion}: no such file; pass a markdown file with the written conclusion")
    out_dir = os.path.dirname(os.path.abspath(FLAGS.out))
    plot_dir = os.path.join(out_dir, FLAGS.plots_dir)
    if os.path.isdir(FLAGS.out):
        fail(f"--out={FLAGS.out} is a folder; pass the markdown file to write, e.g. {os.path.join(FLAGS.out, 'R.md')}")
    for flag, folder in (("out", out_dir), ("plots_dir", plot_dir)):
        blocking = file_in_the_way(folder)
        if blocking:
            fail(f"--{flag}: {blocking} is a file where a folder goes; pass another path")
    try:
        run_dirs = find_runs(paths)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    try:
        runs = merge_shards([load_run(p) for p in run_dirs])
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if not any(r["returns"].size for r in runs):
        fail(f"no run under {' '.join(paths)} has logged an evaluation yet; report once one has")
    os.makedirs(plot_dir, exist_ok=True)
    command = "python -m experiments.report " + shlex.join(sys.argv[1:])
    conclusion = ""
    if FLAGS.conclusion:
        with open(FLAGS.conclusion) as f:
            conclusion = f.read()
    text = build_report(runs, plot_dir, FLAGS.plots_dir, command, FLAGS.bootstrap_reps, FLAGS.title, FLAGS.note,
                        conclusion)
    with open(FLAGS.out, "w") as f:
        f.write(text)
    print(f"wrote {FLAGS.out} ({len(runs)} runs) and plots in {plot_dir}")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
