"""TD3 presets; ``diffsr_td3`` runs the same presets with its critic replaced (``experiments/configs/diffsr_td3.py``),
so the two agents of a pair differ only in the critic and the representation (tests/test_presets_pairs.py).

The actor-critic is spectral-rl2's TD3 as its Diff-SR-TD3 runs it (spec section 4), at every preset: running
observation normalisation (both agents: the official TD3 has none and its Diff-SR-TD3 has it, a confound not kept),
LayerNorm in the actor, target smoothing 0.2 clipped 0.3, actor and targets every update, actor loss -mean(Q1, Q2).

- ``fast``: CPU minutes on gymnax/Pendulum-v1 (6k frames, 128x128 networks, lr 1e-3, exploration noise 0.1).
- ``paper``: the DMC run (``dmc_budget``: action repeat 2, 1M frames, batch 512, 512x3 actor, exploration 0.2) with
  spectral-rl2's details: PyTorch's default init, normalised observations not clipped, and for TD3's own critic
  512x3 with LayerNorm and ELU (the critic group).
- ``study``: ``paper`` at 200k frames (the DMC study's budget), everything else the same.
"""

from experiments.configs.base import dmc_budget, fast_budget, preset_config


def protocol(c, expl_noise: float):
    """spectral-rl2's TD3 actor-critic, shared by every preset (also DDPG's presets, without TD3's own group)."""
    c.replay.normalize_obs = True
    c.actor_critic.actor_layer_norm = True
    c.td3.update(expl_noise=expl_noise, policy_noise=0.2, noise_clip=0.3, policy_delay=1, actor_q_reduce="mean")


def _fast(c):
    fast_budget(c)
    protocol(c, expl_noise=0.1)
    c.run.total_steps = 6_000


def official(c):
    """spectral-rl2's DMC settings (spec section 4), the actor-critic and TD3's own critic."""
    dmc_budget(c)
    protocol(c, expl_noise=0.2)
    c.replay.normalize_clip = 0.0  # spectral-rl2's normaliser does not clip
    c.actor_critic.actor_init = "torch"
    c.mlp_critic.update(hidden=(512, 512, 512), activation="elu", hidden_layer_norm=True, init="torch")


def _study(c):
    official(c)
    c.run.total_steps = 200_000


def get_config(preset: str = "fast"):
    return preset_config("td3", preset, fast=_fast, study=_study, paper=official)
