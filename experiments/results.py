"""RESULTS.md rebuilt, every row, from the raw logs committed under results/runs/, by one command:

    python -m experiments.results          # RESULTS.md + results/<study>/RESULTS.md and figures

A study (STUDIES) is the set of runs under one folder of results/runs/ (a suite root as experiments.suite wrote it).
Its full report (experiments.report: setup, per-task tables with IQM and intervals, the paper's window score,
probability of improvement, learning curves, probes, wall-clock) goes to results/<study>/RESULTS.md. RESULTS.md holds
what a reader asks first: task by task, Diff-SR against its base under the rule below, the paper's standing beside it,
the comparisons planned but not run yet, and each study's written notes (results/notes/<study>.md, by hand: what the
numbers mean, never the numbers themselves). tests/test_results.py rebuilds every markdown file and fails on a
difference, so nothing in them is copied by hand.
"""
from __future__ import annotations

import dataclasses
import os
import re
import sys

import numpy as np
from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = "python -m experiments.results"
VERDICT_RULE = ("Diff-SR is *ahead* of its base when the 95% interval of P(Diff-SR > base) lies above 0.5, "
                "*behind* when it lies below, *level* when it holds 0.5. The paper's claim is *reproduced* where the paper has "
                "Diff-SR ahead and so do we, *not reproduced* where we find it level or behind.")


@dataclasses.dataclass(frozen=True)
class Study:
    name: str  # results/<name>/ holds its report and figures; results/notes/<name>.md its written notes
    label: str  # its setting in a few words, for the conclusion's table
    title: str
    folder: str  # under results/runs/: <suite root>/<suite>
    tasks: tuple  # tasks the study plans (suite task names)
    pairs: tuple  # (Diff-SR agent, its base) compared on every task
    command: str  # the suite command that runs (or resumes) it
    earlier: bool = False  # superseded setting, kept and labelled
    success: tuple = ()  # ((task, threshold, what reaching it means), ...): success rates where the task has one


# success thresholds (task, threshold, what reaching it means), shared by the studies of a task
MOUNTAINCAR_FLAG = ("mountaincar", 0.0, "the final evaluation's mean return is above 0, which only episodes that reach "
                    "the flag can give (-0.1 a^2 per step otherwise)")
CARTPOLE_UPRIGHT = ("cartpole_swingup_sparse", 100.0, "the final evaluation's mean return is above 100: the pole held "
                    "upright and centred for at least a fifth of the 500 decisions")

STUDIES = (
    Study("mjx", "Brax mjx, 100k",
          "Hopper-ET and Walker-ET on Brax mjx (the faithful ports of Gym's models), 100k frames",
          "suites_mjx/mbbl_mjx", ("hopper_et", "walker_et"), (("diffsr_sac", "sac"),),
          "python -m experiments.suite --suite=mbbl_mjx --tasks=hopper_et,walker_et --agents=sac,diffsr_sac "
          "--num_seeds=4 --root=runs/suites_mjx"),
    Study("dmc", "Playground DMC, 200k",
          "Diff-SR-TD3 vs TD3 on Playground DM Control, 200k frames (the same actor and observation normalisation "
          "for both)", "suites_dmc/dmc", ("cheetahrun", "hopperhop"), (("diffsr_td3", "td3"),),
          "python -m experiments.suite --suite=dmc --tasks=cheetahrun,hopperhop --agents=td3,diffsr_td3 --num_seeds=4 "
          "--total_steps=200000 --root=runs/suites_dmc --set=replay.normalize_obs=True,td3.policy_delay=1,"
          "td3.noise_clip=0.3,td3.actor_q_reduce=mean,actor_critic.actor_layer_norm=True,run.warmup_steps=10000"),
    Study("pomdp", "Brax mjx, POMDP, 100k",
          "Partial observability (velocities dropped, last 3 observations), 100k frames",
          "suites_pomdp/mbbl_pomdp", ("halfcheetah_pomdp", "hopper_et_pomdp"), (("diffsr_sac", "sac"),),
          "python -m experiments.suite --suite=mbbl_pomdp --tasks=halfcheetah_pomdp,hopper_et_pomdp "
          "--agents=sac,diffsr_sac --num_seeds=4 --total_steps=100000 --root=runs/suites_pomdp "
          "--set=run.warmup_steps=5000"),
    Study("exploration", "exploration, 50k",
          "Exploration (issue 31): Diff-SR-SAC with and without the optimism bonus on psi, and SAC, on tasks where "
          "entropy alone tends to settle on doing nothing, 50k frames", "suites_explore/exploration",
          ("mountaincar", "cartpole_swingup_sparse"),
          (("diffsr_sac+optimism", "diffsr_sac"), ("diffsr_sac+optimism", "sac"), ("diffsr_sac", "sac")),
          "python -m experiments.suite --suite=exploration --agents=sac,diffsr_sac,diffsr_sac+optimism --num_seeds=4 "
          "--root=runs/suites_explore",
          success=(MOUNTAINCAR_FLAG, CARTPOLE_UPRIGHT)),
    Study("objectives", "spring, flow vs score, 100k",
          "Flow matching vs score matching (issue 31): Diff-SR-SAC with each objective on HalfCheetah, Brax spring, "
          "100k frames", "suites_objectives/mbbl_spring", ("halfcheetah",),
          (("diffsr_sac+flow_matching", "diffsr_sac"),),
          "python -m experiments.suite --suite=mbbl_spring --tasks=halfcheetah "
          "--agents=diffsr_sac,diffsr_sac+flow_matching --num_seeds=3 --root=runs/suites_objectives"),
    Study("spring_ar2", "earlier: spring, repeat 2, 100k",
          "Earlier: Hopper-ET and Walker-ET on Brax spring, action repeat 2, 100k frames",
          "suites_ar2/mbbl_spring", ("hopper_et", "walker_et"), (("diffsr_sac", "sac"),),
          "python -m experiments.suite --suite=mbbl_spring --tasks=hopper_et,walker_et --agents=sac,diffsr_sac "
          "--num_seeds=4 --root=runs/suites_ar2 --set=env.action_repeat=2", earlier=True),
    Study("spring_ar2_200k", "earlier: spring, repeat 2, 200k",
          "Earlier: the same spring runs continued to 200k frames", "suites_ar2_200k/mbbl_spring",
          ("hopper_et", "walker_et"), (("diffsr_sac", "sac"),),
          "python -m experiments.suite --suite=mbbl_spring --tasks=hopper_et,walker_et --agents=sac,diffsr_sac "
          "--num_seeds=4 --root=runs/suites_ar2_200k --set=env.action_repeat=2 --total_steps=200000", earlier=True),
    Study("exploration_swept", "earlier: swept Sigma, Sigma^-1 tracked, 50k",
          "Earlier: the exploration study's Diff-SR-SAC + optimism with the second version of the bonus (Sigma swept "
          "over the replay, Sigma^-1 itself tracked by Newton-Schulz steps, a508f6b to dc12d54), 50k frames",
          "suites_explore_swept/exploration", ("mountaincar", "cartpole_swingup_sparse"), (),
          "git checkout a508f6b && python -m experiments.suite --suite=exploration "
          "--tasks=cartpole_swingup_sparse,mountaincar --agents=diffsr_sac+optimism --num_seeds=4 "
          "--root=runs/suites_explore_swept", earlier=True,
          success=(MOUNTAINCAR_FLAG, CARTPOLE_UPRIGHT)),
    Study("exploration_ema", "earlier: averaged Sigma, 50k",
          "Earlier: MountainCar, Diff-SR-SAC with the first version of the optimism bonus (Sigma an exponential "
          "average of psi psi^T over random replay batches, at a220fe3 and before), 50k frames",
          "suites_explore_ema/exploration", ("mountaincar",), (), "git checkout 66c92e9 && python -m experiments.suite "
          "--suite=exploration --tasks=mountaincar --agents=diffsr_sac+optimism --num_seeds=4 "
          "--root=runs/suites_explore_ema", earlier=True,
          success=(MOUNTAINCAR_FLAG,)),
    Study("spring_features256", "earlier: spring, F=256, 100k",
          "Earlier: HalfCheetah on Brax spring, Diff-SR-SAC with F = 256, 100k frames",
          "suites/mbbl_spring", ("halfcheetah",), (), "python -m experiments.suite --suite=mbbl_spring "
          "--tasks=halfcheetah --agents=diffsr_sac+features256 --num_seeds=4 --root=runs/suites", earlier=True),
)
# reports whose raw logs are gone: kept as written, labelled, never rebuilt
ARCHIVE = (("results/archive/RESULTS_spring_100k.md", "the first spring study (HalfCheetah, Hopper-ET, Walker-ET, "
            "Ant-ET at 100k frames; SAC, Diff-SR-SAC and five ablations; 2026-11-24): its raw logs were lost with the "
            "machine that ran them"),
           ("results/archive/RESULTS_cpu_suite.md", "the cpu suite (gymnax Pendulum, Brax inverted pendulum and "
            "reacher at 10k frames; 2026-11-22): its raw logs were not kept"))


def study_runs(study: Study, runs_root: str) -> list[dict]:
    from experiments.report import find_runs, load_run

    path = os.path.join(runs_root, study.folder)
    return [load_run(p) for p in find_runs([path])] if os.path.isdir(path) else []


def _fmt_iqm(r, reps) -> str:
    from experiments import stats

    s = r["scores"][np.isfinite(r["scores"])]
    if not s.size:
        return "n/a"
    lo, hi = stats.interval(s, reps=reps)
    return f"{stats.iqm(s):,.0f} [{lo:,.0f}, {hi:,.0f}]"


def paper_standing(run: dict) -> tuple[str, bool | None]:
    """(the paper's Diff-SR and base numbers for the run's task, whether the paper has Diff-SR ahead or None)."""
    from experiments.report import _task_meta

    meta = _task_meta(run)
    paper = meta.paper_scores() if meta else {}
    if "Diff-SR" not in paper or "SAC" not in paper:
        return "no paper number", None
    d, b = paper["Diff-SR"][0], paper["SAC"][0]
    return f"{d:,.0f} vs {b:,.0f} ({meta.paper_task})", d > b


def unfinished(study: Study, runs: list[dict]) -> list[tuple[str, str]]:
    """(task, agent) of every run the study plans whose raw logs are not those of a finished run."""
    done = {(r["task"], r["agent"]) for r in runs if r["finished"]}
    agents = list(dict.fromkeys(a for pair in study.pairs for a in pair[::-1]))  # bases first, as the suite runs
    return [(t, a) for t in study.tasks for a in agents if (t, a) not in done]


def resume_commands(study: Study, todo: list[tuple[str, str]]) -> list[str]:
    """The study's suite command narrowed to the runs in ``todo``: one command per set of agents (tasks sharing it
    go together), so that a fresh checkout runs only what is missing, never a run whose logs are committed."""
    by_task = {}
    for task, agent in todo:
        by_task.setdefault(task, []).append(agent)
    groups = {}
    for task, agents in by_task.items():
        groups.setdefault(tuple(agents), []).append(task)
    commands = []
    for agents, tasks in groups.items():
        cmd = re.sub(r"--tasks=\S+", f"--tasks={','.join(tasks)}", study.command)
        commands.append(re.sub(r"--agents=\S+", f"--agents={','.join(agents)}", cmd))
    return commands


def comparison_rows(study: Study, runs: list[dict], reps: int) -> tuple[list, list]:
    """(table rows, comparisons planned but without both runs finished) for one study."""
    from experiments import stats

    by = {(r["task"], r["agent"]): r for r in runs}
    rows, missing = [], []
    for task in study.tasks:
        for agent, base in study.pairs:
            x, y = by.get((task, agent)), by.get((task, base))
            if x is None or y is None or not (x["finished"] and y["finished"]):
                state = ", ".join(f"{a} not started" if r is None else f"{a} at {r['frames']:,} frames"
                                  for a, r in ((agent, x), (base, y)) if r is None or not r["finished"])
                missing.append(f"{task}, {agent} vs {base} ({state})")
                continue
            p, lo, hi = stats.improvement(x["scores"][np.isfinite(x["scores"])],
                                          y["scores"][np.isfinite(y["scores"])], reps=reps)
            ours = "ahead" if lo > 0.5 else "behind" if hi < 0.5 else "level"
            first = agent if base.startswith("diffsr_") else "Diff-SR"  # an addition to Diff-SR is named itself
            # the paper compares plain Diff-SR with its base; an addition or another objective is not its claim
            paper_txt, paper_ahead = (paper_standing(x) if "+" not in agent and not base.startswith("diffsr_")
                                      else ("not the paper's comparison", None))
            verdict = ("no paper claim" if paper_ahead is None else
                       "reproduced" if paper_ahead and ours == "ahead" else
                       "not reproduced" if paper_ahead else "paper has the base ahead")
            rows.append([task, f"{agent} vs {base}", _fmt_iqm(x, reps), _fmt_iqm(y, reps),
                         f"{p:.2f} [{lo:.2f}, {hi:.2f}]", f"{first} {ours}", paper_txt, verdict])
    return rows, missing


def success_rows(study: Study, runs: list[dict], reps: int) -> list:
    """[task, agent, what success is, seeds succeeding / seeds, IQM [95% CI]] for every finished run of a task with a
    success threshold: a seed succeeds when its final evaluation's mean return is above the threshold."""
    rows = []
    for task, threshold, what in study.success:
        for r in sorted((r for r in runs if r["task"] == task and r["finished"]), key=lambda r: r["agent"]):
            final = r["returns"][:, -1]
            rows.append([task, r["agent"], f"> {threshold:g}: {what}", f"{int(np.sum(final > threshold))} / "
                         f"{final.size}", _fmt_iqm(r, reps)])
    return rows


def build_results(runs_root: str, out_dir: str, reps: int) -> dict[str, str]:
    """Every study's report and RESULTS.md -> {path relative to out_dir: markdown}; figures written under out_dir."""
    from experiments.report import _md_table, build_report

    files, summary, pending, notes, success = {}, [], [], [], []
    studies_md = []
    for study in STUDIES:
        runs = study_runs(study, runs_root)
        rel = f"results/{study.name}/RESULTS.md"
        note_path = os.path.join(ROOT, "results", "notes", f"{study.name}.md")
        note = open(note_path).read().strip() if os.path.exists(note_path) else ""
        if any(r["returns"].size for r in runs):
            plot_dir = os.path.join(out_dir, "results", study.name, "figures")
            os.makedirs(plot_dir, exist_ok=True)
            files[rel] = build_report(runs, plot_dir, "figures", COMMAND, reps, study.title)
        rows, missing = comparison_rows(study, runs, reps)
        summary += [[row[0], study.label, *row[1:]] for row in rows]
        success += [[row[0], study.label, *row[1:]] for row in success_rows(study, runs, reps)]
        if missing:
            commands = "; ".join(f"`{c}`" for c in resume_commands(study, unfinished(study, runs)))
            pending.append(f"- {study.title}: " + "; ".join(missing) + f". Run or resume (only these runs): {commands}")
        done = sum(r["finished"] for r in runs)
        link = f"[report]({rel})" if rel in files else "no evaluation logged yet"
        state = f"{done} of {len(runs)} runs finished" if runs else "no runs yet"
        studies_md.append(f"- **{study.title}** ({'earlier setting, kept for the record; ' if study.earlier else ''}"
                          f"{state}; raw logs in `results/runs/{study.folder}`): {link}.")
        if note:
            notes += [f"### {study.title}", "", note, ""]
    out = ["# Results", "",
           f"Generated by `{COMMAND}` from the raw logs committed under `results/runs/` (config.json, metrics.jsonl, "
           "run.json, provenance.jsonl of every run); `tests/test_results.py` rebuilds this file and every study's "
           "report and fails on a difference. Our agents only, same code, budget and seeds within a comparison.", "",
           "## Conclusion, task by task", "", VERDICT_RULE + " Scores: a seed's mean over its last 4 evaluations; "
           "IQM over seeds with its 95% stratified-bootstrap interval and P(Diff-SR > base) with its interval, all "
           f"from rliable ({reps} resamples). The paper's numbers are Gym-MuJoCo (another simulator and reward "
           "scale) at 200k steps: compare standings, not values.", ""]
    out += _md_table(["task", "setting", "comparison", "Diff-SR IQM [95% CI]", "base IQM [95% CI]",
                      "P(Diff-SR > base) [95% CI]", "ours", "paper (Diff-SR vs SAC)", "verdict"],
                     summary) if summary else ["(none yet)"]
    if success:
        out += ["", "**Success rates** (where a task has a success threshold; IQM of the seeds' last-4-evaluation "
                "scores):", ""]
        out += _md_table(["task", "setting", "agent", "success", "seeds succeeding", "IQM [95% CI]"], success)
    out += ["", "**Planned comparisons not yet run** (without both runs finished):", ""]
    out += pending or ["- none"]
    summary_note = os.path.join(ROOT, "results", "notes", "conclusion.md")
    if os.path.exists(summary_note):  # hand-written, no numbers: what the table says, and what no study has tested
        out += ["", "### In words", "", open(summary_note).read().strip()]
    out += ["", "## Studies", ""] + studies_md + [f"- **Archived** (kept as written, cannot be rebuilt): [{path}]({path}), "
                                                 f"{what}." for path, what in ARCHIVE] + [""]
    if notes:
        out += ["## What the studies show (written notes)", ""] + notes
    files["RESULTS.md"] = "\n".join(out).rstrip() + "\n"
    return files


def define_flags():
    """The command line's flags, defined only when run as a script."""
    flags.DEFINE_string("runs_root", os.path.join(ROOT, "results", "runs"), "where the committed raw logs are")
    flags.DEFINE_string("out_dir", ROOT, "RESULTS.md and results/<study>/ are written here")
    flags.DEFINE_integer("bootstrap_reps", 2000, "bootstrap resamples for every interval")


def main(argv):
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # rliable logs every interval it computes
    FLAGS = flags.FLAGS
    if len(argv) > 1:
        sys.stderr.write(f"error: unexpected argument {argv[1]!r}; {COMMAND} takes only flags (--runs_root, "
                         "--out_dir)\n")
        sys.exit(2)
    if not os.path.isdir(FLAGS.runs_root):
        sys.stderr.write(f"error: --runs_root={FLAGS.runs_root} is not a directory; pass the folder holding the raw "
                         "logs (default results/runs)\n")
        sys.exit(2)
    files = build_results(FLAGS.runs_root, FLAGS.out_dir, FLAGS.bootstrap_reps)
    for rel, text in files.items():
        path = os.path.join(FLAGS.out_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    print(f"wrote {', '.join(sorted(files))} under {FLAGS.out_dir}")


if __name__ == "__main__":
    define_flags()
    app.run(main)
