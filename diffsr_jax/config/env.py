"""``config.env``: which environment, how it is stepped and reset."""

from __future__ import annotations

import ml_collections

from diffsr_jax.config.checks import ConfigError, Fields


def env_defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.name = "gymnax/Pendulum-v1"  # <family>/<name>: brax/<name>, playground/<Name>, gymnax/<name>
    g.backend = "mjx"  # brax backend: mjx, generalized, positional, spring
    g.physics = "auto"  # MuJoCo solver (brax mjx, playground): native (the env's own) | light (1 iteration, 4 line-search
    #                     iterations, no Euler damping) | auto: light where measured faithful (envs.physics), else native
    g.impl = "jax"  # playground's MuJoCo implementation: jax | warp (MuJoCo Warp, on a GPU; jax itself stays on the CPU)
    g.episode_length = 0  # env frames per episode; 0: the env's own time limit
    g.action_repeat = 1  # env frames per agent decision (rewards summed; a termination ends the repeat)
    g.early_termination = True  # brax ant/hopper/humanoid/walker2d end an episode on falling (the paper's -ET tasks)
    g.pomdp = False  # partial observability (paper App. E): drop the velocity entries of each observation ...
    g.pomdp_history = 3  # ... and feed the concatenation of the last pomdp_history of them
    g.num_envs = 1  # parallel envs per seed
    g.auto_reset = "pool"  # pool: ended episodes restart from a pool of fresh initial states | every_step: exact
    g.reset_pool_size = 16  # fresh initial states in the pool (at least num_envs)
    g.reset_pool_refill = 256  # iterations between pool refills
    return g


def validate_env(config) -> None:
    from diffsr_jax.envs import AUTO_RESET_MODES
    from diffsr_jax.envs.physics import PHYSICS
    from diffsr_jax.envs.registry import ENV_FAMILIES, validate_env_name

    g = config.env
    try:
        family, name = validate_env_name(g.name)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    f = Fields(g, "env")
    f.integer("num_envs", "action_repeat", "reset_pool_size", "reset_pool_refill", "pomdp_history")
    f.integer("episode_length", minimum=0)
    f.choice("auto_reset", AUTO_RESET_MODES)
    spec = ENV_FAMILIES[family]
    if spec.backends:
        f.choice("backend", spec.backends)
    f.choice("physics", PHYSICS)
    if g.physics == "light" and not spec.light_physics(g.backend):
        f.fail("physics", f"=light: the light MuJoCo solver setting applies to Brax's mjx backend and Playground envs, "
               f"not {g.name}{f' on the {g.backend} backend' if spec.backends else ''}; use native or auto")
    f.choice("impl", ("jax", "warp"))
    if g.impl != "jax":
        if not spec.impls:
            f.fail("impl", f"={g.impl}: only playground envs choose their MuJoCo implementation; drop it")
        import importlib.util

        if importlib.util.find_spec("warp") is None:
            f.fail("impl", "=warp needs MuJoCo Warp on a GPU: pip install warp-lang (mujoco-mjx's [warp] extra), or "
                   "use impl=jax")
    if g.pomdp and not spec.pomdp_supported(name):
        f.fail("pomdp", f"=True: the velocity layout of {g.name} is unknown; use one of "
               f"{', '.join(pomdp_names())} or set config.env.pomdp=False")
    if not g.early_termination and name not in spec.early_termination:
        f.fail("early_termination", f"=False: {g.name} has no termination on falling to turn off (it applies to "
               f"{', '.join(f'{family}/{n}' for n in spec.early_termination) or 'no env of its family'}); drop it")


def pomdp_names() -> list[str]:
    from diffsr_jax.envs.pomdp import pomdp_supported_names

    return pomdp_supported_names()
