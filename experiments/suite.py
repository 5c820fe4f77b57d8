"""Run a task suite: every task x agent, each run's seeds vmapped in one program; resumable.

    python -m experiments.suite --suite=cpu --agents=diffsr_sac,sac --num_seeds=3
    python -m experiments.suite --suite=mbbl --agents=diffsr_sac,sac,polygrad --num_seeds=4 --preset=paper
    python -m experiments.suite --suite=cpu --tasks=pendulum --total_steps=4000 --set=run.eval_episodes=5

Each (task, agent) is one ``run_training`` call into <root>/<suite>/<task>/<agent>/ (the usual run outputs plus
run.json: status, wall-clock, command, machine). With ``--preset=fast`` the suite's protocol (total steps, warm-up,
eval interval, episodes; see experiments/suites.py) replaces the preset's, which is sized for Pendulum; the ``study``
and ``paper`` presets carry the paper's own budget (200k frames, 25k warm-up, evaluation every 5k; DMC's for TD3) and
keep it. --total_steps / --eval_every / --set override either. Rerunning the same
command skips finished runs and resumes interrupted ones from their latest checkpoint. Tables and plots:
``python -m experiments.report <root>/<suite>``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import time

from absl import flags

from experiments.cli import define_process_flags, fail, process_spec, run_main

FLAGS = flags.FLAGS
PRESETS = ("fast", "study", "paper")
DEFAULT_ROOT = "runs/suites"  # --root's default


def build_config(suite, task, agent: str, preset: str, num_seeds: int, total_steps=None, eval_every=None, sets=(),
                 ablation: str | None = None, seed: int = 0):
    """The run config: agent preset <- suite protocol <- task overrides <- ablation <- flags (not yet validated: the
    run's plan does that, ``training.plan``). Raises ConfigError."""
    from diffsr_jax.config import set_fields
    from diffsr_jax.fields import ConfigError
    from experiments.configs import load_preset
    from experiments.suites import ABLATIONS, parse_sets

    try:
        cfg = load_preset(agent, preset)
    except ModuleNotFoundError:
        raise ConfigError(f"agent {agent!r} has no preset file experiments/configs/{agent}.py") from None
    except ValueError as e:
        raise ConfigError(str(e)) from None
    budget = dict(suite.budget) if preset == "fast" else {}  # study / paper: the preset's own (the paper's) budget
    overrides = {**budget, **task.config_overrides(), **ABLATIONS.get(ablation, {}), "run.num_seeds": num_seeds,
                 "run.seed": seed}
    if total_steps is not None:
        overrides["run.total_steps"] = total_steps
    if eval_every is not None:
        overrides["run.eval_every"] = eval_every
    overrides.update(parse_sets(cfg, sets))
    set_fields(cfg, overrides)
    return cfg


def plan_one(config, logdir: str):
    """(state, plan) of one (task, agent): ``run_state`` of its log dir, and the run's plan (a resumed run keeps its
    stored config; the suite's --total_steps may extend it)."""
    from diffsr_jax.training.plan import plan_run

    state = run_state(logdir, config)
    return state, plan_run(config, logdir, resume=state == "resume", requested=("run.total_steps",))


def plan_runs(argv_flags) -> list[tuple]:
    """Check every input and return [(task, agent, config)] (configs not yet planned); raises ConfigError."""
    from diffsr_jax.agents.registry import AGENTS
    from diffsr_jax.fields import ConfigError
    from experiments.suites import ABLATIONS, SUITES

    f = argv_flags
    if f.suite not in SUITES:
        raise ConfigError(f"unknown suite {f.suite!r}; choose one of: {', '.join(SUITES)}")
    suite = SUITES[f.suite]
    names = [t.name for t in suite.tasks]
    for t in f.tasks:
        if t not in names:
            raise ConfigError(f"unknown task {t!r} in suite {suite.name}; choose from: {', '.join(names)}")
    if not f.agents:
        raise ConfigError("--agents is empty; pass e.g. --agents=diffsr_sac,sac")
    variants = []  # (agent, ablation or None), in the order given
    for name in f.agents:
        agent, _, ablation = name.partition("+")
        if agent not in AGENTS:
            raise ConfigError(f"unknown agent {agent!r}; choose one of: {', '.join(sorted(AGENTS))}")
        if ablation:
            if ablation not in ABLATIONS:
                raise ConfigError(f"unknown ablation {ablation!r} in --agents={name}; choose from: "
                                  f"{', '.join(ABLATIONS)}")
            if not agent.startswith("diffsr_"):
                raise ConfigError(f"--agents={name}: ablations change the Diff-SR representation; use a diffsr_* agent")
        variants.append((agent, ablation or None))
    if f.preset not in PRESETS:
        raise ConfigError(f"unknown preset {f.preset!r}; choose one of {', '.join(PRESETS)}")
    if f.num_seeds < 1:
        raise ConfigError(f"--num_seeds must be >= 1, got {f.num_seeds}")
    if f.seed < 0:
        raise ConfigError(f"--seed must be >= 0 (the first seed of each run), got {f.seed}")
    for ab in f.ablations:
        if ab not in ABLATIONS:
            raise ConfigError(f"unknown ablation {ab!r}; choose from: {', '.join(ABLATIONS)}")
    plain_diffsr = [a for a, ab in variants if ab is None and a.startswith("diffsr_")]
    if f.ablations and not plain_diffsr:
        raise ConfigError("--ablations change the Diff-SR representation: add a diffsr_* agent to --agents")
    variants = list(dict.fromkeys(variants + [(a, ab) for a in plain_diffsr for ab in f.ablations]))
    tasks = [t for t in suite.tasks if not f.tasks or t.name in f.tasks]
    return [(t, a if ab is None else f"{a}+{ab}",
             build_config(suite, t, a, f.preset, f.num_seeds, f.total_steps, f.eval_every, f.set, ab, f.seed))
            for t in tasks for a, ab in variants]


def suite_logdir(root: str, suite: str, task, agent: str) -> str:
    return os.path.join(root, suite, task.name, agent)


def _has_checkpoint(logdir: str) -> bool:
    ck = os.path.join(logdir, "checkpoints")
    return os.path.isdir(ck) and any(n.isdigit() for n in os.listdir(ck))


def _seeds(first: int, num: int) -> str:
    from experiments.seeds import seeds_label

    return seeds_label(range(first, first + num))


def _other_seeds(logdir: str, first: int, num: int, config, finished: bool):
    """The ConfigError for a run in ``logdir`` of seeds other than the command's."""
    from diffsr_jax.fields import ConfigError

    return ConfigError(f"the {'finished ' if finished else ''}run in {logdir} has {_seeds(first, num)}, not "
                       f"{_seeds(config.run.seed, config.run.num_seeds)}: pass --seed={first} --num_seeds={num}"
                       f"{'' if finished else ' to continue it'}, or another --root")


def run_state(logdir: str, config) -> str:
    """'done' (finished with this many steps), 'resume' (a checkpoint to continue from) or 'new'. ConfigError where
    the run there has other seeds than ``config`` (its first seed and how many)."""
    from diffsr_jax.logging.files import damaged, read_json

    info_path = os.path.join(logdir, "run.json")
    if os.path.exists(info_path):
        info = read_json(info_path, dict)
        if info.get("status") == "finished" and info.get("total_steps") == config.run.total_steps:
            num, first = info.get("num_seeds", config.run.num_seeds), info.get("seed", 0)
            if (num, first) != (config.run.num_seeds, config.run.seed):
                raise _other_seeds(logdir, first, num, config, finished=True)
            return "done"
    if not (_has_checkpoint(logdir) and os.path.exists(os.path.join(logdir, "config.json"))):
        return "new"
    saved = read_json(os.path.join(logdir, "config.json"), dict)
    run = saved["run"] if isinstance(saved.get("run"), dict) else {}
    num, first = run.get("num_seeds"), run.get("seed", 0)
    if not isinstance(num, int):
        raise damaged(os.path.join(logdir, "config.json"), "no run.num_seeds")
    if (num, first) != (config.run.num_seeds, config.run.seed):
        raise _other_seeds(logdir, first, num, config, finished=False)
    return "resume"


def render_final(logdir: str, out=sys.stdout) -> None:
    """Write the finished run's final rollout; a machine that cannot draw it gets a warning (the run is kept)."""
    from diffsr_jax.envs.rendering import RenderError
    from diffsr_jax.training.evaluation import render_saved
    from diffsr_jax.training.saved_run import load_saved_run

    try:
        print(f"   rollout: {render_saved(load_saved_run(logdir))}", file=out, flush=True)
    except RenderError as e:
        print(f"   warning: no rollout: {e}", file=out, flush=True)


def execute(suite_name: str, task, agent: str, state: str, plan, command: str, machine: dict, out=sys.stdout,
            render: bool = False):
    """Run (or resume) one (task, agent) as ``plan_one`` planned it, and write run.json; with ``render``, its final
    rollout. The run is prepared here (``training.plan.prepare_run``: env built, replay memory checked) because that
    builds envs, which must come after the members are laid over devices. Returns the run status."""
    from diffsr_jax.logging.files import read_json
    from diffsr_jax.training import processes
    from diffsr_jax.training.host_loop import run_training
    from diffsr_jax.training.logdir import check_logdir
    from diffsr_jax.training.plan import prepare_run
    from diffsr_jax.training.run_lock import RunLock

    logdir = plan.logdir
    processes.barrier(f"state of {logdir}")  # every process has read the run's state before one changes it
    primary = processes.is_primary()
    if state == "done":
        print(f"== {task.name} / {agent}: finished earlier, skipped", file=out, flush=True)
        if render and not any(n.startswith("rollout-") for n in os.listdir(logdir)):
            render_final(logdir, out)
        return "finished"
    info_path = os.path.join(logdir, "run.json")
    info = {"invocations": []}
    if state == "resume" and os.path.exists(info_path):
        info = read_json(info_path, dict)
    config = plan.config
    prepared = prepare_run(plan)
    with RunLock(logdir) if primary else contextlib.nullcontext():  # one writer per run dir while it runs
        if state == "new" and primary:
            check_logdir(logdir, overwrite=True)  # no checkpoint: start over
        processes.barrier(f"ready {logdir}")
        which = f" ({_seeds(config.run.seed, config.run.num_seeds)})" if config.run.seed else ""
        print(f"== {task.name} / {agent}: {config.env.name}, {config.run.total_steps:,} steps x "
              f"{config.run.num_seeds} seeds{which} ({'resuming' if state == 'resume' else 'new'}) -> {logdir}",
              file=out, flush=True)
        t0 = time.time()
        result = run_training(config, logdir, tensorboard=False, out=out, resume=state == "resume", env=prepared.env,
                              sweeps=prepared.sweeps, memory=prepared.memory)
        wall = time.time() - t0
        rows = result["rows"]
        info.update({
            "suite": suite_name, "task": task.name, "agent": agent, "env": config.env.name,
            "preset": config.run.preset, "seed": config.run.seed, "num_seeds": config.run.num_seeds,
            "total_steps": config.run.total_steps,
            "eval_every": config.run.eval_every, "eval_episodes": config.run.eval_episodes, "status": result["status"],
            "train_wall_s": max((r["run/wall_time"] for r in rows), default=0.0), "command": command,
            "machine": machine,
        })
        info["invocations"].append({"started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t0)),
                                    "wall_s": round(wall, 1), "resumed": state == "resume"})
        info["wall_s"] = round(sum(i["wall_s"] for i in info["invocations"]), 1)
        if primary:
            with open(info_path, "w") as f:
                json.dump(info, f, indent=2)
        print(f"   {result['status']} in {wall:.0f}s", file=out, flush=True)
        if render and result["status"] == "finished":
            render_final(logdir, out)
        return result["status"]


def main(argv):
    from absl import logging

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        fail(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")
    from diffsr_jax.fields import ConfigError

    try:
        planned = plan_runs(FLAGS)
    except ConfigError as e:
        fail(str(e))
    if os.path.exists(FLAGS.root) and not os.path.isdir(FLAGS.root):
        fail(f"--root={FLAGS.root} is a file; pass the folder the suite's runs go under")
    runs = []
    for task, agent, config in planned:  # every run planned (its config checked, a resume's read) before any compile
        try:
            runs.append((task, agent, *plan_one(config, suite_logdir(FLAGS.root, FLAGS.suite, task, agent))))
        except ConfigError as e:
            fail(f"{task.name} / {agent}: {e}")
    spec = process_spec()
    if spec.distributed and FLAGS.render_final:
        fail("--render_final draws with one process: drop it, and render a finished run afterwards with python -m "
             "experiments.evaluate --logdir=<run> --render")
    from diffsr_jax.training import processes
    from diffsr_jax.training.devices import place_members
    from diffsr_jax.training.compile_cache import DEFAULT_CACHE_DIR, setup_compile_cache
    from diffsr_jax.training.checkpoint import CheckpointWriteError
    from diffsr_jax.training.disk import DiskFullError
    from diffsr_jax.training.host_loop import CheckpointError, NonFiniteError, OutOfMemoryError
    from experiments.suites import machine_info

    try:
        placement = place_members(runs[0][3].config, FLAGS.num_seeds, spec)  # first: before JAX computes anything
        setup_compile_cache(DEFAULT_CACHE_DIR if FLAGS.compile_cache is None else FLAGS.compile_cache)
    except (processes.ProcessError, ConfigError) as e:
        fail(str(e))
    command = "python -m experiments.suite " + shlex.join(sys.argv[1:])
    machine = machine_info()
    out = sys.stdout if processes.is_primary() else open(os.devnull, "w")  # one process speaks for the suite
    which = f" ({_seeds(FLAGS.seed, FLAGS.num_seeds)})" if FLAGS.seed else ""
    print(f"suite {FLAGS.suite}: {len(runs)} runs ({', '.join(sorted({r[0].name for r in runs}))} x "
          f"{', '.join(FLAGS.agents)}), {FLAGS.num_seeds} seeds each{which} {placement}; root {FLAGS.root}", file=out,
          flush=True)
    for task, agent, state, plan in runs:
        try:
            status = execute(FLAGS.suite, task, agent, state, plan, command, machine, out=out,
                             render=FLAGS.render_final)
        except (NonFiniteError, CheckpointError, CheckpointWriteError, DiskFullError, OutOfMemoryError) as e:
            fail(f"{task.name} / {agent}: {e}", code=3)
        except processes.PeerLostError as e:
            fail(f"{task.name} / {agent}: {e}; every process stops: rerun the same commands to resume", code=5)
        except ConfigError as e:  # e.g. another process is writing this run
            fail(f"{task.name} / {agent}: {e}")
        if status == "stopped":
            print("stopped by a signal; rerun the same command to resume", file=out, flush=True)
            processes.exit_now(1)
    print(f"all runs finished; report: python -m experiments.report {os.path.join(FLAGS.root, FLAGS.suite)}",
          file=out)


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_string("suite", "cpu", "task suite (experiments/suites.py)")
    flags.DEFINE_list("agents", ["diffsr_sac", "sac"], "agents (any registered agent with experiments/configs/<agent>.py); "
                      "'<agent>+<ablation>' runs that ablation alone")
    flags.DEFINE_integer("num_seeds", 3, "seeds per run (vmapped)")
    flags.DEFINE_integer("seed", 0, "first seed: each run trains seeds seed .. seed+num_seeds-1. A run too long for "
                         "one sitting can go in shards, each range of seeds under its own --root (e.g. --seed=2 "
                         "--num_seeds=2 --root=runs/suites_seeds2-3); python -m experiments.report merges them")
    flags.DEFINE_string("preset", "fast", "agent preset: fast, study or paper (study and paper keep their own budget)")
    flags.DEFINE_list("tasks", [], "subset of the suite's tasks (default: all)")
    flags.DEFINE_list("ablations", [], "also run each diffsr_* agent with these ablations (experiments/suites.py "
                      "ABLATIONS), as agent '<agent>+<ablation>'")
    flags.DEFINE_integer("total_steps", None, "env frames per seed (default: the suite's protocol)")
    flags.DEFINE_integer("eval_every", None, "env frames between evaluations (default: the suite's protocol)")
    flags.DEFINE_list("set", [], "extra config overrides group.field=value for every run (tuples as 64:64)")
    flags.DEFINE_string("root", DEFAULT_ROOT, "runs go to <root>/<suite>/<task>/<agent>/")
    flags.DEFINE_bool("render_final", False, "write each finished run's final rollout (rollout-<frames>.html|gif, "
                      "linked by the report); runs finished earlier get theirs if they have none")
    flags.DEFINE_string("compile_cache", None, "persistent XLA compilation cache dir ('' disables; default: on)")
    define_process_flags()


if __name__ == "__main__":
    define_flags()
    run_main(main)

