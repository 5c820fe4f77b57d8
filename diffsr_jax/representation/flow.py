"""The conditional flow-matching objective for psi, zeta, with psi already computed (``objective = flow_matching``).

Along the straight path from noise to the next state, x_t = (1 - t) x_0 + t s' with x_0 ~ N(0, sigma^2 I)
(sigma = ``noise_scale``) and t ~ U[0, 1], the path's velocity is u = s' - x_0. The velocity field that transports
the noise to p(s' | s, a) is E[u | x_t, t, s, a]; Diff-SR's factorisation puts it as psi(s, a)^T zeta(x_t, t), and
the objective regresses psi^T zeta onto u (its minimiser is that conditional expectation). Nothing is ever sampled.

zeta reads t where the score objective reads a level: ``zeta_fn(x_t, level, t) -> (B, F, d_s)`` with ``t`` in the
alpha_bar slot (``level_input=alpha_bar``: the raw scalar) and ``level = round(t (L - 1))`` for the sinusoidal
embedding (``level_input=embedding``, L = ``num_levels``).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from diffsr_jax.representation.score import factorized_score


def flow_path(key, next_obs, t, noise_scale: float = 1.0):
    """(x_t (B, d_s), u (B, d_s)): a point on the straight path from sigma * eps to ``next_obs`` at ``t`` (B,), and
    the path's velocity there."""
    chex.assert_rank(next_obs, 2)
    chex.assert_shape(t, next_obs.shape[:1])
    x0 = noise_scale * jax.random.normal(key, next_obs.shape, next_obs.dtype)
    x_t = (1.0 - t[:, None]) * x0 + t[:, None] * next_obs
    return x_t, next_obs - x0


def level_of(t, num_levels: int):
    """The embedding index of time ``t`` in [0, 1]: round(t (L - 1)), int32."""
    return jnp.round(t * (num_levels - 1)).astype(jnp.int32)


def _batch_loss(psi, zeta_fn, key, next_obs, t, num_levels, noise_scale):
    x_t, u = flow_path(key, next_obs, t, noise_scale)
    zeta = zeta_fn(x_t, level_of(t, num_levels), t)
    chex.assert_shape(zeta, psi.shape + next_obs.shape[1:])  # (B, F, d_s)
    v = factorized_score(psi, zeta)  # psi^T zeta: here a velocity
    return jnp.mean(jnp.sum((v - u) ** 2, axis=-1))


def flow_matching_loss(psi, zeta_fn, key, next_obs, num_levels: int, noise_scale: float = 1.0, times=None):
    """Conditional flow-matching loss of the factorised velocity field.

    Args:
      psi: (B, F) features of (s, a).
      zeta_fn: (x_t (B, d_s), level (B,) int, t (B,)) -> zeta (B, F, d_s).
      key: PRNG key for the times and the noise.
      next_obs: (B, d_s) the next states.
      num_levels: L, for the level index of an embedded t.
      times: None -> one t per row, uniform on [0, 1]; returns a scalar (the training loss). (T,) floats -> the
        batch-mean loss at each time, all at once with ``vmap``; returns (T,).
    """
    chex.assert_rank([psi, next_obs], 2)
    chex.assert_equal_shape_prefix([psi, next_obs], 1)
    batch = next_obs.shape[0]
    if times is None:
        k_t, k_noise = jax.random.split(key)
        t = jax.random.uniform(k_t, (batch,), next_obs.dtype)
        loss = _batch_loss(psi, zeta_fn, k_noise, next_obs, t, num_levels, noise_scale)
        chex.assert_shape(loss, ())
        return loss
    times = jnp.asarray(times, next_obs.dtype)
    chex.assert_rank(times, 1)

    def at(k, time):
        return _batch_loss(psi, zeta_fn, k, next_obs, jnp.full((batch,), time), num_levels, noise_scale)

    per_time = jax.vmap(at)(jax.random.split(key, times.shape[0]), times)
    chex.assert_shape(per_time, times.shape)
    return per_time
