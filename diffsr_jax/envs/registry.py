"""Env families, each registered once: ``ENV_FAMILIES[family]`` says how to list, build and validate its envs and
where their velocities sit (for the partially observable setting). Names on the command line are
``<family>/<name>``: ``brax/<name>``, ``playground/<Name>``, ``gymnax/<name>``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

from diffsr_jax.envs.brax_env import BRAX_BACKENDS  # no brax import at module level

GYMNAX_CONTINUOUS = ("Pendulum-v1", "MountainCarContinuous-v0")


def _brax_names():
    from brax import envs

    return tuple(sorted(n for n in envs._envs if n != "fast"))


def _playground_names():
    from mujoco_playground import dm_control_suite

    return tuple(dm_control_suite.ALL_ENVS)


def _build_gymnax(name, backend, max_steps, early_termination):
    from diffsr_jax.envs.gymnax_env import GymnaxEnv

    return GymnaxEnv(name, max_steps)


def _build_brax(name, backend, max_steps, early_termination, physics="native"):
    from diffsr_jax.envs.brax_env import BraxEnv

    if backend not in BRAX_BACKENDS:
        raise ValueError(f"unknown brax backend {backend!r}; choose one of {', '.join(BRAX_BACKENDS)}")
    kwargs = {} if early_termination else {"terminate_when_unhealthy": False}
    return BraxEnv(name, backend, max_steps, physics=physics, **kwargs)


def _build_playground(name, backend, max_steps, early_termination, physics="native", impl="jax"):
    from diffsr_jax.envs.playground_env import PlaygroundEnv

    return PlaygroundEnv(name, max_steps, physics=physics, impl=impl)


# Brax MJX envs whose returns were measured the same under the light and the native solver settings: fixed action
# sequences and trained policies (WORKSPACE.md, issue 27); ``physics=auto`` runs them light. ant: Brax's own MJX build
# is the light setting already (identical). Not listed: halfcheetah (uniform random actions: light returns +16%, 208
# episodes), hopper (a 60k-frame SAC policy: +63%, it falls later under light) and walker2d (a 30k policy: +25%).
BRAX_LIGHT_FAITHFUL = ("ant",)


@dataclasses.dataclass(frozen=True)
class EnvFamily:
    """names() -> valid names; build(name, backend, max_episode_steps, early_termination, **options) -> Env, where
    ``options`` are the keyword arguments named in ``options`` (``physics``: native or light; ``impl``: jax or warp);
    ``backends``: the simulator backends it offers (empty: one); ``early_termination``: envs that can turn off
    termination on falling; ``pomdp_supported(name)`` / ``velocity_indices(env, name)``: the velocity layout (see
    ``envs.pomdp``); ``light_physics(backend)``: whether the light solver setting (``envs.physics``) applies;
    ``light_by_default``: the envs ``physics=auto`` runs light; ``impls``: the MuJoCo implementations it can step
    (``env.impl``; empty: not chosen here)."""

    names: Callable
    build: Callable
    pomdp_supported: Callable
    velocity_indices: Callable
    backends: tuple = ()
    early_termination: tuple = ()
    light_physics: Callable = lambda backend: False
    light_by_default: tuple = ()
    impls: tuple = ()
    options: tuple = ()


def _families() -> dict[str, EnvFamily]:
    from diffsr_jax.envs import pomdp

    return {
        "brax": EnvFamily(_brax_names, _build_brax, pomdp.brax_supported, pomdp.brax_velocity,
                          BRAX_BACKENDS, ("ant", "hopper", "humanoid", "walker2d"),
                          light_physics=lambda backend: backend == "mjx", light_by_default=BRAX_LIGHT_FAITHFUL,
                          options=("physics",)),
        "playground": EnvFamily(_playground_names, _build_playground, pomdp.playground_supported,
                                pomdp.playground_velocity, light_physics=lambda backend: True, impls=("jax", "warp"),
                                options=("physics", "impl")),
        "gymnax": EnvFamily(lambda: GYMNAX_CONTINUOUS, _build_gymnax, pomdp.gymnax_supported, pomdp.gymnax_velocity),
    }


ENV_FAMILIES = _families()


def available_envs(family: str) -> tuple[str, ...]:
    return tuple(ENV_FAMILIES[family].names())


def validate_env_name(env: str) -> tuple[str, str]:
    """'family/name' -> (family, name), or ValueError with a one-line message listing the valid names."""
    family, sep, name = env.partition("/")
    if not sep or family not in ENV_FAMILIES:
        raise ValueError(f"unknown env {env!r}: write it as <family>/<name> with family one of "
                         f"{', '.join(ENV_FAMILIES)} (e.g. gymnax/Pendulum-v1, brax/hopper, playground/CheetahRun)")
    valid = available_envs(family)
    if name not in valid:
        raise ValueError(f"unknown {family} env {name!r}; choose one of: {', '.join(valid)}")
    return family, name


def resolve_physics(env: str, backend: str, physics: str) -> str:
    """``physics`` (auto, native, light) of ``env`` on ``backend`` as the setting that runs: ``auto`` is ``light`` for
    the family's ``light_by_default`` envs where the setting applies, else ``native``."""
    family, name = validate_env_name(env)
    spec = ENV_FAMILIES[family]
    if physics != "auto":
        return physics
    return "light" if spec.light_physics(backend) and name in spec.light_by_default else "native"


@contextlib.contextmanager
def _own_devices_first():
    """While an env is built: ``jax.devices()`` lists this process's devices first. MuJoCo MJX puts a model on
    ``jax.devices()[0]`` (Brax mjx and Playground envs build theirs that way), which in a run over several processes
    (jax.distributed) is process 0's device: every other process would get a model it cannot read. One process:
    nothing changes."""
    import jax

    if not jax.distributed.is_initialized() or jax.process_count() == 1:
        yield
        return
    devices = jax.devices

    def own_first(backend=None):
        local = jax.local_devices(backend=backend)
        return local + [d for d in devices(backend) if d not in local]

    jax.devices = own_first
    try:
        yield
    finally:
        jax.devices = devices


def make_env(env: str, backend: str = "mjx", max_episode_steps: int | None = None, *, early_termination: bool = True,
             pomdp: bool = False, pomdp_history: int = 3, action_repeat: int = 1, physics: str = "auto",
             impl: str = "jax"):
    """Build an ``Env`` from its command-line name. ``max_episode_steps`` counts frames (default: the env's own
    limit); ``action_repeat`` frames per agent decision; ``early_termination=False`` turns off termination on
    falling (brax ``terminate_when_unhealthy``); ``pomdp`` hides velocities and stacks ``pomdp_history`` observations;
    ``physics``: the solver setting (``envs.physics``: auto, native, light); ``impl``: Playground's MuJoCo
    implementation (jax, or warp on a GPU)."""
    if isinstance(action_repeat, bool) or not isinstance(action_repeat, int) or action_repeat < 1:
        raise ValueError(f"action_repeat must be an integer >= 1, got {action_repeat!r}")
    family, name = validate_env_name(env)
    spec = ENV_FAMILIES[family]
    if not early_termination and name not in spec.early_termination:
        raise ValueError(f"{env} has no termination on falling to turn off; early_termination=False applies to "
                         f"{', '.join(f'{family}/{n}' for n in spec.early_termination) or 'no env of its family'}")
    physics = resolve_physics(env, backend, physics)
    if physics == "light" and not spec.light_physics(backend):
        raise ValueError(f"physics=light applies to Brax's mjx backend and Playground envs, not {env}"
                         f"{f' on the {backend} backend' if spec.backends else ''}; use physics=native or auto")
    options = {k: v for k, v in (("physics", physics), ("impl", impl)) if k in spec.options}
    with _own_devices_first():
        base = spec.build(name, backend, max_episode_steps or None, early_termination, **options)
    base.action_repeat = action_repeat
    if not pomdp:
        return base
    from diffsr_jax.envs.pomdp import PartialObsEnv

    return PartialObsEnv(base, pomdp_history)


def make_env_from_config(config):
    """The run's ``Env`` as ``config.env`` describes it."""
    e = config.env
    return make_env(e.name, e.backend, e.episode_length, early_termination=bool(e.early_termination),
                    pomdp=bool(e.pomdp), pomdp_history=int(e.pomdp_history), action_repeat=int(e.action_repeat),
                    physics=e.physics, impl=e.impl)
