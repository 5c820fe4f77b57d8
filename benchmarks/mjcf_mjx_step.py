"""Can MJX step this MuJoCo model, and at what cost? For any MJCF file (for example a Meta-World or Menagerie XML
read from its own checkout): the model's size (bodies, geoms, meshes and their vertices, solver iterations), whether
``mjx.put_model`` accepts it (MJX-JAX lacks some collision pairs, e.g. cylinder-box), the contacts MJX allocates per
step, the seconds to compile one ``jax.jit(mjx.step)``, and milliseconds per physics step for one model and a
vmapped batch, beside C MuJoCo's ``mj_step`` on the same model.

    python -m benchmarks.mjcf_mjx_step --xml=<checkout>/metaworld/assets/sawyer_xyz/sawyer_drawer.xml --name=mjx_step_metaworld_drawer

It answers whether a model is worth wrapping as an env here before any task code is written: MJX-JAX collides
meshes through their convex hulls, so a model whose colliding meshes have thousands of vertices allocates hundreds of
contacts per step, and the solver's iterations run as a while loop over all of them.
"""

from __future__ import annotations

import os
import sys
import time

from absl import flags

FLAGS = flags.FLAGS


def model_facts(m) -> dict:
    """Sizes and solver settings of a compiled ``MjModel`` that decide MJX's cost."""
    return {"nbody": int(m.nbody), "ngeom": int(m.ngeom), "nq": int(m.nq), "nu": int(m.nu),
            "nmocap": int(m.nmocap), "nmesh": int(m.nmesh), "mesh_vertices_total": int(m.mesh_vertnum.sum()),
            "mesh_vertices_max": int(m.mesh_vertnum.max()) if m.nmesh else 0, "solver": int(m.opt.solver),
            "iterations": int(m.opt.iterations), "ls_iterations": int(m.opt.ls_iterations),
            "timestep": float(m.opt.timestep)}


def c_step_ms(m, steps: int) -> float:
    """Milliseconds per ``mj_step`` of C MuJoCo from the model's initial state."""
    import mujoco

    d = mujoco.MjData(m)
    t = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(m, d)
    return (time.perf_counter() - t) / steps * 1e3


def mjx_costs(m, steps: int, batch: int) -> dict:
    """Compile seconds and ms per ``mjx.step`` of the model alone and of ``batch`` copies under ``vmap`` (each copy a
    full physics step: ms per step of the batch, not per copy), and the contacts MJX allocates per step."""
    import jax
    from mujoco import mjx

    mx = mjx.put_model(m)
    d = mjx.make_data(mx)
    contact = d._impl.contact if hasattr(d, "_impl") else d.contact
    out = {"contacts_allocated": int(contact.geom.shape[0])}
    for label, n in (("single", None), ("batch", batch)):
        if n is None:
            step, state = jax.jit(mjx.step), d
        else:
            step = jax.jit(jax.vmap(mjx.step, in_axes=(None, 0)))
            state = jax.tree_util.tree_map(lambda x: jax.numpy.broadcast_to(x, (n,) + x.shape), d)
        t = time.perf_counter()
        state = jax.block_until_ready(step(mx, state))
        out[f"compile_s_{label}"] = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(steps):
            state = step(mx, state)
        jax.block_until_ready(state)
        out[f"ms_per_step_{label}"] = (time.perf_counter() - t) / steps * 1e3
    return out


def main(argv):
    del argv
    from benchmarks.common import machine, write_results

    if not os.path.isfile(FLAGS.xml):
        sys.exit(f"error: --xml={FLAGS.xml} is not a file; pass the path of an MJCF model (its includes and assets "
                 "resolved relative to it)")
    import mujoco

    try:
        m = mujoco.MjModel.from_xml_path(FLAGS.xml)
    except ValueError as e:
        sys.exit(f"error: MuJoCo cannot compile {FLAGS.xml}: {str(e).splitlines()[0]} (fix the file or its assets)")
    facts = model_facts(m)
    row = {"xml": FLAGS.xml, **facts, "c_ms_per_step": c_step_ms(m, FLAGS.c_steps)}
    print(f"{os.path.basename(FLAGS.xml)}: {facts}; C MuJoCo {row['c_ms_per_step']:.4f} ms/step", flush=True)
    try:
        row.update(mjx_costs(m, FLAGS.steps, FLAGS.batch))
        row["mjx"] = "steps"
    except NotImplementedError as e:  # a collision pair or feature MJX-JAX does not implement
        row["mjx"] = f"put_model refuses: {str(e).splitlines()[0] if str(e) else 'NotImplementedError'}"
    print(row["mjx"], {k: v for k, v in row.items() if k.startswith(("compile", "ms_per", "contacts"))}, flush=True)

    def ms(k):
        return f"{row[k]:.2f}" if k in row else "-"

    header = ["model", "meshes (vertices, max)", "solver iterations / line search", "MJX", "contacts/step",
              "compile s (single)", "MJX ms/step (1)", f"MJX ms/step (batch {FLAGS.batch})", "C MuJoCo ms/step"]
    table = [[os.path.basename(FLAGS.xml), f"{facts['nmesh']} ({facts['mesh_vertices_total']}, "
              f"{facts['mesh_vertices_max']})", f"{facts['iterations']} / {facts['ls_iterations']}", row["mjx"],
              row.get("contacts_allocated", "-"), ms("compile_s_single"), ms("ms_per_step_single"),
              ms("ms_per_step_batch"), f"{row['c_ms_per_step']:.4f}"]]
    payload = {"machine": machine(), "command": " ".join(sys.argv), "rows": [row]}
    print(write_results(FLAGS.name, payload, table, header, FLAGS.out))


def define_flags():
    flags.DEFINE_string("xml", None, "path of the MJCF model to measure")
    flags.DEFINE_integer("steps", 20, "timed MJX steps (after the compiling one)")
    flags.DEFINE_integer("c_steps", 2000, "timed C MuJoCo steps")
    flags.DEFINE_integer("batch", 8, "models stepped together under vmap")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "mjcf_mjx_step", "output name")
    flags.mark_flag_as_required("xml")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
