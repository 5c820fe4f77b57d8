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


CAMERA_XML = XML.replace('<worldbody>', '<worldbody>\n    <camera name="side" pos="0 -3 1" xyaxes="1 0 0 0 0 1" fovy="45"/>')


def test_a_model_camera_sees_what_the_same_free_camera_sees():
    """A fixed ``<camera>`` 3 m along -y looking along +y (MuJoCo cameras look along their -z: xyaxes x = +x, y = +z,
    so z = -y) is the free camera FIXED: the same rays, depths and geoms; its centre ray is -cam_xmat's third column,
    and the depth matches MuJoCo's own mj_ray on the CPU model."""
    import mujoco
    from mujoco import mjx

    from diffsr_jax.envs.camera import ModelCamera

    m = mujoco.MjModel.from_xml_string(CAMERA_XML)
    model = mjx.put_model(m)
    d = mjx.forward(model, mjx.make_data(model).replace(qpos=jnp.array([0.2], jnp.float32)))
    cam = ModelCamera(0, 64, 64)
    depth, geom, origin = jax.jit(lambda d: cast(model, d, cam))(d)
    ref_depth, ref_geom, ref_origin = jax.jit(lambda d: cast(model, d, FIXED))(d)
    np.testing.assert_allclose(np.asarray(origin), np.asarray(ref_origin), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(geom), np.asarray(ref_geom))
    np.testing.assert_allclose(np.asarray(depth), np.asarray(ref_depth), atol=1e-4)
    _, dirs = cam.rays(model, d)
    centre = np.asarray(dirs).reshape(64, 64, 3)[31:33, 31:33].mean((0, 1))
    np.testing.assert_allclose(centre / np.linalg.norm(centre), -np.asarray(d.cam_xmat[0])[:, 2], atol=1e-3)
    cpu = mujoco.MjData(m)
    cpu.qpos[:] = 0.2
    mujoco.mj_forward(m, cpu)
    for row, col in ((32, 40), (60, 10), (20, 32)):
        v = np.asarray(dirs).reshape(64, 64, 3)[row, col].astype(np.float64)
        geomid = np.zeros(1, np.int32)
        dist = mujoco.mj_ray(m, cpu, cpu.cam_xpos[0], v, None, 1, -1, geomid)
        assert int(geomid[0]) == int(geom[row, col])
        if dist >= 0:
            np.testing.assert_allclose(float(depth[row, col]), dist, rtol=1e-4)
