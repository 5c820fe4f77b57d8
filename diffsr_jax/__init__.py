"""diffsr-jax: Diffusion Spectral Representation (Diff-SR) for reinforcement learning in JAX."""

import os as _os

# MuJoCo picks its GL backend once, when it is first imported (by Brax, Playground or a renderer): with no display,
# its default (GLFW) cannot open a context, so rollouts are drawn off-screen with EGL unless MUJOCO_GL says otherwise
if not _os.environ.get("DISPLAY"):
    _os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"
