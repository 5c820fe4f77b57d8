"""RESULTS.md rebuilt, every row, from the raw logs committed under results/runs/, by one command:

    python -m experiments.results          # RESULTS.md + results/<study>/RESULTS.md and figures

A study (STUDIES) is the set of runs under one folder of results/runs/ (a suite root as experiments.suite wrote it).
Its full report (experiments.report: setup, per-task tables with IQM and intervals, the paper's window score,
probability of improvement, learning curves, probes, wall-clock) goes to results/<study>/RESULTS.md. RESULTS.md holds
what a reader asks first: task by task, Diff-SR against its base under the rule below, the paper's standing beside it,
the comparisons planned but not run yet, and each study's written notes (results/notes/<study>.md, by hand: what the
numbers mean, never the numbers themselves). tests/test_results.py rebuilds every markdown file and fails on a
difference, so nothing in them is copied by hand.

A comparison's standing and its verdict on the paper's claim are two functions of data (``no_verdict_reason``,
``standing``, ``confounders``, ``verdict``), each tested on synthetic input (tests/test_results_verdicts.py): no
verdict with under 2 seeds a side, a NaN seed score, or where neither agent reaches the task's success threshold;
*confounded* where the two runs' config.json differ outside the critic's groups.
"""
from __future__ import annotations

import dataclasses
import os
import re
import sys

import numpy as np
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = "python -m experiments.results"
EXEMPT_FIELDS = ("run.agent", "run.preset")  # what names the agent and its preset, not what it runs


def critic_groups() -> tuple:
    """The config groups of the critics (agents/registry.py CRITICS: mlp_critic; psi_critic, representation,
    optimism) and of a pixel base's encoders (vae): what a comparison of two critics on one base is meant to vary."""
    from diffsr_jax.agents.registry import BASES, CRITICS

    encoders = (g for base in BASES.values() if base.pixels for e in base.encoders.values() for g in e.groups)
    return tuple(dict.fromkeys([*(g for _, groups in CRITICS.values() for g in groups), *encoders]))


def verdict_rule() -> str:
    return ("In a comparison *A vs B*, A is *ahead* of B when the 95% interval of P(A > B) lies above 0.5, *behind* "
            "when it lies below, *level* when it holds 0.5. A comparison gets *no verdict* where a side has fewer than "
            "2 seeds or a seed whose score is NaN, or, on a task with a success threshold (the success table below), "
            "where no seed of either agent reaches it at any evaluation: their order then says nothing about the "
            "task. A comparison is *confounded* where the two runs' stored configs (config.json; older ones read "
            "through `diffsr_jax/config/legacy.py`) differ in any field outside the critic's groups ("
            + ", ".join(f"`{g}`" for g in critic_groups()) + ") other than " + " and ".join(
                f"`{f}`" for f in EXEMPT_FIELDS) + " (and, for an ablation `<agent>+<name>`, the fields that ablation "
            "sets: the change its name states): the verdict names those fields, the statistics stay, and no "
            "claim of the paper is reproduced or not by it, since its difference is not the critic's alone. The "
            "paper's claim (Diff-SR-SAC ahead of SAC) is *reproduced* where the paper has Diff-SR ahead and so do we, "
            "*not reproduced* where we find it level or behind, in a comparison neither confounded nor without a "
            "verdict.")


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
    arms: tuple = ()  # ((task, agent, compared with), ...): comparisons planned on one task only


# success thresholds (task, threshold, what reaching it means), shared by the studies of a task
MOUNTAINCAR_FLAG = ("mountaincar", 0.0, "the final evaluation's mean return is above 0, which only episodes that reach "
                    "the flag can give (-0.1 a^2 per step otherwise)")
CARTPOLE_UPRIGHT = ("cartpole_swingup_sparse", 100.0, "the final evaluation's mean return is above 100: the pole held "
                    "upright and centred for at least a fifth of the 500 decisions")

STUDIES = (
    Study("table1", "MBBL mjx, study preset, 200k",
          "The paper's Table 1 on MBBL's tasks (Brax mjx models, native physics), 200k frames, 25k random warm-up, "
          "the study preset: one protocol for both agents, only the critic and the representation differ",
          "suites_table1/mbbl", ("halfcheetah", "hopper_et", "walker_et", "ant_et"), (("diffsr_sac", "sac"),),
          "python -m experiments.suite --suite=mbbl --tasks=halfcheetah,hopper_et,walker_et,ant_et "
          "--agents=sac,diffsr_sac --preset=study --num_seeds=4 --root=runs/suites_table1",
          arms=(("halfcheetah", "diffsr_sac+alpha_fixed", "diffsr_sac"), ("halfcheetah", "diffsr_sac+alpha_fixed",
                                                                          "sac"),
                ("hopper_et", "diffsr_sac+critic_reads_target", "diffsr_sac"),
                ("hopper_et", "diffsr_sac+critic_reads_target", "sac"))),
    Study("table1_pomdp", "MBBL mjx, POMDP, study preset, 200k",
          "Partial observability (paper App. E) with the Table 1 protocol: MBBL's HalfCheetah with its velocities "
          "dropped and the last 3 observations stacked, 200k frames, 25k random warm-up, the study preset",
          "suites_table1_pomdp/mbbl_pomdp", ("halfcheetah_pomdp",), (("diffsr_sac", "sac"),),
          "python -m experiments.suite --suite=mbbl_pomdp --tasks=halfcheetah_pomdp --agents=sac,diffsr_sac "
          "--preset=study --num_seeds=4 --root=runs/suites_table1_pomdp"),
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
    Study("pixels", "pixels, CartpoleBalance 32 px, 40k",
          "From pixels (issue 42): Diff-SR-DrQ-v2 (a VAE's latents, psi and zeta on them, the critic on psi) vs DrQ-v2 "
          "(its convolutional encoder trained by the critic) on Playground's CartpoleBalance from 32 x 32 frames, "
          "40k frames, the fast presets: one protocol, only the encoder, the critic and the representation differ",
          "suites_pixels/pixels", ("cartpole_balance",), (("diffsr_drqv2", "drqv2"),),
          "python -m experiments.suite --suite=pixels --agents=drqv2,diffsr_drqv2 --num_seeds=4 "
          "--root=runs/suites_pixels"),
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
            "machine that ran them. Its conclusion was written before the rule above: its Diff-SR-SAC vs SAC "
            "comparisons are judged by the rule in the table (the rows \"archived\"), where Ant-ET, which it calls "
            "reproduced in direction, is level, and all four are confounded"),
           ("results/archive/RESULTS_cpu_suite.md", "the cpu suite (gymnax Pendulum, Brax inverted pendulum and "
            "reacher at 20k env steps, 3 seeds; 2026-11-22): its raw logs were not kept; its Diff-SR-SAC and SAC "
            "presets differ in the actor's activation and the target period as the spring study's do (confounded)"))
# The archived spring study's Diff-SR-SAC and SAC rows (results/archive/RESULTS_spring_100k.md, "Per-task results":
# 4 seeds each; score mean, population std, IQM and the IQM's interval, which with 4 seeds is the range of the seeds):
# stats.seeds_from_summary gives the four seeds back, so the rule above can be applied to them.
ARCHIVED_LABEL = "archived: spring, 100k (seeds rebuilt from its table)"
ARCHIVED_SUITE = "mbbl_spring"
ARCHIVED_SUMMARY = {  # task -> agent -> (mean, std, IQM, IQM interval low, high)
    "halfcheetah": {"diffsr_sac": (2543.5, 623.7, 2300.0, 1980.8, 3593.0),
                    "sac": (1289.1, 434.6, 1501.1, 540.7, 1613.4)},
    "hopper_et": {"diffsr_sac": (350.4, 60.5, 356.9, 261.1, 426.8), "sac": (390.8, 50.2, 367.9, 351.5, 475.7)},
    "walker_et": {"diffsr_sac": (304.5, 23.1, 298.0, 280.3, 341.9), "sac": (359.4, 32.5, 355.6, 321.1, 405.4)},
    "ant_et": {"diffsr_sac": (2434.0, 727.9, 2641.9, 1257.3, 3195.0), "sac": (1180.4, 285.7, 1219.1, 750.9, 1532.6)},
}
# Its config.json files were lost with the runs. Both agents ran the `fast` presets of 67d1ef2 (its Setup), which
# differ outside the critic's groups in these fields (`git show 67d1ef2:experiments/configs/diffsr_sac.py`, `sac.py`
# and `diffsr_jax/config/actor_critic.py`, today's names): the same two every later Diff-SR-SAC vs SAC pair differs in.
ARCHIVED_DIFFER = (("actor_critic.activation", "elu", "relu"), ("sac.target_update_every", 2, 1))


def study_runs(study: Study, runs_root: str) -> list[dict]:
    """The study's runs under ``runs_root``, the shards of a run (its seeds in pieces) merged into one; a run finished
    with fewer seeds than the study plans is marked ``partial`` ("1 of 4"): its report shows it, compares it with
    nothing and leaves it out of the aggregate."""
    from experiments.report import load_runs, run_seeds

    path = os.path.join(runs_root, study.folder)
    runs = load_runs([path]) if os.path.isdir(path) else []
    planned = planned_seeds(study)
    return [{**r, "partial": f"{len(run_seeds(r))} of {planned}", "planned_seeds": planned}
            if r["finished"] and not complete(study, r) else r for r in runs]


def planned_seeds(study: Study) -> int:
    """How many seeds each of the study's runs has: its command's --num_seeds (0, no count asked, where it has none)."""
    given = re.search(r"--num_seeds=(\d+)", study.command)
    return int(given.group(1)) if given else 0


def complete(study: Study, run: dict) -> bool:
    """Whether ``run`` is finished with every seed the study plans (a run in shards: all of them)."""
    from experiments.report import run_seeds

    return run["finished"] and len(run_seeds(run)) >= planned_seeds(study)


def _fmt_iqm(scores, reps) -> str:
    from experiments import stats

    s = np.asarray(scores, np.float64)
    s = s[np.isfinite(s)]
    if not s.size:
        return "n/a"
    lo, hi = stats.interval(s, reps=reps)
    return f"{stats.iqm(s):,.0f} [{lo:,.0f}, {hi:,.0f}]"


def paper_standing(run: dict, agent: str, base: str) -> tuple[str, bool | None]:
    """(the paper's numbers for ``agent`` and ``base`` on the run's task, whether the paper has ``agent`` ahead, or
    None where it has no such pair). The paper's claim is plain Diff-SR against its base: an addition to Diff-SR
    (``+``) or two Diff-SR variants is not its comparison."""
    from experiments.report import _task_meta
    from experiments.suites import PAPER_AGENT

    if "+" in agent or "+" in base or base.startswith("diffsr_"):
        return "not the paper's comparison", None
    meta = _task_meta(run)
    paper = meta.paper_scores() if meta else {}
    a, b = PAPER_AGENT.get(agent), PAPER_AGENT.get(base)
    if a is None or b is None or a not in paper or b not in paper:
        return "no paper number", None
    d, s = paper[a][0], paper[b][0]
    return f"{d:,.0f} vs {s:,.0f} ({meta.paper_task})", d > s


def task_pairs(study: Study, task: str) -> list[tuple[str, str]]:
    """(agent, compared with) of every comparison the study plans on ``task``: its pairs, then its arms there."""
    return [*study.pairs, *((a, b) for t, a, b in study.arms if t == task)]


def unfinished(study: Study, runs: list[dict]) -> list[tuple[str, str]]:
    """(task, agent) of every run the study plans whose raw logs are not those of a finished run with all its seeds."""
    done = {(r["task"], r["agent"]) for r in runs if complete(study, r)}
    planned = [(t, a) for t in study.tasks  # bases first, as the suite runs them
               for a in dict.fromkeys(a for pair in task_pairs(study, t) for a in pair[::-1])]
    return [(t, a) for t, a in planned if (t, a) not in done]


def resume_commands(study: Study, todo: list[tuple[str, str]], runs: list[dict] = ()) -> list[str]:
    """The study's suite command narrowed to the runs in ``todo``: one command per set of agents (tasks sharing it
    go together), so that a fresh checkout runs only what is missing, never a run whose logs are committed. A run of
    which some seeds are finished (shards, in ``runs``) gets one command per missing range of seeds: a shard
    (--seed, --num_seeds) under a root of its own, which the report merges with the others."""
    from experiments.report import run_seeds
    from experiments.seeds import seed_spans
    from experiments.suite import DEFAULT_ROOT

    have = {}
    for r in runs:
        for shard in r.get("shards", [r]):
            if shard["finished"]:
                have.setdefault((r["task"], r["agent"]), set()).update(run_seeds(shard))
    by_task, shards = {}, []
    for task, agent in todo:
        if (task, agent) not in have:
            by_task.setdefault(task, []).append(agent)
            continue
        narrowed = re.sub(r"--agents=\S+", f"--agents={agent}", re.sub(r"--tasks=\S+", f"--tasks={task}",
                                                                       study.command))
        missing = sorted(set(range(planned_seeds(study))) - have[task, agent])
        for first, last in seed_spans(missing):
            cmd = re.sub(r"--num_seeds=\d+", f"--num_seeds={last - first + 1} --seed={first}", narrowed)
            if "--root=" not in cmd:
                cmd += f" --root={DEFAULT_ROOT}"  # named, so that the shard's root can be its own
            shards.append(re.sub(r"--root=(\S+)", rf"--root=\g<1>_seeds{first}-{last}", cmd))
    groups, commands = {}, []
    for task, agents in by_task.items():
        groups.setdefault(tuple(agents), []).append(task)
    for agents, tasks in groups.items():
        cmd = re.sub(r"--tasks=\S+", f"--tasks={','.join(tasks)}", study.command)
        commands.append(re.sub(r"--agents=\S+", f"--agents={','.join(agents)}", cmd))
    return commands + shards


# --- the verdicts ---------------------------------------------------------------------------------------------------
def no_verdict_reason(agent: str, base: str, x, y, neither_succeeds: bool = False) -> str | None:
    """Why the seed scores ``x`` of ``agent`` and ``y`` of ``base`` (seeds,) cannot be ordered; None where they can."""
    sides = ((agent, np.asarray(x, np.float64)), (base, np.asarray(y, np.float64)))
    few = [f"{name} has {s.size}" for name, s in sides if s.size < 2]
    if few:
        return f"fewer than 2 seeds a side ({', '.join(few)})"
    bad = [f"{name} seed {i}" for name, s in sides for i in np.flatnonzero(np.isnan(s))]
    if bad:
        return f"NaN seed score ({', '.join(bad)})"
    if neither_succeeds:
        return "neither agent reaches the success threshold"
    return None


def standing(lo: float, hi: float) -> str:
    """A's standing against B from the 95% interval of P(A > B)."""
    return "ahead" if lo > 0.5 else "behind" if hi < 0.5 else "level"


ABSENT = "absent"


def ablation_fields(*agents: str) -> tuple[str, ...]:
    """The config fields the ablations named in ``agents`` (``<agent>+<ablation>``) set: the change such a
    comparison is about, which its name states."""
    from experiments.suites import ABLATIONS

    return tuple(k for a in agents if "+" in a for k in ABLATIONS.get(a.partition("+")[2], {}))


def confounders(config_x: dict, config_y: dict, exempt: tuple = ()) -> list[tuple[str, object, object]]:
    """(field, value in x, value in y) of every field outside the critic's groups (``critic_groups``),
    ``EXEMPT_FIELDS`` and ``exempt`` whose value differs between two runs' stored configs (config.json dicts): what
    the two agents differ in besides their critics (and what ``exempt`` names)."""
    from experiments.report import config_fields

    skip, exempt = set(critic_groups()), {*EXEMPT_FIELDS, *exempt}
    fx, fy = config_fields(config_x), config_fields(config_y)
    return [(k, fx.get(k, ABSENT), fy.get(k, ABSENT)) for k in sorted(fx.keys() | fy.keys())
            if k.split(".")[0] not in skip and k not in exempt and fx.get(k, ABSENT) != fy.get(k, ABSENT)]


def _value(v) -> str:
    return "(" + ", ".join(map(_value, v)) + ")" if isinstance(v, tuple) else str(v)


def verdict(ours: str | None, reason: str | None, differ, paper_ahead: bool | None) -> str:
    """The verdict on the paper's claim: confounded (naming the fields) where the agents differ besides their critics,
    no verdict where the scores cannot be ordered, else reproduced or not where the paper has a claim."""
    if differ:
        return "confounded: " + ", ".join(f"{k} ({_value(a)} vs {_value(b)})" for k, a, b in differ) + " differ"
    if reason:
        return f"no verdict: {reason}"
    if paper_ahead is None:
        return "no paper claim"
    if not paper_ahead:
        return "paper has the base ahead"
    return "reproduced" if ours == "ahead" else "not reproduced"


def judge(agent: str, base: str, x, y, reps: int, paper_ahead: bool | None = None, neither_succeeds: bool = False,
          differ=()) -> list[str]:
    """[P(agent > base) [95% CI], our standing, the verdict] for seed scores x of agent and y of base. The statistics
    are shown over the finite seeds wherever there are any, also where they give no verdict."""
    from experiments import stats

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    reason = no_verdict_reason(agent, base, x, y, neither_succeeds)
    fx, fy = x[np.isfinite(x)], y[np.isfinite(y)]
    p_txt, ours = "n/a", None
    if fx.size and fy.size:
        p, lo, hi = stats.improvement(fx, fy, reps=reps)
        p_txt, ours = f"{p:.2f} [{lo:.2f}, {hi:.2f}]", standing(lo, hi)
    shown = f"no verdict: {reason}" if reason else f"{agent} {ours}"
    return [p_txt, shown, verdict(ours, reason, differ, paper_ahead)]


def reaches(run: dict, threshold: float) -> bool:
    """Whether any seed of the run scores above ``threshold`` at any evaluation."""
    return bool(np.any(np.asarray(run["returns"], np.float64) > threshold))


def _progress(study: Study, agent: str, run: dict | None) -> str:
    """How far ``agent``'s run of the study is: not started, at some frames, or finished with some of its seeds."""
    from experiments.report import run_seeds
    from experiments.seeds import seeds_label

    if run is None:
        return f"{agent} not started"
    if not run["finished"]:
        return f"{agent} at {run['frames']:,} frames"
    return f"{agent} has {len(run_seeds(run))} of {planned_seeds(study)} seeds ({seeds_label(run_seeds(run))})"


def comparison_rows(study: Study, runs: list[dict], reps: int) -> tuple[list, list]:
    """(table rows, comparisons planned but without both runs finished) for one study."""
    by = {(r["task"], r["agent"]): r for r in runs}
    rows, missing = [], []
    for task in study.tasks:
        threshold = next((t for name, t, _ in study.success if name == task), None)
        for agent, base in task_pairs(study, task):
            x, y = by.get((task, agent)), by.get((task, base))
            if x is None or y is None or not (complete(study, x) and complete(study, y)):
                state = ", ".join(_progress(study, a, r) for a, r in ((agent, x), (base, y))
                                  if r is None or not complete(study, r))
                missing.append(f"{task}, {agent} vs {base} ({state})")
                continue
            paper_txt, paper_ahead = paper_standing(x, agent, base)
            neither = threshold is not None and not (reaches(x, threshold) or reaches(y, threshold))
            p, ours, v = judge(agent, base, x["scores"], y["scores"], reps, paper_ahead, neither,
                               confounders(x["config"], y["config"], ablation_fields(agent, base)))
            rows.append([task, f"{agent} vs {base}", _fmt_iqm(x["scores"], reps), _fmt_iqm(y["scores"], reps), p, ours,
                         paper_txt, v])
    return rows, missing


def archived_rows(reps: int) -> list:
    """The archived spring study's Diff-SR-SAC vs SAC comparisons, judged by the same rule on the seeds its table
    gives back (``stats.seeds_from_summary``); confounded by ``ARCHIVED_DIFFER``."""
    from experiments import stats

    rows = []
    for task, summary in ARCHIVED_SUMMARY.items():
        x, y = (stats.seeds_from_summary(*summary[a]) for a in ("diffsr_sac", "sac"))
        paper_txt, paper_ahead = paper_standing({"suite": ARCHIVED_SUITE, "task": task}, "diffsr_sac", "sac")
        p, ours, v = judge("diffsr_sac", "sac", x, y, reps, paper_ahead, differ=ARCHIVED_DIFFER)
        rows.append([task, ARCHIVED_LABEL, "diffsr_sac vs sac", _fmt_iqm(x, reps), _fmt_iqm(y, reps), p, ours,
                     paper_txt, v])
    return rows


def success_rows(study: Study, runs: list[dict], reps: int) -> list:
    """[task, agent, what success is, seeds succeeding / seeds, IQM [95% CI]] for every finished run of a task with a
    success threshold: a seed succeeds when its final evaluation's mean return is above the threshold."""
    rows = []
    for task, threshold, what in study.success:
        for r in sorted((r for r in runs if r["task"] == task and r["finished"]), key=lambda r: r["agent"]):
            final = r["returns"][:, -1]
            rows.append([task, r["agent"], f"> {threshold:g}: {what}", f"{int(np.sum(final > threshold))} / "
                         f"{final.size}", _fmt_iqm(r["scores"], reps)])
    return rows


def seeds_sentence(seeds: list[tuple[str, tuple]]) -> str:
    """What the intervals are with the table's few seeds: (comparison, (seeds of A, seeds of B)) of every row."""
    others = [f"{name}: {a} and {b}" for name, (a, b) in seeds if (a, b) != (4, 4)]
    counts = {n for _, pair in seeds for n in pair}
    text = ("Every comparison has 4 seeds a side" + (f" except {'; '.join(others)}" if others else "") + ". With 4 "
            "seeds the IQM is the mean of the two middle seeds, and its 95% bootstrap interval is just the range of "
            "the seeds, lowest to highest: a resample puts the lowest (highest) seed in both middle places 13 times in "
            "256, more often than the 2.5% the interval leaves out at each end.")
    if 3 in counts:
        text += (" With 3 seeds the IQM is the plain mean, and its interval is again the range (1 resample in 27 draws "
                 "the lowest seed three times).")
    return text + " So an interval here shows how far the seeds spread, not how well the IQM is known."


def build_results(runs_root: str, out_dir: str, reps: int) -> dict[str, str]:
    """Every study's report and RESULTS.md -> {path relative to out_dir: markdown}; figures written under out_dir."""
    from experiments.report import _md_table, build_report

    files, summary, pending, notes, success, seeds = {}, [], [], [], [], []
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
        by = {(r["task"], r["agent"]): r for r in runs}
        seeds += [(f"{row[0]}, {row[1]} ({study.label})", tuple(len(by[row[0], a]["scores"]) for a in
                                                                   row[1].split(" vs "))) for row in rows]
        success += [[row[0], study.label, *row[1:]] for row in success_rows(study, runs, reps)]
        if missing:
            commands = "; ".join(f"`{c}`" for c in resume_commands(study, unfinished(study, runs), runs))
            pending.append(f"- {study.title}: " + "; ".join(missing) + f". Run or resume (only these runs): {commands}")
        done = sum(complete(study, r) for r in runs)
        link = f"[report]({rel})" if rel in files else "no evaluation logged yet"
        state = f"{done} of {len(runs)} runs finished" if runs else "no runs yet"
        studies_md.append(f"- **{study.title}** ({'earlier setting, kept for the record; ' if study.earlier else ''}"
                          f"{state}; raw logs in `results/runs/{study.folder}`): {link}.")
        if note:
            notes += [f"### {study.title}", "", note, ""]
    archived = archived_rows(reps)
    summary += archived
    seeds += [(f"{row[0]}, {row[2]} ({row[1]})", (4, 4)) for row in archived]
    out = ["# Results", "",
           f"Generated by `{COMMAND}` from the raw logs committed under `results/runs/` (config.json, metrics.jsonl, "
           "run.json, provenance.jsonl of every run); `tests/test_results.py` rebuilds this file and every study's "
           "report and fails on a difference. Our agents only, the same budget and seeds within a comparison (the "
           "code revision of every run is in its study's report).", "",
           "## Conclusion, task by task", "", verdict_rule() + " Scores: a seed's mean over its last 4 evaluations; "
           "IQM over seeds with its 95% stratified-bootstrap interval and P(A > B) with its interval, all "
           f"from rliable ({reps} resamples). " + seeds_sentence(seeds) + " The paper's numbers are Gym-MuJoCo "
           "(another simulator and reward scale) at 200k steps: compare standings, not values. The archived rows are "
           "the first spring study's, whose raw logs are lost: their seeds are rebuilt from its table (4 seeds each: "
           "mean, population std, IQM and the IQM's interval, which with 4 seeds is the lowest and highest seed), and "
           "their confounding fields are those of the presets that trained them (its config.json files were lost "
           "too).", ""]
    out += _md_table(["task", "setting", "comparison A vs B", "A IQM [95% CI]", "B IQM [95% CI]",
                      "P(A > B) [95% CI]", "ours", "paper (Diff-SR vs SAC)", "verdict"],
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
    if not any(study_runs(s, FLAGS.runs_root) for s in STUDIES):
        sys.stderr.write(f"error: --runs_root={FLAGS.runs_root} holds no study's runs (none of "
                         f"{', '.join(s.folder for s in STUDIES[:3])}, ...); pass the folder holding the raw logs "
                         "(default results/runs)\n")
        sys.exit(2)
    if FLAGS.bootstrap_reps < 1:
        sys.stderr.write(f"error: --bootstrap_reps={FLAGS.bootstrap_reps}: must be at least 1 (2000 gives stable "
                         "intervals)\n")
        sys.exit(2)
    from experiments.report import file_in_the_way

    blocking = file_in_the_way(FLAGS.out_dir)
    if blocking:
        sys.stderr.write(f"error: --out_dir={FLAGS.out_dir}: {blocking} is a file where a folder goes; pass another "
                         "folder\n")
        sys.exit(2)
    files = build_results(FLAGS.runs_root, FLAGS.out_dir, FLAGS.bootstrap_reps)
    for rel, text in files.items():
        path = os.path.join(FLAGS.out_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    print(f"wrote {', '.join(sorted(files))} under {FLAGS.out_dir}")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
