"""Training loss of trajectory diffusion models (PolyGRAD world model, Diffuser-style planner)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from diffsr_jax.diffusion.corruption import corrupt
from diffsr_jax.diffusion.schedules import NoiseSchedule


def trajectory_denoising_loss(eps_fn, schedule: NoiseSchedule, x0, cond, valid, key, scale_cond: bool = True):
    """Masked eps-prediction loss on whole trajectories, one random level per trajectory.

    Args:
      eps_fn: (x_k (B, H, d_x), cond (B, H, d_c), k (B,)) -> eps_hat (B, H, d_x).
      x0: (B, H, d_x) clean trajectories; cond: (B, H, d_c) clean conditioning (d_c may be 0).
      valid: (B, H) 1 for steps inside the trajectory's episode; other rows carry no loss.
      scale_cond: feed sqrt(abar_k) * cond, the conditioning's signal scale at level k (as PolyGRAD does with actions).
    Returns:
      scalar loss: mean squared eps error per valid entry.
    """
    chex.assert_rank([x0, cond, valid], [3, 3, 2])
    chex.assert_equal_shape_prefix([x0, cond, valid], 2)  # (B, H) in all three
    k_level, k_noise = jax.random.split(key)
    b = x0.shape[0]
    k = jax.random.randint(k_level, (b,), 0, schedule.num_levels)
    ab = schedule.alpha_bar[k]
    x_k, eps = corrupt(k_noise, x0, ab)
    if scale_cond:
        cond = jnp.sqrt(ab)[:, None, None] * cond
    eps_hat = eps_fn(x_k, cond, k)
    chex.assert_equal_shape([eps_hat, eps, x0])  # (B, H, d_x)
    err = jnp.mean((eps_hat - eps) ** 2, axis=-1)
    loss = jnp.sum(err * valid) / jnp.maximum(jnp.sum(valid), 1.0)
    chex.assert_shape(loss, ())
    return loss
