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


# brax envs that can end an episode when the robot falls (the paper's "-ET" tasks); on by default
BRAX_EARLY_TERMINATION = ("ant", "hopper", "humanoid", "walker2d")


def make_env(env: str, backend: str = "mjx", max_episode_steps: int | None = None, *, early_termination: bool = True,
             pomdp: bool = False, pomdp_history: int = 3, action_repeat: int = 1):
    """Build an ``Env`` from its command-line name. ``max_episode_steps`` counts frames (default: the env's own
    limit); ``action_repeat`` frames per agent decision; ``early_termination=False`` turns off brax's termination on
    falling (``terminate_when_unhealthy``); ``pomdp`` hides velocities and stacks ``pomdp_history`` observations."""
    if isinstance(action_repeat, bool) or not isinstance(action_repeat, int) or action_repeat < 1:
        raise ValueError(f"action_repeat must be an integer >= 1, got {action_repeat!r}")
    base = _make_base_env(env, backend, max_episode_steps, early_termination)
    base.action_repeat = action_repeat
    if not pomdp:
        return base
    from diffsr_jax.envs.pomdp import PartialObsEnv

    return PartialObsEnv(base, pomdp_history)


def _make_base_env(env, backend, max_episode_steps, early_termination):
    family, name = validate_env_name(env)
    max_steps = max_episode_steps or None
    if family == "gymnax":
        from diffsr_jax.envs.gymnax_env import GymnaxEnv

        return GymnaxEnv(name, max_steps)
    if family == "brax":
        from diffsr_jax.envs.brax_env import BRAX_BACKENDS, BraxEnv

        if backend not in BRAX_BACKENDS:
            raise ValueError(f"unknown brax backend {backend!r}; choose one of {', '.join(BRAX_BACKENDS)}")
        kwargs = {}
        if not early_termination:
            if name not in BRAX_EARLY_TERMINATION:
                raise ValueError(f"brax/{name} has no termination on falling to turn off; early_termination=False "
                                 f"applies to {', '.join(BRAX_EARLY_TERMINATION)}")
            kwargs["terminate_when_unhealthy"] = False
        return BraxEnv(name, backend, max_steps, **kwargs)
    from diffsr_jax.envs.playground_env import PlaygroundEnv

    return PlaygroundEnv(name, max_steps)


def make_env_from_config(config):
    """The run's ``Env`` as its config describes it (env name, brax backend, episode length, action repeat, early
    termination, partial observability). Configs saved before the env options existed get their defaults."""
    return make_env(config.env, config.env_backend, config.episode_length,
                    early_termination=bool(config.get("early_termination", True)),
                    pomdp=bool(config.get("pomdp", False)), pomdp_history=int(config.get("pomdp_history", 3)),
                    action_repeat=int(config.get("action_repeat", 1)))
