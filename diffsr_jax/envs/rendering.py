"""One episode written as a file a person opens without this library, one writer per env family.

- Brax (``brax/<name>``, any backend): Brax's own HTML viewer of the trajectory (``.html``; the page loads the
  viewer's script from Brax's CDN).
- MuJoCo Playground (``playground/<Name>``): frames drawn by MuJoCo's off-screen renderer, as an animated GIF.
  With no display, MuJoCo needs an off-screen GL: EGL (set at import of ``diffsr_jax``) unless ``MUJOCO_GL`` says otherwise (Debian:
  ``apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri``; ``.ci/run`` installs them when missing).
- gymnax (``gymnax/Pendulum-v1``, ``gymnax/MountainCarContinuous-v0``): frames drawn with matplotlib, as a GIF.
- Pixel observations (``envs.pixels``, any family): what the agent saw, the newest frame of each observation scaled up
  ``PIXEL_SCALE`` times (nearest pixel), as a GIF.

Every writer takes the unwrapped env (an adapter; it reads only the public accessors of ``envs.base.Env``) and the
episode's backend states: ``states`` is the ``inner`` field of an ``EnvState`` stacked over time (T,), host or device
arrays. ``render_episode`` does the unwrapping (``Env.innermost``).
"""

from __future__ import annotations

import os

import jax
import numpy as np

from diffsr_jax.envs.pixels import PixelEnv


class RenderError(RuntimeError):
    """The episode could not be drawn on this machine (e.g. no off-screen GL); the message says what to install."""


MAX_FRAMES = 250  # longer episodes are subsampled evenly (a GIF of 1000 frames is large and slow to open)


def _frame_indices(length: int) -> np.ndarray:
    return np.unique(np.linspace(0, length - 1, min(length, MAX_FRAMES)).round().astype(int))


def _at(tree, t):
    return jax.tree_util.tree_map(lambda x: np.asarray(x[t]), tree)


def write_gif(frames, path: str, frame_seconds: float) -> str:
    """``frames``: (T, H, W, 3) uint8 -> an animated GIF that loops."""
    from PIL import Image

    images = [Image.fromarray(np.asarray(f, np.uint8)) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=max(int(1000 * frame_seconds), 20), loop=0)
    return path


# --- Brax -----------------------------------------------------------------------------------------------------
def render_brax(env, states, path_stem: str, frame_seconds: float) -> str:
    """Brax's HTML viewer of ``states`` (Brax ``State``s; their ``pipeline_state`` is what it draws)."""
    from brax.io import html

    pipeline = states.pipeline_state
    trajectory = [_at(pipeline, t) for t in range(jax.tree_util.tree_leaves(pipeline)[0].shape[0])]
    path = path_stem + ".html"
    with open(path, "w") as f:
        f.write(html.render(env.system, trajectory))
    return path


# --- MuJoCo Playground ----------------------------------------------------------------------------------------
def mujoco_frames(mj_model, qpos, qvel, height: int = 240, width: int = 320, camera: int | str | None = None):
    """(T, nq) positions and (T, nv) velocities -> (T, height, width, 3) uint8 frames from MuJoCo's renderer
    (camera: the model's first camera when it has one, else the free camera)."""
    import mujoco  # its GL backend was chosen at its first import (diffsr_jax/__init__.py: EGL with no display)

    if camera is None:
        camera = 0 if mj_model.ncam > 0 else -1
    data = mujoco.MjData(mj_model)
    try:
        renderer = mujoco.Renderer(mj_model, height=height, width=width)
    except Exception as e:  # noqa: BLE001 - no GL context: say what to install
        raise RenderError(f"MuJoCo could not open an off-screen GL context with MUJOCO_GL={os.environ.get('MUJOCO_GL', '')} "
                          f"({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}); install EGL "
                          "(Debian: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri) or set MUJOCO_GL=osmesa "
                          "with libosmesa6") from None
    frames = []
    try:
        for q, v in zip(qpos, qvel):
            data.qpos[:], data.qvel[:] = q, v
            mujoco.mj_forward(mj_model, data)
            renderer.update_scene(data, camera=camera)
            frames.append(renderer.render().copy())
    finally:
        renderer.close()
    return np.stack(frames)


def render_playground(env, states, path_stem: str, frame_seconds: float) -> str:
    data = states.data
    frames = mujoco_frames(env.mj_model, np.asarray(data.qpos), np.asarray(data.qvel))
    return write_gif(frames, path_stem + ".gif", frame_seconds)


# --- gymnax ---------------------------------------------------------------------------------------------------
def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.2, 3.2), dpi=80)
    return plt, fig, ax


def _canvas(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def pendulum_frames(theta) -> np.ndarray:
    """Pendulum angles (T,) (0 = upright, as gymnax counts) -> (T, H, W, 3) frames of the rod seen from the front."""
    plt, fig, ax = _figure()
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    (rod,) = ax.plot([], [], lw=6, color="tab:red", solid_capstyle="round")
    ax.plot([0], [0], "o", color="black")
    frames = []
    for th in np.asarray(theta):
        rod.set_data([0.0, np.sin(th)], [0.0, np.cos(th)])
        frames.append(_canvas(fig))
    plt.close(fig)
    return np.stack(frames)


def mountain_car_frames(position) -> np.ndarray:
    """Car positions (T,) on the hill y = 0.45 sin(3x) + 0.55 -> (T, H, W, 3) frames (flag at the goal, x = 0.45)."""
    plt, fig, ax = _figure()
    xs = np.linspace(-1.2, 0.6, 200)
    hill = lambda x: 0.45 * np.sin(3 * x) + 0.55  # noqa: E731
    ax.plot(xs, hill(xs), color="black")
    ax.plot([0.45, 0.45], [hill(0.45), hill(0.45) + 0.15], color="tab:green", lw=2)
    ax.set_xlim(-1.2, 0.6)
    ax.set_ylim(0.0, 1.2)
    ax.axis("off")
    (car,) = ax.plot([], [], "s", ms=12, color="tab:blue")
    frames = []
    for x in np.asarray(position):
        car.set_data([x], [hill(x)])
        frames.append(_canvas(fig))
    plt.close(fig)
    return np.stack(frames)


def render_gymnax(env, states, path_stem: str, frame_seconds: float) -> str:
    short = env.name.split("/", 1)[1]
    if short == "Pendulum-v1":
        frames = pendulum_frames(states.theta)
    elif short == "MountainCarContinuous-v0":
        frames = mountain_car_frames(states.position)
    else:
        raise ValueError(f"no renderer for {env.name}")
    return write_gif(frames, path_stem + ".gif", frame_seconds)


RENDERERS = {"brax": render_brax, "playground": render_playground, "gymnax": render_gymnax}
PIXEL_SCALE = 4


def agent_view_frames(obs) -> np.ndarray:
    """(T, H, W, 3 * frames) uint8 pixel observations -> (T, H * PIXEL_SCALE, W * PIXEL_SCALE, 3): each one's
    newest frame, scaled up."""
    newest = np.asarray(obs)[..., -3:]
    return np.repeat(np.repeat(newest, PIXEL_SCALE, axis=1), PIXEL_SCALE, axis=2)


def render_episode(env, states, length: int, path_stem: str) -> str:
    """Write an episode: ``states`` is an ``EnvState`` stacked over time (the reset state first), of which the first
    ``length + 1`` are the episode. Returns the path written (``path_stem`` + ``.html`` or ``.gif``). An env with
    pixel observations writes what its agent saw (``agent_view_frames``)."""
    keep = _frame_indices(int(length) + 1)
    step = int(length) / max(keep.size - 1, 1)  # decisions per written frame
    if isinstance(env, PixelEnv):
        frames = agent_view_frames(np.asarray(states.obs)[keep])
        return write_gif(frames, path_stem + ".gif", env.decision_seconds * step)
    env, states = env.innermost(states)  # through any wrapper (POMDP): the adapter and its own states
    inner = states.inner
    family = env.name.split("/", 1)[0]
    inner = jax.tree_util.tree_map(lambda x: np.asarray(x)[keep], inner)
    return RENDERERS[family](env, inner, path_stem, env.decision_seconds * step)
