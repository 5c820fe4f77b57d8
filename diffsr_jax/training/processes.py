"""A run over several processes (``jax.distributed``): one global mesh of every process's devices.

Every process runs the same launcher command with its own ``--process_id`` (or the cluster's environment, which
JAX reads itself: SLURM, Open MPI, Cloud TPU). ``join`` connects them to the coordinator before JAX computes
anything; from then on ``jax.devices()`` lists the devices of all processes and the members axis is laid over all
of them (``devices.member_mesh``). Each process holds and advances only its own members; the compiled chunk never
communicates across processes.

What crosses processes, once per chunk, on the host side: the chunk's metrics (``to_host``: every process gets every
member's, so every process takes the same decision in the NaN guard) and the stop request (``any_process``: a
signal to one process stops all of them at the same chunk). Only the primary process (index 0) writes the shared
outputs; checkpoints are written by all processes together through orbax (each writes its own shards).

When a process ends with an error, it first publishes its one-line message (``publish_error``); the others fail at
their next cross-process step (the peer's connections close) and report that message (``PeerLostError``). A
process killed outright publishes nothing: the others say which processes are gone. Either way they exit without
waiting for JAX's shutdown barrier (``exit_now``), which would otherwise hold them for minutes and then abort.

With one process (the default) every function here is the identity or a no-op.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import jax
import numpy as np
from jax.sharding import NamedSharding

ERROR_KEY = "diffsr_jax/error"
HEARTBEAT_TIMEOUT_S = 30  # a process silent this long is declared dead by the coordinator
JOIN_TIMEOUT_S = 120  # how long to wait for every process to reach the coordinator


class ProcessError(RuntimeError):
    """The process group cannot be formed (bad flags, unreachable coordinator)."""


class PeerLostError(RuntimeError):
    """Another process of the run ended (its message, or which ones are gone)."""


@dataclasses.dataclass(frozen=True)
class ProcessSpec:
    """How this process joins a run: ``num_processes`` 1 is a one-process run; ``auto`` lets JAX read the cluster's
    environment (then the other fields may be None)."""

    coordinator: str | None = None
    num_processes: int = 1
    process_id: int | None = None
    auto: bool = False

    @property
    def distributed(self) -> bool:
        return self.auto or self.num_processes > 1

    def check(self) -> None:
        """Raise ProcessError (one line) on an inconsistent spec, before anything connects."""
        if self.auto:
            if self.coordinator or self.num_processes > 1 or self.process_id is not None:
                raise ProcessError("--distributed reads the coordinator, the process count and this process's "
                                   "id from the cluster's environment: drop --coordinator, --num_processes and "
                                   "--process_id, or drop --distributed")
            return
        if self.num_processes < 1:
            raise ProcessError(f"--num_processes={self.num_processes}: must be at least 1")
        if self.num_processes == 1:
            if self.coordinator or self.process_id not in (None, 0):
                raise ProcessError("--coordinator and --process_id are for a run over several processes: pass "
                                   "--num_processes=N (N > 1) as well, or drop them")
            return
        if not self.coordinator or ":" not in self.coordinator:
            raise ProcessError(f"--num_processes={self.num_processes} needs --coordinator=<host>:<port> (the address "
                               "of process 0, the same for every process), e.g. --coordinator=localhost:12355")
        if self.process_id is None or not 0 <= self.process_id < self.num_processes:
            raise ProcessError(f"--num_processes={self.num_processes} needs --process_id=<0..{self.num_processes - 1}>"
                               f" (this process's index; got {self.process_id})")


def join(spec: ProcessSpec) -> None:
    """Connect this process to the others (a no-op for a one-process run). Call after ``run.cpu_devices`` is set and
    before JAX computes anything. Raises ProcessError with one line when the group cannot be formed."""
    spec.check()
    if not spec.distributed:
        return
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # cross-process transfers between CPU devices
    jax.config.update("jax_enable_recoverability", True)
    kwargs = dict(initialization_timeout=JOIN_TIMEOUT_S, heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S)
    if not spec.auto:
        kwargs.update(coordinator_address=spec.coordinator, num_processes=spec.num_processes,
                      process_id=spec.process_id)
    if not spec.auto and spec.process_id != 0:
        _wait_for_coordinator(spec.coordinator)
    try:
        jax.distributed.initialize(**kwargs)
    except Exception as e:  # noqa: BLE001 - whatever stops the group forming is reported in one line
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        where = "the cluster's environment" if spec.auto else f"the coordinator {spec.coordinator}"
        raise ProcessError(f"could not join the run's processes through {where} within {JOIN_TIMEOUT_S}s "
                           f"({first}); start every process with the same --coordinator and --num_processes and "
                           "its own --process_id") from None


def _wait_for_coordinator(address: str) -> None:
    """Wait until process 0 listens at ``address``; ProcessError after JOIN_TIMEOUT_S. (JAX itself would abort the
    process with a stack dump when the coordinator cannot be reached.)"""
    import socket
    import time

    host, _, port = address.rpartition(":")
    deadline = time.time() + JOIN_TIMEOUT_S
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=5):
                return
        except (OSError, ValueError) as e:
            if isinstance(e, ValueError) or time.time() > deadline:
                raise ProcessError(f"could not reach the coordinator {address} within {JOIN_TIMEOUT_S}s: start "
                                   f"process 0 (--process_id=0) with the same --coordinator, and check that this "
                                   "machine can reach that host and port") from None
            time.sleep(0.5)


def joined() -> bool:
    """Whether this process has joined a run over several processes."""
    from jax._src import distributed

    return distributed.global_state.client is not None


def count() -> int:
    return jax.process_count()


def index() -> int:
    return jax.process_index()


def is_primary() -> bool:
    """The process that writes the run's shared outputs."""
    return jax.process_index() == 0


def _local_to_global(x, sharding: NamedSharding):
    """A host value every process holds in full -> one global array laid out by ``sharding``."""
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        impl = x.dtype._impl
        return jax.random.wrap_key_data(_local_to_global(jax.random.key_data(x), sharding), impl=impl)
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def place(tree, sharding: NamedSharding):
    """Every leaf laid out by ``sharding``. Leaves that are already global arrays are moved by JAX; values every
    process holds in full (seeds, hyperparameters, leaves rebuilt on the host) become global arrays."""
    def one(x):
        if count() == 1 or (isinstance(x, jax.Array) and not x.is_fully_addressable):
            return jax.device_put(x, sharding)
        return _local_to_global(x, sharding)

    return jax.tree_util.tree_map(one, tree)


def to_host(tree):
    """numpy values of every leaf, every member's on every process."""
    if count() == 1:
        return jax.tree_util.tree_map(np.asarray, jax.device_get(tree))
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def any_process(flag: bool) -> bool:
    """True on every process if ``flag`` is True on any."""
    if count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.asarray([flag]))))


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier ``name``."""
    if count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def _client():
    from jax._src import distributed

    return distributed.global_state.client


def publish_error(message: str) -> None:
    """Leave this process's one-line error where the other processes look when they lose it (best effort)."""
    if not joined():
        return
    try:
        _client().key_value_set(ERROR_KEY, f"process {index()}: {message}", allow_overwrite=True)
    except Exception:  # noqa: BLE001 - the coordinator may already be gone
        pass


def peer_lost(error: Exception) -> PeerLostError:
    """What a survivor reports when a cross-process step fails: the message a peer published, else the cause."""
    message = None
    try:
        message = _client().key_value_try_get(ERROR_KEY) if _client() is not None else None
    except Exception:  # noqa: BLE001 - nothing published, or the coordinator (process 0) is gone
        pass
    if message:
        return PeerLostError(f"another process of this run failed ({message})")
    cause = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
    return PeerLostError(f"another process of this run stopped unexpectedly ({cause})")


def is_cross_process_failure(error: Exception) -> bool:
    """An error raised by JAX's runtime while other processes take part: a lost peer, not this process's fault."""
    return count() > 1 and isinstance(error, jax.errors.JaxRuntimeError)


def exit_now(code: int) -> None:
    """End this process at once with ``code``: after an error in a multi-process run, JAX's shutdown barrier would
    wait for processes that will never arrive. A one-process run exits normally."""
    sys.stdout.flush()
    sys.stderr.flush()
    if joined():
        os._exit(code)
    sys.exit(code)
