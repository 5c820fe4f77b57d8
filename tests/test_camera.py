"""envs.camera: frames cast by mjx.ray from the MJX state. A scene whose answer is known: a red sphere of radius 0.25
at height 1 on a slide joint along x, over a floor plane, seen from 3 m along +y."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffsr_jax.envs.camera import SKY, Camera, cast, render

XML = """
<mujoco>
  <worldbody>
    <geom name="floor" type="plane" size="10 10 0.1" rgba="0.2 0.8 0.2 1"/>
    <body name="ball" pos="0 0 1">
      <joint name="x" type="slide" axis="1 0 0"/>
      <geom name="ball" type="sphere" size="0.25" rgba="1 0 0 1"/>
    </body>
  </worldbody>
</mujoco>
"""
FIXED = Camera(height=64, width=64, fovy=45.0, distance=3.0, azimuth=90.0, elevation=0.0, body=0,
               lookat_offset=(0.0, 0.0, 1.0))


@pytest.fixture(scope="module")
def scene():
    import mujoco
    from mujoco import mjx

    m = mujoco.MjModel.from_xml_string(XML)
    model = mjx.put_model(m)

    def at(x):
        d = mjx.make_data(model).replace(qpos=jnp.array([x], jnp.float32))
        return mjx.forward(model, d)

    return model, at


@pytest.fixture(scope="module")
def compiled(scene):
    """The jitted cast and render of FIXED, compiled once for the module (every state has the same shapes)."""
    model, _ = scene
    return jax.jit(lambda d: cast(model, d, FIXED)), jax.jit(lambda d: render(model, d, FIXED))


def test_a_sphere_at_a_known_pose_lands_on_the_expected_pixels(scene, compiled):
    model, at = scene
    depth, geom, origin = compiled[0](at(0.0))
    np.testing.assert_allclose(np.asarray(origin), [0.0, -3.0, 1.0], atol=1e-6)
    # the centre pixels see the sphere's near surface, 3 - 0.25 m away
    assert (np.asarray(geom[31:33, 31:33]) == 1).all()
    np.testing.assert_allclose(np.asarray(depth[31:33, 31:33]), 2.75, atol=2e-3)
    # the top row looks 22.5 degrees up past the sphere: nothing; the bottom row meets the floor 1 m below
    assert (np.asarray(geom[0]) == -1).all() and (np.asarray(depth[0]) == -1).all()
    assert (np.asarray(geom[-1]) == 0).all()
    y = np.tan(np.deg2rad(22.5)) * (1 - 1 / 64)  # the bottom row's offset below the axis, at unit forward distance
    x = np.tan(np.deg2rad(22.5)) * (0.5 / 32)  # column 32's offset right of it
    # the ray (1, x, -y) (forward, right, up), unit-normalised, meets z = 0 after sqrt(1 + x^2 + y^2) / y
    np.testing.assert_allclose(float(depth[-1, 32]), np.sqrt(1 + x * x + y * y) / y, rtol=1e-4)

    # moved 0.5 m along +x, the sphere's centre appears at x_ndc = (0.5 / 3) / tan(22.5 deg): column ~45, not ~19
    _, moved, _ = compiled[0](at(0.5))
    col = (0.5 / 3 / np.tan(np.deg2rad(22.5)) + 1) / 2 * 64
    assert int(moved[32, int(col)]) == 1 and int(moved[32, 64 - int(col) - 1]) != 1
    assert int(moved[32, 32]) != 1  # the centre no longer sees it (its edge is at 0.25 m from x = 0.5)


def test_frame_colours_are_the_geoms_own_darkened_by_distance(scene, compiled):
    model, at = scene
    frame = np.asarray(compiled[1](at(0.0)))
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    shade = FIXED.far / (FIXED.far + 2.75)
    np.testing.assert_allclose(frame[32, 32], [round(255 * shade), 0, 0], atol=1)
    np.testing.assert_array_equal(frame[0, 0], np.round(np.asarray(SKY) * 255).astype(np.uint8))
    floor = frame[-1].astype(int)
    assert (floor[:, 0] < floor[:, 1]).all() and (floor[:, 2] < floor[:, 1]).all()  # green, darkened
    assert len({tuple(p) for p in floor}) > 1  # the checker: two shades along the bottom row


def test_a_vmapped_batch_renders_each_state_as_alone(scene, compiled):
    model, at = scene
    states = jax.tree.map(lambda *x: jnp.stack(x), at(0.0), at(0.5), at(-0.7))
    batch = jax.jit(jax.vmap(lambda d: render(model, d, FIXED)))(states)
    for i, x in enumerate((0.0, 0.5, -0.7)):
        np.testing.assert_array_equal(np.asarray(batch[i]), np.asarray(compiled[1](at(x))))
    assert not np.array_equal(np.asarray(batch[0]), np.asarray(batch[1]))


def test_the_camera_tracks_its_body(scene):
    """A camera on the ball's body keeps the ball at the centre wherever it slides."""
    model, at = scene
    tracking = Camera(height=16, width=16, distance=3.0, azimuth=90.0, elevation=0.0, body=1)
    tracked = jax.jit(lambda d: cast(model, d, tracking))
    for x in (0.0, 2.0, -3.0):
        _, geom, origin = tracked(at(x))
        np.testing.assert_allclose(np.asarray(origin), [x, -3.0, 1.0], atol=1e-5)
        assert (np.asarray(geom[7:9, 7:9]) == 1).all()
