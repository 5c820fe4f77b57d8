"""The host side of a run: chunks of the compiled program, evaluation, logging, checkpoints, signals, NaN guard.

The device does all the work in ``Trainer.run_chunk`` (vmapped over members = settings x seeds); this loop only
calls it once per ``eval_every`` env steps and then evaluates, logs, checks for non-finite values and
checkpoints. A run is reproducible: chunk boundaries, evaluation keys and all randomness depend only on the
seed and the iteration count, so a resumed run continues exactly as the uninterrupted one would.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from diffsr_jax.logging.writers import Progress, RunLogger, curves_from_rows, member_label, plot_comparison, read_metrics
from diffsr_jax.training.checkpoint import Checkpointer
from diffsr_jax.training.trainer import Trainer, eval_schedule

# rows fields that measure the machine rather than the run; excluded when comparing runs
TIMING_FIELDS = ("wall_time", "env_steps_per_s")


class CheckpointError(RuntimeError):
    """Checkpoints exist but none can be restored."""


class NonFiniteError(RuntimeError):
    """A member produced NaN/inf; the message names the seed, the env step and the quantity."""


def make_members(config, default_hp: dict, sweeps=({},)):
    """-> (members, keys (M, 2), hp pytree of (M,)): every sweep setting x every seed."""
    members, hps = [], []
    for overrides in sweeps:
        setting = ",".join(f"{k}={v:g}" for k, v in overrides.items())
        for i in range(config.num_seeds):
            members.append({"seed": config.seed + i, **({"setting": setting} if setting else {})})
            hps.append({**default_hp, **{k: jnp.asarray(v, jnp.float32) for k, v in overrides.items()}})
    keys = jnp.stack([jax.random.PRNGKey(m["seed"]) for m in members])
    return members, keys, jax.tree_util.tree_map(lambda *v: jnp.stack(v), *hps)


def summary_table(rows, members) -> str:
    width = max([len(member_label(m)) for m in members] + [6])
    lines = [f"{'run':>{width}} {'final eval':>11} {'best eval':>10} {'last-4 mean':>12}", "-" * (width + 36)]
    finals = {}
    for m in members:
        r = [x["eval_return"] for x in rows if all(x.get(k) == v for k, v in m.items())
             and x.get("eval_return") is not None]
        if not r:
            continue
        finals.setdefault(m.get("setting", ""), []).append(r[-1])
        lines.append(f"{member_label(m):>{width}} {r[-1]:>11.1f} {max(r):>10.1f} {np.mean(r[-4:]):>12.1f}")
    lines.append("-" * (width + 36))
    for setting, f in finals.items():
        lines.append(f"{(setting or 'mean'):>{width}} {np.mean(f):>11.1f}   (std {np.std(f):.1f} over {len(f)} seeds)")
    return "\n".join(lines)


def _first_nonfinite(metrics: dict, params_finite: np.ndarray, i: int):
    """Name of the first non-finite quantity of member i, or None. Update metrics of a chunk without updates
    and the train return of a chunk without finished episodes are NaN by design and are skipped."""
    for k, v in metrics.items():
        if k == "train_return" and metrics["train_episodes"][i] == 0:
            continue
        if metrics["learn_iters"][i] == 0 and k not in ("eval_return_all",) and not k.startswith(("sm_loss", "psi")):
            continue
        if not np.all(np.isfinite(v[i])):
            return "eval_return" if k == "eval_return_all" else k
    return None if params_finite[i] else "parameters"


class _StopRequest:
    """SIGTERM / SIGINT set a flag; the loop checkpoints after the current chunk and exits cleanly."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def __enter__(self):
        for s in (signal.SIGTERM, signal.SIGINT):
            self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is None:
            sys.stderr.write(f"\n{signal.Signals(signum).name} received: finishing the current chunk, then "
                             "checkpointing\n")
        self.signum = signum

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)


def run_training(config, logdir: str, *, tensorboard: bool = True, out=sys.stdout, sweeps=({},),
                 resume: bool = False) -> dict:
    """Train with checkpoints in ``logdir/checkpoints``. Returns {"rows", "status", "message"} where status is
    "finished", "stopped" (signal) or raises NonFiniteError (after flushing metrics; checkpoints kept)."""
    trainer = Trainer(config)
    members, keys, hp = make_members(config, trainer.default_hparams(), sweeps)
    metrics_path = os.path.join(logdir, "metrics.jsonl")
    ckpt = Checkpointer(os.path.join(logdir, "checkpoints"), int(config.keep_checkpoints))
    init = jax.jit(jax.vmap(trainer.init))
    t_start, t_iter, rows, alive, wall_offset = time.time(), 0, [], np.ones(len(members), bool), 0.0
    runner = None
    if resume:
        skipped = lambda step, e: print(  # noqa: E731
            f"warning: checkpoint at iteration {step} is unreadable ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:160] if str(e) else ''}); trying the previous one", file=out)
        restored = ckpt.restore_latest(jax.eval_shape(init, keys, hp), on_skip=skipped)
        if restored is None and ckpt.steps():
            raise CheckpointError(f"none of the checkpoints in {ckpt.directory} could be read; they are left as "
                                  "they are: pass --overwrite to start the run again")
        if restored is not None:
            t_iter, runner, meta = restored
            rows = read_metrics(metrics_path)[: meta["metrics_rows"]] if os.path.exists(metrics_path) else []
            alive = np.asarray(meta["alive"], bool)
            wall_offset = float(meta["wall_time"])
            print(f"resuming from env step {t_iter * trainer.num_envs:,} ({len(rows)} metric rows kept)", file=out)
        else:
            print("no readable checkpoint; starting from scratch", file=out)
    with open(metrics_path, "w") as f:  # drop rows written after the checkpoint we resume from
        f.writelines(json.dumps(r) + "\n" for r in rows)
    with open(os.path.join(logdir, "config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=2, default=list)
    if runner is None:
        runner = init(keys, hp)

    evaluate = jax.jit(jax.vmap(trainer.evaluate))
    diagnostics = jax.jit(jax.vmap(trainer.diagnostics))
    params_finite = jax.jit(jax.vmap(lambda a: jnp.all(jnp.array(
        [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(a)]))))
    chunk_fns = {}
    every = max(int(config.eval_every) // trainer.num_envs, 1)
    ckpt_every = max(int(config.checkpoint_every) // trainer.num_envs, 1)
    logger = RunLogger(logdir, tensorboard)
    progress = Progress(trainer.num_iters * trainer.num_envs, out)
    status, message = "finished", ""

    def save(t):
        meta = {"iteration": t, "env_steps": t * trainer.num_envs, "metrics_rows": len(rows),
                "alive": alive.tolist(), "wall_time": wall_offset + time.time() - t_start}
        ckpt.save(t, runner, meta)

    remaining = eval_schedule(trainer.num_iters - t_iter, every) if t_iter < trainer.num_iters else []
    try:
        with _StopRequest() as stop:
            for n in remaining:
                if n not in chunk_fns:
                    chunk_fns[n] = jax.jit(jax.vmap(functools.partial(trainer.run_chunk, num_iters=n),
                                                    in_axes=(0, None)))
                t0 = time.time()
                new_runner, m = chunk_fns[n](runner, jnp.int32(t_iter))
                m = {k: np.asarray(v) for k, v in jax.block_until_ready(m).items()}
                dt = time.time() - t0
                t_next = t_iter + n
                steps = t_next * trainer.num_envs
                eval_keys = jax.vmap(lambda k: trainer.eval_key(k, t_next))(keys)
                m["eval_return_all"] = np.asarray(evaluate(new_runner, eval_keys))
                diag_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(eval_keys)
                m.update({k: np.asarray(v) for k, v in diagnostics(new_runner, diag_keys).items()})
                finite = np.asarray(params_finite(new_runner.agent))
                for i in np.flatnonzero(alive):
                    bad = _first_nonfinite(m, finite, i)
                    if bad is None:
                        continue
                    note = (f"non-finite {bad} in {member_label(members[i])} at env step {steps:,}")
                    if config.nan_policy == "drop" and alive.sum() > 1:
                        alive[i] = False
                        print(f"\nwarning: {note}; dropping that run, the others continue", file=out)
                        continue
                    last = ckpt.steps()
                    where = (f"last good checkpoint: env step {last[-1] * trainer.num_envs:,} in {ckpt.directory}"
                             if last else "no checkpoint was written yet")
                    raise NonFiniteError(f"{note}; stopped ({where}; metrics so far in {metrics_path})")
                runner, t_iter = new_runner, t_next
                returns = m.pop("eval_return_all")
                m["eval_return"], m["eval_return_std"] = returns.mean(-1), returns.std(-1)
                sps = n * trainer.num_envs * int(alive.sum()) / dt
                extra = {"wall_time": wall_offset + time.time() - t_start, "env_steps_per_s": sps}
                live = [i for i in range(len(members)) if alive[i]]
                rows += logger.log(steps, [members[i] for i in live], {k: v[live] for k, v in m.items()}, extra)
                progress.update(steps, sps, float(np.mean(m["eval_return"][live])))
                crossed = t_iter // ckpt_every > (t_iter - n) // ckpt_every  # passed a checkpoint_every mark
                if stop.signum is not None or t_iter == trainer.num_iters or crossed:
                    save(t_iter)
                if stop.signum is not None:
                    status = "stopped"
                    message = (f"stopped by {signal.Signals(stop.signum).name} at env step {steps:,}; checkpoint "
                               f"saved, continue with --resume --logdir={logdir}")
                    break
    finally:
        progress.close()
        logger.close()
        ckpt.close()
    if rows:
        plot_comparison(curves_from_rows(rows), os.path.join(logdir, "curve.png"), f"{config.agent} on {config.env}")
        print(summary_table(rows, members), file=out)
    return {"rows": rows, "status": status, "message": message}
