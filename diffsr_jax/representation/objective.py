"""The denoising score-matching objective for psi, zeta, with psi already computed.

The score of the noised next state factorises as psi(s, a)^T zeta(x_noisy, level). The caller computes psi once
(it is shared with the reward head and the critic) and passes ``zeta_fn(x_noisy, level, alpha_bar) -> (B, F, d_s)``;
the objective draws the levels and the noise, builds the prediction psi^T zeta and scores it (eps_hat or the score,
depending on ``parameterization``; see ``diffusion.loss``).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from diffsr_jax.diffusion import NoiseSchedule, corrupt, denoising_loss
from diffsr_jax.representation.score import factorized_score


def _batch_loss(psi, zeta_fn, key, next_obs, level, alpha_bar, parameterization, noise_scale, sigma_power):
    """Batch mean of the per-row loss at the given per-row levels (B,) int and alpha_bar (B,)."""
    chex.assert_shape([level, alpha_bar], next_obs.shape[:1])
    x_noisy, eps = corrupt(key, next_obs, alpha_bar, noise_scale)
    zeta = zeta_fn(x_noisy, level, alpha_bar)
    chex.assert_shape(zeta, psi.shape + next_obs.shape[1:])  # (B, F, d_s)
    pred = factorized_score(psi, zeta)
    return jnp.mean(denoising_loss(pred, eps, alpha_bar, parameterization, noise_scale, sigma_power))


def score_matching_loss(psi, zeta_fn, key, next_obs, schedule: NoiseSchedule, parameterization: str,
                        noise_scale: float = 1.0, levels=None, sigma_power: int = 2):
    """Denoising score-matching loss of the factorised model.

    Args:
      psi: (B, F) features of (s, a).
      zeta_fn: (x_noisy (B, d_s), level (B,) int, alpha_bar (B,)) -> zeta (B, F, d_s).
      key: PRNG key for the levels and the noise.
      next_obs: (B, d_s) the clean next states.
      levels: None -> one level per row drawn uniformly from the schedule, returns a scalar (the training loss);
        (L,) ints -> the batch-mean loss at each level, all at once with ``vmap``, returns (L,); level ``levels[i]``
        uses noise from ``jax.random.split(key, L)[i]``.
      sigma_power: the score parameterisation's weighting (``diffusion.denoising_loss``).
    """
    chex.assert_rank([psi, next_obs], 2)
    chex.assert_equal_shape_prefix([psi, next_obs], 1)  # the same B rows
    batch = next_obs.shape[0]
    if levels is None:
        k_level, k_noise = jax.random.split(key)
        level = jax.random.randint(k_level, (batch,), 0, schedule.num_levels)
        loss = _batch_loss(psi, zeta_fn, k_noise, next_obs, level, schedule.alpha_bar[level], parameterization,
                           noise_scale, sigma_power)
        chex.assert_shape(loss, ())
        return loss
    levels = jnp.asarray(levels, jnp.int32)
    chex.assert_rank(levels, 1)

    def at(k, lvl):
        level = jnp.full((batch,), lvl)
        return _batch_loss(psi, zeta_fn, k, next_obs, level, schedule.alpha_bar[level], parameterization, noise_scale,
                           sigma_power)

    per_level = jax.vmap(at)(jax.random.split(key, levels.shape[0]), levels)
    chex.assert_shape(per_level, levels.shape)
    return per_level
