"""A linear-Gaussian transition s' = A s + B a + sigma_n n, whose perturbed kernel has a closed-form score.

With x = sqrt(ab) s' + sqrt(1 - ab) sigma eps (ab = alpha_bar, sigma = noise_scale), given (s, a):
    x ~ N(sqrt(ab) mu, v I),  mu = A s + B a,  v = ab sigma_n^2 + (1 - ab) sigma^2,
so grad_x log p(x | s, a; ab) = -(x - sqrt(ab) mu) / v. That score factorises as psi(s, a)^T zeta(x, ab)
with psi = [1, s, a], which is what Diff-SR assumes; ``fit_score_model`` checks that our loss recovers it.

Flow matching's counterpart: on the straight path x_t = (1 - t) x_0 + t s', x_0 ~ N(0, sigma^2 I), the velocity
field E[s' - x_0 | x_t, t, s, a] = mu + c(t) (x_t - t mu), c(t) = (t sigma_n^2 - (1 - t) sigma^2) / ((1 - t)^2 sigma^2
+ t^2 sigma_n^2) (jointly Gaussian: the covariance of s' - x_0 with x_t over the variance of x_t). It factorises with
the same psi = [1, s, a]; ``fit_score_model(..., objective="flow_matching")`` and ``relative_velocity_error`` check
that our flow loss recovers it.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import chex
import flax.struct
import jax
import jax.numpy as jnp
import optax

from diffsr_jax.diffusion import NoiseSchedule, corrupt, make_schedule, pred_to_score
from diffsr_jax.representation import PsiZeta, PsiNet, ZetaNet, score_matching_loss
from diffsr_jax.representation.flow import flow_matching_loss, flow_path, level_of


@flax.struct.dataclass
class LinearGaussianSystem:
    """A (d_s, d_s), B (d_s, d_a), noise std sigma_n."""

    A: jnp.ndarray
    B: jnp.ndarray
    sigma_n: float = 0.5

    @property
    def state_dim(self) -> int:
        return self.A.shape[0]

    @property
    def action_dim(self) -> int:
        return self.B.shape[1]

    def sample(self, key, batch: int):
        """(s, a, s') with s ~ N(0, I), a ~ U[-1, 1]: (B, d_s), (B, d_a), (B, d_s)."""
        ks, ka, kn = jax.random.split(key, 3)
        s = jax.random.normal(ks, (batch, self.state_dim))
        a = jax.random.uniform(ka, (batch, self.action_dim), minval=-1.0, maxval=1.0)
        s_next = s @ self.A.T + a @ self.B.T + self.sigma_n * jax.random.normal(kn, (batch, self.state_dim))
        chex.assert_shape([s, s_next], (batch, self.state_dim))
        chex.assert_shape(a, (batch, self.action_dim))
        return s, a, s_next

    def score(self, s, a, x_noisy, alpha_bar, noise_scale: float = 1.0):
        """Analytic grad_x log p(x | s, a; alpha_bar) : (B, d_s); alpha_bar scalar or (B,)."""
        chex.assert_shape([s, x_noisy], (None, self.state_dim))
        chex.assert_shape(a, (s.shape[0], self.action_dim))
        ab = jnp.asarray(alpha_bar)
        chex.assert_rank(ab, {0, 1})
        ab = ab[:, None] if ab.ndim == 1 else ab
        mu = s @ self.A.T + a @ self.B.T
        v = ab * self.sigma_n**2 + (1.0 - ab) * noise_scale**2
        score = -(x_noisy - jnp.sqrt(ab) * mu) / v
        chex.assert_equal_shape([score, x_noisy])  # (B, d_s)
        return score

    def velocity(self, s, a, x_t, t, noise_scale: float = 1.0):
        """Analytic velocity field E[s' - x_0 | x_t, t, s, a] of the straight noise-to-s' path: (B, d_s); t (B,)."""
        chex.assert_shape([s, x_t], (None, self.state_dim))
        chex.assert_shape(t, s.shape[:1])
        t = t[:, None]
        mu = s @ self.A.T + a @ self.B.T
        c = (t * self.sigma_n**2 - (1.0 - t) * noise_scale**2) / ((1.0 - t) ** 2 * noise_scale**2
                                                                   + t**2 * self.sigma_n**2)
        v = mu + c * (x_t - t * mu)
        chex.assert_equal_shape([v, x_t])
        return v


def make_system(key, state_dim: int = 3, action_dim: int = 2, sigma_n: float = 0.5) -> LinearGaussianSystem:
    """A random stable system: A scaled to spectral norm 0.9, B ~ N(0, 1/d_a)."""
    ka, kb = jax.random.split(key)
    A = jax.random.normal(ka, (state_dim, state_dim))
    A = 0.9 * A / jnp.linalg.norm(A, 2)
    B = jax.random.normal(kb, (state_dim, action_dim)) / jnp.sqrt(action_dim)
    return LinearGaussianSystem(A, B, sigma_n)


def make_low_rank_system(key, state_dim: int = 16, action_dim: int = 4, state_rank: int = 4, action_rank: int = 2,
                         sigma_n: float = 0.3) -> LinearGaussianSystem:
    """A system whose mean next state A s + B a depends on (s, a) only through ``state_rank + action_rank``
    directions: A = U V^T (U (d_s, r_s) ~ N(0, 1), V orthonormal), B = W Z^T likewise. A few features (r_s + r_a + 1)
    carry the whole transition mean, while a random map of (s, a) to that many features keeps only part of it: the
    setting where a learned representation and a random one differ (tests/test_probes.py)."""
    ku, kv, kw, kz = jax.random.split(key, 4)
    U = jax.random.normal(ku, (state_dim, state_rank))
    V = jnp.linalg.qr(jax.random.normal(kv, (state_dim, state_rank)))[0]
    W = jax.random.normal(kw, (state_dim, action_rank))
    Z = jnp.linalg.qr(jax.random.normal(kz, (action_dim, action_rank)))[0]
    return LinearGaussianSystem(U @ V.T, W @ Z.T, sigma_n)


@dataclasses.dataclass(frozen=True)
class ScoreFitConfig:
    parameterization: str = "score"
    schedule: str = "vp"
    num_levels: int = 20
    noise_scale: float = 1.0
    level_input: str = "alpha_bar"
    feature_dim: int = 32
    psi_hidden: Sequence[int] = (128, 128)
    zeta_hidden: Sequence[int] = (256, 256)
    learning_rate: float = 1e-3
    batch_size: int = 512
    num_steps: int = 3000
    eval_batch: int = 4096


def build_model(cfg: ScoreFitConfig, state_dim: int) -> PsiZeta:
    return PsiZeta(
        PsiNet(cfg.feature_dim, "mlp", tuple(cfg.psi_hidden), "elu"),
        ZetaNet(cfg.feature_dim, state_dim, "mlp", tuple(cfg.zeta_hidden), "elu", cfg.level_input),
    )


def relative_score_error(model, params, system, key, schedule: NoiseSchedule, cfg: ScoreFitConfig, levels):
    """sqrt(E||learned - true||^2 / E||true||^2) on fresh held-out data, per level: (L,)."""
    k_data, k_noise = jax.random.split(key)
    s, a, s_next = system.sample(k_data, cfg.eval_batch)

    def at_level(k, lvl):
        ab = schedule.alpha_bar[lvl]
        x, _ = corrupt(k, s_next, ab, cfg.noise_scale)
        level = jnp.full((s.shape[0],), lvl)
        pred = model.apply(params, s, a, x, level, jnp.full((s.shape[0],), ab))
        learned = pred_to_score(pred, ab, cfg.parameterization, cfg.noise_scale)
        true = system.score(s, a, x, ab, cfg.noise_scale)
        return jnp.sqrt(jnp.sum((learned - true) ** 2) / jnp.sum(true**2))

    levels = jnp.asarray(levels)
    chex.assert_rank(levels, 1)
    err = jax.vmap(at_level)(jax.random.split(k_noise, levels.shape[0]), levels)
    chex.assert_shape(err, levels.shape)  # (L,)
    return err


def relative_velocity_error(model, params, system, key, cfg: ScoreFitConfig, times):
    """sqrt(E||learned - true||^2 / E||true||^2) of the velocity field on fresh held-out data, per time: (T,)."""
    k_data, k_noise = jax.random.split(key)
    s, a, s_next = system.sample(k_data, cfg.eval_batch)

    def at_time(k, time):
        t = jnp.full((s.shape[0],), time)
        x_t, _ = flow_path(k, s_next, t, cfg.noise_scale)
        learned = model.apply(params, s, a, x_t, level_of(t, cfg.num_levels), t)
        true = system.velocity(s, a, x_t, t, cfg.noise_scale)
        return jnp.sqrt(jnp.sum((learned - true) ** 2) / jnp.sum(true**2))

    times = jnp.asarray(times, jnp.float32)
    chex.assert_rank(times, 1)
    err = jax.vmap(at_time)(jax.random.split(k_noise, times.shape[0]), times)
    chex.assert_shape(err, times.shape)
    return err


def fit_score_model(key, system: LinearGaussianSystem, cfg: ScoreFitConfig, objective: str = "score_matching"):
    """Train psi, zeta on the system with our loss (``objective``: score_matching, or flow_matching: psi^T zeta is
    then the velocity field). Returns (model, params, schedule, loss_history (steps,))."""
    schedule = make_schedule(cfg.schedule, cfg.num_levels)
    model = build_model(cfg, system.state_dim)
    k_init, k_train = jax.random.split(key)
    s, a, s_next = system.sample(k_init, 2)
    params = model.init(k_init, s, a, s_next, jnp.zeros((2,), jnp.int32), jnp.ones((2,)))
    tx = optax.adam(optax.cosine_decay_schedule(cfg.learning_rate, cfg.num_steps, alpha=0.01))
    opt_state = tx.init(params)

    def sm_loss(p, key, s, a, s_next):
        psi = model.apply(p, s, a, method=PsiZeta.psi)
        zeta_fn = lambda x, level, ab: model.apply(p, x, level, ab, method=PsiZeta.zeta)
        if objective == "flow_matching":
            return flow_matching_loss(psi, zeta_fn, key, s_next, cfg.num_levels, cfg.noise_scale)
        return score_matching_loss(psi, zeta_fn, key, s_next, schedule, cfg.parameterization, cfg.noise_scale)

    def step(carry, k):
        params, opt_state = carry
        k_data, k_loss = jax.random.split(k)
        s, a, s_next = system.sample(k_data, cfg.batch_size)
        loss, grads = jax.value_and_grad(lambda p: sm_loss(p, k_loss, s, a, s_next))(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    (params, _), losses = jax.jit(lambda c, ks: jax.lax.scan(step, c, ks))(
        (params, opt_state), jax.random.split(k_train, cfg.num_steps)
    )
    return model, params, schedule, losses
