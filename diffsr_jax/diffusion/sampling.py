"""The reverse (denoising) chain that sampling-based diffusion methods pay for and Diff-SR never runs.

DDPM ancestral sampling with an eps-predictor on a discrete schedule (level 0 least noisy):
  x0_hat   = (x_k - sqrt(1 - abar_k) eps_hat) / sqrt(abar_k)
  x_{k-1}  = c0_k x0_hat + ck_k x_k + sigma_k z,     z ~ N(0, I), no noise at k = 0
with the posterior q(x_{k-1} | x_k, x0) coefficients
  c0_k = sqrt(abar_{k-1}) beta_k / (1 - abar_k),  ck_k = sqrt(alpha_k) (1 - abar_{k-1}) / (1 - abar_k),
  sigma_k^2 = beta_k (1 - abar_{k-1}) / (1 - abar_k),  abar_{-1} := 1.
"""

from __future__ import annotations

from collections.abc import Callable

import chex
import flax.struct
import jax
import jax.numpy as jnp

from diffsr_jax.diffusion.schedules import NoiseSchedule


@flax.struct.dataclass
class PosteriorCoefficients:
    """Per-level (K,) arrays of the Gaussian posterior q(x_{k-1} | x_k, x0)."""

    coef_x0: jnp.ndarray
    coef_xt: jnp.ndarray
    std: jnp.ndarray
    alpha_bar: jnp.ndarray


def posterior_coefficients(schedule: NoiseSchedule) -> PosteriorCoefficients:
    abar = schedule.alpha_bar
    abar_prev = jnp.concatenate([jnp.ones(1, abar.dtype), abar[:-1]])
    beta = schedule.beta
    alpha = 1.0 - beta
    coef_x0 = jnp.sqrt(abar_prev) * beta / (1.0 - abar)
    coef_xt = jnp.sqrt(alpha) * (1.0 - abar_prev) / (1.0 - abar)
    var = beta * (1.0 - abar_prev) / (1.0 - abar)
    return PosteriorCoefficients(coef_x0, coef_xt, jnp.sqrt(jnp.maximum(var, 0.0)), abar)


def predict_x0(post: PosteriorCoefficients, x_k, eps_hat, k):
    """Clean sample implied by an eps prediction at level k (scalar int)."""
    chex.assert_rank(k, 0)
    chex.assert_equal_shape([x_k, eps_hat])
    ab = post.alpha_bar[k]
    return (x_k - jnp.sqrt(1.0 - ab) * eps_hat) / jnp.sqrt(ab)


def posterior_step(post: PosteriorCoefficients, x_k, x0_hat, k, key):
    """One ancestral step: sample x_{k-1} ~ q(. | x_k, x0_hat); the mean itself at k = 0. Returns (x, std_k)."""
    chex.assert_rank(k, 0)
    chex.assert_equal_shape([x_k, x0_hat])
    mean = post.coef_x0[k] * x0_hat + post.coef_xt[k] * x_k
    std = jnp.where(k > 0, post.std[k], 0.0)
    return mean + std * jax.random.normal(key, x_k.shape, x_k.dtype), std


def sample_chain(
    schedule: NoiseSchedule,
    eps_fn: Callable,
    key: jax.Array,
    shape: tuple,
    condition: Callable | None = None,
    clip_x0: float | None = None,
):
    """Draw samples with the full reverse chain (K = schedule.num_levels denoiser evaluations).

    Args:
      eps_fn: (x_k (*shape), k scalar int32) -> eps_hat (*shape).
      shape: sample shape, e.g. (B, d).
      condition: optional x -> x that re-imposes known entries (e.g. the observed first state) after every step.
      clip_x0: optional bound on |x0_hat| (data normalised to about unit scale).
    Returns:
      x0 samples (*shape).
    """
    post = posterior_coefficients(schedule)
    cond = condition if condition is not None else (lambda x: x)
    k_init, k_steps = jax.random.split(key)
    x = cond(jax.random.normal(k_init, shape))

    def step(x, xs):
        k, kk = xs
        eps_hat = eps_fn(x, k)
        chex.assert_shape(eps_hat, shape)  # eps_fn: (*shape) -> (*shape)
        x0 = predict_x0(post, x, eps_hat, k)
        if clip_x0 is not None:
            x0 = jnp.clip(x0, -clip_x0, clip_x0)
        x, _ = posterior_step(post, x, cond(x0), k, kk)
        return cond(x), None

    levels = jnp.arange(schedule.num_levels - 1, -1, -1, dtype=jnp.int32)
    x, _ = jax.lax.scan(step, x, (levels, jax.random.split(k_steps, schedule.num_levels)))
    chex.assert_shape(x, shape)
    return x
