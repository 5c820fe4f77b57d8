"""Train an agent: one compiled program per run, seeds vmapped.

    python -m experiments.train                                   # default: short run on a small task
    python -m experiments.train --agent=sac --env=brax/hopper --num_seeds=4
    python -m experiments.train --config=experiments/configs/sac.py:paper --config.actor_critic.actor_lr=1e-3
    python -m experiments.train --agent=td3 --num_seeds=2 --sweep=actor_critic.critic_lr=1e-3,3e-4  # 4 runs, one program

--agent=X with no --config runs X's ``fast`` preset (experiments/configs/X.py). Outputs in --logdir:
config.json, metrics.jsonl (one row per evaluation per seed), provenance.jsonl (the code revision of each start),
tb/ (TensorBoard), curve.png.
"""

from __future__ import annotations

import json
import os
import sys
import time

from absl import flags
from ml_collections import config_flags

from diffsr_jax.training.compile_cache import DEFAULT_CACHE_DIR, setup_compile_cache
from experiments.cli import define_process_flags, fail, process_spec, run_main, unknown_field_message

DEFAULT_AGENT = "diffsr_sac"


def _agent_from_argv(argv) -> str:
    for i, arg in enumerate(argv):
        if arg.startswith("--agent="):
            return arg.split("=", 1)[1]
        if arg == "--agent" and i + 1 < len(argv):
            return argv[i + 1]
    return DEFAULT_AGENT


def _default_config_path(argv) -> str:
    """The ``fast`` preset of --agent (experiments/configs/<agent>.py, or diffsr.py:<base> for diffsr_<base>)."""
    from experiments.configs import preset_path

    try:
        return preset_path(_agent_from_argv(argv), "fast")
    except ValueError:  # an unknown agent: resolve_config names the valid ones
        return preset_path(DEFAULT_AGENT, "fast")


FLAGS = flags.FLAGS


def resolve_config():
    """The preset with the convenience flags applied."""
    from diffsr_jax.agents.registry import AGENTS, unknown_agent_message

    config = FLAGS.config
    with config.unlocked():
        if FLAGS.agent not in AGENTS:
            fail(unknown_agent_message(FLAGS.agent))
        if FLAGS["agent"].present and FLAGS.agent != config.run.agent:
            fail(f"--agent={FLAGS.agent} disagrees with the config's agent {config.run.agent!r}; "
                 f"drop --agent or pass --config=experiments/configs/{FLAGS.agent}.py:<preset>")
        for name, field in CONVENIENCE_FLAGS.items():
            if FLAGS[name].present:
                group, key = field.split(".")
                config[group][key] = FLAGS[name].value
    return config


CONVENIENCE_FLAGS = {"env": "env.name", "num_seeds": "run.num_seeds", "seed": "run.seed",
                     "total_steps": "run.total_steps", "eval_every": "run.eval_every"}  # flag -> config field


def requested_fields(argv, config) -> list[str]:
    """Config fields (``group.field``) the command line sets explicitly: every field when --config is given, else
    the --config.<group>.<field> overrides and the convenience flags present."""
    if any(a == "--config" or a.startswith("--config=") for a in argv):
        return [f"{g}.{k}" for g in config.keys() for k in config[g].keys()]
    names = [a[len("--config."):].split("=", 1)[0] for a in argv if a.startswith("--config.")]
    names += [field for flag, field in CONVENIENCE_FLAGS.items() if FLAGS[flag].present]
    if FLAGS["agent"].present:
        names.append("run.agent")
    return sorted({".".join(n.split(".")[:2]) for n in names})


def main(argv):
    """Plan the run (every check, before anything compiles), lay its members over devices, prepare the log dir,
    train, then render if asked. The library is imported inside the functions: ``place_members`` must set the CPU
    device count and the XLA flags before JAX starts its backend, which a module computing an array at import would
    do first."""
    from absl import logging

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        fail(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")
    plan, ready, placement, lock = start_run(resolve_config())
    result = train(plan, ready, placement)
    if result is not None and FLAGS.render_final:
        render(plan.logdir, ready.env)
    if result is not None:
        print(f"outputs in {plan.logdir}", file=_out())
    if lock is not None:
        lock.release()


def _out():
    from diffsr_jax.training import processes

    return sys.stdout if processes.is_primary() else open(os.devnull, "w")  # one process speaks for the run


def start_run(requested):
    """The checked plan of the run, its members laid over devices, the run prepared (env, replay memory), the run
    dir locked and ready: (plan, prepared run, placement line, lock or None). Every refusal is one line, exit 2,
    before anything compiles or the log dir is touched."""
    from diffsr_jax.fields import ConfigError
    from diffsr_jax.training import processes
    from diffsr_jax.training.devices import place_members
    from diffsr_jax.training.logdir import check_logdir
    from diffsr_jax.training.plan import plan_run, prepare_run
    from diffsr_jax.training.run_lock import RunLock

    if FLAGS.resume != "false" and not FLAGS.logdir:
        fail(f"--resume{'=auto' if FLAGS.resume == 'auto' else ''} needs --logdir=<the run to continue>")
    # auto: continue the run the log dir holds (its config.json), or start it where there is none (a requeued job)
    resume = FLAGS.resume == "true" or (FLAGS.resume == "auto" and os.path.exists(os.path.join(FLAGS.logdir,
                                                                                                 "config.json")))
    spec = process_spec()
    if spec.distributed and not FLAGS.logdir:
        fail("a run over several processes needs --logdir=<a directory every process can reach>, the same for all")
    if spec.distributed and FLAGS.render_final:
        fail("--render_final draws with one process: drop it, and render the finished run afterwards with python -m "
             "experiments.evaluate --logdir=<run> --render")
    logdir = FLAGS.logdir or os.path.join(
        "runs", f"{requested.run.agent}-{requested.env.name.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        plan = plan_run(requested, logdir, resume=resume, requested=requested_fields(sys.argv[1:], requested),
                        sweeps=FLAGS.sweep if (FLAGS["sweep"].present or not resume) else None)
        config = plan.config
        placement = place_members(config, plan.num_members, spec)  # first, before JAX computes anything
        setup_compile_cache(FLAGS.compile_cache)
        ready = prepare_run(plan)
        # one writer per run dir: taken before the directory is touched, held until this process ends
        lock = RunLock(logdir).acquire() if processes.is_primary() else None
        if not resume:  # only now, so bad input leaves no empty log dir behind
            check_logdir(logdir, overwrite=FLAGS.overwrite, prepare=False)  # every process: the same refusals
            processes.barrier("logdir checked")
            if processes.is_primary():  # one process creates (or clears) it
                check_logdir(logdir, overwrite=FLAGS.overwrite)
                with open(os.path.join(logdir, "sweep.json"), "w") as f:
                    json.dump(list(plan.sweep_specs), f)
            processes.barrier("logdir ready")
    except (ConfigError, processes.ProcessError, processes.PeerLostError) as e:
        fail(str(e))
    return plan, ready, placement, lock


def train(plan, ready, placement):
    """Compile and run the chunks (``training.host_loop.run_training``); a fault gets its one line and exit code.
    Returns the result, or None when a signal stopped the run (checkpointed; its message printed)."""
    from diffsr_jax.fields import ConfigError
    from diffsr_jax.training import processes
    from diffsr_jax.training.checkpoint import CheckpointWriteError
    from diffsr_jax.training.disk import DiskFullError
    from diffsr_jax.training.host_loop import CheckpointError, NonFiniteError, OutOfMemoryError, run_training

    config, logdir, resume, out = plan.config, plan.logdir, plan.resume, _out()
    repeat = config.env.action_repeat
    print(f"{config.run.agent} ({config.run.preset}) on {config.env.name}: {config.run.total_steps:,} env frames"
          f"{f' (action repeat {repeat})' if repeat > 1 else ''} x {config.run.num_seeds} seed(s) x {len(ready.sweeps)} "
          f"setting(s) {placement}, eval every {config.run.eval_every:,}; logging to {logdir}", file=out)
    if config.run.warmup_steps >= config.run.total_steps:
        print(f"note: run.warmup_steps ({config.run.warmup_steps:,}) is not below run.total_steps: every action of "
              "this run is random and the agent never updates", file=out)
    try:
        result = run_training(config, logdir, tensorboard=FLAGS.tensorboard, sweeps=ready.sweeps, resume=resume,
                              env=ready.env, memory=ready.memory, out=out)
    except ConfigError as e:
        fail(str(e))
    except (NonFiniteError, CheckpointError, CheckpointWriteError, DiskFullError, OutOfMemoryError) as e:
        fail(str(e), code=3)
    except processes.PeerLostError as e:
        fail(f"{e}; every process stops: the last checkpoint in {logdir} is intact, continue by starting every "
             "process again with --resume", code=5)
    if result["status"] == "stopped":
        print(result["message"], file=out)
        return None
    return result


def render(logdir: str, env) -> None:
    """Episode 0 of the first seed's final evaluation, drawn; the run is finished and checkpointed, so a render that
    fails loses nothing (exit 4)."""
    from diffsr_jax.envs.rendering import RenderError
    from diffsr_jax.training.evaluation import render_saved
    from diffsr_jax.training.saved_run import load_saved_run

    try:
        print(f"rollout: {render_saved(load_saved_run(logdir, env=env))}")
    except RenderError as e:
        fail(f"the run finished (outputs in {logdir}) but its rollout could not be drawn: {e}", code=4)


class ResumeParser(flags.ArgumentParser):
    """``--resume`` (true), ``--noresume`` / absent (false) or ``--resume=auto``."""

    syntactic_help = "true | false | auto"

    def parse(self, argument):
        value = str(argument).strip().lower()
        if value in ("true", "1", "t", "yes"):
            return "true"
        if value in ("false", "0", "f", "no"):
            return "false"
        if value == "auto":
            return "auto"
        raise ValueError(f"--resume takes no value, or =auto; got {argument!r}")

    def flag_type(self):
        return "resume mode"


# --- the script -------------------------------------------------------------------------------------------------
def define_flags(argv):
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names. ``--config`` is absl's config-file flag: it loads its preset when it is
    defined and applies the ``--config.<group>.<field>`` overrides to it while parsing, so the preset (``--agent``'s
    ``fast`` one unless --config names another) is read from ``argv`` here, the one place the command line is read
    before absl parses it."""
    try:
        config_flags.DEFINE_config_file("config", _default_config_path(argv), "ml_collections preset file[:preset]",
                                        lock_config=True)
    except (AttributeError, KeyError) as e:  # an override of a field the config does not have
        fail(unknown_field_message(argv, e))
    flags.DEFINE_string("agent", DEFAULT_AGENT, "sac, td3, ddpg, their Diff-SR versions diffsr_<base>, polygrad or "
                        "diffusion_planner; selects experiments/configs/<agent>.py:fast")
    flags.DEFINE_string("env", None, "environment: brax/<name>, mbbl/<name> (the paper's Table 1 tasks), playground/<Name> or gymnax/<name>")
    flags.DEFINE_integer("num_seeds", None, "independent agents run in parallel (vmapped) in one program")
    flags.DEFINE_integer("seed", None, "first seed; seed i of the run is seed + i")
    flags.DEFINE_integer("total_steps", None, "env frames per seed (decisions x action_repeat)")
    flags.DEFINE_integer("eval_every", None, "env frames between evaluations")
    flags.DEFINE_string("logdir", None, "output directory (default runs/<agent>-<env>-<time>)")
    flags.DEFINE_string("compile_cache", DEFAULT_CACHE_DIR,
                        "persistent XLA compilation cache dir ('' disables)")
    flags.DEFINE_bool("tensorboard", True, "write TensorBoard events")
    flags.DEFINE(ResumeParser(), "resume", "false", "continue the run in --logdir from its latest checkpoint (uses "
                 "its config.json; only --total_steps, --config.run.devices, --config.run.cpu_devices and "
                 "--config.run.command_buffers may differ from it); --resume=auto continues it if --logdir holds a run "
                 "and starts it otherwise (a requeued cluster job)", boolean=True)
    flags.DEFINE_bool("render_final", False, "at the end of the run, write episode 0 of the first seed's final "
                      "evaluation as rollout-<frames>.html (Brax) or .gif (Playground, gymnax) in --logdir")
    flags.DEFINE_bool("overwrite", False, "replace an existing run in --logdir")
    define_process_flags()
    flags.DEFINE_multi_string("sweep", [], "sweep a traced hyperparameter inside the same compiled program: "
                              "--sweep=actor_critic.critic_lr=1e-3,3e-4 (repeatable; every combination x num_seeds is "
                              "vmapped)")


if __name__ == "__main__":
    define_flags(sys.argv)
    run_main(main)
