"""Optimism from psi: an elliptical exploration bonus on the representation, added to the reward in the TD target.

    b(s, a) = beta * sqrt(phi(s, a)^T Sigma^-1 phi(s, a)),   Sigma = lambda I + sum over the replay of phi phi^T

with phi = psi / rms(psi) (psi in units of its RMS norm over the replay): Sigma is the ridge-regularised sum of the
features' outer products over the replay (the elliptical bonus of the spectral-representation line: CTRL, LV-Rep,
SPEDER), so the bonus is large where the replay's features are sparse and shrinks as 1 / sqrt(n) where they are dense.

Why psi and not the critic's random-Fourier layer: psi is the feature in which the transition factorises (the score
of the noised s' is psi^T zeta; in the linear-MDP reading P(s' | s, a) = psi(s, a)^T mu(s')), so psi^T Sigma^-1 psi is
the uncertainty of the learned transition at (s, a). The critic's sin(W psi) layer is learned by the TD loss, differs
per Q head and changes at every critic step; and psi (F = 64 fast, 256 paper) is smaller than that layer, which sets
the cost of the solve.

How Sigma is kept, on device, inside the compiled chunk: a sweep over the replay (``ReplayGram``). Each learner update
reads the next ``sweep_width`` slots of the replay in order, takes psi of the representation the critic reads, and adds
their psi psi^T to a running sum; when the sweep passes the filled part, that sum becomes Sigma's and a new sweep
starts (selects, no branch). So Sigma is the exact sum over every transition in the replay (psi at most one sweep,
n / sweep_width updates, old), with no sampling noise, and it holds still between sweeps.

Sigma^-1 is tracked as a factor, not recomputed: P = Z Z^T with Z^T Sigma Z -> I, by ``root_iters`` Newton-Schulz
steps Z <- Z (3I - Z^T Sigma Z) / 2 per update, warm-started from the last update's Z (``track_root``). Each step maps
every eigenvalue m of M = Z^T Sigma Z to m (3 - m)^2 / 4 (1 is a fixed point, near which each step squares the
error; any m in (0, 3) converges), so Z is first scaled so that M's largest eigenvalue (a power-iteration estimate) is
at most about 1. The factor and not P itself: Sigma's condition number grows with the transitions in its densest
direction (5e4 on MountainCar at 50k frames), where P's own Newton step P <- P (2I - Sigma P) diverges in float32;
Z's step multiplies on the right, so its rounding stays in proportion to each direction's scale (the measurements:
docs/flow-matching-and-optimism.md, issue 31). The bonus is |Z^T phi|, never negative. Matrix products only, at full
float32 precision (a Cholesky solve inside the program is LAPACK on the CPU); ``root_iters`` steps cost 3 F^3
multiply-adds each. ``optimism_root_residual`` (|I - Z^T Sigma Z|_F / sqrt(F)) says how well Sigma^-1 is tracked.

``OptimisticCritic`` wraps a critic that has ``features`` (``critics.RepresentationCritic``), so every base (SAC, TD3,
DDPG) gets the bonus through the critic boundary it already uses: ``reward_bonus`` is the b in its TD target.
Config group ``config.optimism`` (off by default; read by the diffsr_* agents); ``beta`` and ``ridge`` (lambda) are
traced, so ``--sweep`` covers them; ``sweep_width`` and ``root_iters`` are sizes (static).
"""

from __future__ import annotations

from typing import Any

import chex
import flax.struct
import jax
import jax.numpy as jnp
import ml_collections

from diffsr_jax.fields import ConfigError, ConfigGroup, Fields, named, traced_values

HPARAMS = ("beta", "ridge")
FULL_F32 = jax.lax.Precision.HIGHEST  # full float32 matmuls for the inverse (a TF32 product on a GPU would lose the sparse directions)


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.enabled = False  # add the bonus to the reward in the TD target (diffsr_* agents)
    g.beta = 1.0  # the bonus's scale, in reward units
    g.ridge = 1.0  # lambda: Sigma = lambda I + sum over the replay of phi phi^T, phi = psi / rms(psi) (a pseudo-count)
    g.sweep_width = 256  # replay slots added to Sigma's sweep per update (static): a sweep of n takes n / width updates
    g.root_iters = 4  # Newton-Schulz steps per update that track Z, Z Z^T = Sigma^-1 (static)
    return g


def validate(config) -> None:
    f = Fields(config.optimism, "optimism")
    if config.optimism.beta < 0:
        f.fail("beta", f"must be >= 0, got {config.optimism.beta}")
    f.positive("ridge")
    f.integer("sweep_width")
    f.integer("root_iters")


def check_reader(config, reads_optimism: bool) -> None:
    """The one rule on who may switch the bonus on: an agent whose critic has psi (a diffsr_* agent)."""
    if config.optimism.enabled and not reads_optimism:
        raise ConfigError(f"config.optimism.enabled=True puts a bonus on psi(s, a), which {config.run.agent} has "
                          "not: use a diffsr_* agent (diffsr_sac, diffsr_td3, diffsr_ddpg) or set "
                          "config.optimism.enabled=False")


OPTIMISM = ConfigGroup("optimism", defaults, validate, "an exploration bonus on psi, added to the TD target's reward")


@flax.struct.dataclass
class ReplayGram:
    """sum of psi psi^T over the replay, kept by a sweep over its slots (``gram_step``)."""
    complete: jax.Array  # (F, F) the sum over the last finished sweep
    complete_count: jax.Array  # () transitions in it (0 before the first sweep ends)
    partial: jax.Array  # (F, F) the running sweep's sum so far
    partial_count: jax.Array  # ()
    cursor: jax.Array  # () int32, the next slot the sweep reads


def gram_init(f: int) -> ReplayGram:
    zeros = jnp.zeros((f, f))
    return ReplayGram(zeros, jnp.zeros(()), zeros, jnp.zeros(()), jnp.zeros((), jnp.int32))


def gram_step(gram: ReplayGram, features, valid, filled) -> ReplayGram:
    """Add the psi (W, F) of the ``W`` slots from ``gram.cursor`` (``valid`` (W,): the filled ones) to the running
    sweep; once the cursor passes ``filled`` (the replay's filled slots), the sweep's sum becomes the complete one and
    the next sweep starts at slot 0. Selects, no branch."""
    chex.assert_rank([features, valid], [2, 1])
    w = valid.astype(features.dtype)
    partial = gram.partial + jnp.matmul((features * w[:, None]).T, features, precision=FULL_F32)
    partial_count = gram.partial_count + w.sum()
    cursor = gram.cursor + features.shape[0]
    done = cursor >= filled
    return ReplayGram(jnp.where(done, partial, gram.complete), jnp.where(done, partial_count, gram.complete_count),
                      jnp.where(done, 0.0, partial), jnp.where(done, 0.0, partial_count),
                      jnp.where(done, 0, cursor).astype(jnp.int32))


def gram_sum(gram: ReplayGram):
    """(sum of psi psi^T (F, F), transitions in it): the last finished sweep's; during the first sweep, the sweep so
    far."""
    first = gram.complete_count == 0
    return (jnp.where(first, gram.partial, gram.complete), jnp.where(first, gram.partial_count, gram.complete_count))


@flax.struct.dataclass
class OptimismState:
    inner: Any  # the wrapped critic's own state
    gram: ReplayGram  # sum of psi psi^T over the replay
    root: jax.Array  # (F, F) Z, Z Z^T tracking Sigma^-1


def feature_scale(total, count):
    """E|psi|^2 over the replay (the trace of the sum / its count; 1 before any data): psi is measured in units of its
    RMS norm, so lambda is a pseudo-count whatever psi's scale, and Sigma's condition number is at most 1 + n / lambda."""
    return jnp.where(count > 0, jnp.maximum(jnp.trace(total) / jnp.maximum(count, 1.0), 1e-12), 1.0)


def sigma(total, count, ridge):
    """Sigma = ridge I + sum of phi phi^T = ridge I + total / feature_scale: (F, F), from ``total`` the sum of psi
    psi^T over ``count`` transitions. ``count`` 0 (nothing seen yet) gives ridge I."""
    chex.assert_rank(total, 2)
    return ridge * jnp.eye(total.shape[0], dtype=total.dtype) + total / feature_scale(total, count)


def whitened(sigma_matrix, root):
    """M = Z^T Sigma Z (F, F): the identity when Z Z^T = Sigma^-1."""
    return jnp.matmul(root.T, jnp.matmul(sigma_matrix, root, precision=FULL_F32), precision=FULL_F32)


def root_residual(sigma_matrix, root):
    """|I - Z^T Sigma Z|_F / sqrt(F): how far Z Z^T is from Sigma^-1 (0 exact; 1 where it says nothing)."""
    f = sigma_matrix.shape[0]
    return jnp.linalg.norm(jnp.eye(f, dtype=sigma_matrix.dtype) - whitened(sigma_matrix, root)) / jnp.sqrt(float(f))


POWER_STEPS = 12  # power-iteration steps that estimate M's largest eigenvalue


def largest_eigenvalue(matrix):
    """|A v| after ``POWER_STEPS`` power-iteration steps from a fixed random unit v: an estimate of the largest
    eigenvalue of ``matrix`` (F, F) symmetric positive semi-definite (never above it)."""
    v = jax.random.normal(jax.random.PRNGKey(0), (matrix.shape[0],), matrix.dtype)
    v = v / jnp.linalg.norm(v)
    for _ in range(POWER_STEPS):
        w = jnp.matmul(matrix, v, precision=FULL_F32)
        v = w / jnp.maximum(jnp.linalg.norm(w), 1e-30)
    return jnp.linalg.norm(jnp.matmul(matrix, v, precision=FULL_F32))


def track_root(sigma_matrix, previous, iters: int):
    """``iters`` Newton-Schulz steps Z <- Z (3I - M) / 2, M = Z^T Sigma Z, towards Z Z^T = Sigma^-1 (Sigma (F, F)
    symmetric positive definite) from ``previous`` (any nonsingular Z), first scaled by 1 / sqrt(max(1, M's largest
    eigenvalue)): each step maps M's eigenvalues by m -> m (3 - m)^2 / 4, which takes every m in (0, 3) to 1 (the
    scaled start has them in (0, ~1]); near 1 each step squares the error, a small m grows 2.25x per step. A
    ``previous`` with a non-finite entry restarts from I / sqrt(tr Sigma). Selects, no branch."""
    f = sigma_matrix.shape[0]
    eye = jnp.eye(f, dtype=sigma_matrix.dtype)
    z = jnp.where(jnp.all(jnp.isfinite(previous)), previous, eye / jnp.sqrt(jnp.trace(sigma_matrix)))
    m = whitened(sigma_matrix, z)
    s = jnp.maximum(largest_eigenvalue(m), 1.0)
    z, m = z / jnp.sqrt(s), m / s
    for i in range(iters):
        if i:
            m = whitened(sigma_matrix, z)
        z = jnp.matmul(z, 1.5 * eye - 0.5 * m, precision=FULL_F32)
    return z


def bonus(features, root, beta, scale):
    """beta * sqrt(phi^T Z Z^T phi) = beta |Z^T phi| for psi features (B, F), phi = psi / sqrt(scale)
    (``feature_scale``), Z Z^T ~ Sigma^-1 -> (B,)."""
    chex.assert_rank(features, 2)
    chex.assert_shape(root, (features.shape[-1], features.shape[-1]))
    quad = jnp.sum(jnp.square(jnp.matmul(features, root, precision=FULL_F32)), axis=-1) / scale
    return beta * jnp.sqrt(quad)


class OptimisticCritic:
    """``critic`` (with ``features(critic_state, obs, action) -> (B, F)``, the psi its heads read) and the bonus on
    those features. Q-values, the critic's own learning and its diagnostics are the wrapped critic's; ``reward_bonus``
    is the bonus (the wrapped critic has none of its own)."""

    def __init__(self, critic, config_group):
        if not hasattr(critic, "features"):
            raise TypeError(f"{type(critic).__name__} has no features(critic_state, obs, action): no psi to put the "
                            "bonus on")
        self.critic, self.traced = critic, {k: config_group[k] for k in HPARAMS}
        self.root_iters, self.sweep_width = int(config_group.root_iters), int(config_group.sweep_width)

    def hparams(self) -> dict:
        return {**self.critic.hparams(), "optimism": traced_values(self.traced, HPARAMS)}

    def init(self, key, obs_dim: int, action_dim: int, hp: dict):
        params, inner = self.critic.init(key, obs_dim, action_dim, hp)
        f = self.critic.features(inner, jnp.zeros((1, obs_dim)), jnp.zeros((1, action_dim))).shape[-1]
        root = jnp.eye(f) / jnp.sqrt(named(hp).optimism.ridge)  # Sigma^-1 = I / lambda before any data
        return params, OptimismState(inner, gram_init(f), root)

    def features(self, critic_state: OptimismState, obs, action):
        return self.critic.features(critic_state.inner, obs, action)

    def q(self, params, critic_state: OptimismState, obs, action):
        return self.critic.q(params, critic_state.inner, obs, action)

    def target_q(self, params, critic_state: OptimismState, obs, action):
        return self.critic.target_q(params, critic_state.inner, obs, action)

    def reward_bonus(self, critic_state: OptimismState, batch, hp):
        """b(s, a) on the wrapped critic's psi: (B,)."""
        return bonus(self.features(critic_state, batch.obs, batch.action), critic_state.root,
                     named(hp).optimism.beta, feature_scale(*gram_sum(critic_state.gram)))

    def step_batch_key(self, key_features, key_fresh):
        return self.critic.step_batch_key(key_features, key_fresh)

    def update_critic_state(self, critic_state: OptimismState, sampler, key, hp, critic_loss):
        """The wrapped critic's learning, then the sweep over the replay a window further with its (new) psi, and
        Z Z^T a few steps closer to Sigma^-1."""
        def inner_loss(inner, batch, k):
            return critic_loss(critic_state.replace(inner=inner), batch, k)
        if critic_loss is None:
            inner_loss = None

        # the wrapped critic gets the key it would get unwrapped (so beta = 0 learns what no bonus learns)
        inner, info = self.critic.update_critic_state(critic_state.inner, sampler, key, hp, inner_loss)
        o = named(hp).optimism
        window, valid = sampler.window(critic_state.gram.cursor, self.sweep_width)
        feats = jax.lax.stop_gradient(self.critic.features(inner, window.obs, window.action))
        gram = gram_step(critic_state.gram, feats, valid, sampler.buffer.size)
        total, count = gram_sum(gram)
        sig = sigma(total, count, o.ridge)
        root = track_root(sig, critic_state.root, self.root_iters)
        b = bonus(feats, root, o.beta, feature_scale(total, count))  # on the window's transitions (the replay's)
        w = valid.astype(b.dtype)
        info = {**info, "optimism_bonus_mean": (b * w).sum() / jnp.maximum(w.sum(), 1.0),
                "optimism_bonus_max": jnp.max(jnp.where(valid, b, 0.0)),
                "optimism_root_residual": root_residual(sig, root)}
        return OptimismState(inner, gram, root), info

    def diagnostics(self, critic_state: OptimismState, batch, key) -> dict:
        return self.critic.diagnostics(critic_state.inner, batch, key)


def optimistic(critic, config):
    """``critic`` with the bonus when ``config.optimism.enabled``; the critic itself (same program) when not."""
    return OptimisticCritic(critic, config.optimism) if config.optimism.enabled else critic
