"""Train an agent: one compiled program per run, seeds vmapped.

    python -m experiments.train                                   # default: short run on a small task
    python -m experiments.train --agent=sac --env=brax/hopper --num_seeds=4
    python -m experiments.train --config=experiments/configs/sac.py:paper --config.actor_lr=1e-3

--agent=X with no --config runs X's ``fast`` preset (experiments/configs/X.py). Outputs in --logdir:
config.json, metrics.jsonl (one row per evaluation per seed), tb/ (TensorBoard), curve.png.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time

from absl import app, flags
from ml_collections import config_flags

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")
DEFAULT_AGENT = "diffsr_sac"


def _agent_from_argv(argv) -> str:
    for i, arg in enumerate(argv):
        if arg.startswith("--agent="):
            return arg.split("=", 1)[1]
        if arg == "--agent" and i + 1 < len(argv):
            return argv[i + 1]
    return DEFAULT_AGENT


def _default_config_path(argv) -> str:
    path = os.path.join(CONFIG_DIR, f"{_agent_from_argv(argv)}.py")
    return f"{path}:fast" if os.path.exists(path) else os.path.join(CONFIG_DIR, f"{DEFAULT_AGENT}.py:fast")


flags.DEFINE_string("agent", DEFAULT_AGENT, "diffsr_sac, diffsr_td3, sac or td3; selects experiments/configs/<agent>.py:fast")
flags.DEFINE_string("env", None, "environment: brax/<name>, playground/<Name> or gymnax/<name>")
flags.DEFINE_integer("num_seeds", None, "independent agents run in parallel (vmapped) in one program")
flags.DEFINE_integer("seed", None, "first seed; seed i of the run is seed + i")
flags.DEFINE_integer("total_steps", None, "env steps per seed")
flags.DEFINE_integer("eval_every", None, "env steps between evaluations")
flags.DEFINE_string("logdir", None, "output directory (default runs/<agent>-<env>-<time>)")
flags.DEFINE_string("compile_cache", os.path.expanduser("~/.cache/diffsr_jax/xla"),
                    "persistent XLA compilation cache dir ('' disables)")
flags.DEFINE_bool("tensorboard", True, "write TensorBoard events")
config_flags.DEFINE_config_file("config", _default_config_path(sys.argv), "ml_collections preset file[:preset]",
                                lock_config=True)
FLAGS = flags.FLAGS


def fail(message: str):
    """One clear line on stderr and a non-zero exit."""
    sys.stderr.write(f"error: {message}\n")
    sys.exit(2)


def resolve_config():
    """The preset with the convenience flags applied."""
    from diffsr_jax.agents.registry import AGENTS

    config = FLAGS.config
    with config.unlocked():
        if FLAGS.agent not in AGENTS:
            fail(f"unknown agent {FLAGS.agent!r}; choose one of: {', '.join(sorted(AGENTS))}")
        if FLAGS["agent"].present and FLAGS.agent != config.agent:
            fail(f"--agent={FLAGS.agent} disagrees with the config's agent {config.agent!r}; "
                 f"drop --agent or pass --config=experiments/configs/{FLAGS.agent}.py:<preset>")
        for name in ("env", "num_seeds", "seed", "total_steps", "eval_every"):
            if FLAGS[name].present:
                config[name] = FLAGS[name].value
    return config


def setup_compile_cache(path: str):
    import jax

    if path:
        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def summary_table(rows, seeds) -> str:
    import numpy as np

    lines = [f"{'seed':>6} {'final eval':>11} {'best eval':>10} {'last-4 mean':>12}", "-" * 42]
    finals = []
    for seed in seeds:
        r = [x["eval_return"] for x in rows if x["seed"] == seed and x.get("eval_return") is not None]
        if not r:
            continue
        finals.append(r[-1])
        lines.append(f"{seed:>6} {r[-1]:>11.1f} {max(r):>10.1f} {np.mean(r[-4:]):>12.1f}")
    if finals:
        lines.append("-" * 42)
        lines.append(f"{'mean':>6} {np.mean(finals):>11.1f}   (std {np.std(finals):.1f} over {len(finals)} seeds)")
    return "\n".join(lines)


def run(config, logdir: str, tensorboard: bool = True, out=sys.stdout):
    """Run training with host-side chunking for logging. Returns the metric rows."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from diffsr_jax.logging.writers import Progress, RunLogger, plot_curve
    from diffsr_jax.training import Trainer
    from diffsr_jax.training.trainer import eval_schedule

    trainer = Trainer(config)
    seeds = [config.seed + i for i in range(config.num_seeds)]
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    hp = jax.tree_util.tree_map(lambda v: jnp.broadcast_to(v, (len(seeds),)), trainer.default_hparams())
    with open(os.path.join(logdir, "config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=2, default=list)

    t_start = time.time()
    runner = jax.jit(jax.vmap(trainer.init))(keys, hp)
    chunk_fns = {}
    evaluate = jax.jit(jax.vmap(trainer.evaluate))
    diagnostics = jax.jit(jax.vmap(trainer.diagnostics))
    every = max(config.eval_every // trainer.num_envs, 1)
    logger = RunLogger(logdir, tensorboard)
    progress = Progress(trainer.num_iters * trainer.num_envs, out)
    rows, t_iter, last_eval = [], 0, None
    try:
        for n in eval_schedule(trainer.num_iters, every):
            if n not in chunk_fns:
                chunk_fns[n] = jax.jit(jax.vmap(functools.partial(trainer.run_chunk, num_iters=n), in_axes=(0, None)))
            t0 = time.time()
            runner, m = chunk_fns[n](runner, jnp.int32(t_iter))
            jax.block_until_ready(m)
            dt = time.time() - t0
            t_iter += n
            eval_keys = jax.vmap(lambda k: jax.random.fold_in(k, t_iter))(keys)
            returns = np.asarray(evaluate(runner, eval_keys))
            metrics = {k: np.asarray(v) for k, v in m.items()}
            metrics.update({k: np.asarray(v) for k, v in diagnostics(runner, eval_keys).items()})
            metrics["eval_return"] = returns.mean(-1)
            metrics["eval_return_std"] = returns.std(-1)
            steps = t_iter * trainer.num_envs
            sps = n * trainer.num_envs * len(seeds) / dt
            rows += logger.log(steps, seeds, metrics, {"wall_time": time.time() - t_start, "env_steps_per_s": sps})
            last_eval = float(metrics["eval_return"].mean())
            progress.update(steps, sps, last_eval)
    finally:
        progress.close()
        logger.close()
    plot_curve(rows, os.path.join(logdir, "curve.png"), f"{config.agent} on {config.env}")
    print(summary_table(rows, seeds), file=out)
    print(f"wall time {time.time() - t_start:.0f}s; outputs in {logdir}", file=out)
    return rows


def main(argv):
    from absl import logging

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        fail(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")
    from diffsr_jax.training.validate import ConfigError, check_logdir, validate_config

    config = resolve_config()
    logdir = FLAGS.logdir or os.path.join(
        "runs", f"{config.agent}-{config.env.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        validate_config(config)
        check_logdir(logdir)
    except ConfigError as e:
        fail(str(e))
    setup_compile_cache(FLAGS.compile_cache)
    print(f"{config.agent} ({config.preset}) on {config.env}: {config.total_steps:,} env steps x "
          f"{config.num_seeds} seed(s), eval every {config.eval_every:,}; logging to {logdir}")
    run(config, logdir, FLAGS.tensorboard)


if __name__ == "__main__":
    app.run(main)
