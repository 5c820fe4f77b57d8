"""Diff-SR-SAC presets.

``paper``: spec section 3 exactly (rl-rep diffsrsac): psi MLP 256 (ELU) -> F=256, zeta MLP 512 (ELU) -> F x d_s on
concat(x_noisy, alpha_bar); beta_cdf grid of 1000 levels, noise scale 0.449, score parameterisation; psi/zeta Adam
3e-3 with 4 updates per env step on fresh batches of 256; twin sin-RFF critic (256 -> 256 -> ELU -> 1) on the online
psi, no critic gradient into psi; SAC 256x2 ELU actor, lr 3e-4, gamma 0.99, tau 0.005, targets every 2 updates,
alpha learned from 0.1 with target entropy -|A|; 25k random steps, 200k env steps, eval every 5k with 10 episodes.

``fast``: the same algorithm at sizes that learn gymnax/Pendulum-v1 on a laptop CPU in a few minutes.
"""

from experiments.configs.base import fast_budget, mbbl_budget, preset_config
from experiments.configs.diffsr import with_representation


def _common(c):
    c.actor_critic.activation = "elu"
    c.sac.update(init_alpha=0.1, target_update_every=2)


def _fast(c):
    _common(c)
    fast_budget(c)
    with_representation(c, "fast")
    c.sac.alpha_lr = 1e-3


def _paper(c):
    _common(c)
    mbbl_budget(c)
    with_representation(c, "paper")


def get_config(preset: str = "fast"):
    return preset_config("diffsr_sac", preset, fast=_fast, paper=_paper)
