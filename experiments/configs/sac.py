"""SAC presets: ``fast`` (CPU minutes on gymnax/Pendulum-v1) and ``paper`` (the Diff-SR paper's SAC baseline).

    --config=experiments/configs/sac.py:paper --config.env=brax/halfcheetah
"""

from experiments.configs.base import fast_budget, mbbl_budget, preset_config


def _fast(c):
    fast_budget(c)
    c.sac.update(init_alpha=0.1, alpha_lr=1e-3)


def _paper(c):
    mbbl_budget(c)
    c.actor_critic.activation = "elu"
    c.sac.update(init_alpha=0.1, target_update_every=2)
    c.mlp_critic.activation = "elu"


def get_config(preset: str = "fast"):
    return preset_config("sac", preset, fast=_fast, paper=_paper)
