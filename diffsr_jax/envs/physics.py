"""Physics solver settings of the MuJoCo-based envs (Brax's ``mjx`` backend, Playground): ``config.env.physics``.

- ``native`` keeps what the env builds (Brax's halfcheetah, hopper and walker2d keep MuJoCo's defaults under MJX:
  Newton, 4 solver iterations, 50 line-search iterations, Euler damping on; Brax's own MJX ant and humanoid are built
  with 1 iteration, 4 line-search iterations and Euler damping off).
- ``light`` sets 1 solver iteration, 4 line-search iterations and Euler damping off, as Brax's own MJX ant and
  humanoid and the MJX docs' performance advice do.
- ``i<N>ls<M>`` sets N solver iterations and M line-search iterations with Euler damping on; ``i<N>ls<M>_nodamp``
  the same with Euler damping off (N in ``ITERATIONS``, M in ``LS_ITERATIONS``; ``light`` is ``i1ls4_nodamp``).
  Only these three fields change; the solver type, tolerances, timestep and everything else stay as the env built
  them.
- ``auto`` (the default) is, per env, the fastest setting measured faithful to native (``envs.families``,
  docs/physics.md), and ``native`` for every env without that evidence. The launcher writes the resolved setting
  into the run's config, so config.json says which physics ran.

Why these fields cost time: with one iteration MJX's solver is no ``while_loop`` (that stops on a tolerance, a host
wait per iteration on a GPU) but a fixed sequence; with more it loops until every env of a ``vmap`` batch has
converged. The line search is a ``scan`` of ``ls_iterations`` steps whose ``cond`` becomes a select under ``vmap``,
so a batched step pays all of its line-search iterations in every solver iteration.
"""

from __future__ import annotations

import dataclasses

from diffsr_jax.fields import ConfigError

ITERATIONS = (1, 2, 4)
LS_ITERATIONS = (4, 8, 50)


@dataclasses.dataclass(frozen=True)
class SolverSetting:
    """The solver fields a physics setting fixes."""

    iterations: int
    ls_iterations: int
    euler_damping: bool

    def as_dict(self) -> dict:
        """In the form ``solver_options`` reads back from a model."""
        return dataclasses.asdict(self)


def setting_name(iterations: int, ls_iterations: int, euler_damping: bool) -> str:
    """The name of the setting with these fields: ``i<N>ls<M>`` (``_nodamp``: Euler damping off)."""
    return f"i{iterations}ls{ls_iterations}{'' if euler_damping else '_nodamp'}"


SETTINGS: dict[str, SolverSetting] = {
    "light": SolverSetting(1, 4, False),
    **{setting_name(i, ls, damp): SolverSetting(i, ls, damp)
       for i in ITERATIONS for ls in LS_ITERATIONS for damp in (True, False)},
}
PHYSICS = ("auto", "native", *SETTINGS)  # every value config.env.physics takes


def check_physics_name(physics: str) -> None:
    """A one-line ``ConfigError`` listing the choices unless ``physics`` is one of ``PHYSICS``."""
    if physics not in PHYSICS:
        raise ConfigError(f"config.env.physics must be one of {', '.join(PHYSICS)}; got {physics!r}")


def solver_setting(physics: str) -> SolverSetting | None:
    """The fields ``physics`` sets (None: ``native``, the env's own). ``auto`` must be resolved first
    (``envs.families.resolve_physics``)."""
    check_physics_name(physics)
    if physics == "auto":
        raise ValueError("physics=auto names no solver setting: resolve it per env first (envs.families)")
    return SETTINGS.get(physics)


def _euler_damp_bit() -> int:
    import mujoco

    return int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP)


def disableflags_with(flags, euler_damping: bool) -> int:
    """MuJoCo's disable flags with Euler damping on (bit cleared) or off (bit set), the other flags kept."""
    bit = _euler_damp_bit()
    return (int(flags) & ~bit) if euler_damping else (int(flags) | bit)


def brax_system(sys, physics: str):
    """A Brax ``System`` (MJX backend) with the solver setting ``physics`` (``native``: unchanged)."""
    s = solver_setting(physics)
    if s is None:
        return sys
    return sys.tree_replace({"opt.iterations": s.iterations, "opt.ls_iterations": s.ls_iterations,
                             "opt.disableflags": disableflags_with(sys.opt.disableflags, s.euler_damping)})


def set_mj_model(mj_model, physics: str) -> None:
    """Set the solver setting ``physics`` on a ``mujoco.MjModel`` in place (``native``: unchanged)."""
    s = solver_setting(physics)
    if s is None:
        return
    mj_model.opt.iterations = s.iterations
    mj_model.opt.ls_iterations = s.ls_iterations
    mj_model.opt.disableflags = disableflags_with(mj_model.opt.disableflags, s.euler_damping)


def apply_to_env(env, physics: str):
    """Set ``physics`` on an adapter built under ``native`` and return it: a ``BraxEnv`` or ``MBBLEnv`` on the mjx
    backend (the Brax env reads its ``sys`` at every step: replaced there) or a ``PlaygroundEnv`` (its MuJoCo model
    changed and the MJX model it steps rebuilt from it). ``env.physics`` names the setting afterwards."""
    if solver_setting(physics) is None:
        env.physics = physics
        return env
    if hasattr(env, "mjx_model"):  # Playground: the env steps its MJX model, which it has no setter for
        from mujoco import mjx

        set_mj_model(env.mj_model, physics)
        env.backend_env._mjx_model = mjx.put_model(env.mj_model, impl=env.impl)
    else:
        brax = env.backend_env
        if brax.backend != "mjx":
            raise ConfigError(f"config.env.physics={physics}: the MuJoCo solver settings apply to Brax's mjx backend, "
                              f"not {brax.backend}; use native or auto")
        brax.sys = brax_system(brax.sys, physics)
    for adapter in (env, getattr(env, "brax", None)):  # MBBLEnv keeps the BraxEnv it steps as ``brax``
        if adapter is not None:
            adapter.physics = physics
    return env


def solver_options(opt) -> dict:
    """The solver fields of an ``opt`` (MjOption / MJX Option) that the settings differ in."""
    return {"iterations": int(opt.iterations), "ls_iterations": int(opt.ls_iterations),
            "euler_damping": not (int(opt.disableflags) & _euler_damp_bit())}
