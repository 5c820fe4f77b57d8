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
import itertools
import os
import sys

import jax
import numpy as np
from jax.sharding import NamedSharding

ERROR_KEY = "diffsr_jax/error"
HEARTBEAT_TIMEOUT_S = 30  # a process silent this long is declared dead by the coordinator
JOIN_TIMEOUT_S = 120  # how long to wait for every process to reach the coordinator
HEARTBEAT_S = 1.0  # how often a process tells the others it is alive
HEARTBEAT_JOIN_S = 10.0  # how long exit waits for the heartbeat's call in flight to return
PEER_SILENT_S = 20.0  # a process whose heartbeat has not changed for this long is gone (dead or frozen)
BARRIER_TIMEOUT_S = 3600  # how long one process may wait for the others at a barrier (their compile, a slow chunk)
_BARRIER_IDS = itertools.count()  # every barrier has its own id, in the same order on every process


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
        host, _, port = (self.coordinator or "").rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ProcessError(f"--num_processes={self.num_processes} needs --coordinator=<host>:<port> (the address "
                               "of process 0, the same for every process, port 1-65535), e.g. "
                               f"--coordinator=localhost:12355; got {self.coordinator!r}")
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
    import atexit

    atexit.register(_leave_in_order, _start_heartbeat())


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
    return jax.distributed.is_initialized()


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

    barrier("metrics")
    return multihost_utils.process_allgather(tree, tiled=True)


def any_process(flag: bool) -> bool:
    """True on every process if ``flag`` is True on any."""
    if count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils

    barrier("flags")
    return bool(np.any(multihost_utils.process_allgather(np.asarray([flag]))))


def _alive_key(i: int) -> str:
    return f"diffsr_jax/alive/{i}"


def _start_heartbeat():
    """Start a daemon thread that bumps this process's counter in the coordinator's key-value store every
    HEARTBEAT_S: how the others tell a live process (even one busy compiling) from a dead or frozen one. Returns the
    function that stops it and waits for its call in flight to return."""
    import threading

    client, key = _client(), _alive_key(index())
    stop = threading.Event()

    def beat():
        n = 0
        while not stop.is_set():
            try:
                client.key_value_set(key, str(n), allow_overwrite=True)
            except Exception:  # noqa: BLE001 - the coordinator is gone: the main thread finds out on its own
                return
            n += 1
            stop.wait(HEARTBEAT_S)

    thread = threading.Thread(target=beat, name="diffsr_jax-heartbeat", daemon=True)
    thread.start()

    def end():
        stop.set()
        thread.join(timeout=HEARTBEAT_JOIN_S)

    return end


def _leave_in_order(stop_heartbeat) -> None:
    """At a normal exit, before JAX's own exit handler disconnects this process (``atexit`` runs the later
    registration first): stop the heartbeat, and on process 0 wait until every other process has disconnected.

    Both matter. The interpreter's finalization kills a daemon thread that is inside the client's C++ call, and that
    aborts the process (``FATAL: exception not rethrown``, exit -6) after a finished run. With recoverability on,
    JAX's shutdown barrier does not hold process 0, whose exit stops the coordination service; a process that
    disconnects after that is terminated by JAX's runtime (``Failed to disconnect from coordination service``)."""
    stop_heartbeat()
    if index() != 0:
        return
    import time

    client, everyone = _client(), list(range(count()))
    deadline = time.time() + HEARTBEAT_TIMEOUT_S + HEARTBEAT_JOIN_S
    while time.time() < deadline:
        try:  # blocks until every listed live process calls it or disconnects: here, until they disconnect
            if len(client.get_live_nodes(everyone)) <= 1:
                return
        except Exception:  # noqa: BLE001 - the service cannot say: nothing left to wait for
            return
        time.sleep(0.05)


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier ``name``; PeerLostError once a process that has not reached it
    has been silent for PEER_SILENT_S. Every cross-process transfer is preceded by one: the CPU collectives library
    gives up on a peer that arrives 30 s after the others (one process's longer compile easily does), and JAX's own
    barrier waits out its whole timeout for a process that died. Kept in the coordinator's key-value store: each
    process leaves its key, then polls for the others' and for their heartbeats (``_start_heartbeat``)."""
    if not joined():
        return
    import time

    client, n = _client(), count()
    prefix = f"diffsr_jax/barrier/{next(_BARRIER_IDS)}/"
    client.key_value_set(prefix + str(index()), name)
    start = time.time()
    seen = {}  # process -> (its last heartbeat value, when this process saw it change)
    pause = 0.002
    while True:
        arrived = {int(k.rsplit("/", 1)[-1]) for k, _ in client.key_value_dir_get(prefix)}
        if len(arrived) == n:
            return
        now = time.time()
        for i in set(range(n)) - arrived:
            try:
                beat = client.key_value_try_get(_alive_key(i))
            except Exception:  # noqa: BLE001 - no heartbeat yet
                beat = None
            if i not in seen or seen[i][0] != beat:
                seen[i] = (beat, now)
            if now - seen[i][1] > PEER_SILENT_S:
                raise _lost(f"process {i} of this run is gone: silent for {PEER_SILENT_S}s before the {name} barrier")
        if now - start > BARRIER_TIMEOUT_S:
            raise PeerLostError(f"the other processes did not reach the {name} barrier within {BARRIER_TIMEOUT_S}s")
        time.sleep(pause)
        pause = min(2 * pause, 0.1)


CLIENT_METHODS = ("key_value_set", "key_value_try_get", "key_value_dir_get", "get_live_nodes")
"""What this module calls on the coordinator's client (tests/test_processes.py checks JAX still offers them)."""


def _client():
    """The coordination service's client that ``jax.distributed.initialize`` connected (None before): its key-value
    store carries the heartbeats, barriers and error reports of this module. JAX has no public handle on it, so this is
    the one private access (``jax._src.distributed.global_state``), kept here alone; a test fails naming it if a JAX
    release moves it or drops one of ``CLIENT_METHODS``."""
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


def _lost(cause: str) -> PeerLostError:
    """The error a survivor reports: the message a failed peer published, else ``cause``."""
    message = None
    try:
        message = _client().key_value_try_get(ERROR_KEY) if _client() is not None else None
    except Exception:  # noqa: BLE001 - nothing published, or the coordinator (process 0) is gone
        pass
    if message:
        return PeerLostError(f"another process of this run failed ({message})")
    return PeerLostError(f"another process of this run stopped unexpectedly ({cause})")


def peer_lost(error: Exception) -> PeerLostError:
    """What a survivor reports when a cross-process step fails with ``error``."""
    return _lost(str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__)


def is_cross_process_failure(error: Exception) -> bool:
    """An error raised by JAX's runtime (a transfer or a barrier) while other processes take part: a lost peer, not
    this process's fault."""
    return joined() and isinstance(error, (jax.errors.JaxRuntimeError, RuntimeError)) and not isinstance(
        error, (PeerLostError, ProcessError)) and type(error).__module__.startswith(("jax", "jaxlib"))


def exit_now(code: int) -> None:
    """End this process at once with ``code``: after an error in a multi-process run, JAX's shutdown barrier would
    wait for processes that will never arrive. A one-process run exits normally."""
    sys.stdout.flush()
    sys.stderr.flush()
    if joined():
        os._exit(code)
    sys.exit(code)
