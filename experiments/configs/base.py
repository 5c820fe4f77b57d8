"""What every preset starts from: ``base_config()`` (all groups with their defaults, see ``diffsr_jax.config``),
the budgets presets share, and ``preset_config`` that applies a named preset.

Sizes and loop lengths are static (a change recompiles); the agents' traced hyperparameters (learning rates,
gamma, tau, noise scales, ...) are values in the train state, so they can be vmapped (``--sweep``).
"""

import ml_collections

from diffsr_jax.config import default_config


def base_config() -> ml_collections.ConfigDict:
    return default_config()


def mbbl_budget(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The paper's state-MDP run (spec section 5) on MBBL's HalfCheetah (``mbbl/halfcheetah``, Brax mjx): 200k env
    steps, 25k random warm-up steps, evaluation every 5k steps with 10 episodes."""
    c.env.name = "mbbl/halfcheetah"
    c.run.update(total_steps=200_000, warmup_steps=25_000, eval_every=5_000, eval_episodes=10)
    return c


def fast_budget(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The CPU ``fast`` presets' run on gymnax/Pendulum-v1: 12k env frames, 1k random warm-up frames, evaluation
    every 1k; 128x128 actor and critic, actor and critic learning rates 1e-3."""
    c.run.update(total_steps=12_000, warmup_steps=1_000, eval_every=1_000)
    c.actor_critic.update(actor_hidden=(128, 128), actor_lr=1e-3, critic_lr=1e-3)
    c.mlp_critic.hidden = (128, 128)
    return c


def dmc_budget(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The DMC run of spec section 4 on playground/CheetahRun: action repeat 2, 1M env frames (500k decisions),
    10k random frames, evaluation every 10k frames; batch 512, running observation normalisation, a 512x3 actor
    with LayerNorm, exploration noise 0.2."""
    c.env.update(name="playground/CheetahRun", action_repeat=2)
    c.run.update(total_steps=1_000_000, warmup_steps=10_000, eval_every=10_000)
    c.replay.update(batch_size=512, normalize_obs=True)
    c.actor_critic.update(actor_hidden=(512, 512, 512), actor_layer_norm=True)
    c.td3.expl_noise = c.ddpg.expl_noise = 0.2
    return c


def preset_config(agent: str, preset: str, **presets) -> ml_collections.ConfigDict:
    """``base_config()`` for ``agent`` with ``presets[preset](c)`` applied; an unknown preset is a ValueError naming
    the valid ones (the launcher prints it as one line)."""
    if preset not in presets:
        raise ValueError(f"unknown {agent} preset {preset!r}; choose one of {', '.join(presets)}")
    c = base_config()
    c.run.agent, c.run.preset = agent, preset
    presets[preset](c)
    return c
