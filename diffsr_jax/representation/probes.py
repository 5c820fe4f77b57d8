"""Linear probes of a representation: how much of a target a closed-form ridge regression on psi(s, a) explains.

``ridge_r2`` fits ridge on one set of (features, targets) and scores R^2 on another; ``transition_probes`` applies
it to a replay batch split in two halves, for the targets Diff-SR's psi should carry: the state change s' - s (the
dynamics) and the reward. Everything is a pure jnp function, cheap enough to run inside the compiled chunk at every
evaluation (an F x F ridge system solved by a fixed number of conjugate-gradient steps: no loop of unknown length in
the compiled chunk, see ``conjugate_gradients``).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

RIDGE = 1e-3  # ridge penalty relative to the mean eigenvalue of the centred feature Gram matrix
MIN_VARIANCE = 1e-10  # target columns with less held-out variance than this are left out of the mean R^2


def conjugate_gradients(matvec, b, steps: int):
    """x with matvec(x) ~= b (matvec symmetric positive definite; b (F, D), one system per column) after exactly
    ``steps`` CG steps: a ``fori_loop`` of static length, so the compiled program has no loop whose trip count depends
    on data (``jax.scipy.sparse.linalg.cg`` stops on a tolerance: a while loop, a host wait per step on a GPU). In
    exact arithmetic CG solves an F x F system in F steps; a column whose residual vanished takes no further step."""
    def dot(u, v):
        return jnp.sum(u * v, axis=0)

    def step(_, carry):
        x, r, p, rr = carry
        ap = matvec(p)
        pap = dot(p, ap)
        alpha = jnp.where(pap > 0, rr / jnp.where(pap > 0, pap, 1.0), 0.0)
        x, r = x + alpha * p, r - alpha * ap
        rr_new = dot(r, r)
        beta = jnp.where(rr > 0, rr_new / jnp.where(rr > 0, rr, 1.0), 0.0)
        return x, r, r + beta * p, rr_new

    chex.assert_rank(b, 2)
    x0 = jnp.zeros_like(b)
    x = jax.lax.fori_loop(0, steps, step, (x0, b, b, dot(b, b)))[0]
    chex.assert_equal_shape([x, b])
    return x


def ridge_r2(feat_fit, y_fit, feat_test, y_test, ridge: float = RIDGE):
    """Held-out R^2 of a ridge regression (with intercept) from features to targets.

    feat_fit (N, F), y_fit (N, D), feat_test (M, F), y_test (M, D) -> scalar: the mean over target columns of
    1 - SSE / SST on the test set (columns with no test variance are skipped; 0 if none has any). The penalty is
    ``ridge`` times the mean eigenvalue of the centred Gram matrix, so the fit does not depend on the features' scale.
    """
    chex.assert_rank([feat_fit, y_fit, feat_test, y_test], 2)
    chex.assert_equal_shape_prefix([feat_fit, y_fit], 1)  # N rows
    chex.assert_equal_shape_prefix([feat_test, y_test], 1)  # M rows
    chex.assert_equal_shape_suffix([feat_fit, feat_test], 1)  # F features
    chex.assert_equal_shape_suffix([y_fit, y_test], 1)  # D targets
    mu_f, mu_y = feat_fit.mean(0), y_fit.mean(0)
    x, y = feat_fit - mu_f, y_fit - mu_y
    gram = x.T @ x
    lam = ridge * jnp.trace(gram) / gram.shape[0] + 1e-12
    # conjugate gradients (matmuls only), not jnp.linalg.solve: LAPACK custom calls deadlocked a chunk run over two
    # CPU devices with two members each (docs/performance.md, issue 15); a fixed number of steps (twice the exact-arithmetic
    # count, for float32 round-off), not a tolerance, so the chunk has no loop of unknown length
    w = conjugate_gradients(lambda v: gram @ v + lam * v, x.T @ y, 2 * gram.shape[0])
    pred = (feat_test - mu_f) @ w + mu_y
    sse = jnp.sum((y_test - pred) ** 2, axis=0)
    sst = jnp.sum((y_test - y_test.mean(0)) ** 2, axis=0)
    valid = sst > MIN_VARIANCE
    r2 = jnp.where(valid, 1.0 - sse / jnp.where(valid, sst, 1.0), 0.0)
    r2 = jnp.sum(r2) / jnp.maximum(jnp.sum(valid), 1)
    chex.assert_shape(r2, ())
    return r2


def transition_probes(psi, batch) -> dict:
    """psi (B, F) of a Transition batch (leaves (B, ...)): fit on the first half, score on the second.

    -> {"dynamics": R^2 of s' - s, "reward": R^2 of r}: scalars. Where s' is smaller than s (a stack of frames'
    latents and the next frame's), s' is compared with the newest entries of s: the change from the newest frame.
    """
    chex.assert_rank(psi, 2)
    chex.assert_equal_shape_prefix([psi, batch.obs, batch.next_obs, batch.reward], 1)  # B rows
    chex.assert_rank(batch.reward, 1)
    half = psi.shape[0] // 2
    d_next = batch.next_obs.shape[-1]
    delta = batch.next_obs - batch.obs[..., batch.obs.shape[-1] - d_next:]
    reward = batch.reward.reshape(-1, 1)
    fit, test = slice(0, half), slice(half, 2 * half)
    return {"dynamics": ridge_r2(psi[fit], delta[fit], psi[test], delta[test]),
            "reward": ridge_r2(psi[fit], reward[fit], psi[test], reward[test])}
