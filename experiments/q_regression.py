"""Can a critic on psi represent a good Q-function, and can it learn one by TD? Fit a reference run's Q on each
critic input.

    python -m experiments.q_regression --logdir=runs/mbbl/hopper_et/diffsr_sac --reference=runs/mbbl/hopper_et/sac

Where a Diff-SR agent trails its base, its psi may lack what Q needs, or its critic may fail to learn a Q it could
represent (TD learning, its own policy's data). On the reference run's replay (the states and actions its agent
visited), fresh heads on each input are fitted with the same Adam rate and batch:

- ``mlp on (s, a)``: the reference config's MLP critic head on concat(s, a) (the base's own input and width);
- ``rff on psi``: the run's head (``config.psi_critic``) on the run's psi at the checkpoint, psi frozen;
- ``rff on psi at init``: the same head on psi at its initialisation (the run's own init keys): what training psi
  adds;
- ``rff <w> on psi``: the head at width w (RFF and hidden layer both) on the trained psi, for each ``--rff_widths``
  (regression only).

Two fits, each scored on held-out blocks of the replay (every tenth block of ``--block`` slots, an episode's length
by default) against the reference critic's Q (the minimum over its heads, the value its policy is trained on):

- regression (``--steps``), without TD: each head is regressed onto that Q. Does the input carry it?
- TD from the fit (``--td_steps``; the run's, the reference's and the init-psi heads): each fitted head, one per
  input (no twin minimum), goes on learning the reference's policy's Q by SAC's critic update, the policy and its
  temperature fixed (``agents.policy_evaluation``). Does TD learning on the input hold the Q it can carry, from the
  same data? Its drift from the fit is TD's doing; the agent's coupling (a psi that moves, an actor that follows its
  critic, the data that actor collects) is left out. From scratch, TD would need far more steps than this check can
  afford to carry values over a 1 / (1 - gamma) horizon through a slow target copy.

Seed i of the run is paired with seed i of the reference (each on the reference seed's replay); the reference may
hold more seeds than the run (a shard of a run, ``experiments.suite --seed``, against a run of all the seeds). Prints
a table per fit: held-out R^2, RMS (regression) or mean (TD) error over |mean Q|, the TD fits' own held-out TD error
over |mean Q| (RMS: the report's "critics' fit" measure), and the mean cosine between the fitted Q's action gradient
and the reference's (the direction each would give an actor); writes
``q_regression-<reference agent>-<frames>.json`` in the run's log dir. The reference may be the run itself
(``--reference`` = ``--logdir``): its own Q on its own data and policy, where TD's fits show whether the agent's
data, rather than its coupling, is what TD on psi finds hard. Checkpoints are only read.
"""

from __future__ import annotations

import json
import os
import time

from absl import flags

from diffsr_jax.training.compile_cache import DEFAULT_CACHE_DIR, setup_compile_cache
from experiments.cli import define_int_list, fail, run_main

FLAGS = flags.FLAGS
HELD_OUT_EVERY = 10  # every tenth block of replay slots is held out
GRADIENT_ROWS = 4096  # held-out rows the action gradients are compared on


def representation_critic(critic):
    """The ``RepresentationCritic`` inside ``critic`` (unwrapping the optimism bonus), or None for an MLP critic."""
    from diffsr_jax.agents.critics import RepresentationCritic

    inner = getattr(critic, "critic", critic)
    return inner if isinstance(inner, RepresentationCritic) else None


def check_pair(run, reference) -> None:
    """ConfigError (one line) unless ``run`` has a critic on psi, both are state-based runs of the same task, and
    the reference ran every seed of the run (it may hold more: a run in shards pairs each shard with the reference's
    members of its seeds)."""
    from diffsr_jax.fields import ConfigError

    if representation_critic(run.trainer.agent.critic) is None:
        raise ConfigError(f"--logdir={run.logdir}: its agent {run.config.run.agent} has no critic on psi; pass the log "
                          f"dir of a diffsr_* run")
    for saved, flag in ((run, "--logdir"), (reference, "--reference")):
        if int(saved.config.env.pixels):
            raise ConfigError(f"{flag}={saved.logdir}: a run from pixels; this regression reads state-based runs")
        if not hasattr(saved.runner.agent, "q_heads"):
            raise ConfigError(f"{flag}={saved.logdir}: its agent {saved.config.run.agent} keeps no Q heads")
    env_a, env_b = run.config.env.to_dict(), reference.config.env.to_dict()
    differ = sorted(k for k in set(env_a) | set(env_b) if env_a.get(k) != env_b.get(k))
    if differ:
        raise ConfigError(f"the two runs are on different tasks (config.env.{differ[0]}: {env_a.get(differ[0])!r} vs "
                          f"{env_b.get(differ[0])!r}); pass two runs of one task")
    missing = [m for m in run.members if m not in reference.members]
    if missing:
        seeds = lambda saved: [m["seed"] for m in saved.members]  # noqa: E731
        raise ConfigError(f"--reference={reference.logdir} has no member of seed "
                          f"{', '.join(str(m['seed']) for m in missing)} (the run's seeds {seeds(run)}, the "
                          f"reference's {seeds(reference)}); pass a reference that ran every seed of the run")


def replay_rows(saved, block: int):
    """A ``Transition`` with leaves (M, N, ...): every member's filled replay slots, as stored (not normalised);
    ConfigError when the members hold different numbers of transitions or too few for a held-out block."""
    import jax
    import numpy as np

    from diffsr_jax.data.sampler import ReplaySampler
    from diffsr_jax.fields import ConfigError

    sizes = np.asarray(saved.runner.buffer.size)
    if len(set(sizes.tolist())) != 1 or sizes[0] < block * HELD_OUT_EVERY:
        raise ConfigError(f"--reference={saved.logdir}: its members' replays hold {sizes.tolist()} transitions; the "
                          f"regression needs at least {block * HELD_OUT_EVERY:,} (--block x {HELD_OUT_EVERY}) in "
                          f"each, the same in all")
    n = (int(sizes[0]) // block) * block  # whole blocks (the reference's Q is computed a block at a time)
    layout, capacity = saved.trainer.layout, saved.trainer.capacity

    def rows(buffer):
        tr, _ = ReplaySampler(buffer, None, 1, saved.trainer.num_envs, layout=layout).window(0, capacity)
        return jax.tree_util.tree_map(lambda x: x[:n], tr)

    return jax.vmap(rows)(saved.runner.buffer)


def check_policy(reference) -> None:
    """ConfigError (one line) unless the reference's agent is SAC's (a stochastic actor and a temperature): the TD
    fits evaluate its policy with SAC's critic update."""
    from diffsr_jax.fields import ConfigError

    if not (hasattr(reference.trainer.agent, "actor_net") and hasattr(reference.runner.agent, "log_alpha")):
        raise ConfigError(f"--reference={reference.logdir}: its agent {reference.config.run.agent} is not SAC's; the "
                          f"TD fits evaluate a SAC policy (pass --td_steps=0)")


def make_heads(run, reference, widths):
    """name -> (reads, head): every head of the module docstring; ``reads`` is "sa", "psi" or "psi_init"."""
    from diffsr_jax.networks.critics import MLPQHead, RFFHead

    q, r = run.config.psi_critic, reference.config.mlp_critic
    rff = lambda w1, w2: RFFHead(w1, w2, q.rff_kind, q.input_layer_norm, q.hidden_layer_norm, q.activation,  # noqa
                                 q.init)
    heads = {"mlp on (s, a)": ("sa", MLPQHead(tuple(r.hidden), r.activation, r.hidden_layer_norm, r.init)),
             "rff on psi": ("psi", rff(int(q.rff_dim), int(q.rff_hidden))),
             "rff on psi at init": ("psi_init", rff(int(q.rff_dim), int(q.rff_hidden)))}
    for w in widths:
        if (w, w) != (int(q.rff_dim), int(q.rff_hidden)):
            heads[f"rff {w} on psi"] = ("psi", rff(w, w))
    return heads


def head_on_input(run, reference, head, reads, runner, ref_runner, critic_state0):
    """(init(key, obs, action) -> params, apply(params, obs, action) -> (B,)) of ``head`` on its input, from the
    observations as stored: concat(s, a) normalised as the reference's critic reads it, or psi(s, a) (frozen, its
    action gradient kept) of the run's normalisation, trained (``psi``) or at its init (``psi_init``)."""
    import jax

    if reads == "sa":
        norm = lambda o: reference.trainer.normalize(ref_runner.obs_stats, o)  # noqa: E731
        return (lambda k, o, a: head.init(k, norm(o), a)), (lambda p, o, a: head.apply(p, norm(o), a))
    rep_critic = representation_critic(run.trainer.agent.critic)
    state = critic_state0 if reads == "psi_init" else runner.agent.critic_state
    rep = jax.lax.stop_gradient(rep_critic.rep_params(state))

    def features(o, a):
        return rep_critic.representation.psi(rep, run.trainer.normalize(runner.obs_stats, o), a)

    return (lambda k, o, a: head.init(k, features(o, a))), (lambda p, o, a: head.apply(p, features(o, a)))


def reference_min_q(reference, runner, o, a):
    """(B,): the min over the reference's Q heads, on observations as stored."""
    import jax.numpy as jnp

    o = reference.trainer.normalize(runner.obs_stats, o)
    return jnp.min(reference.trainer.agent.critic.q(runner.agent.q_heads.params, runner.agent.critic_state, o, a),
                   axis=0)


def reference_targets(reference, tr, block: int):
    """(M, N): the reference's Q on every member's replay rows, a block at a time."""
    import jax

    def member(runner, o, a):
        chunks = o.reshape(-1, block, o.shape[-1]), a.reshape(-1, block, a.shape[-1])
        return jax.lax.map(lambda c: reference_min_q(reference, runner, *c), chunks).reshape(-1)

    return jax.jit(jax.vmap(member))(reference.runner, tr.obs, tr.action)


def regress(run, reference, tr, targets, steps: int, batch_size: int, lr: float, widths, block: int, key):
    """(name -> {"r2", "rmse", "fit_loss", "grad_cos"}: each (M,), name -> the fitted params (M, ...), predicting the
    standardised target): every regression of the module docstring onto ``targets`` (M, N), vmapped over the
    members."""
    import jax

    from diffsr_jax.representation.regression import fit_regression, gradient_agreement, held_out_blocks

    fit_rows, test_rows = held_out_blocks(tr.obs.shape[1], block, HELD_OUT_EVERY)
    init_state = jax.vmap(run.trainer.init_agent)(run.keys, run.hp).critic_state

    def one(head, reads, runner, ref_runner, critic_state0, o, a, y, k):
        k_init, k_fit = jax.random.split(k)
        init, apply = head_on_input(run, reference, head, reads, runner, ref_runner, critic_state0)
        params = init(k_init, o[:1], a[:1])
        scores, params = fit_regression(apply, params, (o, a), y, fit_rows, test_rows, k_fit, steps, batch_size, lr)
        rows = test_rows[:GRADIENT_ROWS]
        scores["grad_cos"] = gradient_agreement(lambda aa: apply(params, o[rows], aa),
                                                lambda aa: reference_min_q(reference, ref_runner, o[rows], aa),
                                                a[rows])
        return scores, params

    out, fitted_params = {}, {}
    member_keys = jax.random.split(key, len(run.members))
    for name, (reads, head) in make_heads(run, reference, widths).items():
        t0 = time.time()
        scores, fitted_params[name] = jax.jit(jax.vmap(lambda *xs, head=head, reads=reads: one(head, reads, *xs)))(
            run.runner, reference.runner, init_state, tr.obs, tr.action, targets, member_keys)
        out[name] = {k: jax.device_get(v) for k, v in scores.items()}
        print(f"  regression, {name}: {time.time() - t0:.0f} s", flush=True)
    return out, fitted_params


def td_fits(run, reference, tr, targets, start, steps: int, batch_size: int, lr: float, block: int, key):
    """name -> {"r2", "rmse", "bias", "td_rmse", "fit_loss", "grad_cos"}: each (M,): for the run's, the reference's
    and the init-psi head, one head started at its regression fit (``start``: name -> params (M, ...)) and trained on
    by SAC's critic update on the reference's replay and policy (``agents.policy_evaluation``; the reference's
    discount, target rate and period); scored on held-out rows against the reference's Q (R^2, RMS and mean error) and
    by its own held-out TD error (RMS)."""
    import jax
    import jax.numpy as jnp

    from diffsr_jax.agents.policy_evaluation import fit_td, heads_q, output_affine, soft_td_target
    from diffsr_jax.fields import named
    from diffsr_jax.networks.actors import sample_tanh_gaussian
    from diffsr_jax.representation.regression import (gradient_agreement, held_out_blocks, held_out_scores,
                                                      predict_rows)

    fit_rows, test_rows = held_out_blocks(tr.obs.shape[1], block, HELD_OUT_EVERY)
    test_rows = jnp.asarray(test_rows)
    init_state = jax.vmap(run.trainer.init_agent)(run.keys, run.hp).critic_state
    target_every, ref_agent = int(reference.config.sac.target_update_every), reference.trainer.agent

    def one(head, reads, runner, ref_runner, critic_state0, member_tr, y, fitted, k):
        k_fit, k_test = jax.random.split(k)
        _, apply = head_on_input(run, reference, head, reads, runner, ref_runner, critic_state0)
        y_fit = y[fit_rows]  # the regression's standardisation, folded into the head's output layer
        params = output_affine(fitted, jnp.maximum(y_fit.std(), 1e-8), y_fit.mean())
        params = jax.tree_util.tree_map(lambda x: x[None], params)  # one head
        policy_obs = reference.trainer.normalize(ref_runner.obs_stats, member_tr.next_obs)

        def next_action(kk, rows):
            mean, log_std = ref_agent.actor_net.apply(ref_runner.agent.actor.params, policy_obs[rows])
            return sample_tanh_gaussian(kk, mean, log_std)

        alpha, rates = jnp.exp(ref_runner.agent.log_alpha.params), named(ref_runner.agent.hp).actor_critic
        params, target_params, losses = fit_td(apply, params, member_tr, next_action, alpha, rates.gamma, rates.tau,
                                               target_every, fit_rows, k_fit, steps, batch_size, lr)
        o, a = member_tr.obs, member_tr.action
        q_of = lambda rows, aa: heads_q(apply, params, o[rows], aa)[0]  # noqa: E731
        pred = predict_rows(lambda rows: q_of(rows, a[rows]), test_rows)

        def td_error(rows):  # one chunk of held-out rows, a' drawn afresh
            target = soft_td_target(apply, target_params, member_tr, rows, next_action, alpha, rates.gamma,
                                    jax.random.fold_in(k_test, rows[0]))
            return q_of(rows, a[rows]) - target

        td_errors = predict_rows(td_error, test_rows)
        rows = test_rows[:GRADIENT_ROWS]
        return {**held_out_scores(y[test_rows], pred), "bias": jnp.mean(pred - y[test_rows]),
                "td_rmse": jnp.sqrt(jnp.mean(td_errors ** 2)), "fit_loss": losses[-max(1, steps // 10):].mean(),
                "grad_cos": gradient_agreement(lambda aa: q_of(rows, aa),
                                               lambda aa: reference_min_q(reference, ref_runner, o[rows], aa),
                                               a[rows])}

    out = {}
    member_keys = jax.random.split(key, len(run.members))
    for name, (reads, head) in make_heads(run, reference, ()).items():
        t0 = time.time()
        fitted = jax.jit(jax.vmap(lambda *xs, head=head, reads=reads: one(head, reads, *xs)))(
            run.runner, reference.runner, init_state, tr, targets, start[name], member_keys)
        out[name] = {k: jax.device_get(v) for k, v in fitted.items()}
        print(f"  TD, {name}: {time.time() - t0:.0f} s", flush=True)
    return out


REGRESSION_COLUMNS = (("held-out R^2", "r2", None), ("RMS error / |mean Q|", "rmse", "q"),
                      ("grad_a cosine", "grad_cos", None))
TD_COLUMNS = (("R^2 to its Q", "r2", None), ("mean error / |mean Q|", "bias", "q"),
              ("TD error / |mean Q|", "td_rmse", "q"), ("grad_a cosine", "grad_cos", None))


def table(first: str, columns, results: dict, q_abs) -> str:
    """One row per fit: each column's mean over seed pairs (a "q" column divided by each pair's |mean Q| first), then
    every seed pair's R^2."""
    import numpy as np

    head = f"{first:<22} " + " ".join(f"{title:>{len(title) + 1}}" for title, _, _ in columns) + "   per seed R^2"
    lines = [head, "-" * (len(head) + 20)]
    for name, r in results.items():
        values = " ".join(f"{np.mean(r[key] / q_abs if per == 'q' else r[key]):>{len(title) + 1}.4f}"
                          for title, key, per in columns)
        lines.append(f"{name:<22} {values}   " + " ".join(f"{v:.3f}" for v in r["r2"]))
    return "\n".join(lines)


def main(argv):
    from absl import logging

    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        fail(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")
    for flag in ("logdir", "reference"):
        value = getattr(FLAGS, flag)
        if not value:
            fail(f"--{flag} is required: pass a Diff-SR run and its base run of one task, e.g. "
                 f"--logdir=runs/mbbl/hopper_et/diffsr_sac --reference=runs/mbbl/hopper_et/sac")
        if not os.path.isdir(value):
            fail(f"--{flag}={value}: no such directory")
    if min(FLAGS.steps, FLAGS.batch_size, FLAGS.block) <= 0 or FLAGS.td_steps < 0:
        fail(f"--steps={FLAGS.steps} --td_steps={FLAGS.td_steps} --batch_size={FLAGS.batch_size} "
             f"--block={FLAGS.block}: each must be >= 1 (--td_steps >= 0; 0: no TD fits)")
    if not FLAGS.lr > 0:
        fail(f"--lr={FLAGS.lr}: Adam's rate must be > 0")
    import jax
    import numpy as np

    from diffsr_jax.training.saved_run import load_saved_run
    from experiments.evaluate import parse_step

    try:
        frames = parse_step(FLAGS.step)
    except ValueError as e:
        fail(str(e))
    run = load_saved_run(FLAGS.logdir, frames)
    reference = load_saved_run(FLAGS.reference, run.frames, replay=True)
    check_pair(run, reference)
    reference = reference.narrowed(run.members)  # seed i of the run on seed i's replay, whatever else it holds
    if FLAGS.td_steps:
        check_policy(reference)
    setup_compile_cache(FLAGS.compile_cache)
    print(f"{run.config.run.agent} vs {reference.config.run.agent}'s Q on {run.config.env.name}, env frame "
          f"{run.frames:,}, {len(run.members)} seed pair(s); Adam at lr {FLAGS.lr:g}, batch {FLAGS.batch_size}: "
          f"{FLAGS.steps:,} steps per regression, {FLAGS.td_steps:,} per TD fit", flush=True)
    widths = [int(w) for w in FLAGS.rff_widths]
    tr = replay_rows(reference, FLAGS.block)
    targets = reference_targets(reference, tr, FLAGS.block)
    q_abs = np.asarray(jax.device_get(np.abs(targets.mean(axis=1))))
    k_regression = jax.random.PRNGKey(FLAGS.seed)
    k_td = jax.random.fold_in(k_regression, 1)
    record = {"agent": run.config.run.agent, "reference": reference.config.run.agent, "env": run.config.env.name,
              "frames": run.frames, "reference_logdir": os.path.abspath(FLAGS.reference),
              "seeds": [m["seed"] for m in run.members], "steps": FLAGS.steps, "batch_size": FLAGS.batch_size,
              "lr": FLAGS.lr, "seed": FLAGS.seed,
              "held_out": f"every {HELD_OUT_EVERY}th block of {FLAGS.block} slots",
              "mean_abs_q": q_abs.tolist()}
    as_lists = lambda res: {name: {k: np.asarray(v).tolist() for k, v in r.items()} for name, r in res.items()}  # noqa
    results, fitted = regress(run, reference, tr, targets, FLAGS.steps, FLAGS.batch_size, FLAGS.lr, widths,
                              FLAGS.block, k_regression)
    print(table("regressor", REGRESSION_COLUMNS, results, q_abs))
    record["regressions"] = as_lists(results)
    if FLAGS.td_steps:
        results = td_fits(run, reference, tr, targets, fitted, FLAGS.td_steps, FLAGS.batch_size, FLAGS.lr,
                          FLAGS.block, k_td)
        print(table("TD from the fit, on", TD_COLUMNS, results, q_abs))
        record["td_steps"] = FLAGS.td_steps
        record["td"] = as_lists(results)
    path = os.path.join(FLAGS.logdir, f"q_regression-{reference.config.run.agent}-{run.frames}.json")
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
    print(f"wrote {path}")


def define_flags():
    flags.DEFINE_string("logdir", None, "the log dir of a diffsr_* run (experiments.train)")
    flags.DEFINE_string("reference", None, "the log dir of the run whose Q is the target (its base, same task, "
                        "every seed of the run); its checkpoint at the same env frame must hold its replay")
    flags.DEFINE_string("step", "latest", "env frame of the checkpoints to read, or 'latest' (the run's)")
    flags.DEFINE_integer("steps", 10000, "Adam steps of each regression")
    flags.DEFINE_integer("td_steps", 20000, "Adam steps of TD from each regression fit, the reference's policy fixed "
                         "(0: none)")
    flags.DEFINE_integer("batch_size", 256, "rows per regression step")
    flags.DEFINE_float("lr", 3e-4, "Adam's rate (the runs' critic rate)")
    define_int_list("rff_widths", [256], "widths of extra heads on the trained psi (RFF and hidden layer)")
    flags.DEFINE_integer("block", 1000, "replay slots per held-out block (an episode's length: a held-out row's "
                         "neighbours in its episode are held out with it)")
    flags.DEFINE_integer("seed", 0, "the regressions' init and minibatch key")
    flags.DEFINE_string("compile_cache", DEFAULT_CACHE_DIR, "persistent XLA compilation cache dir ('' disables)")


if __name__ == "__main__":
    define_flags()
    run_main(main)
