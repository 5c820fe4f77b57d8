"""DDPG presets: ``fast`` (CPU minutes on gymnax/Pendulum-v1), ``paper`` (TD3's DMC settings without TD3's twin
critic, smoothing and delay: the baseline for a base algorithm the Diff-SR paper did not run) and ``study`` (``paper``
at 200k frames). The actor-critic is TD3's (``td3.protocol``: observation normalisation, the actor's LayerNorm).

``--agent=diffsr_ddpg`` runs the same presets on the Diff-SR representation (experiments/configs/diffsr.py).
"""

from experiments.configs.base import dmc_budget, fast_budget, preset_config
from experiments.configs.td3 import protocol


def _paper(c):
    dmc_budget(c)
    protocol(c, expl_noise=0.2)
    c.replay.normalize_clip = 0.0
    c.actor_critic.actor_init = "torch"
    c.mlp_critic.update(hidden=(512, 512, 512), activation="elu", hidden_layer_norm=True, init="torch")


def _study(c):
    _paper(c)
    c.run.total_steps = 200_000


def get_config(preset: str = "fast"):
    return preset_config("ddpg", preset, fast=fast_budget, study=_study, paper=_paper)
