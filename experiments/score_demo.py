"""Train psi, zeta on a linear-Gaussian system and report how well psi^T zeta recovers the analytic score.

    python -m experiments.score_demo --parameterization=eps --num_steps=3000
"""

from absl import flags

import jax
import jax.numpy as jnp

from diffsr_jax.diffusion import PARAMETERIZATIONS, SCHEDULE_KINDS
from diffsr_jax.toy.linear_gaussian import ScoreFitConfig, fit_score_model, make_system, relative_score_error

FLAGS = flags.FLAGS


def main(_):
    cfg = ScoreFitConfig(
        parameterization=FLAGS.parameterization, schedule=FLAGS.schedule, num_levels=FLAGS.num_levels,
        num_steps=FLAGS.num_steps, batch_size=1024, learning_rate=2e-3,
    )
    key = jax.random.PRNGKey(FLAGS.seed)
    system = make_system(jax.random.fold_in(key, 0))
    model, params, schedule, losses = fit_score_model(jax.random.fold_in(key, 1), system, cfg)
    levels = jnp.linspace(0, cfg.num_levels - 1, 6).astype(jnp.int32)
    err = relative_score_error(model, params, system, jax.random.fold_in(key, 2), schedule, cfg, levels)
    print(f"score matching on s' = A s + B a + 0.5 n  ({cfg.parameterization}, {cfg.schedule} x{cfg.num_levels}, "
          f"{cfg.num_steps} steps): loss {float(losses[:50].mean()):.3f} -> {float(losses[-50:].mean()):.3f}")
    print(f"{'level':>6} {'alpha_bar':>10} {'rel. score error':>17}")
    for lvl, e in zip(levels.tolist(), err.tolist()):
        print(f"{lvl:>6} {float(schedule.alpha_bar[lvl]):>10.4f} {e:>17.3f}")


# --- the script -------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script, so that tests and other modules can import this
    one beside modules whose flags share names."""
    flags.DEFINE_enum("parameterization", "score", PARAMETERIZATIONS, "network predicts the score or eps")
    flags.DEFINE_enum("schedule", "vp", SCHEDULE_KINDS, "noise schedule")
    flags.DEFINE_integer("num_levels", 20, "number of noise levels", lower_bound=3)
    flags.DEFINE_integer("num_steps", 3000, "gradient steps", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "PRNG seed")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
