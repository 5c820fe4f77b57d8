"""Optimism from psi: an elliptical exploration bonus on the representation, added to the reward in the TD target.

    b(s, a) = beta * sqrt(psi(s, a)^T Sigma^-1 psi(s, a)),   Sigma = lambda I + n E_replay[psi psi^T]

with n the transitions in the replay: Sigma is the ridge-regularised sum of psi psi^T over the replay (the elliptical
bonus of the spectral-representation line: CTRL, LV-Rep, SPEDER), so the bonus is large where the replay's features
are sparse and shrinks as 1 / sqrt(n) where they are dense.

Why psi and not the critic's random-Fourier layer: psi is the feature in which the transition factorises (the score
of the noised s' is psi^T zeta; in the linear-MDP reading P(s' | s, a) = psi(s, a)^T mu(s')), so psi^T Sigma^-1 psi is
the uncertainty of the learned transition at (s, a). The critic's sin(W psi) layer is learned by the TD loss, differs
per Q head and changes at every critic step; and psi (F = 64 fast, 256 paper) is smaller than that layer, which sets
the cost of the solve.

How Sigma is kept, on device, inside the compiled chunk: psi moves as the representation learns, so a running sum of
old features would describe features that no longer exist. Each learner update draws one replay batch, takes psi of
the representation the critic reads, and moves an exponential average of psi psi^T (rate ``moment_rate``, bias
corrected like Adam's moments) towards the batch's mean; then Sigma is rebuilt and factored: a Cholesky factor L and
W = L^-1, so psi^T Sigma^-1 psi = |W psi|^2 (two F^3/3 solves per update; cost in WORKSPACE.md, issue 31).

``OptimisticCritic`` wraps a critic that has ``features`` (``critics.RepresentationCritic``), so every base (SAC, TD3,
DDPG) gets the bonus through the critic boundary it already uses: ``td_reward`` is the reward its TD target reads.
Config group ``config.optimism`` (off by default; read by the diffsr_* agents); ``beta``, ``ridge`` (lambda) and
``moment_rate`` are traced, so ``--sweep`` covers them.
"""

from __future__ import annotations

from typing import Any

import chex
import flax.struct
import jax
import jax.numpy as jnp
import ml_collections

from diffsr_jax.fields import ConfigError, ConfigGroup, Fields, named, traced_values

HPARAMS = ("beta", "ridge", "moment_rate")


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.enabled = False  # add the bonus to the reward in the TD target (diffsr_* agents)
    g.beta = 1.0  # the bonus's scale, in reward units
    g.ridge = 1.0  # lambda: Sigma = lambda I + n E[psi psi^T]
    g.moment_rate = 0.01  # rate of the exponential average of psi psi^T over replay batches (one per update)
    return g


def validate(config) -> None:
    f = Fields(config.optimism, "optimism")
    if config.optimism.beta < 0:
        f.fail("beta", f"must be >= 0, got {config.optimism.beta}")
    f.positive("ridge")
    f.within("moment_rate", 0.0, 1.0, low_open=True)


def check_reader(config, reads_optimism: bool) -> None:
    """The one rule on who may switch the bonus on: an agent whose critic has psi (a diffsr_* agent)."""
    if config.optimism.enabled and not reads_optimism:
        raise ConfigError(f"config.optimism.enabled=True puts a bonus on psi(s, a), which {config.run.agent} has "
                          f"not: use diffsr_{config.run.agent} (or set config.optimism.enabled=False)")


OPTIMISM = ConfigGroup("optimism", defaults, validate, "an exploration bonus on psi, added to the TD target's reward")


@flax.struct.dataclass
class OptimismState:
    inner: Any  # the wrapped critic's own state
    moment: jax.Array  # (F, F) exponential average of psi psi^T over replay batches (biased towards 0 early)
    weight: jax.Array  # () the same average of 1: moment / weight is the bias-corrected second moment
    whitener: jax.Array  # (F, F) W = L^-1 with L L^T = Sigma, so psi^T Sigma^-1 psi = |W psi|^2


def sigma(moment, weight, count, ridge):
    """Sigma = ridge I + count * moment / weight: (F, F). ``weight`` 0 (nothing seen yet) gives ridge I."""
    chex.assert_rank(moment, 2)
    second = moment / jnp.maximum(weight, 1e-12)
    return ridge * jnp.eye(moment.shape[0], dtype=moment.dtype) + count * second


def whitener(sigma_matrix):
    """W = L^-1 for the Cholesky factor L of ``sigma_matrix`` (F, F), so x^T Sigma^-1 x = |W x|^2."""
    chol = jnp.linalg.cholesky(sigma_matrix)
    return jax.scipy.linalg.solve_triangular(chol, jnp.eye(chol.shape[0], dtype=chol.dtype), lower=True)


def bonus(features, whitener_matrix, beta):
    """beta * sqrt(phi^T Sigma^-1 phi) for features (B, F) -> (B,)."""
    chex.assert_rank(features, 2)
    chex.assert_shape(whitener_matrix, (features.shape[-1], features.shape[-1]))
    return beta * jnp.sqrt(jnp.sum((features @ whitener_matrix.T) ** 2, axis=-1))


def moment_step(moment, weight, features, rate):
    """Move the averages towards the batch's mean of psi psi^T: ((F, F), ())."""
    batch_moment = features.T @ features / features.shape[0]
    return (1.0 - rate) * moment + rate * batch_moment, (1.0 - rate) * weight + rate


class OptimisticCritic:
    """``critic`` (with ``features(critic_state, obs, action) -> (B, F)``, the psi its heads read) and the bonus on
    those features. Q-values, the critic's own learning and its diagnostics are the wrapped critic's; ``td_reward``
    adds the bonus."""

    def __init__(self, critic, config_group):
        if not hasattr(critic, "features"):
            raise TypeError(f"{type(critic).__name__} has no features(critic_state, obs, action): no psi to put the "
                            "bonus on")
        self.critic, self.traced = critic, {k: config_group[k] for k in HPARAMS}

    def hparams(self) -> dict:
        return {**self.critic.hparams(), "optimism": traced_values(self.traced, HPARAMS)}

    def init(self, key, obs_dim: int, action_dim: int, hp: dict):
        params, inner = self.critic.init(key, obs_dim, action_dim, hp)
        f = self.critic.features(inner, jnp.zeros((1, obs_dim)), jnp.zeros((1, action_dim))).shape[-1]
        moment, weight = jnp.zeros((f, f)), jnp.zeros(())
        w = whitener(sigma(moment, weight, 0.0, named(hp).optimism.ridge))
        return params, OptimismState(inner, moment, weight, w)

    def features(self, critic_state: OptimismState, obs, action):
        return self.critic.features(critic_state.inner, obs, action)

    def q(self, params, critic_state: OptimismState, obs, action):
        return self.critic.q(params, critic_state.inner, obs, action)

    def td_reward(self, critic_state: OptimismState, batch, hp):
        """r + b(s, a): (B,)."""
        b = bonus(self.features(critic_state, batch.obs, batch.action), critic_state.whitener,
                  named(hp).optimism.beta)
        return self.critic.td_reward(critic_state.inner, batch, hp) + b

    def update_critic_state(self, critic_state: OptimismState, sampler, key, hp, critic_loss):
        """The wrapped critic's learning, then Sigma from one more replay batch of its (new) psi."""
        def inner_loss(inner, batch, k):
            return critic_loss(critic_state.replace(inner=inner), batch, k)

        # the wrapped critic gets the key it would get unwrapped (so beta = 0 learns what no bonus learns); the
        # moment's batch a key folded from it
        inner, info = self.critic.update_critic_state(critic_state.inner, sampler, key, hp, inner_loss)
        o = named(hp).optimism
        batch = sampler.batch(jax.random.fold_in(key, 0x0B7))
        feats = jax.lax.stop_gradient(self.critic.features(inner, batch.obs, batch.action))
        moment, weight = moment_step(critic_state.moment, critic_state.weight, feats, o.moment_rate)
        count = sampler.buffer.size.astype(jnp.float32)
        w = whitener(sigma(moment, weight, count, o.ridge))
        b = bonus(feats, w, o.beta)
        info = {**info, "optimism_bonus_mean": b.mean(), "optimism_bonus_max": b.max()}
        return OptimismState(inner, moment, weight, w), info

    def diagnostics(self, critic_state: OptimismState, batch, key) -> dict:
        return self.critic.diagnostics(critic_state.inner, batch, key)


def optimistic(critic, config):
    """``critic`` with the bonus when ``config.optimism.enabled``; the critic itself (same program) when not."""
    return OptimisticCritic(critic, config.optimism) if config.optimism.enabled else critic
