"""A camera for MuJoCo-based envs drawn by MuJoCo's own ray casting (``mjx.ray``), inside a compiled program.

Why ray casting: it is pure JAX over the MJX state, so frames come out of the same ``jit``/``vmap``/``scan`` as the
env step, on a CPU as on a GPU, with no GL context and no host round trip (the pixel observations of the paper's
image-based variant, issue 42). What it draws: per pixel, the first geom a ray from the camera meets (its id and
distance), coloured by that geom's material's or its own RGBA, darkened with distance (a depth cue), and planes (the floor) in a
checker pattern of ``checker`` m squares so that motion over the floor is visible; no lights, shadows or textures
(depth plus segmentation colours: the geometry an agent needs, at a cost a CPU can pay).

Two cameras: ``Camera`` tracks a body: it looks at that body's position (``body``; 0 the world origin) plus
``lookat_offset``, from ``distance`` away along the direction given by ``azimuth`` (degrees about +z, 90: looking along
+y) and ``elevation`` (degrees, negative looks down), as MuJoCo's free camera does; ``fovy`` is the vertical field of
view. ``ModelCamera`` is one of the model's own cameras (``<camera>`` in its XML), where MuJoCo's kinematics put it in
the state (``data.cam_xpos`` / ``cam_xmat``: fixed, or tracking by the camera's own mode) with the model's ``fovy``:
DrQ-v2 and the DeepMind Control Suite read camera 0 of each task's XML. Rays are cast in the image's row-major order:
row 0 is the top.
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
        frame = np.stack([right, up, -forward], axis=1)  # columns: the camera's x (right), y (up), z (backward)
        return pixel_directions(self.height, self.width, self.fovy) @ frame.T.astype(np.float32)

    def rays(self, model, data):
        """(origin (3,), unit directions (H * W, 3)) in world coordinates for the state ``data``."""
        forward, _, _ = self.basis()
        target = data.xpos[self.body] + jnp.asarray(self.lookat_offset, jnp.float32)
        return target - self.distance * jnp.asarray(forward, jnp.float32), jnp.asarray(self.directions())


@dataclasses.dataclass(frozen=True)
class ModelCamera:
    """Camera ``index`` of the model (0: the first ``<camera>`` of its XML), posed by the state as MuJoCo poses it."""

    index: int = 0
    height: int = 64
    width: int = 64
    checker: float = 1.0
    far: float = 20.0

    def rays(self, model, data):
        """(origin (3,), unit directions (H * W, 3)): the camera's position and its frame (``cam_xmat``'s columns:
        right, up, backward; MuJoCo cameras look along their -z) applied to the pixel grid of its ``cam_fovy``."""
        fovy = float(np.asarray(model.cam_fovy)[self.index])
        local = jnp.asarray(pixel_directions(self.height, self.width, fovy))
        return data.cam_xpos[self.index], local @ data.cam_xmat[self.index].T


def pixel_directions(height: int, width: int, fovy: float) -> np.ndarray:
    """(height * width, 3) unit directions in the camera's frame (x right, y up, looking along -z), row-major from
    the top-left pixel, for a vertical field of view of ``fovy`` degrees."""
    half_h = np.tan(np.deg2rad(fovy) / 2)
    half_w = half_h * width / height
    ys = (1 - (np.arange(height) + 0.5) / height * 2) * half_h  # +half_h at the top row
    xs = ((np.arange(width) + 0.5) / width * 2 - 1) * half_w
    d = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], -np.ones((1, 1))), axis=-1).reshape(-1, 3)
    return (d / np.linalg.norm(d, axis=-1, keepdims=True)).astype(np.float32)


def cast(model, data, camera):
    """-> (depth (H, W) float32, -1 where nothing is hit; geom id (H, W) int32, -1 where nothing is hit; the
    camera's position (3,)). ``model``: an MJX model (a Brax System on the mjx backend is one); ``data``: its MJX
    data with geom poses computed (any state an MJX step returned); ``camera``: a ``Camera`` or a ``ModelCamera``."""
    depth, geom, origin, _ = _cast(model, data, camera)
    return depth, geom, origin


def _cast(model, data, camera):
    from mujoco import mjx

    if np.shape(model.mat_rgba)[0] == 0:  # mjx.ray reads mat_rgba[geom_matid] (-1: none), which needs one row
        model = model.replace(mat_rgba=np.ones((1, 4), np.float32))
    origin, dirs = camera.rays(model, data)
    depth, geom = jax.vmap(lambda v: mjx.ray(model, data, origin, v))(dirs)
    shape = (camera.height, camera.width)
    return depth.reshape(shape).astype(jnp.float32), geom.reshape(shape).astype(jnp.int32), origin, dirs


def geom_colours(model) -> np.ndarray:
    """(ngeom, 4) each geom's RGBA as MuJoCo draws it without lights: its material's where it has one and its own
    RGBA is MuJoCo's default (0.5, 0.5, 0.5, 1) (DMC's models colour their bodies by material), else its own."""
    rgba = np.asarray(model.geom_rgba, np.float32).reshape(-1, 4)
    matid = np.asarray(model.geom_matid).reshape(-1)
    mat = np.asarray(model.mat_rgba, np.float32).reshape(-1, 4)
    if mat.shape[0]:
        default = np.all(np.isclose(rgba, [0.5, 0.5, 0.5, 1.0]), axis=-1)
        rgba = np.where(((matid >= 0) & default)[:, None], mat[np.maximum(matid, 0)], rgba)
    return rgba


def render(model, data, camera):
    """-> (H, W, 3) uint8: the frame of the module docstring (geom colours, ``geom_colours``, darkened with distance, planes as a
    checker, the sky where nothing is hit)."""
    depth, geom, origin, dirs = _cast(model, data, camera)
    rgba = geom_colours(model)
    is_plane = np.asarray(model.geom_type) == 0  # mjGEOM_PLANE
    colour = jnp.asarray(rgba[:, :3])[jnp.maximum(geom, 0)]  # (H, W, 3)
    hit = origin + depth[..., None] * dirs.reshape(camera.height, camera.width, 3)
    square = jnp.floor(hit[..., 0] / camera.checker) + jnp.floor(hit[..., 1] / camera.checker)
    checker = jnp.where(jnp.mod(square, 2) == 0, 1.0, 0.6)
    colour = colour * jnp.where(jnp.asarray(is_plane)[jnp.maximum(geom, 0)], checker, 1.0)[..., None]
    shade = camera.far / (camera.far + jnp.maximum(depth, 0.0))  # 1 at the camera, 1/2 at ``far``
    colour = jnp.where((geom >= 0)[..., None], colour * shade[..., None], jnp.asarray(SKY, jnp.float32))
    return jnp.round(jnp.clip(colour, 0.0, 1.0) * 255).astype(jnp.uint8)
