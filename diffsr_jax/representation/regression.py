"""Supervised regression of a network onto fixed targets, scored on held-out rows: how well a critic's architecture,
on a given input (psi(s, a), or concat(s, a)), can represent a given Q-function when no TD learning is involved.

``fit_regression(apply, params, inputs, targets, fit_rows, test_rows, key, steps, batch_size, lr)`` trains
``params`` with Adam on the mean squared error of the standardised target (mean and spread of the fit rows), on
minibatches drawn uniformly with replacement from the fit rows, for a static number of steps (one ``lax.scan``), and
returns the held-out R^2 and RMS error in the target's units, and the fitted parameters (predicting the standardised
target). Pure, so a caller vmaps it over seeds.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

TEST_CHUNK = 4096  # held-out rows predicted at a time (bounds the activations' memory)


def fit_regression(apply, params, inputs: tuple, targets, fit_rows, test_rows, key, steps: int, batch_size: int,
                   lr: float) -> tuple[dict, object]:
    """``apply(params, *inputs_rows) -> (B,)``; ``inputs``: arrays with N leading rows; ``targets`` (N,);
    ``fit_rows`` (N_fit,) and ``test_rows`` (N_test,) int indices into the rows (disjoint by the caller's choice).

    -> ({"r2": 1 - SSE / SST on the test rows, "rmse": sqrt(SSE / N_test), "fit_loss": the last steps' mean
    standardised MSE on the fit minibatches}: scalars, the fitted params).
    """
    chex.assert_rank([targets, fit_rows, test_rows], 1)
    for x in inputs:
        chex.assert_axis_dimension(x, 0, targets.shape[0])
    fit_rows, test_rows = jnp.asarray(fit_rows), jnp.asarray(test_rows)
    y_fit = targets[fit_rows]
    mu, sd = y_fit.mean(), jnp.maximum(y_fit.std(), 1e-8)
    opt = optax.adam(lr)

    def loss(p, rows):
        pred = apply(p, *(x[rows] for x in inputs))
        return jnp.mean((pred - (targets[rows] - mu) / sd) ** 2)

    def step(carry, k):
        p, s = carry
        rows = fit_rows[jax.random.randint(k, (batch_size,), 0, fit_rows.shape[0])]
        value, grads = jax.value_and_grad(loss)(p, rows)
        updates, s = opt.update(grads, s, p)
        return (optax.apply_updates(p, updates), s), value

    (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(key, steps))
    pred = predict_rows(lambda rows: apply(params, *(x[rows] for x in inputs)), test_rows) * sd + mu
    return {**held_out_scores(targets[test_rows], pred), "fit_loss": losses[-max(1, steps // 10):].mean()}, params


def predict_rows(predict, rows):
    """``predict(rows (TEST_CHUNK,)) -> (TEST_CHUNK,)`` over all of ``rows`` (R,), a chunk at a time: (R,)."""
    n_chunks = -(-rows.shape[0] // TEST_CHUNK)
    padded = jnp.pad(rows, (0, n_chunks * TEST_CHUNK - rows.shape[0]), mode="edge")
    return jax.lax.map(predict, padded.reshape(n_chunks, TEST_CHUNK)).reshape(-1)[:rows.shape[0]]


def held_out_scores(y, pred) -> dict:
    """{"r2": 1 - SSE / SST, "rmse": sqrt(SSE / R)} of predictions ``pred`` of ``y`` (R,)."""
    sse = jnp.sum((y - pred) ** 2)
    sst = jnp.sum((y - y.mean()) ** 2)
    return {"r2": 1.0 - sse / jnp.maximum(sst, 1e-12), "rmse": jnp.sqrt(sse / y.shape[0])}


def gradient_agreement(f, g, action):
    """Mean over rows of the cosine between the action gradients of two Q-functions, ``f, g: action (B, d_a) -> (B,)``
    (their states closed over): whether a fitted Q points the actor where the reference's does (1: the same
    direction, 0: unrelated). A row where either gradient vanishes counts as 0."""
    chex.assert_rank(action, 2)
    ga = jax.grad(lambda a: f(a).sum())(action)
    gb = jax.grad(lambda a: g(a).sum())(action)
    norms = jnp.linalg.norm(ga, axis=-1) * jnp.linalg.norm(gb, axis=-1)
    cos = jnp.where(norms > 0, jnp.sum(ga * gb, axis=-1) / jnp.where(norms > 0, norms, 1.0), 0.0)
    return cos.mean()


def held_out_blocks(num_rows: int, block: int, every: int) -> tuple:
    """(fit_rows, test_rows) of ``num_rows`` rows in blocks of ``block`` consecutive rows, every ``every``-th block
    held out: neighbouring steps of one episode are nearly the same row, so a held-out row must not sit between two
    fitted ones."""
    blocks = np.arange(num_rows) // block
    held = blocks % every == every - 1
    return np.flatnonzero(~held), np.flatnonzero(held)
