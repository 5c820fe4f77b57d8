"""Noise schedules, forward corruption and denoising score-matching losses.

Public API (stable):
  make_schedule(kind, num_levels, **kwargs) -> NoiseSchedule
  corrupt(key, x0, alpha_bar, noise_scale=1.0) -> (x_noisy, eps)
  denoising_loss(pred, eps, alpha_bar, parameterization, noise_scale=1.0) -> (B,)
"""

from diffsr_jax.diffusion.corruption import corrupt
from diffsr_jax.diffusion.loss import PARAMETERIZATIONS, denoising_loss, pred_to_score
from diffsr_jax.diffusion.schedules import SCHEDULE_KINDS, NoiseSchedule, make_schedule

__all__ = [
    "PARAMETERIZATIONS",
    "SCHEDULE_KINDS",
    "NoiseSchedule",
    "corrupt",
    "denoising_loss",
    "make_schedule",
    "pred_to_score",
]
