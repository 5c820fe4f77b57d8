"""The factorised score psi(s, a)^T zeta(x_noisy, level)."""

import chex
import jax.numpy as jnp


def factorized_score(psi, zeta):
    """psi (B, F), zeta (B, F, d) -> (B, d): sum_k psi_k zeta_{k, j}."""
    if psi.shape[-1] != zeta.shape[-2]:
        raise ValueError(f"psi feature dim {psi.shape[-1]} does not match zeta {zeta.shape}")
    chex.assert_rank([psi, zeta], [2, 3])
    chex.assert_equal_shape_prefix([psi, zeta], 2)  # the same rows B and features F
    score = jnp.einsum("bf,bfd->bd", psi, zeta)
    chex.assert_shape(score, (psi.shape[0], zeta.shape[-1]))
    return score
