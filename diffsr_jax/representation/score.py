"""The factorised score psi(s, a)^T zeta(x_noisy, level)."""

import jax.numpy as jnp


def factorized_score(psi, zeta):
    """psi (B, F), zeta (B, F, d) -> (B, d): sum_k psi_k zeta_{k, j}."""
    if psi.shape[-1] != zeta.shape[-2]:
        raise ValueError(f"psi feature dim {psi.shape[-1]} does not match zeta {zeta.shape}")
    return jnp.einsum("bf,bfd->bd", psi, zeta)
