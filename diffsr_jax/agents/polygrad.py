"""PolyGRAD: a policy-guided trajectory diffusion world model with an actor-critic trained in imagination.

The sampling-based diffusion baseline Diff-SR is compared against. Every learner update:
1. world model: one denoising step on replay segments x = [s_t, r_t, d_t]_{t<H} (B, H, d_s + 2), conditioned
   on the actions a_t (fed at their level-k signal scale sqrt(abar_k) a_t), eps-prediction, cosine schedule;
2. imagination: ``imagined_batch`` trajectories from replay start states s_0, drawn with the FULL reverse chain
   (``denoise_steps`` denoiser evaluations). At every step the actions (pre-tanh u) are pulled toward the policy
   at the predicted clean states by the guidance gradient  u += delta * d/du log pi(u | s_hat)  (the step capped
   so u never passes the policy mean: a small policy std makes the raw gradient step diverge) and re-noised
   with the level's posterior std; the guidance scale delta is tuned online so that the final actions'
   standardised spread under the policy, std((u - mu(s)) / sigma(s)), is 1 (on-policy). ``guidance_type=sample``
   is the official code's other mode: actions re-drawn every step as mu(s_hat) + sigma(s_hat) xi with one fixed
   xi ~ N(0, I) per trajectory, so the final actions are exact policy samples at the final states;
3. actor-critic in imagination (PolyGRAD's A2C): a state-value critic on lambda-returns bootstrapped from its
   target network, and a REINFORCE actor on the standardised advantages (GAE from the target critic, centred and
   scaled per batch) with an entropy bonus, both weighted by the imagined continuation (predicted termination cuts
   a trajectory). The actor's std is one learned parameter per action dim floored at ``min_std``
   (``actor_std=global``, PolyGRAD's choice) or the SAC-style state-dependent head (``actor_std=state``).
Imagination runs an EMA of the denoiser's parameters (rate ``trajectory_model.tau``), as PolyGRAD samples from its
EMA model.

Traced hyperparameters (``state.hp``): actor_critic gamma, tau, actor_lr, critic_lr; polygrad lam, entropy_coef,
guidance_lr, action_noise_scale; trajectory_model lr (the denoiser's).
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections

from diffsr_jax.agents import trajectory_model
from diffsr_jax.data.normalizer import RunningStats, stats_init, stats_update
from diffsr_jax.diffusion.sampling import (
    posterior_coefficients,
    posterior_step,
    predict_x0,
)
from diffsr_jax.diffusion.trajectory import trajectory_denoising_loss
from diffsr_jax.fields import ConfigGroup, Fields, named, traced_values
from diffsr_jax.networks.actors import (
    GlobalStdTanhGaussianActor,
    TanhGaussianActor,
    sample_tanh_gaussian,
)
from diffsr_jax.networks.mlp import MLP
from diffsr_jax.optim import Learner, adam, soft_update

LOG_GUIDANCE_RANGE = (-12.0, 3.0)


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.imagined_batch = 1024  # imagined trajectories per update
    g.guidance_type = "grad"  # grad: policy-guidance gradient on the actions | sample: on-policy resampling
    g.guidance_scale = 0.005  # initial policy-guidance scale delta, then tuned online
    g.guidance_lr = 0.01  # log(delta) += guidance_lr * (action z-score std - 1) per update
    g.action_noise_scale = 1.0  # action re-noising, in units of the level's posterior std
    g.action_clip_std = 3.0  # final actions kept within this many policy stds
    g.actor_std = "global"  # global: one learned std per action dim (PolyGRAD) | state: SAC-style std head
    g.min_std = 0.1  # floor of the global std
    g.init_std = 1.0
    g.lam = 0.9  # TD(lambda) of the critic in imagination
    g.entropy_coef = 1e-5
    return g


def validate(config) -> None:
    g = config.polygrad
    f = Fields(g, "polygrad")
    f.integer("imagined_batch")
    f.positive("guidance_scale", "action_clip_std")
    f.within("lam", 0.0, 1.0)
    f.choice("guidance_type", ("grad", "sample"))
    f.choice("actor_std", ("global", "state"))
    if not 0.0 < g.min_std < g.init_std:
        f.fail("min_std", f"and config.polygrad.init_std must satisfy 0 < min_std < init_std, got {g.min_std} and "
               f"{g.init_std}")


POLYGRAD = ConfigGroup("polygrad", defaults, validate, "PolyGRAD's own: policy guidance, the imagination's actor")


@flax.struct.dataclass
class PolyGRADState:
    actor: Learner
    value: Learner
    target_value: Any
    model: Learner
    model_ema: Any  # EMA of the denoiser's parameters: imagination samples from it
    log_guidance: jnp.ndarray  # () log of the policy-guidance scale delta
    reward_stats: RunningStats  # rewards are diffused standardised
    hp: dict


def gaussian_logp(u, mean, log_std):
    """log N(u; mean, exp(log_std)^2) summed over the last axis."""
    return jnp.sum(-0.5 * ((u - mean) / jnp.exp(log_std)) ** 2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)


def lambda_returns(rewards, discounts, values, lam):
    """TD(lambda) returns over a horizon: rewards/discounts (B, T), values (B, T+1) -> (B, T).
    R_t = r_t + d_t ((1 - lam) V_{t+1} + lam R_{t+1}), R_T = V_T."""

    def step(nxt, xs):
        r, d, v_next = xs
        ret = r + d * ((1.0 - lam) * v_next + lam * nxt)
        return ret, ret

    _, rets = jax.lax.scan(step, values[:, -1], (rewards.T, discounts.T, values[:, 1:].T), reverse=True)
    return rets.T


class PolyGRAD:
    HPARAMS = {"actor_critic": ("gamma", "tau", "actor_lr", "critic_lr"), "trajectory_model": ("lr",),
               "polygrad": ("lam", "entropy_coef", "guidance_lr", "action_noise_scale")}

    def __init__(self, config, obs_dim: int, action_dim: int):
        """From ``config.polygrad``, ``config.trajectory_model``, ``config.actor_critic`` (the actor and value nets,
        their rates), ``config.mlp_critic.hidden`` (the value net) and, for ``actor_std=state``, SAC's log-std range."""
        self.config, self.own, self.model_cfg = config, config.polygrad, config.trajectory_model
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.horizon = int(self.model_cfg.horizon)
        self.x_dim = obs_dim + 2  # state, standardised reward, termination flag
        ac, own = config.actor_critic, self.own
        if own.actor_std == "global":
            self.actor_net = GlobalStdTanhGaussianActor(action_dim, tuple(ac.actor_hidden), ac.activation, False,
                                                        own.min_std, own.init_std)
        else:
            self.actor_net = TanhGaussianActor(action_dim, tuple(ac.actor_hidden), ac.activation, False,
                                               config.sac.log_std_min, config.sac.log_std_max)
        self.value_net = MLP(tuple(config.mlp_critic.hidden), 1, ac.activation)
        self.model_net = trajectory_model.denoiser(self.model_cfg)
        self.schedule = trajectory_model.schedule(self.model_cfg)

    def hparams(self) -> dict:
        return {g: traced_values(self.config[g], names) for g, names in self.HPARAMS.items()}

    # --- state -----------------------------------------------------------------------------------
    def init(self, key, hp: dict) -> PolyGRADState:
        k_actor, k_value, k_model = jax.random.split(key, 3)
        obs = jnp.zeros((1, self.obs_dim))
        rates, clip = named(hp), self.model_cfg.max_grad_norm
        actor = Learner.create(self.actor_net.init(k_actor, obs), adam(rates.actor_critic.actor_lr, clip))
        value_params = self.value_net.init(k_value, obs)
        value = Learner.create(value_params, adam(rates.actor_critic.critic_lr, clip))
        x = jnp.zeros((1, self.horizon, self.x_dim))
        cond = jnp.zeros((1, self.horizon, self.action_dim))
        model_params = self.model_net.init(k_model, x, cond, jnp.zeros((1,), jnp.int32))
        model = Learner.create(model_params, adam(named(hp).trajectory_model.lr, self.model_cfg.max_grad_norm))
        return PolyGRADState(actor, value, value_params, model, model_params,
                             jnp.log(jnp.asarray(self.own.guidance_scale, jnp.float32)), stats_init(1), hp)

    def act(self, state: PolyGRADState, obs, key, deterministic: bool):
        mean, log_std = self.actor_net.apply(state.actor.params, obs)
        if deterministic:
            return jnp.tanh(mean)
        return sample_tanh_gaussian(key, mean, log_std)[0]

    # --- world model -----------------------------------------------------------------------------
    def _standardize_reward(self, stats: RunningStats, r):
        return (r - stats.mean[0]) / jnp.sqrt(stats.var[0] + 1e-6)

    def model_loss(self, params, state: PolyGRADState, seg, valid, key):
        r = self._standardize_reward(state.reward_stats, seg.reward)
        x0 = jnp.concatenate([seg.obs, r[..., None], seg.terminated[..., None]], axis=-1)
        eps_fn = lambda x, c, k: self.model_net.apply(params, x, c, k)
        return trajectory_denoising_loss(eps_fn, self.schedule, x0, seg.action, valid, key)

    def imagine(self, state: PolyGRADState, s0, key):
        """Policy-guided reverse chain from start states s0 (B, d_s).

        Returns (states (B, H, d_s), u (B, H, d_a) pre-tanh actions, rewards (B, H), terminated (B, H),
        action z-score std under the policy at the final states: ())."""
        post = posterior_coefficients(self.schedule)
        b, h, ds = s0.shape[0], self.horizon, self.obs_dim
        params, actor = state.model_ema, state.actor.params
        delta = jnp.exp(state.log_guidance)
        clip = float(self.model_cfg.x0_clip)

        def condition(x):
            return x.at[:, 0, :ds].set(s0)

        def step(carry, xs):
            x, u = carry
            k, key = xs
            k_x, k_u = jax.random.split(key)
            ab = post.alpha_bar[k]
            eps = self.model_net.apply(params, x, jnp.sqrt(ab) * jnp.tanh(u), jnp.full((b,), k))
            x0 = condition(jnp.clip(predict_x0(post, x, eps, k), -clip, clip))
            x_next, std = posterior_step(post, x, x0, k, k_x)
            mean, log_std = self.actor_net.apply(actor, x0[..., :ds])
            if self.own.guidance_type == "sample":  # on-policy resample with the trajectory's fixed noise xi
                u = mean + jnp.exp(log_std) * xi
            else:
                # delta * grad_u log pi(u | s_hat) = delta (mu - u) / sigma^2, step capped at 1: never overshoots mu
                u = u + jnp.minimum(delta / jnp.exp(2.0 * log_std), 1.0) * (mean - u)
                u = u + named(state.hp).polygrad.action_noise_scale * std * jax.random.normal(k_u, u.shape)
            return (condition(x_next), u), None

        k_x, k_u, k_steps = jax.random.split(key, 3)
        x = condition(jax.random.normal(k_x, (b, h, self.x_dim)))
        u = jax.random.normal(k_u, (b, h, self.action_dim))
        xi = jax.random.normal(jax.random.fold_in(k_u, 1), u.shape)
        levels = jnp.arange(self.schedule.num_levels - 1, -1, -1, dtype=jnp.int32)
        (x, u), _ = jax.lax.scan(step, (x, u), (levels, jax.random.split(k_steps, self.schedule.num_levels)))
        states = x[..., :ds]
        mean, log_std = self.actor_net.apply(actor, states)
        z = (u - mean) / jnp.exp(log_std)
        c = float(self.own.action_clip_std)
        u = mean + jnp.exp(log_std) * jnp.clip(z, -c, c)
        stats = state.reward_stats
        rewards = x[..., ds] * jnp.sqrt(stats.var[0] + 1e-6) + stats.mean[0]
        return states, u, rewards, (x[..., ds + 1] > 0.5).astype(jnp.float32), jnp.std(z)

    # --- actor-critic in imagination -------------------------------------------------------------
    def value_loss(self, params, state: PolyGRADState, states, returns, weights):
        v = self.value_net.apply(params, states)[..., 0][:, :-1]
        loss = jnp.sum(weights * (v - returns) ** 2) / jnp.sum(weights)
        return loss, {"value_loss": loss, "value_mean": v.mean()}

    def actor_loss(self, params, state: PolyGRADState, states, u, advantages, weights):
        mean, log_std = self.actor_net.apply(params, states[:, :-1])
        logp = gaussian_logp(u[:, :-1], mean, log_std)
        entropy = jnp.sum(log_std + 0.5 * jnp.log(2.0 * jnp.pi * jnp.e), axis=-1)
        obj = logp * advantages + named(state.hp).polygrad.entropy_coef * entropy
        loss = -jnp.sum(weights * obj) / jnp.sum(weights)
        return loss, {"actor_loss": loss, "entropy": entropy.mean()}

    def update_actor_critic(self, state: PolyGRADState, states, u, rewards, terminated):
        hp = state.hp
        states, u = jax.lax.stop_gradient(states), jax.lax.stop_gradient(u)
        v_target = self.value_net.apply(state.target_value, states)[..., 0]  # (B, H)
        cont = 1.0 - terminated[:, :-1]
        rates = named(hp)
        discounts = rates.actor_critic.gamma * cont
        returns = lambda_returns(rewards[:, :-1], discounts, v_target, rates.polygrad.lam)  # (B, H-1)
        weights = jnp.cumprod(jnp.concatenate([jnp.ones_like(cont[:, :1]), cont[:, :-1]], axis=1), axis=1)
        (_, v_info), v_grads = jax.value_and_grad(self.value_loss, has_aux=True)(
            state.value.params, state, states, returns, weights)
        adv = returns - v_target[:, :-1]  # GAE(lambda) from the target critic
        mean = jnp.sum(weights * adv) / jnp.sum(weights)
        std = jnp.sqrt(jnp.sum(weights * (adv - mean) ** 2) / jnp.sum(weights))
        adv = (adv - mean) / (std + 1e-6)
        (_, a_info), a_grads = jax.value_and_grad(self.actor_loss, has_aux=True)(
            state.actor.params, state, states, u, adv, weights)
        value = state.value.apply_gradients(v_grads)
        state = state.replace(value=value, actor=state.actor.apply_gradients(a_grads),
                              target_value=soft_update(state.target_value, value.params, named(hp).actor_critic.tau))
        return state, {**v_info, **a_info, "imag_return": returns[:, 0].mean()}

    # --- one learner step ------------------------------------------------------------------------
    def update(self, state: PolyGRADState, sampler, key, update_idx):
        del update_idx
        k_seg, k_loss, k_start, k_imag = jax.random.split(key, 4)
        seg, valid = sampler.segments(k_seg, int(self.model_cfg.batch), self.horizon)
        state = state.replace(reward_stats=stats_update(state.reward_stats, seg.reward.reshape(-1, 1)))
        m_loss, m_grads = jax.value_and_grad(self.model_loss)(state.model.params, state, seg, valid, k_loss)
        model = state.model.apply_gradients(m_grads)
        state = state.replace(model=model,
                              model_ema=soft_update(state.model_ema, model.params, float(self.model_cfg.tau)))

        start, _ = sampler.segments(k_start, int(self.own.imagined_batch), 1)
        states, u, rewards, terminated, act_std = self.imagine(state, start.obs[:, 0], k_imag)
        state, info = self.update_actor_critic(state, states, u, rewards, terminated)
        step = named(state.hp).polygrad.guidance_lr * (act_std - 1.0)
        log_g = jnp.clip(state.log_guidance + step, *LOG_GUIDANCE_RANGE)
        state = state.replace(log_guidance=log_g)
        return state, {**info, "model_loss": m_loss, "guidance_scale": jnp.exp(log_g), "act_std": act_std,
                       "imag_reward": rewards.mean(), "imag_terminal": terminated.mean()}

    def diagnostics(self, state: PolyGRADState, batch, key) -> dict:
        del state, batch, key
        return {}
