"""``config.env``: which environment, how it is stepped and reset."""

from __future__ import annotations

import importlib.util

import ml_collections

from diffsr_jax.envs import rules
from diffsr_jax.envs.autoreset import AUTO_RESET_MODES
from diffsr_jax.envs.physics import PHYSICS
from diffsr_jax.fields import Fields


def env_defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.name = "gymnax/Pendulum-v1"  # <family>/<name>: brax/<name>, mbbl/<name>, playground/<Name>, gymnax/<name>
    g.backend = "mjx"  # brax backend: mjx, generalized, positional, spring
    g.physics = "auto"  # MuJoCo solver (brax mjx, playground): native (the env's own) | i<N>ls<M>[_nodamp] (N solver,
    #                     M line-search iterations; light = i1ls4_nodamp) | auto: per env, the fastest setting measured
    #                     faithful to native (envs.families), else native
    g.impl = "jax"  # playground's MuJoCo implementation: jax | warp (MuJoCo Warp, on a GPU; jax itself stays on the CPU)
    g.episode_length = 0  # env frames per episode; 0: the env's own time limit
    g.action_repeat = 1  # env frames per agent decision (rewards summed; a termination ends the repeat)
    g.early_termination = True  # brax ant/hopper/humanoid/walker2d end an episode on falling (the paper's -ET tasks)
    g.pomdp = False  # partial observability (paper App. E): drop the velocity entries of each observation ...
    g.pomdp_history = 3  # ... and feed the concatenation of the last pomdp_history of them
    g.pixels = 0  # 0: state vectors; N: the agent sees N x N camera frames (envs.pixels; brax/mbbl on mjx, playground)
    g.frame_stack = 3  # frames stacked into one pixel observation (the official image runs: 3)
    g.camera = 0  # the model's camera of this index (DMC and Brax models have one), or -1: a camera tracking body 1
    g.num_envs = 1  # parallel envs per seed
    g.auto_reset = "pool"  # pool: ended episodes restart from a pool of fresh initial states | every_step: exact
    g.reset_pool_size = 16  # fresh initial states in the pool (at least num_envs)
    g.reset_pool_refill = 256  # iterations between pool refills
    return g


def validate_env(config) -> None:
    """Check ``config.env``: field types and choices here, the rules the factory enforces too in ``envs.rules``
    (the same function, the same message); raises a one-line ``ConfigError``."""
    g = config.env
    f = Fields(g, "env")
    f.integer("num_envs", "reset_pool_size", "reset_pool_refill")
    f.integer("episode_length", minimum=0)
    f.choice("auto_reset", AUTO_RESET_MODES)
    f.choice("physics", PHYSICS)
    f.choice("impl", ("jax", "warp"))
    spec, _ = rules.check_settings(g.name, g.backend, early_termination=bool(g.early_termination),
                                   pomdp_on=bool(g.pomdp), pomdp_history=g.pomdp_history,
                                   action_repeat=g.action_repeat, physics=g.physics, pixels=g.pixels,
                                   frame_stack=g.frame_stack, camera=g.camera, impl=g.impl)
    if g.impl != "jax":
        if not spec.impls:
            f.fail("impl", f"={g.impl}: only playground envs choose their MuJoCo implementation; drop it")
        if importlib.util.find_spec("warp") is None:
            f.fail("impl", "=warp needs MuJoCo Warp on a GPU: pip install warp-lang (mujoco-mjx's [warp] extra), or "
                   "use impl=jax")
