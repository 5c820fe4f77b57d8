"""The rules on env settings that both the config validator (``envs.config.validate_env``) and the factory
(``envs.registry.make_env``) enforce: each rule is one function here (``pomdp_history``: ``envs.pomdp.check_history``)
raising one ``ConfigError`` of one line that names the field ``config.env.<field>`` and the fix, and
``check_settings`` runs them all, so both callers check the same rules with the same words.
"""

from __future__ import annotations

from diffsr_jax.envs import pixels as pixel_obs
from diffsr_jax.envs import pomdp
from diffsr_jax.envs.families import EnvFamily, family_of, pomdp_names
from diffsr_jax.fields import ConfigError, Fields


def check_action_repeat(action_repeat) -> None:
    """Env frames per agent decision: an integer >= 1."""
    Fields({"action_repeat": action_repeat}, "env").integer("action_repeat")


def check_backend(spec: EnvFamily, env: str, backend: str) -> None:
    """The simulator backend is one the family offers (families with one backend take any value: it is unused)."""
    if spec.backends:
        Fields({"backend": backend}, "env").choice("backend", spec.backends)


def check_physics(spec: EnvFamily, env: str, backend: str, physics: str) -> None:
    """A solver setting (``light``, ``i<N>ls<M>[_nodamp]``: anything but ``native`` and ``auto``) only where the
    MuJoCo solver settings apply (Brax's mjx backend, Playground); the name itself is checked by the env config."""
    if physics not in ("native", "auto") and not spec.solver_settings(backend):
        raise ConfigError(f"config.env.physics={physics}: the MuJoCo solver settings apply to Brax's mjx backend "
                          f"and Playground envs, not {env}{f' on the {backend} backend' if spec.backends else ''}; "
                          "use native or auto")


def check_early_termination(spec: EnvFamily, env: str, early_termination: bool) -> None:
    """``early_termination=False`` only on envs that end an episode on falling."""
    name = env.partition("/")[2]
    if not early_termination and name not in spec.early_termination:
        family = env.partition("/")[0]
        applies = ", ".join(f"{family}/{n}" for n in spec.early_termination) or "no env of its family"
        raise ConfigError(f"config.env.early_termination=False: {env} has no termination on falling to turn off "
                          f"(it applies to {applies}); drop it")


def check_pomdp(spec: EnvFamily, env: str, pomdp_on: bool) -> None:
    """``pomdp=True`` only on envs whose velocity layout is listed (``EnvFamily.pomdp_supported``)."""
    name = env.partition("/")[2]
    if pomdp_on and not spec.pomdp_supported(name):
        raise ConfigError(f"config.env.pomdp=True: the velocity layout of {env} is unknown; use one of "
                          f"{', '.join(pomdp_names())} or set config.env.pomdp=False")


def check_pixels(spec: EnvFamily, env: str, backend: str, pixels, pomdp_on: bool, impl: str) -> None:
    """Pixel observations only where a MuJoCo scene is stepped by MJX-JAX (the camera casts rays into it: Brax's
    mjx backend, Playground on jax), and not with the partially observable setting (a frame shows no velocity to
    drop)."""
    if not pixels:
        return
    where = f"{env}{f' on the {backend} backend' if spec.backends else ''}"
    if not spec.solver_settings(backend):
        raise ConfigError(f"config.env.pixels={pixels}: the camera draws MuJoCo scenes (brax and mbbl envs on the mjx "
                          f"backend, playground envs), not {where}; use pixels=0 or such an env")
    if impl != "jax":
        raise ConfigError(f"config.env.pixels={pixels}: the camera casts rays with MJX-JAX, not impl={impl}; use "
                          "--config.env.impl=jax")
    if pomdp_on:
        raise ConfigError(f"config.env.pixels={pixels}: pixels and pomdp=True are two observation settings; frames "
                          "already hide velocities: use one of them")


def check_settings(env: str, backend: str, *, early_termination: bool, pomdp_on: bool, pomdp_history,
                   action_repeat, physics: str, pixels=0, frame_stack=3, camera=0,
                   impl: str = "jax") -> tuple[EnvFamily, str]:
    """Every rule above, in the order the validator reports them; raises the first ``ConfigError``. Returns the env's
    (family, name), looked up once here (``families.family_of``: an unknown env is refused first) for the caller."""
    spec, name = family_of(env)
    check_action_repeat(action_repeat)
    pomdp.check_history(pomdp_history)
    check_backend(spec, env, backend)
    check_physics(spec, env, backend, physics)
    check_pomdp(spec, env, pomdp_on)
    check_early_termination(spec, env, early_termination)
    pixel_obs.check_pixels(pixels, frame_stack, camera)
    check_pixels(spec, env, backend, pixels, pomdp_on, impl)
    return spec, name
