"""Where a run's members (seeds x sweep settings) live: laid over the devices along one mesh axis.

A run's state has a leading members axis (``jax.vmap`` over members). With more than one device the members axis is
split over a 1-D ``Mesh`` of devices (``NamedSharding(mesh, P("members"))``): ``over_members(fn, mesh)`` runs the
vmapped ``fn`` under ``shard_map``, so each device advances its own members and nothing crosses devices. The number
of devices used is the largest count, at most ``run.devices`` (0: all), that divides the members evenly.

In a run over several processes (``processes.join``, ``jax.distributed``) the mesh holds every device of every
process, each process advancing the members on its own devices; the members must divide evenly over all of them.

On a CPU-only host the cores can be split into several XLA devices (``run.cpu_devices``), which runs independent
members side by side instead of as one batched program; ``configure_cpu_devices`` must run before JAX first
computes anything (the launcher does it right after reading the config).
"""

from __future__ import annotations

import os

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from diffsr_jax.config.run import COMMAND_BUFFERS
from diffsr_jax.training import processes

AXIS = "members"
COMMAND_BUFFER_FLAG = "--xla_gpu_enable_command_buffer"


def most_dividing(num_members: int, limit: int) -> int:
    """The largest count <= ``limit`` (at least 1) that divides ``num_members`` evenly."""
    return max(d for d in range(1, max(1, min(limit, num_members)) + 1) if num_members % d == 0)


CPU_DEVICES_PER_CORE = 4
"""The most XLA CPU devices auto placement makes per core (the most measured)."""


def cpu_device_count(requested: int, num_members: int) -> int:
    """XLA CPU devices for a run: ``requested`` if > 0, else (auto) the most devices that divide the members evenly,
    up to ``CPU_DEVICES_PER_CORE`` per core: one member per device where it can. Measured on the 2-core dev machine
    (docs/performance.md, issue 45, under load): 4 seeds of SAC fast on 4 devices 1.37x the env frames/s of 2 devices,
    Diff-SR-SAC fast 1.25x (Pendulum) and 1.2-1.7x (brax/halfcheetah); 8 SAC seeds on 8 devices 1.64x 2 devices,
    1.27x 4. (Before that: 2-8 seeds over 2 CPU devices ran 1.4-1.8x faster than vmapped on one.)"""
    if requested > 0:
        return requested
    return most_dividing(num_members, CPU_DEVICES_PER_CORE * (os.cpu_count() or 1))


def configure_cpu_devices(count: int) -> bool:
    """Split the host CPU into ``count`` XLA devices (no effect on the GPU/TPU devices). Returns False when JAX has
    already computed something in this process (then the count can no longer change) and the count differs."""
    if count == jax.config.jax_num_cpu_devices or (count == 1 and jax.config.jax_num_cpu_devices in (-1, 1)):
        return True
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:
        return False
    return True


def xla_flags_with_command_buffers(flags: str, mode: str) -> str:
    """``flags`` (an XLA_FLAGS string) with the command-buffer flag for ``mode`` (``COMMAND_BUFFERS``) in place of
    any earlier one."""
    kept = [f for f in flags.split() if not f.startswith(COMMAND_BUFFER_FLAG + "=")]
    value = COMMAND_BUFFERS[mode]
    return " ".join(kept + ([] if value is None else [f"{COMMAND_BUFFER_FLAG}={value}"]))


def configure_command_buffers(mode: str) -> bool:
    """Set XLA's GPU command buffers to ``mode`` (``run.command_buffers``; GPU only, a CPU ignores it). XLA reads its
    flags when the first backend starts: returns False when one already has and the setting would change."""
    from jax._src import xla_bridge

    flags = xla_flags_with_command_buffers(os.environ.get("XLA_FLAGS", ""), mode)
    if flags == os.environ.get("XLA_FLAGS", "").strip():
        return True
    if xla_bridge.backends_are_initialized():
        return False
    os.environ["XLA_FLAGS"] = flags
    return True


def member_mesh(num_members: int, max_devices: int = 0, devices=None) -> Mesh | None:
    """A 1-D mesh over the most devices (at most ``max_devices``, 0: all) that divide ``num_members``; None when that
    is a single device. Over several processes: every device of every process (ProcessError if the members do not
    divide evenly over them or ``max_devices`` would leave some out)."""
    devices = list(jax.devices() if devices is None else devices)
    if processes.count() > 1:
        if num_members % len(devices) or max_devices not in (0, len(devices)):
            raise processes.ProcessError(
                f"{num_members} member(s) (seeds x sweep settings) cannot be laid evenly over the {len(devices)} "
                f"devices of {processes.count()} processes{f' (run.devices={max_devices})' if max_devices else ''}: "
                "make the members a multiple of the device count, or set --config.run.cpu_devices (devices per "
                "process on a CPU) so that they divide")
        return Mesh(devices, (AXIS,))
    limit = len(devices) if max_devices <= 0 else min(max_devices, len(devices))
    count = most_dividing(num_members, limit)
    return None if count == 1 else Mesh(devices[:count], (AXIS,))


def describe(mesh: Mesh | None) -> str:
    """'on 1 device (cpu)' / 'on 2 devices (cpu)' / 'on 4 devices (cpu) of 2 processes'."""
    devices = [jax.devices()[0]] if mesh is None else list(mesh.devices.flat)
    over = f" of {processes.count()} processes" if processes.count() > 1 else ""
    return f"on {len(devices)} device{'s' if len(devices) > 1 else ''} ({devices[0].platform}){over}"


def member_sharding(mesh: Mesh | None) -> NamedSharding | None:
    """How a leaf with the members axis first is laid over ``mesh`` (None without a mesh)."""
    return None if mesh is None else NamedSharding(mesh, P(AXIS))


def shard_members(tree, mesh: Mesh | None):
    """Lay every leaf's leading (members) axis over ``mesh``; unchanged without a mesh."""
    if mesh is None:
        return tree
    return processes.place(tree, member_sharding(mesh))


def over_members(fn, mesh: Mesh | None, in_axes, donate: tuple = ()):
    """``jax.jit`` of ``members_map(fn, in_axes)``, with each device running its own members when there is a mesh.

    ``in_axes``: per positional argument, 0 (has the members axis) or None (the same for every member). Outputs all
    have the members axis. ``donate``: positional arguments whose buffers the call may reuse (the run state).
    """
    batched = members_map(fn, in_axes)
    if mesh is not None:
        specs = tuple(P(AXIS) if a == 0 else P() for a in in_axes)
        # check_vma off: the members never interact
        batched = jax.shard_map(batched, mesh=mesh, in_specs=specs, out_specs=P(AXIS), check_vma=False)
    return jax.jit(batched, donate_argnums=donate)


def members_map(fn, in_axes):
    """``jax.vmap(fn, in_axes)`` over the members axis, except that one member (on this device) runs unbatched, its
    axis dropped on the way in and restored on the way out: the same random streams and the same result to float
    rounding. XLA:CPU folds a size-1 batch axis away and then lays some weight-gradient dots out transposed, so their
    consumers (Adam's moments) read them across strides: a vmapped single Diff-SR-SAC member's learner update took
    1.36x (paper sizes) the time of the same update unbatched, Diff-SR-TD3's (fast) 1.15x (benchmarks/results/
    members_map.md); from two members on, vmap is the faster of the two (against ``lax.map``)."""
    batched = jax.vmap(fn, in_axes=in_axes)

    def call(*args):
        sizes = {leaf.shape[0] for a, ax in zip(args, in_axes) if ax == 0 for leaf in jax.tree_util.tree_leaves(a)}
        if sizes != {1}:
            return batched(*args)
        one = [jax.tree_util.tree_map(lambda x: x[0], a) if ax == 0 else a for a, ax in zip(args, in_axes)]
        return jax.tree_util.tree_map(lambda x: x[None], fn(*one))

    return call


def place_members(config, num_members: int, spec: processes.ProcessSpec = processes.ProcessSpec()) -> str:
    """Split a CPU-only host into ``run.cpu_devices`` XLA devices (0: auto, counting this process's share of the
    members), set the GPU command buffers (``run.command_buffers``), join the other processes of the run (``spec``)
    and say where the members will run, e.g. 'on 2 devices (cpu)'. Call before JAX computes anything in the process
    (the launchers do it first thing). Raises ProcessError (one line) when the processes cannot take the members."""
    spec.check()  # before the share below divides by the process count
    share = num_members // spec.num_processes if num_members % spec.num_processes == 0 else num_members
    configure_cpu_devices(cpu_device_count(int(config.run.cpu_devices), share))
    configure_command_buffers(config.run.command_buffers)
    processes.join(spec)
    return describe(member_mesh(num_members, int(config.run.devices)))
