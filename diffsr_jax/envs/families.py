"""Env families, each registered once: ``ENV_FAMILIES[family]`` says how to list, build and validate its envs and
where their velocities sit (for the partially observable setting). Names on the command line are
``<family>/<name>``: ``brax/<name>``, ``mbbl/<name>`` (MBBL's task definitions over Brax's models, the paper's
Table 1 tasks), ``playground/<Name>``, ``gymnax/<name>``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from diffsr_jax.envs import brax_env, gymnax_env, mbbl, playground_env  # no brax/playground/gymnax import at module level
from diffsr_jax.envs.physics import apply_to_env, check_physics_name
from diffsr_jax.fields import ConfigError

GYMNAX_CONTINUOUS = ("Pendulum-v1", "MountainCarContinuous-v0")

# The solver setting ``physics=auto`` runs on each Brax MJX env (``envs.physics``): the fastest one whose returns and
# reward parts under a native-trained SAC policy lie within 5% of native's (95% intervals; docs/physics.md, issue 46,
# ``benchmarks/physics_settings.py``). halfcheetah (measured with MBBL's halfcheetah policy on the same System):
# i4ls4, whose returns are native's to 0.1%, 3x native's env steps/s; hopper: i4ls4_nodamp (+0.9%, CI -3.1..+4.9%);
# walker2d: i2ls8 (-2.3%, CI -4.1..-0.5%). ant: unlisted, Brax's own MJX build is the light setting already and
# every other setting is slower. Light itself is faithful on none (issue 27; issue 46: -16%, +8.5%, -6.3%).
BRAX_AUTO_PHYSICS: dict[str, str] = {"halfcheetah": "i4ls4", "hopper": "i4ls4_nodamp", "walker2d": "i2ls8"}
# MBBL's tasks step the same Systems under other rewards (alive bonus, height term): ``auto`` takes i4ls4 there, the
# setting whose returns were native's on all three models (0.1% or exactly, every reward part), not the faster
# nodamp / 2-iteration settings whose small shifts were measured under Brax's rewards only. ant_et: native, as ant.
MBBL_AUTO_PHYSICS: dict[str, str] = {"halfcheetah": "i4ls4", "hopper_et": "i4ls4", "walker_et": "i4ls4"}


def _brax_names():
    from brax import envs

    return tuple(sorted(n for n in envs._envs if n != "fast"))


def _playground_names():
    from mujoco_playground import dm_control_suite

    return tuple(dm_control_suite.ALL_ENVS)


def _build_gymnax(name, backend, max_steps, early_termination):
    return gymnax_env.GymnaxEnv(name, max_steps)


def _build_brax(name, backend, max_steps, early_termination, physics="native"):
    kwargs = {} if early_termination else {"terminate_when_unhealthy": False}
    return apply_to_env(brax_env.BraxEnv(name, backend, max_steps, **kwargs), physics)


def _build_mbbl(name, backend, max_steps, early_termination, physics="native"):
    return apply_to_env(mbbl.MBBLEnv(name, backend, max_steps, early_termination), physics)


def _build_playground(name, backend, max_steps, early_termination, physics="native", impl="jax"):
    return apply_to_env(playground_env.PlaygroundEnv(name, max_steps, impl=impl), physics)


def _adapter_velocity(env, name):
    return env.velocity_indices()


@dataclasses.dataclass(frozen=True)
class EnvFamily:
    """names() -> valid names; build(name, backend, max_episode_steps, early_termination, **options) -> Env, where
    ``options`` are the keyword arguments named in ``options`` (``physics``: a setting of ``envs.physics`` other than
    auto; ``impl``: jax or warp);
    ``backends``: the simulator backends it offers (empty: one); ``early_termination``: envs that can turn off
    termination on falling; ``pomdp_supported(name)`` / ``velocity_indices(env, name) -> (n_vel,) int``: the
    velocity layout (default: the adapter's own ``velocity_indices()``), ``pomdp_names``: the names it lists
    (``*``: a prefix); ``solver_settings(backend)``: whether the solver settings (``envs.physics``: light and the
    others) apply; ``auto_physics``: {name: the setting ``physics=auto`` runs} (unlisted: native); ``impls``: the MuJoCo implementations it can step
    (``env.impl``; empty: not chosen here)."""

    names: Callable
    build: Callable
    pomdp_supported: Callable
    velocity_indices: Callable = _adapter_velocity
    backends: tuple = ()
    early_termination: tuple = ()
    solver_settings: Callable = lambda backend: False
    auto_physics: dict = dataclasses.field(default_factory=dict)
    impls: tuple = ()
    options: tuple = ()
    pomdp_names: tuple = ()


ENV_FAMILIES: dict[str, EnvFamily] = {
    "brax": EnvFamily(_brax_names, _build_brax, brax_env.pomdp_supported, backends=brax_env.BRAX_BACKENDS,
                      early_termination=("ant", "hopper", "humanoid", "walker2d"),
                      solver_settings=lambda backend: backend == "mjx", auto_physics=BRAX_AUTO_PHYSICS,
                      options=("physics",), pomdp_names=brax_env.POMDP_NAMES),
    "mbbl": EnvFamily(lambda: tuple(mbbl.MBBL_TASKS), _build_mbbl, lambda name: name in mbbl.MBBL_TASKS,
                      backends=brax_env.BRAX_BACKENDS, early_termination=mbbl.MBBL_EARLY_TERMINATION,
                      solver_settings=lambda backend: backend == "mjx", auto_physics=MBBL_AUTO_PHYSICS,
                      options=("physics",), pomdp_names=tuple(mbbl.MBBL_TASKS)),
    "playground": EnvFamily(_playground_names, _build_playground, playground_env.pomdp_supported,
                            solver_settings=lambda backend: True, impls=("jax", "warp"), options=("physics", "impl"),
                            pomdp_names=playground_env.POMDP_NAMES),
    "gymnax": EnvFamily(lambda: GYMNAX_CONTINUOUS, _build_gymnax, gymnax_env.pomdp_supported,
                        pomdp_names=gymnax_env.POMDP_NAMES),
}


def available_envs(family: str) -> tuple[str, ...]:
    return tuple(ENV_FAMILIES[family].names())


def validate_env_name(env: str) -> tuple[str, str]:
    """'family/name' -> (family, name), or a ``ConfigError`` (a ValueError) of one line listing the valid names."""
    family, sep, name = env.partition("/")
    if not sep or family not in ENV_FAMILIES:
        raise ConfigError(f"unknown env {env!r}: write it as <family>/<name> with family one of "
                          f"{', '.join(ENV_FAMILIES)} (e.g. gymnax/Pendulum-v1, brax/hopper, playground/CheetahRun)")
    valid = available_envs(family)
    if name not in valid:
        raise ConfigError(f"unknown {family} env {name!r}; choose one of: {', '.join(valid)}")
    return family, name


def family_of(env: str) -> tuple[EnvFamily, str]:
    """'family/name' -> (its ``EnvFamily``, name); the name is validated (``validate_env_name``)."""
    family, name = validate_env_name(env)
    return ENV_FAMILIES[family], name


def pomdp_names() -> list[str]:
    """Every ``family/name`` whose velocity layout is listed (``*``: a prefix)."""
    return [f"{family}/{n}" for family, spec in ENV_FAMILIES.items() for n in spec.pomdp_names]


def resolve_physics(env: str, backend: str, physics: str) -> str:
    """``physics`` (``envs.physics.PHYSICS``; another name is a one-line ``ConfigError``) of ``env`` on ``backend`` as
    the setting that runs: ``auto`` is the family's ``auto_physics`` entry for the env where the solver settings apply,
    else ``native``; any other value is kept (where a setting does not apply, ``envs.rules`` refuses light and the
    build the others)."""
    check_physics_name(physics)
    spec, name = family_of(env)
    if physics != "auto":
        return physics
    return spec.auto_physics.get(name, "native") if spec.solver_settings(backend) else "native"
