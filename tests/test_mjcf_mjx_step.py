"""benchmarks.mjcf_mjx_step on two toy models: a box falling on a plane (MJX steps it: its sizes, the 4 contacts a
box-plane pair allocates, positive timings) and a cylinder over a box (a pair MJX-JAX does not implement: reported as
a refusal, C MuJoCo still timed); a missing file is a one-line error."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = '<option iterations="1" ls_iterations="1"/>'
BOX = f"""<mujoco>{FAST}<worldbody><geom type="plane" size="1 1 0.1"/>
<body pos="0 0 0.5"><freejoint/><geom type="box" size="0.1 0.1 0.1"/></body></worldbody></mujoco>"""
CYLINDER = f"""<mujoco>{FAST}<asset><mesh name="cube" vertex="0 0 0 1 0 0 0 1 0 1 1 0 0 0 1 1 0 1 0 1 1 1 1 1"/></asset>
<worldbody><geom type="box" size="1 1 0.1"/><geom type="mesh" mesh="cube" pos="3 0 0"/>
<body pos="0 0 0.5"><freejoint/><geom type="cylinder" size="0.1 0.1"/></body></worldbody></mujoco>"""


def _run(tmp_path, name, xml):
    path = tmp_path / f"{name}.xml"
    if xml is not None:
        path.write_text(xml)
    return subprocess.run([sys.executable, "-m", "benchmarks.mjcf_mjx_step", f"--xml={path}", "--steps=2",
                           "--batch=2", "--c_steps=50", f"--out={tmp_path}", f"--name={name}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_a_model_mjx_steps_and_one_it_refuses(tmp_path):
    p = _run(tmp_path, "box", BOX)
    assert p.returncode == 0, p.stderr[-2000:]
    row = json.loads((tmp_path / "box.json").read_text())["rows"][0]
    assert (row["nbody"], row["ngeom"], row["nq"], row["nmesh"], row["iterations"]) == (2, 2, 7, 0, 1)
    assert row["mjx"] == "steps" and row["contacts_allocated"] == 4  # box-plane: up to 4 contact points
    assert all(row[k] > 0 for k in ("compile_s_single", "ms_per_step_single", "ms_per_step_batch", "c_ms_per_step"))
    assert "| box.xml |" in (tmp_path / "box.md").read_text()

    p = _run(tmp_path, "cylinder", CYLINDER)
    assert p.returncode == 0, p.stderr[-2000:]
    row = json.loads((tmp_path / "cylinder.json").read_text())["rows"][0]
    assert (row["nmesh"], row["mesh_vertices_total"], row["mesh_vertices_max"]) == (1, 8, 8)
    assert row["mjx"].startswith("put_model refuses") and "CYLINDER" in row["mjx"] and row["c_ms_per_step"] > 0
    assert "ms_per_step_single" not in row


def test_a_missing_model_is_a_one_line_error(tmp_path):
    p = _run(tmp_path, "absent", None)
    assert p.returncode != 0 and "is not a file" in p.stderr and "Traceback" not in p.stderr
