"""DDPG presets: ``fast`` (CPU minutes on gymnax/Pendulum-v1), ``paper`` (TD3's DMC settings without TD3's twin
critic, smoothing and delay: the baseline for a base algorithm the Diff-SR paper did not run) and ``study`` (``paper``
at 200k frames). ``paper`` is ``td3.official``: the actor-critic, loop and MLP critic of spectral-rl2's TD3 (observation
normalisation, the actor's LayerNorm, PyTorch's init; TD3's own group is unused by DDPG).

``--agent=diffsr_ddpg`` runs the same presets on the Diff-SR representation (experiments/configs/diffsr.py).
"""

from experiments.configs.base import fast_budget, preset_config
from experiments.configs.td3 import official


def _study(c):
    official(c)
    c.run.total_steps = 200_000


def get_config(preset: str = "fast"):
    return preset_config("ddpg", preset, fast=fast_budget, study=_study, paper=official)
