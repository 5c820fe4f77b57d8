"""DDPG presets: ``fast`` (CPU minutes on gymnax/Pendulum-v1) and ``paper`` (TD3's DMC sizes without TD3's twin
critic, smoothing and delay: the baseline for a base algorithm the Diff-SR paper did not run).

``--agent=diffsr_ddpg`` runs the same preset on the Diff-SR representation (experiments/configs/diffsr.py).
"""

from experiments.configs.base import dmc_budget, fast_budget, preset_config


def _paper(c):
    dmc_budget(c)
    c.mlp_critic.hidden = (512, 512, 512)


def get_config(preset: str = "fast"):
    return preset_config("ddpg", preset, fast=fast_budget, paper=_paper)
