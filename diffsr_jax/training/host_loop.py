"""The host side of a run: chunks of the compiled program, evaluation, logging, checkpoints, signals, NaN guard.

The device does all the work in ``Trainer.run_chunk`` (vmapped over members = settings x seeds); this loop only
calls it once per ``eval_every`` env frames and then evaluates, logs, checks for non-finite values and
checkpoints. A run is reproducible: chunk boundaries, evaluation keys and all randomness depend only on the
seed and the iteration count, so a resumed run continues exactly as the uninterrupted one would.

Rows of ``metrics.jsonl``: ``frames`` (env frames per seed so far), ``decisions`` (agent decisions per seed),
the member (``seed``, ``setting``), then ``train/...``, ``eval/...``, ``diag/...`` and ``run/...`` (machine timing).
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
from diffsr_jax.training.checkpoint import Checkpointer, CheckpointWriteError
from diffsr_jax.training.trainer import Trainer, eval_schedule, iterations, transition_bytes
from diffsr_jax.training.validate import ConfigError

# row fields that measure the machine rather than the run; excluded when comparing runs
TIMING_FIELDS = ("run/wall_time", "run/frames_per_s")

__all__ = ["CheckpointError", "CheckpointWriteError", "NonFiniteError", "ReplayMemoryError", "TIMING_FIELDS",
           "make_members", "replay_memory", "run_training", "summary_table"]


class CheckpointError(RuntimeError):
    """Checkpoints exist but none can be restored."""


class NonFiniteError(RuntimeError):
    """A member produced NaN/inf; the message names the seed, the env frame and the quantity."""


class ReplayMemoryError(ConfigError):
    """The replay of all members cannot fit in the free memory."""


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
        r = [x["eval/return"] for x in rows if all(x.get(k) == v for k, v in m.items())
             and x.get("eval/return") is not None]
        if not r:
            continue
        finals.setdefault(m.get("setting", ""), []).append(r[-1])
        lines.append(f"{member_label(m):>{width}} {r[-1]:>11.1f} {max(r):>10.1f} {np.mean(r[-4:]):>12.1f}")
    lines.append("-" * (width + 36))
    for setting, f in finals.items():
        lines.append(f"{(setting or 'mean'):>{width}} {np.mean(f):>11.1f}   (std {np.std(f):.1f} over {len(f)} seeds)")
    return "\n".join(lines)


# --- memory --------------------------------------------------------------------------------------------------
def _fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000.0
    return ""


def free_memory_bytes() -> int | None:
    """Free memory where the replay lives: the accelerator's (bytes_limit - in use) or the host's MemAvailable."""
    dev = jax.devices()[0]
    if dev.platform != "cpu":
        stats = dev.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def replay_memory(env, capacity: int, num_members: int, free: int | None) -> str:
    """One line stating the replay's size for all members; raises ReplayMemoryError (one line with the fix) if
    it cannot fit: a chunk of the compiled program holds its input and its output state, so twice the replay."""
    per = transition_bytes(env.obs_dim, env.action_dim)
    total = per * capacity * num_members
    line = (f"replay: {capacity:,} transitions x {num_members} member(s) x {per} B = {_fmt_bytes(total)}"
            + (f" ({_fmt_bytes(free)} free)" if free is not None else ""))
    if free is not None and 2 * total > free:
        raise ReplayMemoryError(
            f"the replay needs {_fmt_bytes(total)} ({capacity:,} transitions x {num_members} member(s) x "
            f"{per} B), twice that while a chunk runs, but only {_fmt_bytes(free)} is free: use fewer seeds "
            f"(--num_seeds) or a smaller --config.buffer_size")
    return line


# --- NaN guard, signals ----------------------------------------------------------------------------------------
def _first_nonfinite(metrics: dict, params_finite: np.ndarray, i: int):
    """Name of the first non-finite quantity of member i, or None. Update metrics of a chunk without updates
    and the train return of a chunk without finished episodes are NaN by design and are skipped."""
    for k, v in metrics.items():
        if k == "train/return" and metrics["train/episodes"][i] == 0:
            continue
        if k.startswith("train/") and metrics["train/learn_iters"][i] == 0:
            continue
        if not np.all(np.isfinite(v[i])):
            return k
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


# --- resume ----------------------------------------------------------------------------------------------------
def _restore(ckpt: Checkpointer, abstract, metrics_path: str, trainer: Trainer, out):
    """-> (iteration, runner, rows, alive, wall_offset) of the newest readable checkpoint, or None if there is
    no checkpoint. Raises CheckpointError if checkpoints exist but none can be read."""
    def skipped(step, e):
        msg = str(e).splitlines()[0][:200] if str(e) else ""
        print(f"warning: checkpoint at iteration {step} is unreadable ({type(e).__name__}: {msg}); trying the "
              "previous one", file=out)

    restored = ckpt.restore_latest(abstract, on_skip=skipped)
    if restored is None:
        if ckpt.steps():
            raise CheckpointError(f"none of the checkpoints in {ckpt.directory} could be read; they are left as "
                                  "they are: pass --overwrite to start the run again")
        print("no readable checkpoint; starting from scratch", file=out)
        return None
    t_iter, runner, meta = restored
    rows = read_metrics(metrics_path)[: meta["metrics_rows"]] if os.path.exists(metrics_path) else []
    print(f"resuming from env frame {t_iter * trainer.frames_per_iter:,} ({len(rows)} metric rows kept)", file=out)
    return t_iter, runner, rows, np.asarray(meta["alive"], bool), float(meta["wall_time"])


def _is_out_of_memory(e: Exception) -> bool:
    return "RESOURCE_EXHAUSTED" in str(e) or "Out of memory" in str(e) or isinstance(e, MemoryError)


class OutOfMemoryError(RuntimeError):
    """The compiled program did not fit in device memory."""


# --- the loop --------------------------------------------------------------------------------------------------
def run_training(config, logdir: str, *, tensorboard: bool = True, out=sys.stdout, sweeps=({},),
                 resume: bool = False, env=None) -> dict:
    """Train with checkpoints in ``logdir/checkpoints``. Returns {"rows", "status", "message"} where status is
    "finished" or "stopped" (signal). Raises ReplayMemoryError before compiling if the replay cannot fit,
    NonFiniteError (after flushing metrics; checkpoints kept), CheckpointError / CheckpointWriteError, and
    OutOfMemoryError."""
    trainer = Trainer(config, env)
    members, keys, hp = make_members(config, trainer.default_hparams(), sweeps)
    print(replay_memory(trainer.env, trainer.capacity, len(members), free_memory_bytes()), file=out)
    try:
        return _train(trainer, config, logdir, members, keys, hp, tensorboard, out, resume)
    except Exception as e:
        if _is_out_of_memory(e):
            raise OutOfMemoryError(
                f"out of memory running {config.agent} with {len(members)} member(s), batch_size "
                f"{config.batch_size}, replay {trainer.capacity:,} ({str(e).splitlines()[0][:160]}); use fewer seeds, a "
                "smaller --config.batch_size or --config.buffer_size") from None
        raise


def _train(trainer, config, logdir, members, keys, hp, tensorboard, out, resume) -> dict:
    metrics_path = os.path.join(logdir, "metrics.jsonl")
    ckpt = Checkpointer(os.path.join(logdir, "checkpoints"), int(config.keep_checkpoints))
    init = jax.jit(jax.vmap(trainer.init))
    t_start, t_iter, rows, alive, wall_offset = time.time(), 0, [], np.ones(len(members), bool), 0.0
    runner = None
    if resume:
        restored = _restore(ckpt, jax.eval_shape(init, keys, hp), metrics_path, trainer, out)
        if restored is not None:
            t_iter, runner, rows, alive, wall_offset = restored
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
    every, ckpt_every = iterations(config, config.eval_every), iterations(config, config.checkpoint_every)
    fpi = trainer.frames_per_iter
    logger = RunLogger(logdir, tensorboard)
    progress = Progress(trainer.num_iters * fpi, out)
    status, message = "finished", ""

    def save(t):
        meta = {"iteration": t, "frames": t * fpi, "decisions": t * trainer.num_envs, "metrics_rows": len(rows),
                "alive": alive.tolist(), "wall_time": wall_offset + time.time() - t_start}
        try:
            ckpt.save(t, runner, meta)
        except CheckpointWriteError as e:
            last = [s for s in ckpt.steps() if s != t]
            kept = (f"the previous checkpoint (env frame {last[-1] * fpi:,}) is intact; continue with --resume "
                    f"--logdir={logdir}" if last else "no earlier checkpoint exists")
            raise CheckpointWriteError(f"{e}; {kept}") from None

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
                frames = t_next * fpi
                eval_keys = jax.vmap(lambda k: trainer.eval_key(k, t_next))(keys)
                returns = np.asarray(evaluate(new_runner, eval_keys))
                m["eval/return"], m["eval/return_std"] = returns.mean(-1), returns.std(-1)
                diag_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(eval_keys)
                m.update({k: np.asarray(v) for k, v in diagnostics(new_runner, diag_keys).items()})
                finite = np.asarray(params_finite(new_runner.agent))
                for i in np.flatnonzero(alive):
                    bad = _first_nonfinite(m, finite, i)
                    if bad is None:
                        continue
                    note = f"non-finite {bad} in {member_label(members[i])} at env frame {frames:,}"
                    if config.nan_policy == "drop" and alive.sum() > 1:
                        alive[i] = False
                        print(f"\nwarning: {note}; dropping that run, the others continue", file=out)
                        continue
                    last = ckpt.steps()
                    where = (f"last good checkpoint: env frame {last[-1] * fpi:,} in {ckpt.directory}"
                             if last else "no checkpoint was written yet")
                    raise NonFiniteError(f"{note}; stopped ({where}; metrics so far in {metrics_path})")
                runner, t_iter = new_runner, t_next
                fps = n * fpi * int(alive.sum()) / dt
                counters = {"frames": frames, "decisions": t_next * trainer.num_envs}
                extra = {"run/wall_time": wall_offset + time.time() - t_start, "run/frames_per_s": fps}
                live = [i for i in range(len(members)) if alive[i]]
                rows += logger.log(counters, [members[i] for i in live], {k: v[live] for k, v in m.items()}, extra)
                progress.update(frames, fps, float(np.mean(m["eval/return"][live])))
                crossed = t_iter // ckpt_every > (t_iter - n) // ckpt_every  # passed a checkpoint_every mark
                if stop.signum is not None or t_iter == trainer.num_iters or crossed:
                    save(t_iter)
                if stop.signum is not None:
                    status = "stopped"
                    message = (f"stopped by {signal.Signals(stop.signum).name} at env frame {frames:,}; checkpoint "
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
