"""Helpers shared by the benchmark scripts: machine description, call timing, JSON + markdown output."""

from __future__ import annotations

import json
import os
import platform
import time


def call_times(fn, *args, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn(*args)`` (results awaited), after one untimed call that compiles."""
    import jax

    jax.block_until_ready(fn(*args))
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        out.append(time.perf_counter() - t0)
    return out


def machine() -> dict:
    """Where a number was taken, the CPU model included: two machines with the same core count can time the same
    update or env step severalfold apart."""
    import jax

    from experiments.suites import machine_info

    dev = jax.devices()[0]
    return {
        "platform": dev.platform,
        "device": getattr(dev, "device_kind", str(dev)),
        "cpu": machine_info()["cpu"],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def write_results(name: str, payload: dict, table_rows: list[list], header: list[str], outdir: str,
                  extra_md: str = "") -> str:
    """Write ``<outdir>/<name>.json`` and ``<outdir>/<name>.md``, each replaced whole (``write_whole``: a process
    stopped mid-write leaves the previous version); return the markdown table."""
    os.makedirs(outdir, exist_ok=True)
    write_whole(os.path.join(outdir, f"{name}.json"), json.dumps(payload, indent=2))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table_rows]
    md = "\n".join(lines)
    m = payload.get("machine", {})
    write_whole(os.path.join(outdir, f"{name}.md"),
                f"# {name}\n\nmachine: {m}\n\ncommand: `{payload.get('command', '')}`\n\n{md}\n" + extra_md)
    return md


def write_whole(path: str, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path`` (atomic on POSIX): a reader,
    or a benchmark killed by its budget's SIGTERM, never sees half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def replay_of_noise(trainer, runner, key):
    """``runner`` with its pixel replay full: uniform random frames and normal rewards, each slot's next observation
    the same env's next step's (the frame layout: ``data.layout.StoredFrames`` with every stack whole; whole stacks:
    the next slot's stack), so that updates read realistic shapes and segments without a run's env steps (update
    costs, and tests that recompute an update)."""
    import jax
    import jax.numpy as jnp

    data, stride = runner.buffer.data, trainer.num_envs
    k_frames, k_reward = jax.random.split(key)
    reward = jax.random.normal(k_reward, data.reward.shape)
    if hasattr(data, "frame"):
        frames = jax.random.randint(k_frames, data.frame.shape, 0, 256).astype(jnp.uint8)
        data = data.replace(frame=frames, next_frame=jnp.roll(frames, -stride, axis=0),
                            age=jnp.full_like(data.age, trainer.layout.frames - 1), reward=reward)
    else:
        stacks = jax.random.randint(k_frames, data.obs.shape, 0, 256).astype(jnp.uint8)
        data = data.replace(obs=stacks, next_obs=jnp.roll(stacks, -stride, axis=0), reward=reward)
    return runner.replace(buffer=runner.buffer.replace(data=data, size=jnp.int32(data.reward.shape[0])))
