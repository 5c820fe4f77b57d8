"""Learning curves of several agents on one task, each agent's seeds vmapped in one program.

    python -m experiments.curves --env=gymnax/Pendulum-v1 --agents=diffsr_sac,diffsr_td3,sac,td3 --num_seeds=3

Each agent runs its ``fast`` preset (overrides via --total_steps / --eval_every / --set field=value,...).
Writes <logdir>/<agent>/ (the usual run outputs), <logdir>/curves.png and <logdir>/curves.md.
"""

from __future__ import annotations

import io
import os
import sys

import numpy as np
from absl import flags

FLAGS = flags.FLAGS


def _parse(value: str, current):
    if isinstance(current, bool):
        return value.lower() in ("1", "true", "yes")
    return type(current)(value) if current is not None else value


def main(_):
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint at INFO
    from diffsr_jax.config import get_field, set_fields
    from diffsr_jax.logging.writers import curves_from_rows, plot_comparison
    from diffsr_jax.config import ConfigError
    from diffsr_jax.training.logdir import check_logdir
    from diffsr_jax.training.plan import plan_run
    from diffsr_jax.training.host_loop import run_training
    from diffsr_jax.training.compile_cache import setup_compile_cache
    from experiments.configs import load_preset

    logdir = FLAGS.logdir or os.path.join("runs", f"curves-{FLAGS.env.replace('/', '_')}")
    configs = {}
    try:
        for agent in FLAGS.agents:
            cfg = load_preset(agent, "fast")
            cfg.env.name, cfg.run.num_seeds = FLAGS.env, FLAGS.num_seeds
            if FLAGS.total_steps is not None:
                cfg.run.total_steps = FLAGS.total_steps
            if FLAGS.eval_every is not None:
                cfg.run.eval_every = FLAGS.eval_every
            for item in FLAGS.set:
                k, _, v = item.partition("=")
                set_fields(cfg, {k: _parse(v, get_field(cfg, k))})
            configs[agent] = plan_run(cfg, os.path.join(logdir, agent)).config
        check_logdir(logdir, overwrite=True)
    except ConfigError as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(2)
    setup_compile_cache()
    curves, table = {}, []
    for agent, cfg in configs.items():
        print(f"== {agent} on {cfg.env.name}: {cfg.run.total_steps:,} steps x {cfg.run.num_seeds} seeds", flush=True)
        rows = run_training(cfg, os.path.join(logdir, agent), tensorboard=False, out=io.StringIO())["rows"]
        steps, vals = curves_from_rows(rows)["mean"]
        curves[agent] = (steps, vals)
        wall = max(r["run/wall_time"] for r in rows)
        final = vals[:, -1]
        table.append([agent, f"{np.nanmean(final):.1f} ± {np.nanstd(final):.1f}", f"{np.nanmean(vals[:, -4:]):.1f}",
                      f"{wall:.0f}"])
        print(f"   final {final.mean():.1f} ± {final.std():.1f}, wall {wall:.0f}s", flush=True)
    plot_comparison(curves, os.path.join(logdir, "curves.png"), f"{FLAGS.env}")
    md = ["| agent | final eval (mean ± std over seeds) | mean of last 4 evals | wall-clock (s) |", "|---|---|---|---|"]
    md += ["| " + " | ".join(r) + " |" for r in table]
    text = f"# {FLAGS.env}, {FLAGS.num_seeds} seeds\n\ncommand: `{' '.join(sys.argv)}`\n\n" + "\n".join(md) + "\n"
    with open(os.path.join(logdir, "curves.md"), "w") as f:
        f.write(text)
    print(text)


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_string("env", "gymnax/Pendulum-v1", "task")
    flags.DEFINE_list("agents", ["diffsr_sac", "diffsr_td3", "sac", "td3"], "agents (their fast presets)")
    flags.DEFINE_integer("num_seeds", 3, "seeds per agent (vmapped)")
    flags.DEFINE_integer("total_steps", None, "env frames per seed (default: each preset's)")
    flags.DEFINE_integer("eval_every", None, "env frames between evaluations")
    flags.DEFINE_list("set", [], "extra config overrides group.field=value applied to every agent")
    flags.DEFINE_string("logdir", None, "output dir (default runs/curves-<env>)")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
