"""The CPU-sized trajectory model the sampling-based baselines' ``fast`` presets share (config.trajectory_model holds
PolyGRAD's published sizes as defaults)."""

from experiments.configs.base import fast_budget


def use_cpu_trajectory_model(c):
    """gymnax/Pendulum-v1, 12k env frames: a 256-wide 4-layer denoiser, time embedding 32, diffusion batch 128,
    denoiser lr 1e-3, 128-wide actor/critic."""
    fast_budget(c)
    c.trajectory_model.update(width=256, layers=4, time_embed_dim=32, batch=128, lr=1e-3)
    return c
