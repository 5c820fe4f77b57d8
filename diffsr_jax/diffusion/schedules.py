"""Discrete noise schedules.

Level index 0 is the least noisy. ``alpha_bar[t]`` is the signal fraction at level t
(x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps) and ``beta[t] = 1 - alpha_bar[t] / alpha_bar[t-1]``
is the per-step noise (with alpha_bar[-1] := 1).
"""

from __future__ import annotations

import math

import chex
import flax.struct
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import betainc



@flax.struct.dataclass
class NoiseSchedule:
    """A discrete noise schedule with T levels.

    Attributes:
      alpha_bar: (T,) signal fraction per level, non-increasing in the level index.
      beta: (T,) per-step noise, beta[t] = 1 - alpha_bar[t] / alpha_bar[t-1].
      kind: schedule name (static).
    """

    alpha_bar: jnp.ndarray
    beta: jnp.ndarray
    kind: str = flax.struct.field(pytree_node=False, default="custom")

    @property
    def num_levels(self) -> int:
        return int(self.alpha_bar.shape[0])


def _from_alpha_bar(alpha_bar: np.ndarray, kind: str) -> NoiseSchedule:
    alpha_bar = np.asarray(alpha_bar, dtype=np.float64)
    chex.assert_rank(alpha_bar, 1)  # (T,)
    prev = np.concatenate([[1.0], alpha_bar[:-1]])
    beta = 1.0 - alpha_bar / prev
    return NoiseSchedule(
        alpha_bar=jnp.asarray(alpha_bar, jnp.float32), beta=jnp.asarray(beta, jnp.float32), kind=kind
    )


def _from_beta(beta: np.ndarray, kind: str) -> NoiseSchedule:
    beta = np.asarray(beta, dtype=np.float64)
    chex.assert_rank(beta, 1)  # (T,)
    alpha_bar = np.cumprod(1.0 - beta)
    return NoiseSchedule(
        alpha_bar=jnp.asarray(alpha_bar, jnp.float32), beta=jnp.asarray(beta, jnp.float32), kind=kind
    )


def vp_schedule(num_levels: int, beta_min: float = 0.1, beta_max: float = 10.0) -> NoiseSchedule:
    """Discretised variance-preserving SDE: alpha_t = exp(-beta_min/T - 0.5 (beta_max - beta_min)(2t-1)/T^2)."""
    t = np.arange(1, num_levels + 1, dtype=np.float64)
    T = float(num_levels)
    alpha = np.exp(-beta_min / T - 0.5 * (beta_max - beta_min) * (2.0 * t - 1.0) / T**2)
    return _from_beta(1.0 - alpha, "vp")


def linear_schedule(num_levels: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
    """DDPM linear schedule: beta linearly spaced in [beta_start, beta_end]."""
    return _from_beta(np.linspace(beta_start, beta_end, num_levels, dtype=np.float64), "linear")


def cosine_schedule(num_levels: int, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
    """Improved-DDPM cosine schedule: alpha_bar(t) = f(t)/f(0), f(t) = cos^2(((t/T)+s)/(1+s) * pi/2).

    Per-step betas are clipped at ``max_beta``; alpha_bar is the cumulative product of (1 - beta).
    """
    T = num_levels
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    beta = np.array([min(1.0 - f(i + 1) / f(i), max_beta) for i in range(T)], dtype=np.float64)
    return _from_beta(beta, "cosine")


def beta_cdf_schedule(num_levels: int = 1000, a: float = 0.3, b: float = 0.1) -> NoiseSchedule:
    """The Diff-SR-SAC grid: alpha_bar_i = 1 - BetaCDF(i/(N-1); a, b), clipped to [raw[N-2], raw[1]].

    With the defaults this spans alpha_bar in [0.391, 0.967] (only mild noise).
    """
    if num_levels < 3:
        raise ValueError(f"beta_cdf schedule needs num_levels >= 3, got {num_levels}")
    x = np.linspace(0.0, 1.0, num_levels)
    raw = 1.0 - np.asarray(betainc(a, b, jnp.asarray(x, jnp.float32)), dtype=np.float64)
    alpha_bar = np.clip(raw, raw[num_levels - 2], raw[1])
    return _from_alpha_bar(alpha_bar, "beta_cdf")


def sigmoid_schedule(num_levels: int, start: float = -3.0, end: float = 3.0, tau: float = 1.0) -> NoiseSchedule:
    """alpha_bar(t) = (sigmoid(-(start + t (end - start)) / tau) - v_end) / (v_start - v_end) at t = (i + 1) / L,
    clipped to [1e-5, 1 - 1e-5] (Chen 2023, "On the importance of noise scheduling for diffusion models"): flat at
    both ends, most levels in the middle range of noise."""
    t = np.arange(1, num_levels + 1, dtype=np.float64) / num_levels
    sig = lambda x: 1.0 / (1.0 + np.exp(-x))
    v_start, v_end = sig(-start / tau), sig(-end / tau)
    alpha_bar = (sig(-(start + t * (end - start)) / tau) - v_end) / (v_start - v_end)
    return _from_alpha_bar(np.clip(alpha_bar, 1e-5, 1.0 - 1e-5), "sigmoid")


# name -> builder(num_levels) -> NoiseSchedule; the config's representation.schedule / baselines.schedule pick one
_BUILDERS = {
    "vp": vp_schedule,
    "linear": linear_schedule,
    "cosine": cosine_schedule,
    "beta_cdf": beta_cdf_schedule,
    "sigmoid": sigmoid_schedule,
}
SCHEDULE_KINDS = tuple(_BUILDERS)


def make_schedule(kind: str, num_levels: int, **kwargs) -> NoiseSchedule:
    """Build a schedule by name (one of ``SCHEDULE_KINDS``) with ``num_levels`` levels."""
    if kind not in _BUILDERS:
        raise ValueError(f"unknown noise schedule {kind!r}; choose one of {', '.join(SCHEDULE_KINDS)}")
    if int(num_levels) < 1:
        raise ValueError(f"num_levels must be >= 1, got {num_levels}")
    schedule = _BUILDERS[kind](int(num_levels), **kwargs)
    # T = num_levels levels: alpha_bar (T,) and beta (T,), float32
    chex.assert_shape([schedule.alpha_bar, schedule.beta], (int(num_levels),))
    chex.assert_type([schedule.alpha_bar, schedule.beta], jnp.float32)
    return schedule
