"""Evaluate the policies of a run's checkpoint again, and watch one act.

    python -m experiments.evaluate --logdir=runs/x                       # the latest checkpoint, every seed
    python -m experiments.evaluate --logdir=runs/x --step=6000 --episodes=20 --seed=7
    python -m experiments.evaluate --logdir=runs/x --render              # + rollout-<frames>.html / .gif in runs/x

Prints a per-seed table (mean, std, min and max return, episode length) of deterministic episodes run as one
compiled batch, and writes ``eval-<frames>.json`` in the log dir. Without --seed the episodes are the ones the run
itself evaluated at that checkpoint, so with the run's number of episodes the mean equals the logged eval return
when the same code trained it (a note says when the run's recorded code revision differs, or it records none).
The run may still be training: its checkpoints are only read.
"""

from __future__ import annotations

import json
import os

from absl import flags

from diffsr_jax.training.compile_cache import DEFAULT_CACHE_DIR, setup_compile_cache
from experiments.cli import fail, run_main

FLAGS = flags.FLAGS


def parse_step(step: str) -> int | None:
    """'latest' -> None, '6000' / '6,000' -> 6000; ValueError with the fix otherwise."""
    if step == "latest":
        return None
    try:
        frames = int(step.replace(",", "").replace("_", ""))
    except ValueError:
        raise ValueError(f"--step={step}: write an env frame of a checkpoint (e.g. --step=6000) or --step=latest") \
            from None
    if frames <= 0:
        raise ValueError(f"--step={step}: env frames of a checkpoint are > 0")
    return frames


def main(argv):
    from absl import logging

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        fail(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")
    if not FLAGS.logdir:
        fail("--logdir is required: the log dir of a run of experiments.train")
    if not os.path.isdir(FLAGS.logdir):
        fail(f"--logdir={FLAGS.logdir}: no such directory")
    if FLAGS.episodes is not None and FLAGS.episodes <= 0:
        fail(f"--episodes={FLAGS.episodes}: evaluate at least 1 episode")
    if FLAGS.seed is not None and not 0 <= FLAGS.seed < 2**32:
        fail(f"--seed={FLAGS.seed}: must be in [0, 2^32) (a PRNG key seed holds 32 bits)")
    from diffsr_jax.envs.rendering import RenderError
    from diffsr_jax.training import provenance
    from diffsr_jax.training.evaluation import evaluate_saved, evaluation_table, render_saved
    from diffsr_jax.training.saved_run import load_saved_run
    from diffsr_jax.fields import ConfigError

    try:
        saved = load_saved_run(FLAGS.logdir, parse_step(FLAGS.step))
    except (ConfigError, ValueError) as e:
        fail(str(e).splitlines()[0])
    setup_compile_cache(FLAGS.compile_cache)
    result = evaluate_saved(saved, FLAGS.episodes, FLAGS.seed)
    entry = provenance.trained_by(FLAGS.logdir, result["frames"])
    result["trained_by"] = provenance.short(entry) if entry else None
    which = "the run's own" if FLAGS.seed is None else f"from seed {FLAGS.seed}"
    print(f"{result['agent']} on {result['env']} at env frame {result['frames']:,}: {result['episodes']} "
          f"deterministic episode(s) per seed ({which})")
    print(evaluation_table(result))
    note = provenance.revision_note(entry) if FLAGS.seed is None else None
    if note:
        print(note)
    path = os.path.join(FLAGS.logdir, f"eval-{result['frames']}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {path}")
    if FLAGS.render:
        try:
            print(f"wrote {render_saved(saved, FLAGS.episodes, FLAGS.seed)}")
        except RenderError as e:
            fail(str(e))


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_string("logdir", None, "the run's log dir (written by experiments.train)")
    flags.DEFINE_string("step", "latest", "env frame of the checkpoint to evaluate, or 'latest'")
    flags.DEFINE_integer("episodes", None, "episodes per seed (default: the run's config.run.eval_episodes)")
    flags.DEFINE_integer("seed", None, "evaluate on other episodes, from this seed (default: the run's own episodes)")
    flags.DEFINE_string("compile_cache", DEFAULT_CACHE_DIR, "persistent XLA compilation cache dir ('' disables)")
    flags.DEFINE_bool("render", False, "write episode 0 of the first seed as rollout-<frames>.html (Brax) or .gif "
                      "(Playground, gymnax) in the log dir")


if __name__ == "__main__":
    define_flags()
    run_main(main)
