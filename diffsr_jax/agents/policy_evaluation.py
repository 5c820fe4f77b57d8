"""Policy evaluation by TD on a fixed replay: Q heads trained with SAC's critic update while the policy and its
temperature stay fixed.

Where a Diff-SR agent trails its base although its psi carries the base's Q by supervised regression
(``representation.regression``), what is left is what TD learning makes of each critic input. This isolates that step
from the agent's own coupling (a psi that moves under the critic, an actor that follows the critic, the data that
actor collects): the replay, the policy and the update rule are fixed and shared, only the heads' input differs.

``fit_td(apply, params, tr, next_action, alpha, gamma, tau, target_every, fit_rows, key, steps, batch_size, lr)``
runs ``steps`` Adam steps (one ``lax.scan``) of SAC's critic loss, the sum over the heads (SAC's twins, or one) of
the mean squared error to r + gamma (1 - terminated) (min over the target heads of Q(s', a') - alpha log pi(a'|s')),
a' drawn from the fixed policy at every step, the target heads a Polyak copy (starting equal to the heads) updated
every ``target_every`` steps. Pure, so a caller vmaps it over seeds. ``output_affine`` folds a scale and shift into a
head's output layer, so a head fitted to a standardised target starts TD in the target's own units.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from diffsr_jax.agents.actor_critic import td_target
from diffsr_jax.optim import periodic_soft_update


def heads_q(apply, params, obs, action):
    """(H, B): each head's Q; ``params`` are the H heads' parameters stacked on axis 0."""
    return jax.vmap(apply, in_axes=(0, None, None))(params, obs, action)


def soft_td_target(apply, target_params, tr, rows, next_action, alpha, gamma, key):
    """(B,): r + gamma (1 - terminated) (min_j Q_target_j(s', a') - alpha log pi(a'|s')) on ``rows`` of ``tr``, with
    a' ~ pi(.|s') from ``next_action(key, rows) -> (a' (B, d_a), log pi (B,))``: SAC's target, no bonus."""
    next_a, next_logp = next_action(key, rows)
    next_q = jnp.min(heads_q(apply, target_params, tr.next_obs[rows], next_a), axis=0)
    return td_target(tr.reward[rows], 0.0, tr.terminated[rows], next_q - alpha * next_logp, gamma)


def fit_td(apply, params, tr, next_action, alpha, gamma, tau, target_every: int, fit_rows, key, steps: int,
           batch_size: int, lr: float):
    """``apply(params, obs, action) -> (B,)`` one head; ``params`` the heads stacked on axis 0; ``tr`` a
    ``Transition`` with leaves (N, ...), its obs and next_obs as ``apply`` reads them; ``fit_rows`` (N_fit,) the rows
    minibatches are drawn from (uniformly, with replacement).

    -> (params, target params, losses (steps,): the critic loss of every step).
    """
    fit_rows = jnp.asarray(fit_rows)
    opt = optax.adam(lr)

    def loss(p, target_p, rows, k):
        target = jax.lax.stop_gradient(soft_td_target(apply, target_p, tr, rows, next_action, alpha, gamma, k))
        q = heads_q(apply, p, tr.obs[rows], tr.action[rows])
        return jnp.sum(jnp.mean((q - target) ** 2, axis=-1))

    def step(carry, xs):
        p, target_p, s = carry
        i, k = xs
        k_rows, k_target = jax.random.split(k)
        rows = fit_rows[jax.random.randint(k_rows, (batch_size,), 0, fit_rows.shape[0])]
        value, grads = jax.value_and_grad(loss)(p, target_p, rows, k_target)
        updates, s = opt.update(grads, s, p)
        p = optax.apply_updates(p, updates)
        target_p = periodic_soft_update(target_p, p, tau, i % target_every == 0)
        return (p, target_p, s), value

    (params, target_params, _), losses = jax.lax.scan(
        step, (params, params, opt.init(params)), (jnp.arange(steps), jax.random.split(key, steps)))
    return params, target_params, losses


def output_affine(params, scale, shift):
    """``params`` of a head whose output is ``scale * output + shift``: the one dense layer with a single output unit
    (kernel (..., 1)) gets kernel * scale and bias * scale + shift. ValueError unless there is exactly one."""
    found = []

    def walk(tree):
        if isinstance(tree, dict):
            if "kernel" in tree and tree["kernel"].shape[-1] == 1:
                found.append(1)
                return {**tree, "kernel": tree["kernel"] * scale, "bias": tree["bias"] * scale + shift}
            return {k: walk(v) for k, v in tree.items()}
        return tree

    out = walk(params)
    if len(found) != 1:
        raise ValueError(f"expected one output layer with a single unit, found {len(found)}")
    return out
