"""Physics solver settings of the MuJoCo-based envs (Brax's ``mjx`` backend, Playground): ``native`` or ``light``.

``native`` keeps what the env builds (Brax's halfcheetah, hopper and walker2d keep MuJoCo's defaults under MJX:
Newton, 4 solver iterations, 50 line-search iterations, Euler damping on). ``light`` sets one solver iteration, 4
line-search iterations and Euler damping off, as Brax's own MJX ant and humanoid and the MJX docs' performance advice
do. With one iteration MJX's solver is no ``while_loop`` (that stops on a tolerance, a host wait per iteration on a
GPU) but a fixed sequence, and its line search a scan of fixed length whose ``cond`` becomes a select under ``vmap``.

``auto`` (the default) is ``light`` for the envs whose returns were measured the same under both settings (a
trained policy and a fixed action sequence; WORKSPACE.md, ``benchmarks/physics_faithfulness.py``) and ``native``
everywhere else. The launcher writes the resolved setting into the run's config, so config.json says which physics ran.
"""

from __future__ import annotations

PHYSICS = ("auto", "native", "light")
LIGHT_OPTIONS = {"iterations": 1, "ls_iterations": 4}  # and Euler damping disabled


def light_disableflags(flags):
    """MuJoCo's disable flags with Euler damping turned off too."""
    import mujoco

    return int(flags) | int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP)


def light_brax_system(sys):
    """A Brax ``System`` (MJX backend) with the light solver settings."""
    return sys.tree_replace({"opt.iterations": LIGHT_OPTIONS["iterations"],
                             "opt.ls_iterations": LIGHT_OPTIONS["ls_iterations"],
                             "opt.disableflags": light_disableflags(sys.opt.disableflags)})


def light_mj_model(mj_model) -> None:
    """Set the light solver settings on a ``mujoco.MjModel`` in place."""
    mj_model.opt.iterations = LIGHT_OPTIONS["iterations"]
    mj_model.opt.ls_iterations = LIGHT_OPTIONS["ls_iterations"]
    mj_model.opt.disableflags = light_disableflags(mj_model.opt.disableflags)


def solver_options(opt) -> dict:
    """The solver fields of an ``opt`` (MjOption / MJX Option) that the two settings differ in."""
    import mujoco

    return {"iterations": int(opt.iterations), "ls_iterations": int(opt.ls_iterations),
            "euler_damping": not (int(opt.disableflags) & int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP))}
