"""Denoising score-matching losses in the two published parameterisations.

With x = sqrt(a) x0 + sqrt(1-a) sigma eps (a = alpha_bar, sigma = noise_scale):
- "eps":   pred is eps_hat; loss = sum_j (eps_hat - eps)^2.
- "score": loss = sum_j ((1-a) sigma^p pred + sqrt(1-a) sigma eps)^2, minimised at pred = -eps / (sqrt(1-a)
           sigma^(p-1)). With p = 2 (``sigma_power``) pred is the score of the perturbed kernel, and with sigma = 1
           the loss is the paper's Eq. 18, beta * ||eps + sqrt(beta) pred||^2 (beta = 1 - a); p = 1 is rl-rep's coded
           loss, whose pred is sigma x that score (the same loss values at the minimiser's scale).
Both are summed over state dims; callers average over the batch.
"""

from __future__ import annotations

import chex
import jax.numpy as jnp

from diffsr_jax.diffusion.corruption import _per_row

PARAMETERIZATIONS = ("eps", "score")


def _check(parameterization: str):
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(
            f"unknown parameterization {parameterization!r}; choose one of {', '.join(PARAMETERIZATIONS)}"
        )


def denoising_loss(pred, eps, alpha_bar, parameterization: str, noise_scale: float = 1.0, sigma_power: int = 2):
    """Per-row denoising loss.

    Args:
      pred: (B, d) network output (eps_hat or score).
      eps: (B, d) the noise used by ``corrupt``.
      alpha_bar: scalar or (B,).
      parameterization: "eps" or "score".
      noise_scale: the ``noise_scale`` given to ``corrupt``.
      sigma_power: "score" only: the power of ``noise_scale`` weighting ``pred`` (2: pred is the score; 1: rl-rep's).
    Returns:
      (B,) loss summed over the trailing dims.
    """
    _check(parameterization)
    if pred.shape != eps.shape:
        raise ValueError(f"pred shape {pred.shape} does not match eps shape {eps.shape}")
    chex.assert_type([pred, eps], float)
    if parameterization == "eps":
        err = pred - eps
    else:
        one_minus = 1.0 - _per_row(alpha_bar, eps)
        err = one_minus * noise_scale**sigma_power * pred + jnp.sqrt(one_minus) * noise_scale * eps
    loss = jnp.sum(err.reshape(err.shape[0], -1) ** 2, axis=-1)
    chex.assert_shape(loss, pred.shape[:1])  # one loss per row
    return loss


def pred_to_score(pred, alpha_bar, parameterization: str, noise_scale: float = 1.0, sigma_power: int = 2):
    """Convert a network output to the score of the perturbed kernel, grad_x log p(x | s, a; level).

    For "eps" the score is -eps_hat / (sqrt(1 - alpha_bar) * noise_scale); for "score" it is
    pred / noise_scale^(2 - sigma_power) (``denoising_loss``'s minimiser).
    """
    _check(parameterization)
    if parameterization == "score":
        return pred / noise_scale ** (2 - sigma_power)
    score = -pred / (jnp.sqrt(1.0 - _per_row(alpha_bar, pred)) * noise_scale)
    chex.assert_equal_shape([score, pred])
    return score
