"""Pixel observations (the paper's image-based variant): the last ``frames`` camera frames of a MuJoCo-based env.

``PixelEnv`` wraps an adapter whose backend state has an MJX scene (``scene(inner) -> (model, data)``: Brax and MBBL
on the mjx backend, Playground on jax) and replaces its state vector by images drawn with ``envs.camera`` inside the
compiled program: each decision renders one ``size`` x ``size`` RGB frame of the state it ends in (after the action's
``action_repeat`` frames), and the agent sees the last ``frames`` of them stacked along the channels, oldest first:
``obs`` (size, size, 3 * frames) uint8. At the start of an episode the stack is the first frame repeated (DrQ-v2's
choice; rl-rep's image code pads with zeros instead, docs/pixels.md). Rewards, termination, the time limit and
episode statistics are the wrapped env's; ``step`` never resets, so ``StepResult.next_obs`` is the stack ending in
the true next frame.

Camera: ``camera >= 0`` is the model's own camera of that index (DrQ-v2 reads camera 0 of each DMC task; Brax's
locomotion models have one tracking the torso, its inverted pendulums, reacher and pusher have none); ``camera = -1``
the task's own view where ``TASK_VIEWS`` has one (a fixed camera: brax/pusher's looks down at the table from a corner,
as Meta-World's ``corner2`` does, so the arm, the object and the goal are in every frame), else a camera tracking
body 1 from 4 m to its side (``envs.camera.Camera``), for models without one.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from diffsr_jax.envs.base import Env, EnvState, StepResult
from diffsr_jax.envs.camera import Camera, ModelCamera, render
from diffsr_jax.fields import ConfigError, Fields

TRACKING = -1  # ``config.env.camera``: a camera tracking body 1 instead of one of the model's


def check_pixels(pixels, frames, camera) -> None:
    """The rules on ``config.env.pixels`` (0: state vectors; else the frame's side in pixels, 16 to 256),
    ``config.env.frame_stack`` (>= 1) and ``config.env.camera`` (>= -1)."""
    f = Fields({"pixels": pixels, "frame_stack": frames, "camera": camera}, "env")
    f.integer("pixels", minimum=0)
    f.integer("frame_stack")
    f.integer("camera", minimum=TRACKING)
    if pixels and not 16 <= pixels <= 256:
        f.fail("pixels", f"={pixels}: a frame's side must be 16 to 256 pixels (the official runs use 84), or 0 for "
                         "state vectors")


# env name -> the fixed view ``camera = -1`` gives it (``envs.camera.Camera`` fields; body 0: the world origin)
TASK_VIEWS = {"brax/pusher": {"body": 0, "lookat_offset": (0.25, -0.15, -0.3), "distance": 1.8, "azimuth": 135.0,
                              "elevation": -55.0}}


def make_camera(model, index: int, size: int, view: dict | None = None):
    """The camera ``config.env.camera`` names, for an MJX ``model``; a ``ConfigError`` where the model has no camera
    of that index. ``view``: the task's own view (``TASK_VIEWS``), which ``camera = -1`` gives where there is one."""
    if index == TRACKING:
        if view:
            return Camera(height=size, width=size, **view)
        return Camera(height=size, width=size, body=1, distance=4.0, azimuth=90.0, elevation=-10.0)
    count = int(np.shape(model.cam_fovy)[0])
    if not count:
        raise ConfigError(f"config.env.camera={index}: the model has no camera; use -1 for a camera tracking body 1")
    if index >= count:
        raise ConfigError(f"config.env.camera={index}: the model has {count} camera(s); use 0 .. {count - 1}, or -1 "
                          "for a camera tracking body 1")
    return ModelCamera(index, size, size)


class PixelEnv(Env):
    """``env`` seen through a camera: ``obs`` (size, size, 3 * frames) uint8, the last ``frames`` frames.

    State: ``EnvState(inner=the wrapped env's EnvState, obs=the stack, ...)``."""

    obs_dtype = jnp.uint8

    def __init__(self, env: Env, size: int, frames: int = 3, camera: int = 0):
        check_pixels(size, frames, camera)
        if not hasattr(env, "scene"):
            raise ConfigError(f"config.env.pixels={size}: {env.name} has no MuJoCo scene to draw (pixels need brax or "
                              "mbbl envs on the mjx backend, or playground envs); use pixels=0")
        self.env, self.size, self.frames = env, int(size), int(frames)
        self.camera = make_camera(_model(env), int(camera), self.size, TASK_VIEWS.get(env.name))
        self.name = f"{env.name}[pixels={self.size},frames={self.frames}]"
        self.obs_dim = self.size * self.size * 3 * self.frames
        self.action_dim = env.action_dim
        self.max_episode_steps = env.max_episode_steps
        self.action_repeat = env.action_repeat
        self.action_low, self.action_high = env.action_low, env.action_high

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return (self.size, self.size, 3 * self.frames)

    @property
    def frame_seconds(self) -> float:
        return self.env.frame_seconds

    def innermost(self, state: EnvState) -> tuple[Env, EnvState]:
        """The wrapped adapter and its states: this wrapper keeps the wrapped env's ``EnvState`` as ``inner``."""
        return self.env.innermost(state.inner)

    def frame(self, env_state: EnvState):
        """(size, size, 3) uint8: what the camera sees in the wrapped env's state."""
        model, data = self.env.scene(env_state.inner)
        return render(model, data, self.camera)

    def reset(self, key) -> EnvState:
        inner = self.env.reset(key)
        stack = jnp.tile(self.frame(inner), (1, 1, self.frames))
        return EnvState(inner, stack, inner.key, inner.episode_return, inner.episode_length)

    def step(self, state: EnvState, action) -> tuple[EnvState, StepResult]:
        """One decision of the wrapped env (``action`` in [-1, 1]^d_a); the new frame joins the stack, the oldest
        leaves."""
        inner, res = self.env.step(state.inner, action)
        stack = jnp.concatenate([state.obs[..., 3:], self.frame(inner)], axis=-1)
        new_state = EnvState(inner, stack, inner.key, inner.episode_return, inner.episode_length)
        return new_state, res.replace(next_obs=stack)

    def _reset(self, key):  # pragma: no cover - the public reset/step above replace the backend hooks
        raise NotImplementedError

    def _step(self, inner, action, key):  # pragma: no cover
        raise NotImplementedError


def _model(env: Env):
    """The MJX model of ``env`` (Brax's System, MBBL's, Playground's ``mjx_model``)."""
    return env.mjx_model if hasattr(env, "mjx_model") else env.system


__all__ = ["TASK_VIEWS", "TRACKING", "PixelEnv", "check_pixels", "make_camera"]
