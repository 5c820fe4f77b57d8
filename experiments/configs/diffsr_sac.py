"""Diff-SR-SAC presets.

``paper``: spec section 3 exactly (rl-rep diffsrsac): psi MLP 256 (ELU) -> F=256, zeta MLP 512 (ELU) -> F x d_s on
concat(x_noisy, alpha_bar); beta_cdf grid of 1000 levels, noise scale 0.449, score parameterisation; psi/zeta Adam
3e-3 with 4 updates per env step on fresh batches of 256; twin sin-RFF critic (256 -> 256 -> ELU -> 1) on the online
psi, no critic gradient into psi; SAC 256x2 ELU actor, lr 3e-4, gamma 0.99, tau 0.005, targets every 2 updates,
alpha learned from 0.1 with target entropy -|A|; 25k random steps, 200k env steps, eval every 5k with 10 episodes.

``fast``: the same algorithm at sizes that learn gymnax/Pendulum-v1 on a laptop CPU in a few minutes.
"""

from experiments.configs.base import base_config, mbbl_budget
from experiments.configs.diffsr import with_representation


def get_config(preset: str = "fast"):
    c = base_config()
    c.agent = "diffsr_sac"
    c.preset = preset
    c.activation = "elu"
    c.init_alpha = 0.1
    c.target_update_every = 2
    if preset == "paper":
        mbbl_budget(c)
    elif preset == "fast":
        c.total_steps = 12_000
        c.warmup_steps = 1_000
        c.eval_every = 1_000
        with_representation(c, "fast")
        c.actor_hidden = (128, 128)
        c.actor_lr = 1e-3
        c.critic_lr = 1e-3
        c.alpha_lr = 1e-3
    else:
        raise ValueError(f"unknown diffsr_sac preset {preset!r}; choose fast or paper")
    return c
