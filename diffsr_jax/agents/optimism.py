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
corrected like Adam's moments) towards the batch's mean. Sigma^-1 is tracked, not recomputed: ``inverse_iters``
Newton-Schulz steps P <- P (2I - Sigma P) per update, warm-started from the last update's P (``track_inverse``): Sigma moves by about ``moment_rate``
per update, so the steps square a small error; P is first scaled so that Sigma P's largest eigenvalue (a power-iteration
estimate) is at most about 1, so a jump (the first update, from I / lambda) cannot make the steps diverge: the
directions the data fills converge at once and the sparse ones over the next updates (P underestimates the bonus
there meanwhile).
Matrix products only, at full float32 precision: a Cholesky factor and triangular solve per update made a
paper-preset update (F = 256) 60% slower on the 2-core CPU (LAPACK inside the compiled program), the Newton-Schulz
steps a few percent (WORKSPACE.md, issue 31). ``optimism_inverse_residual`` (|I - Sigma P|_F / sqrt(F)) says how
well P is tracked.

``OptimisticCritic`` wraps a critic that has ``features`` (``critics.RepresentationCritic``), so every base (SAC, TD3,
DDPG) gets the bonus through the critic boundary it already uses: ``td_reward`` is the reward its TD target reads.
Config group ``config.optimism`` (off by default; read by the diffsr_* agents); ``beta``, ``ridge`` (lambda) and
``moment_rate`` are traced, so ``--sweep`` covers them; ``inverse_iters`` is a size (static).
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
EXACT = jax.lax.Precision.HIGHEST  # the inverse's products (a TF32 product on a GPU would lose the sparse directions)


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.enabled = False  # add the bonus to the reward in the TD target (diffsr_* agents)
    g.beta = 1.0  # the bonus's scale, in reward units
    g.ridge = 1.0  # lambda: Sigma = lambda I + n E[phi phi^T], phi = psi / rms(psi) (a pseudo-count)
    g.moment_rate = 0.01  # rate of the exponential average of psi psi^T over replay batches (one per update)
    g.inverse_iters = 2  # Newton-Schulz steps per update that track Sigma^-1 (static)
    return g


def validate(config) -> None:
    f = Fields(config.optimism, "optimism")
    if config.optimism.beta < 0:
        f.fail("beta", f"must be >= 0, got {config.optimism.beta}")
    f.positive("ridge")
    f.within("moment_rate", 0.0, 1.0, low_open=True)
    f.integer("inverse_iters")


def check_reader(config, reads_optimism: bool) -> None:
    """The one rule on who may switch the bonus on: an agent whose critic has psi (a diffsr_* agent)."""
    if config.optimism.enabled and not reads_optimism:
        raise ConfigError(f"config.optimism.enabled=True puts a bonus on psi(s, a), which {config.run.agent} has "
                          "not: use a diffsr_* agent (diffsr_sac, diffsr_td3, diffsr_ddpg) or set "
                          "config.optimism.enabled=False")


OPTIMISM = ConfigGroup("optimism", defaults, validate, "an exploration bonus on psi, added to the TD target's reward")


@flax.struct.dataclass
class OptimismState:
    inner: Any  # the wrapped critic's own state
    moment: jax.Array  # (F, F) exponential average of psi psi^T over replay batches (biased towards 0 early)
    weight: jax.Array  # () the same average of 1: moment / weight is the bias-corrected second moment
    inverse: jax.Array  # (F, F) P, tracking Sigma^-1


def second_moment(moment, weight):
    """The bias-corrected E[psi psi^T]: (F, F) (zeros before any data)."""
    return moment / jnp.maximum(weight, 1e-12)


def feature_scale(moment, weight):
    """E|psi|^2 over the replay (the trace of the bias-corrected second moment; 1 before any data): psi is measured in
    units of its RMS norm, so Sigma's condition number is at most 1 + n / lambda whatever psi's scale (float32
    products then keep the sparse directions), and lambda is a pseudo-count."""
    return jnp.where(weight > 0, jnp.maximum(jnp.trace(second_moment(moment, weight)), 1e-12), 1.0)


def sigma(moment, weight, count, ridge):
    """Sigma = ridge I + count * E[phi phi^T], phi = psi / sqrt(feature_scale): (F, F). ``weight`` 0 (nothing seen
    yet) gives ridge I."""
    chex.assert_rank(moment, 2)
    return (ridge * jnp.eye(moment.shape[0], dtype=moment.dtype)
            + count * second_moment(moment, weight) / feature_scale(moment, weight))


def residual(sigma_matrix, inverse):
    """|I - Sigma P|_F: how far P is from Sigma^-1."""
    eye = jnp.eye(sigma_matrix.shape[0], dtype=sigma_matrix.dtype)
    return jnp.linalg.norm(eye - jnp.matmul(sigma_matrix, inverse, precision=EXACT))


POWER_STEPS = 12  # power-iteration steps that estimate Sigma P's largest eigenvalue


def largest_eigenvalue(matrix):
    """|A v| after ``POWER_STEPS`` power-iteration steps from a fixed random unit v: an estimate of the largest
    eigenvalue of ``matrix`` (F, F) when its eigenvalues are real and positive (as Sigma P's are)."""
    v = jax.random.normal(jax.random.PRNGKey(0), (matrix.shape[0],), matrix.dtype)
    v = v / jnp.linalg.norm(v)
    for _ in range(POWER_STEPS):
        w = jnp.matmul(matrix, v, precision=EXACT)
        v = w / jnp.maximum(jnp.linalg.norm(w), 1e-30)
    return jnp.linalg.norm(jnp.matmul(matrix, v, precision=EXACT))


def track_inverse(sigma_matrix, previous, iters: int):
    """``iters`` Newton-Schulz steps P <- P (2I - Sigma P) towards Sigma^-1 (F, F) from ``previous`` (symmetric
    positive definite), first scaled by 1 / max(1, the largest eigenvalue of Sigma P): the steps converge from any P
    whose Sigma P has every eigenvalue in (0, 2), and after the scaling the largest is about 1 (the power estimate
    would have to be off by 2x to leave that range). Near Sigma^-1 the scale is about 1 and each step squares the
    error; after a jump of Sigma (the first update, from I / lambda) the large directions converge at once and each
    small one doubles per step until it arrives. If ``previous`` is lost (|I - Sigma P|_F above sqrt(F), more than
    any start in that range leaves), the steps restart from I / tr(Sigma). Selects, no branch."""
    f = sigma_matrix.shape[0]
    eye = jnp.eye(f, dtype=sigma_matrix.dtype)
    sp = jnp.matmul(sigma_matrix, previous, precision=EXACT)
    lost = jnp.linalg.norm(eye - sp) > jnp.sqrt(float(f))
    scaled = previous / jnp.maximum(largest_eigenvalue(sp), 1.0)
    p = jnp.where(lost, eye / jnp.trace(sigma_matrix), scaled)
    for _ in range(iters):
        p = jnp.matmul(p, 2.0 * eye - jnp.matmul(sigma_matrix, p, precision=EXACT), precision=EXACT)
        p = 0.5 * (p + p.T)
    return p


def bonus(features, inverse, beta, scale):
    """beta * sqrt(phi^T P phi) for psi features (B, F), phi = psi / sqrt(scale) (``feature_scale``), P ~ Sigma^-1
    -> (B,)."""
    chex.assert_rank(features, 2)
    chex.assert_shape(inverse, (features.shape[-1], features.shape[-1]))
    quad = jnp.einsum("bf,fg,bg->b", features, inverse, features, precision=EXACT) / scale
    return beta * jnp.sqrt(jnp.maximum(quad, 0.0))


def moment_step(moment, weight, features, rate):
    """Move the averages towards the batch's mean of psi psi^T: ((F, F), ())."""
    batch_moment = jnp.matmul(features.T, features, precision=EXACT) / features.shape[0]
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
        self.inverse_iters = int(config_group.inverse_iters)

    def hparams(self) -> dict:
        return {**self.critic.hparams(), "optimism": traced_values(self.traced, HPARAMS)}

    def init(self, key, obs_dim: int, action_dim: int, hp: dict):
        params, inner = self.critic.init(key, obs_dim, action_dim, hp)
        f = self.critic.features(inner, jnp.zeros((1, obs_dim)), jnp.zeros((1, action_dim))).shape[-1]
        inverse = jnp.eye(f) / named(hp).optimism.ridge  # Sigma^-1 before any data
        return params, OptimismState(inner, jnp.zeros((f, f)), jnp.zeros(()), inverse)

    def features(self, critic_state: OptimismState, obs, action):
        return self.critic.features(critic_state.inner, obs, action)

    def q(self, params, critic_state: OptimismState, obs, action):
        return self.critic.q(params, critic_state.inner, obs, action)

    def td_reward(self, critic_state: OptimismState, batch, hp):
        """r + b(s, a): (B,)."""
        b = bonus(self.features(critic_state, batch.obs, batch.action), critic_state.inverse,
                  named(hp).optimism.beta, feature_scale(critic_state.moment, critic_state.weight))
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
        sig = sigma(moment, weight, sampler.buffer.size.astype(jnp.float32), o.ridge)
        inverse = track_inverse(sig, critic_state.inverse, self.inverse_iters)
        b = bonus(feats, inverse, o.beta, feature_scale(moment, weight))
        info = {**info, "optimism_bonus_mean": b.mean(), "optimism_bonus_max": b.max(),
                "optimism_inverse_residual": residual(sig, inverse) / jnp.sqrt(float(sig.shape[0]))}
        return OptimismState(inner, moment, weight, inverse), info

    def diagnostics(self, critic_state: OptimismState, batch, key) -> dict:
        return self.critic.diagnostics(critic_state.inner, batch, key)


def optimistic(critic, config):
    """``critic`` with the bonus when ``config.optimism.enabled``; the critic itself (same program) when not."""
    return OptimisticCritic(critic, config.optimism) if config.optimism.enabled else critic
