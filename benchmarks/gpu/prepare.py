"""Prepare what the lent GPU machine lacks: wheels of the packages it does not have, for its Python (3.12,
manylinux x86_64), into ``benchmarks/gpu/wheels`` (git-ignored; carried with the working tree, 64 MiB per command).

    python -m benchmarks.gpu.prepare            # download (skips wheels already there), check the size, print the call

The GPU machine already has jax/jaxlib with CUDA, flax, optax, chex, orbax-checkpoint, absl-py, numpy, scipy,
matplotlib, pandas, jinja2, werkzeug, click, cloudpickle, pillow, protobuf, six (see ../shared/reference/
stack-notes.md); this adds brax, mujoco, mujoco-mjx, gymnax, ml_collections, tensorboardX, rliable and what
they import, at the versions of constraints.txt. MuJoCo Playground is left out: it pulls warp-lang (~400 MB),
over the carry limit; the plan uses Brax envs only.
"""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WHEELS = os.path.join(HERE, "wheels")
LIMIT_BYTES = 60 * 2**20  # of the 64 MiB a command may carry, leaving room for the working tree
# packages the GPU machine lacks (name as in constraints.txt): the runtime imports of brax, mujoco, mujoco-mjx,
# gymnax, ml_collections, tensorboardX and rliable's metrics
PACKAGES = ("brax", "mujoco", "mujoco-core", "mujoco-studio", "mujoco-mjx", "glfw", "PyOpenGL", "trimesh", "jaxopt",
            "Flask", "flask-cors", "itsdangerous", "blinker", "gymnax", "gymnasium", "farama-notifications",
            "ml_collections", "tensorboardX", "rliable")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")


def pinned_versions(path: str = os.path.join(ROOT, "constraints.txt")) -> dict:
    """{normalised name: version} of the exact pins CI installs with."""
    pins = {}
    with open(path) as f:
        for line in f:
            name, sep, version = line.strip().partition("==")
            if sep:
                pins[name.lower().replace("_", "-")] = version
    return pins


def download(packages=PACKAGES, dest: str = WHEELS) -> list[str]:
    """pip-download each package's cp312 manylinux wheel (no dependencies) into ``dest``; returns the wheel files."""
    pins = pinned_versions()
    os.makedirs(dest, exist_ok=True)
    for name in packages:
        key = name.lower().replace("_", "-")
        if key not in pins:
            raise SystemExit(f"error: {name} has no pin in constraints.txt; add one")
        have = [w for w in os.listdir(dest) if w.lower().replace("_", "-").startswith(f"{key}-{pins[key]}-")]
        if have:
            continue
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
               "3.12", "--implementation", "cp", *[a for p in PLATFORMS for a in ("--platform", p)], "-d", dest,
               f"{name}=={pins[key]}"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:  # no wheel on the index (rliable ships only a source archive): build a pure-Python one
            p = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dest,
                                f"{name}=={pins[key]}"], capture_output=True, text=True)
            built = [w for w in os.listdir(dest) if w.lower().replace("_", "-").startswith(f"{key}-{pins[key]}-")]
            if p.returncode or not built or not built[0].endswith("-py3-none-any.whl"):
                raise SystemExit(f"error: no cp312 wheel of {name}=={pins[key]} could be had: "
                                 f"{(p.stderr.strip().splitlines() or ['not pure Python'])[-1]}")
    return sorted(w for w in os.listdir(dest) if w.endswith(".whl"))


def main():
    wheels = download()
    size = sum(os.path.getsize(os.path.join(WHEELS, w)) for w in wheels)
    print(f"{len(wheels)} wheels, {size / 2**20:.1f} MiB in {os.path.relpath(WHEELS, ROOT)}")
    if size > LIMIT_BYTES:
        raise SystemExit(f"error: the wheels take {size / 2**20:.1f} MiB, over the {LIMIT_BYTES / 2**20:.0f} MiB "
                         "that may travel; drop a package from PACKAGES")
    print("run each stage on the GPU machine (device tool `run`, carry benchmarks/gpu/wheels):\n"
          "    bash benchmarks/gpu/run.sh --stage=<stage> --out=$OUT      # stages: "
          "update_cost, seeds_diffsr_sac, seeds_sac, run, all")


if __name__ == "__main__":
    main()
