"""SAC presets; ``diffsr_sac`` runs the same presets with its critic replaced (``experiments/configs/diffsr_sac.py``),
so the two agents of a pair differ only in the critic and the representation (tests/test_presets_pairs.py).

The actor-critic is rl-rep's SAC at every preset (spec section 3): 256x2 ELU tanh-Gaussian actor, targets every 2
updates, alpha learned from 0.1 with target entropy -|A|.

- ``fast``: CPU minutes on gymnax/Pendulum-v1 (128x128 networks, lr 1e-3, alpha lr 1e-3, Flax's default init).
- ``study`` / ``paper``: the paper's run on MBBL's HalfCheetah (``mbbl_budget``: 200k frames, 25k random warm-up,
  evaluation every 5k with 10 episodes) with rl-rep's loop and initialisation: orthogonal actor layers, 1% uniform
  random actions after warm-up, lr 3e-4 everywhere, and, for SAC's own MLP critic, rl-rep's (ELU, orthogonal). The
  two presets differ only in Diff-SR's representation (``diffsr.py``); SAC itself is the same.

    --config=experiments/configs/sac.py:paper --env=mbbl/hopper_et
"""

from experiments.configs.base import fast_budget, mbbl_budget, preset_config


def _protocol(c):
    """rl-rep's SAC, shared by every preset."""
    c.actor_critic.activation = "elu"
    c.sac.update(init_alpha=0.1, target_update_every=2)


def _fast(c):
    _protocol(c)
    fast_budget(c)
    c.sac.alpha_lr = 1e-3


def _official(c):
    """rl-rep's loop and initialisation (spec section 3; its main.py and utils.weight_init)."""
    _protocol(c)
    mbbl_budget(c)
    c.actor_critic.actor_init = "orthogonal"
    c.run.random_action_prob = 0.01
    c.mlp_critic.update(activation="elu", init="orthogonal")  # the critic group: SAC's own critic, as rl-rep's SAC


def get_config(preset: str = "fast"):
    return preset_config("sac", preset, fast=_fast, study=_official, paper=_official)
