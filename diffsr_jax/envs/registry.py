"""Env names on the command line: ``brax/<name>``, ``playground/<Name>``, ``gymnax/<name>``."""

from __future__ import annotations

ENV_FAMILIES = ("brax", "playground", "gymnax")
GYMNAX_CONTINUOUS = ("Pendulum-v1", "MountainCarContinuous-v0")


def available_envs(family: str) -> tuple[str, ...]:
    if family == "brax":
        from brax import envs

        return tuple(sorted(n for n in envs._envs if n != "fast"))
    if family == "playground":
        from mujoco_playground import dm_control_suite

        return tuple(dm_control_suite.ALL_ENVS)
    if family == "gymnax":
        return GYMNAX_CONTINUOUS
    raise ValueError(family)


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


def make_env(env: str, backend: str = "mjx", max_episode_steps: int | None = None):
    """Build an ``Env`` from its command-line name."""
    family, name = validate_env_name(env)
    max_steps = max_episode_steps or None
    if family == "gymnax":
        from diffsr_jax.envs.gymnax_env import GymnaxEnv

        return GymnaxEnv(name, max_steps)
    if family == "brax":
        from diffsr_jax.envs.brax_env import BRAX_BACKENDS, BraxEnv

        if backend not in BRAX_BACKENDS:
            raise ValueError(f"unknown brax backend {backend!r}; choose one of {', '.join(BRAX_BACKENDS)}")
        return BraxEnv(name, backend, max_steps)
    from diffsr_jax.envs.playground_env import PlaygroundEnv

    return PlaygroundEnv(name, max_steps)


def make_env_from_config(config):
    """The run's ``Env`` as its config describes it (env name, brax backend, episode length)."""
    return make_env(config.env, config.env_backend, config.episode_length)
