"""A camera for MuJoCo-based envs drawn by MuJoCo's own ray casting (``mjx.ray``), inside a compiled program.

Why ray casting: it is pure JAX over the MJX state, so frames come out of the same ``jit``/``vmap``/``scan`` as the
env step, on a CPU as on a GPU, with no GL context and no host round trip (the pixel observations of the paper's
image-based variant, issue 42). What it draws: per pixel, the first geom a ray from the camera meets (its id and
distance), coloured by that geom's own RGBA, darkened with distance (a depth cue), and planes (the floor) in a
checker pattern of ``checker`` m squares so that motion over the floor is visible; no lights, shadows or textures
(depth plus segmentation colours: the geometry an agent needs, at a cost a CPU can pay).

The camera tracks a body: it looks at that body's position (``body``; 0 the world origin) plus ``lookat_offset``,
from ``distance`` away along the direction given by ``azimuth`` (degrees about +z, 90: looking along +y) and
``elevation`` (degrees, negative looks down), as MuJoCo's free camera does; ``fovy`` is the vertical field of view.
Rays are cast in the image's row-major order: row 0 is the top.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

SKY = (0.55, 0.70, 0.85)  # the colour of a ray that meets nothing


@dataclasses.dataclass(frozen=True)
class Camera:
    height: int = 64
    width: int = 64
    fovy: float = 45.0
    distance: float = 4.0
    azimuth: float = 90.0
    elevation: float = -10.0
    body: int = 1
    lookat_offset: tuple = (0.0, 0.0, 0.0)
    checker: float = 1.0
    far: float = 20.0  # distance at which a surface is drawn at half its brightness

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(forward, right, up) unit vectors of the camera in world coordinates."""
        az, el = np.deg2rad(self.azimuth), np.deg2rad(self.elevation)
        forward = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        return forward, right, np.cross(right, forward)

    def directions(self) -> np.ndarray:
        """(height * width, 3) unit ray directions in world coordinates, row-major from the top-left pixel."""
        forward, right, up = self.basis()
        half_h = np.tan(np.deg2rad(self.fovy) / 2)
        half_w = half_h * self.width / self.height
        ys = (1 - (np.arange(self.height) + 0.5) / self.height * 2) * half_h  # +half_h at the top row
        xs = ((np.arange(self.width) + 0.5) / self.width * 2 - 1) * half_w
        d = forward + xs[None, :, None] * right + ys[:, None, None] * up
        d = d.reshape(-1, 3)
        return (d / np.linalg.norm(d, axis=-1, keepdims=True)).astype(np.float32)


def cast(model, data, camera: Camera):
    """-> (depth (H, W) float32, -1 where nothing is hit; geom id (H, W) int32, -1 where nothing is hit; the
    camera's position (3,)). ``model``: an MJX model (a Brax System on the mjx backend is one); ``data``: its MJX
    data with geom poses computed (any state an MJX step returned)."""
    from mujoco import mjx

    if np.shape(model.mat_rgba)[0] == 0:  # mjx.ray reads mat_rgba[geom_matid] (-1: none), which needs one row
        model = model.replace(mat_rgba=np.ones((1, 4), np.float32))
    forward, _, _ = camera.basis()
    target = data.xpos[camera.body] + jnp.asarray(camera.lookat_offset, jnp.float32)
    origin = target - camera.distance * jnp.asarray(forward, jnp.float32)
    dirs = jnp.asarray(camera.directions())
    depth, geom = jax.vmap(lambda v: mjx.ray(model, data, origin, v))(dirs)
    shape = (camera.height, camera.width)
    return depth.reshape(shape).astype(jnp.float32), geom.reshape(shape).astype(jnp.int32), origin


def render(model, data, camera: Camera):
    """-> (H, W, 3) uint8: the frame of the module docstring (geom colours, darkened with distance, planes as a
    checker, the sky where nothing is hit)."""
    depth, geom, origin = cast(model, data, camera)
    rgba = np.asarray(model.geom_rgba, np.float32).reshape(-1, 4)
    is_plane = np.asarray(model.geom_type) == 0  # mjGEOM_PLANE
    colour = jnp.asarray(rgba[:, :3])[jnp.maximum(geom, 0)]  # (H, W, 3)
    hit = origin + depth[..., None] * jnp.asarray(camera.directions()).reshape(camera.height, camera.width, 3)
    square = jnp.floor(hit[..., 0] / camera.checker) + jnp.floor(hit[..., 1] / camera.checker)
    checker = jnp.where(jnp.mod(square, 2) == 0, 1.0, 0.6)
    colour = colour * jnp.where(jnp.asarray(is_plane)[jnp.maximum(geom, 0)], checker, 1.0)[..., None]
    shade = camera.far / (camera.far + jnp.maximum(depth, 0.0))  # 1 at the camera, 1/2 at ``far``
    colour = jnp.where((geom >= 0)[..., None], colour * shade[..., None], jnp.asarray(SKY, jnp.float32))
    return jnp.round(jnp.clip(colour, 0.0, 1.0) * 255).astype(jnp.uint8)
