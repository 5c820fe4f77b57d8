"""The host side of a run: it only does I/O around the compiled chunk.

The device does all the work in ``Trainer.chunk`` (iterations, evaluation, diagnostics; vmapped over members =
settings x seeds); this loop calls it once per ``eval_every`` env frames, then: the NaN guard, logging,
checkpoints and signals, each a small function below. A run is reproducible: chunk boundaries and all
randomness depend only on the seed and the iteration count, so a resumed run continues exactly as the
uninterrupted one would, and ``make_train`` (which scans the same chunk) gives the same metrics for a seed.

Over several processes (``processes``) every process runs this loop on its own members; after each chunk they
share the metrics and any stop request, so they log, guard, checkpoint and stop at the same chunk. Only the
primary process writes config.json, metrics.jsonl, TensorBoard, provenance and the curve; all write checkpoints.

Rows of ``metrics.jsonl``: ``frames`` (env frames per seed so far), ``decisions`` (agent decisions per seed),
the member (``seed``, ``setting``), then ``train/...``, ``eval/...``, ``diag/...`` and ``run/...`` (machine timing).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import sys
import time

import jax
import numpy as np

from diffsr_jax.logging.writers import (
    Progress,
    RunLogger,
    curves_from_rows,
    member_label,
    plot_comparison,
    read_metrics,
)
from diffsr_jax.config.budget import eval_schedule, iterations
from diffsr_jax.training.checkpoint import Checkpointer, CheckpointWriteError, stored_bytes
from diffsr_jax.training.disk import DiskFullError, check_checkpoint_space, free_bytes, is_disk_full
from diffsr_jax.training.memory import format_bytes
from diffsr_jax.training import processes
from diffsr_jax.training.devices import member_mesh, member_sharding, over_members, shard_members
from diffsr_jax.training.members import make_members, summary_table
from diffsr_jax.training.memory import (
    ReplayMemoryError,
    free_memory_bytes,
    replay_memory,
)
from diffsr_jax.training.provenance import record_start
from diffsr_jax.program.trainer import Trainer

# row fields that measure the machine rather than the run; excluded when comparing runs
TIMING_FIELDS = ("run/wall_time", "run/frames_per_s")
HEALTH_FIELD = "run/params_finite"  # read by the NaN guard, not logged

__all__ = ["CheckpointError", "NonFiniteError", "OutOfMemoryError", "TIMING_FIELDS", "run_training"]


class CheckpointError(RuntimeError):
    """Checkpoints exist but none can be restored."""


class NonFiniteError(RuntimeError):
    """A member produced NaN/inf; the message names the seed, the env frame and the quantity."""


class OutOfMemoryError(RuntimeError):
    """The compiled program did not fit in device memory."""


@dataclasses.dataclass
class RunPosition:
    """Where the run stands on the host: iteration, device state, logged rows, live members, wall time so far."""

    t_iter: int
    runner: object
    rows: list
    alive: np.ndarray
    wall_offset: float


# --- resume ----------------------------------------------------------------------------------------------------
def restore_or_init(trainer: Trainer, keys, hp, ckpt: Checkpointer, metrics_path: str, resume: bool, out,
                    mesh=None) -> RunPosition:
    """The newest readable checkpoint (with ``resume``) or a fresh start, its members laid over ``mesh``. Raises
    CheckpointError if checkpoints exist but none can be read (they are left as they are)."""
    init = over_members(trainer.init, mesh, in_axes=(0, 0))
    fresh = RunPosition(0, None, [], np.ones(keys.shape[0], bool), 0.0)
    if resume:
        def skipped(step, e):
            msg = str(e).splitlines()[0][:200] if str(e) else ""
            print(f"warning: checkpoint at iteration {step} is unreadable ({type(e).__name__}: {msg}); trying the "
                  "previous one", file=out)

        restored = ckpt.restore_latest(jax.eval_shape(init, keys, hp), on_skip=skipped,
                                       sharding=member_sharding(mesh))
        if restored is None and ckpt.steps():
            raise CheckpointError(f"none of the checkpoints in {ckpt.directory} could be read; they are left as "
                                  "they are: pass --overwrite to start the run again")
        if restored is not None:
            t_iter, runner, meta = restored
            rows = read_metrics(metrics_path)[: meta["metrics_rows"]] if os.path.exists(metrics_path) else []
            print(f"resuming from env frame {t_iter * trainer.frames_per_iter:,} ({len(rows)} metric rows kept)",
                  file=out)
            runner = shard_members(runner, mesh) if mesh is not None else jax.device_put(runner)
            return RunPosition(t_iter, runner, rows, np.asarray(meta["alive"], bool), float(meta["wall_time"]))
        print("no readable checkpoint; starting from scratch", file=out)
    fresh.runner = init(shard_members(keys, mesh), shard_members(hp, mesh))
    return fresh


def write_run_files(logdir: str, config, rows) -> None:
    """config.json, and metrics.jsonl cut back to the rows of the checkpoint the run continues from (the primary
    process's job)."""
    with open(os.path.join(logdir, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    with open(os.path.join(logdir, "config.json"), "w") as f:
        json.dump(config.to_dict(), f, indent=2, default=list)


# --- NaN guard -------------------------------------------------------------------------------------------------
def first_nonfinite(metrics: dict, i: int):
    """Name of the first non-finite quantity of member i, or None. Update metrics of a chunk without updates
    and the train return of a chunk without finished episodes are NaN by design and are skipped."""
    for k, v in metrics.items():
        if k == "train/return" and metrics["train/episodes"][i] == 0:
            continue
        if k.startswith("train/") and metrics["train/learn_iters"][i] == 0:
            continue
        if not np.all(np.isfinite(v[i])):
            return k
    return None if metrics[HEALTH_FIELD][i] else "parameters"


def nan_guard(metrics: dict, p: RunPosition, members, frames: int, nan_policy: str, ckpt: Checkpointer,
              frames_per_iter: int, metrics_path: str, out) -> None:
    """Drop (nan_policy=drop, others alive) or stop with NonFiniteError at the first non-finite member."""
    for i in np.flatnonzero(p.alive):
        bad = first_nonfinite(metrics, i)
        if bad is None:
            continue
        note = f"non-finite {bad} in {member_label(members[i])} at env frame {frames:,}"
        if nan_policy == "drop" and p.alive.sum() > 1:
            p.alive[i] = False
            print(f"\nwarning: {note}; dropping that run, the others continue", file=out)
            continue
        last = ckpt.steps()
        where = (f"last good checkpoint: env frame {last[-1] * frames_per_iter:,} in {ckpt.directory}" if last
                 else "no checkpoint was written yet")
        raise NonFiniteError(f"{note}; stopped ({where}; metrics so far in {metrics_path})")


# --- checkpoints, signals --------------------------------------------------------------------------------------
def save_checkpoint(ckpt: Checkpointer, p: RunPosition, trainer: Trainer, t_start: float, logdir: str) -> None:
    """Checkpoint the run state at ``p.t_iter``; a failed write names the previous checkpoint that is intact."""
    fpi = trainer.frames_per_iter
    meta = {"iteration": p.t_iter, "frames": p.t_iter * fpi, "decisions": p.t_iter * trainer.num_envs,
            "metrics_rows": len(p.rows), "alive": p.alive.tolist(), "wall_time": p.wall_offset + time.time() - t_start}
    try:
        ckpt.save(p.t_iter, p.runner, meta)
    except DiskFullError as e:
        raise DiskFullError(f"{e}; {intact(ckpt, fpi, logdir, exclude=p.t_iter)}") from None
    except CheckpointWriteError as e:
        if processes.is_cross_process_failure(e.__cause__):  # another process ended while all were writing
            raise processes.peer_lost(e.__cause__) from None
        last = [s for s in ckpt.steps() if s != p.t_iter]
        kept = (f"the previous checkpoint (env frame {last[-1] * fpi:,}) is intact; continue with --resume "
                f"--logdir={logdir}" if last else "no earlier checkpoint exists")
        raise CheckpointWriteError(f"{e}; {kept}") from None


def intact(ckpt: Checkpointer, frames_per_iter: int, logdir: str, exclude: int | None = None) -> str:
    """What a run stopped by a full disk still has, and how to continue it."""
    steps = [s for s in ckpt.steps() if s != exclude]
    if not steps:
        return "no checkpoint was written yet: free space, then start the run again"
    return (f"the checkpoint at env frame {steps[-1] * frames_per_iter:,} is intact: free space, then --resume "
            f"--logdir={logdir}")


class StopRequest:
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


def _is_out_of_memory(e: Exception) -> bool:
    return "RESOURCE_EXHAUSTED" in str(e) or "Out of memory" in str(e) or isinstance(e, MemoryError)


# --- the loop --------------------------------------------------------------------------------------------------
def run_training(config, logdir: str, *, tensorboard: bool = True, out=sys.stdout, sweeps=({},),
                 resume: bool = False, env=None, memory: str | None = None) -> dict:
    """Train with checkpoints in ``logdir/checkpoints``. Returns {"rows", "status", "message"} where status is
    "finished" or "stopped" (signal). Raises ReplayMemoryError before compiling if the replay cannot fit,
    NonFiniteError (after flushing metrics; checkpoints kept), CheckpointError / CheckpointWriteError, DiskFullError
    (a write failed for lack of space), DiskSpaceError (before compiling: the checkpoints cannot fit),
    OutOfMemoryError, and, over several processes, PeerLostError when another process of the run ends. ``env``,
    ``sweeps`` and ``memory``: what ``training.plan.prepare_run`` gives, when the caller planned the run."""
    trainer = Trainer(config, env)
    members, keys, hp = make_members(config, trainer.default_hparams(), sweeps)
    # the replay's size; checked here unless the run's plan has (``training.plan.prepare_run`` gives ``memory``)
    print(memory or replay_memory(trainer.env, trainer.capacity, len(members), free_memory_bytes()), file=out)
    mesh = member_mesh(len(members), int(config.run.devices))
    try:
        with jax.default_matmul_precision(config.run.matmul_precision):
            return _loop(Run(trainer, config, logdir, members, mesh, tensorboard, out), keys, hp, resume)
    except Exception as e:
        if isinstance(e, (DiskFullError, CheckpointWriteError)):  # their text may say RESOURCE_EXHAUSTED too
            raise
        if processes.is_cross_process_failure(e) and not _is_out_of_memory(e):
            raise processes.peer_lost(e) from None
        if _is_out_of_memory(e):
            raise OutOfMemoryError(
                f"out of memory running {config.run.agent} with {len(members)} member(s), batch_size "
                f"{config.replay.batch_size}, replay {trainer.capacity:,} ({str(e).splitlines()[0][:160]}); use fewer seeds, a "
                "smaller --config.replay.batch_size or --config.replay.buffer_size") from None
        if not isinstance(e, (NonFiniteError, CheckpointError, CheckpointWriteError, processes.PeerLostError)):
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
            processes.publish_error(f"{type(e).__name__}: {first}")  # what the other processes will report
        raise


@dataclasses.dataclass(frozen=True)
class Run:
    """What the host loop works with, fixed for the whole run: the program, its config and log dir, the members
    (settings x seeds) and the mesh they are laid over, and where it writes (TensorBoard on or off; ``out`` the text
    stream, devnull on processes other than the primary)."""
    trainer: Trainer
    config: object
    logdir: str
    members: list
    mesh: object
    tensorboard: bool
    out: object


def _loop(run: Run, keys, hp, resume: bool) -> dict:
    """Restore (or init) the run state, check the checkpoints fit on the disk, then ``_chunks``; a write that fails for
    lack of space anywhere in them ends the run as a ``DiskFullError`` naming the checkpoint that is intact."""
    trainer, config, logdir, out, mesh = run.trainer, run.config, run.logdir, run.out, run.mesh
    metrics_path = os.path.join(logdir, "metrics.jsonl")
    ckpt = Checkpointer(os.path.join(logdir, "checkpoints"), int(config.run.keep_checkpoints))
    t_start = time.time()
    p = restore_or_init(trainer, keys, hp, ckpt, metrics_path, resume, out, mesh)
    primary = processes.is_primary()
    if primary:  # before the chunk compiles: the checkpoints (replay included) must fit on the disk
        print(check_checkpoint_space(ckpt.directory, stored_bytes(p.runner), int(config.run.keep_checkpoints)),
              file=out)
    try:
        return _chunks(run, ckpt, metrics_path, p, t_start)
    except Exception as e:
        if isinstance(e, DiskFullError) or not is_disk_full(e):
            raise
        raise DiskFullError(f"the disk is full: a write to {logdir} failed ({format_bytes(free_bytes(logdir))} free: "
                            f"{str(e).splitlines()[0][:120]}); {intact(ckpt, trainer.frames_per_iter, logdir)}") from None
    finally:
        ckpt.close()


def _chunks(run: Run, ckpt, metrics_path: str, p, t_start: float) -> dict:
    """The chunks of ``_loop``: run, log, checkpoint, until the end of the run or a signal."""
    trainer, config, logdir, members, out, mesh = run.trainer, run.config, run.logdir, run.members, run.out, run.mesh
    tensorboard = run.tensorboard
    primary = processes.is_primary()
    if primary:
        write_run_files(logdir, config, p.rows)
        record_start(logdir, p.t_iter * trainer.frames_per_iter)

    # the run state is donated: the chunk updates it in place instead of keeping a copy (replay included)
    # one program per chunk shape (iterations, warm-up iterations among them, whether the agent pre-trains there):
    # warm-up and pre-training are static, not branches
    compiled = functools.lru_cache(maxsize=None)(lambda n, warm, pre: over_members(
        functools.partial(trainer.chunk, num_iters=n, warmup_iters=warm, pretrain=pre), mesh, in_axes=(0, None),
        donate=(0,)))
    every, ckpt_every = iterations(config, config.run.eval_every), iterations(config, config.run.checkpoint_every)
    fpi = trainer.frames_per_iter
    logger, progress = RunLogger(logdir, tensorboard, write=primary), Progress(trainer.num_iters * fpi, out)
    status, message = "finished", ""
    remaining = eval_schedule(trainer.num_iters - p.t_iter, every) if p.t_iter < trainer.num_iters else []
    try:
        with StopRequest() as stop:
            for n in remaining:
                t0 = time.time()
                shape = (n, trainer.warmup_in(p.t_iter, n), trainer.pretrain_in(p.t_iter, n))
                runner, m = compiled(*shape)(p.runner, np.int32(p.t_iter))
                m = processes.to_host(m)  # every member's metrics, on every process
                dt = time.time() - t0
                frames = (p.t_iter + n) * fpi
                nan_guard(m, p, members, frames, config.run.nan_policy, ckpt, fpi, metrics_path, out)
                m.pop(HEALTH_FIELD)
                p.runner, p.t_iter = runner, p.t_iter + n
                fps = n * fpi * int(p.alive.sum()) / dt
                live = [i for i in range(len(members)) if p.alive[i]]
                counters = {"frames": frames, "decisions": p.t_iter * trainer.num_envs}
                extra = {"run/wall_time": p.wall_offset + time.time() - t_start, "run/frames_per_s": fps}
                p.rows += logger.log(counters, [members[i] for i in live], {k: v[live] for k, v in m.items()}, extra)
                progress.update(frames, fps, float(np.mean(m["eval/return"][live])))
                crossed = p.t_iter // ckpt_every > (p.t_iter - n) // ckpt_every  # passed a checkpoint_every mark
                stopping = processes.any_process(stop.signum is not None)  # a signal to one process stops all
                if stopping or p.t_iter == trainer.num_iters or crossed:
                    save_checkpoint(ckpt, p, trainer, t_start, logdir)
                if stopping:
                    by = signal.Signals(stop.signum).name if stop.signum is not None else "a signal to another process"
                    status = "stopped"
                    message = (f"stopped by {by} at env frame {frames:,}; checkpoint saved, continue with --resume "
                               f"--logdir={logdir}")
                    break
    finally:
        progress.close()
        logger.close()
    if p.rows and primary:
        plot_comparison(curves_from_rows(p.rows), os.path.join(logdir, "curve.png"), f"{config.run.agent} on {config.env.name}")
        print(summary_table(p.rows, members), file=out)
    return {"rows": p.rows, "status": status, "message": message}
