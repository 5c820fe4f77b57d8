"""Helpers shared by the benchmark scripts: machine description, JSON + markdown output."""

from __future__ import annotations

import json
import os
import platform
import time


def machine() -> dict:
    import jax

    dev = jax.devices()[0]
    return {
        "platform": dev.platform,
        "device": getattr(dev, "device_kind", str(dev)),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def write_results(name: str, payload: dict, table_rows: list[list], header: list[str], outdir: str) -> str:
    """Write ``<outdir>/<name>.json`` and ``<outdir>/<name>.md``; return the markdown table."""
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, f"{name}.json"), "w") as f:
        json.dump(payload, f, indent=2)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table_rows]
    md = "\n".join(lines)
    m = payload.get("machine", {})
    with open(os.path.join(outdir, f"{name}.md"), "w") as f:
        f.write(f"# {name}\n\nmachine: {m}\n\ncommand: `{payload.get('command', '')}`\n\n{md}\n")
    return md
