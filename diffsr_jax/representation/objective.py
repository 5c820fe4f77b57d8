"""The denoising score-matching objective for psi, zeta.

``apply_fn(params, obs, action, x_noisy, level, alpha_bar) -> pred (B, d_s)`` is any model with the
signature of ``DiffusionRepresentation.apply``; ``pred`` is eps_hat or the score depending on
``parameterization``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diffsr_jax.diffusion import NoiseSchedule, corrupt, denoising_loss


def _level_loss(apply_fn, params, key, obs, action, next_obs, level, alpha_bar, parameterization, noise_scale):
    x_noisy, eps = corrupt(key, next_obs, alpha_bar, noise_scale)
    pred = apply_fn(params, obs, action, x_noisy, level, alpha_bar)
    return denoising_loss(pred, eps, alpha_bar, parameterization, noise_scale)


def representation_loss(
    apply_fn, params, key, obs, action, next_obs, schedule: NoiseSchedule, parameterization: str,
    noise_scale: float = 1.0,
):
    """Mean over the batch of the denoising loss, one uniformly drawn level per row.

    obs (B, d_s), action (B, d_a), next_obs (B, d_s) -> scalar.
    """
    k_level, k_noise = jax.random.split(key)
    level = jax.random.randint(k_level, (obs.shape[0],), 0, schedule.num_levels)
    alpha_bar = schedule.alpha_bar[level]
    rows = _level_loss(
        apply_fn, params, k_noise, obs, action, next_obs, level, alpha_bar, parameterization, noise_scale
    )
    return jnp.mean(rows)


def per_level_losses(
    apply_fn, params, key, obs, action, next_obs, schedule: NoiseSchedule, levels, parameterization: str,
    noise_scale: float = 1.0,
):
    """The batch-mean loss at each of the given levels, all at once with ``vmap``.

    levels (L,) int -> (L,). Level ``levels[i]`` uses noise from ``jax.random.split(key, L)[i]``.
    """
    levels = jnp.asarray(levels, jnp.int32)
    keys = jax.random.split(key, levels.shape[0])
    batch = obs.shape[0]

    def one(k, lvl):
        level = jnp.full((batch,), lvl)
        alpha_bar = jnp.full((batch,), schedule.alpha_bar[lvl])
        rows = _level_loss(
            apply_fn, params, k, obs, action, next_obs, level, alpha_bar, parameterization, noise_scale
        )
        return jnp.mean(rows)

    return jax.vmap(one)(keys, levels)
