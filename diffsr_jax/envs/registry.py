"""Building an ``Env`` from its command-line name ``<family>/<name>`` (``brax/<name>``, ``playground/<Name>``,
``gymnax/<name>``): the families are registered in ``envs.families``, the rules on the settings live in
``envs.rules`` (the config validator checks the same ones), the partially observable wrapper in ``envs.pomdp``.
"""

from __future__ import annotations

import contextlib

import jax

from diffsr_jax.envs import rules
from diffsr_jax.envs.families import resolve_physics
from diffsr_jax.envs.pixels import PixelEnv
from diffsr_jax.envs.pomdp import PartialObsEnv


@contextlib.contextmanager
def _own_devices_first():
    """While an env is built: ``jax.devices()`` lists this process's devices first. MuJoCo MJX puts a model on
    ``jax.devices()[0]`` (Brax mjx and Playground envs build theirs that way), which in a run over several processes
    (jax.distributed) is process 0's device: every other process would get a model it cannot read. One process:
    nothing changes."""
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
             impl: str = "jax", pixels: int = 0, frame_stack: int = 3, camera: int = 0):
    """Build an ``Env`` from its command-line name. ``max_episode_steps`` counts frames (default: the env's own
    limit); ``action_repeat`` frames per agent decision; ``early_termination=False`` turns off termination on
    falling (brax ``terminate_when_unhealthy``); ``pomdp`` hides velocities and stacks ``pomdp_history`` observations;
    ``physics``: the solver setting (``envs.physics``: auto, native, light); ``impl``: Playground's MuJoCo
    implementation (jax, or warp on a GPU); ``pixels`` > 0: the agent sees the last ``frame_stack`` ``pixels`` x
    ``pixels`` frames of model camera ``camera`` (``envs.pixels``). Settings that break a rule (``envs.rules``) raise its ``ConfigError``
    before anything is built."""
    spec, name = rules.check_settings(env, backend, early_termination=early_termination, pomdp_on=pomdp,
                                      pomdp_history=pomdp_history, action_repeat=action_repeat, physics=physics,
                                      pixels=pixels, frame_stack=frame_stack, camera=camera, impl=impl)
    physics = resolve_physics(env, backend, physics)
    options = {k: v for k, v in (("physics", physics), ("impl", impl)) if k in spec.options}
    with _own_devices_first():
        base = spec.build(name, backend, max_episode_steps or None, early_termination, **options)
    base.action_repeat = action_repeat
    if pixels:
        return PixelEnv(base, pixels, frame_stack, camera)
    if not pomdp:
        return base
    return PartialObsEnv(base, spec.velocity_indices(base, name), pomdp_history)


def make_env_from_config(config):
    """The run's ``Env`` as ``config.env`` describes it."""
    e = config.env
    return make_env(e.name, e.backend, e.episode_length, early_termination=bool(e.early_termination),
                    pomdp=bool(e.pomdp), pomdp_history=int(e.pomdp_history), action_repeat=int(e.action_repeat),
                    physics=e.physics, impl=e.impl, pixels=int(e.pixels), frame_stack=int(e.frame_stack),
                    camera=int(e.camera))
