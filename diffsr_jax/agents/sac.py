"""Soft Actor-Critic with a learned temperature, on any critic component (``agents.critics``).

With ``MLPCritic`` this is SAC; with a ``RepresentationCritic`` on ``DiffSRRepresentation`` it is Diff-SR-SAC. The
losses below only call ``critic.q``, so they read the same either way. Traced hyperparameters (``state.hp``):
``actor_critic`` gamma, tau, actor_lr, critic_lr; ``sac`` alpha_lr, init_alpha; the critic's own.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections

from diffsr_jax.agents.actor_critic import base_hparams, learner_step, td_target
from diffsr_jax.fields import ConfigGroup, Fields, named
from diffsr_jax.networks.actors import TanhGaussianActor, sample_tanh_gaussian
from diffsr_jax.optim import Learner, adam, periodic_soft_update


@flax.struct.dataclass
class SACState:
    actor: Learner
    q_heads: Learner  # the Q heads the critic component computes Q with (params + Adam state)
    target_q_heads: Any  # their target copy (params)
    log_alpha: Learner
    critic_state: Any  # the critic component's own state (None for an MLP critic)
    hp: dict


def defaults() -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict({
        "alpha_lr": 3e-4,  # the temperature's learning rate; 0 keeps alpha at init_alpha (the condition of rl-rep's
        #                   first upload, whose alpha never moved: a bug there, a choice here)
        "init_alpha": 1.0,
        "target_entropy_scale": 1.0,  # target entropy = -scale * |A|
        "log_std_min": -5.0,  # the actor's log-std range
        "log_std_max": 2.0,
        "target_update_every": 1,  # learner updates per target-critic update
    })


def validate(config) -> None:
    f = Fields(config.sac, "sac")
    f.positive("init_alpha")
    if not config.sac.alpha_lr >= 0:
        f.fail("alpha_lr", f"must be >= 0 (0: alpha fixed at init_alpha), got {config.sac.alpha_lr}")
    f.integer("target_update_every")
    if not config.sac.log_std_min < config.sac.log_std_max:
        f.fail("log_std_min", f"must be < config.sac.log_std_max, got {config.sac.log_std_min} and "
               f"{config.sac.log_std_max}")


SAC_CONFIG = ConfigGroup("sac", defaults, validate, "SAC's own: the temperature, the actor's log-std range")


NUM_Q = 2  # twin critics


class SAC:
    HPARAMS = ("alpha_lr", "init_alpha")  # of config.sac, traced beside config.actor_critic's

    def __init__(self, config, obs_dim: int, action_dim: int, critic):
        """From ``config.actor_critic`` and ``config.sac``, on ``critic`` (an ``agents.critics`` component, twin)."""
        self.shared, self.own, self.critic = config.actor_critic, config.sac, critic
        self.obs_dim, self.action_dim = obs_dim, action_dim
        shared, own = self.shared, self.own
        self.actor_net = TanhGaussianActor(action_dim, tuple(shared.actor_hidden), shared.activation,
                                           shared.actor_layer_norm, own.log_std_min, own.log_std_max,
                                           shared.actor_init)
        self.target_entropy = -float(action_dim) * own.target_entropy_scale

    def hparams(self) -> dict:
        return base_hparams(self.shared, "sac", self.own, self.HPARAMS, self.critic)

    def init(self, key, hp: dict) -> SACState:
        k_actor, k_critic = jax.random.split(key)
        rates = named(hp)
        actor_params = self.actor_net.init(k_actor, jnp.zeros((1, self.obs_dim)))
        actor = Learner.create(actor_params, adam(rates.actor_critic.actor_lr))
        critic_params, critic_state = self.critic.init(k_critic, self.obs_dim, self.action_dim, hp)
        critic = Learner.create(critic_params, adam(rates.actor_critic.critic_lr))
        log_alpha = Learner.create(jnp.log(rates.sac.init_alpha), adam(rates.sac.alpha_lr))
        return SACState(actor, critic, critic_params, log_alpha, critic_state, hp)

    def act(self, state: SACState, obs, key, deterministic: bool):
        mean, log_std = self.actor_net.apply(state.actor.params, obs)
        if deterministic:
            return jnp.tanh(mean)
        return sample_tanh_gaussian(key, mean, log_std)[0]

    def critic_loss(self, critic_params, state: SACState, batch, key):
        mean, log_std = self.actor_net.apply(state.actor.params, batch.next_obs)
        next_a, next_logp = sample_tanh_gaussian(key, mean, log_std)
        alpha = jnp.exp(state.log_alpha.params)
        next_q = jnp.min(self.critic.target_q(state.target_q_heads, state.critic_state, batch.next_obs, next_a),
                         axis=0)
        gamma = named(state.hp).actor_critic.gamma
        bonus = self.critic.reward_bonus(state.critic_state, batch, state.hp)  # zeros unless optimism is on
        target = td_target(batch.reward, bonus, batch.terminated, next_q - alpha * next_logp, gamma)
        q = self.critic.q(critic_params, state.critic_state, batch.obs, batch.action)
        loss = jnp.sum(jnp.mean((q - jax.lax.stop_gradient(target)) ** 2, axis=-1))
        return loss, {"critic_loss": loss, "q_mean": q.mean(), "q_std": q.std(), "target_q": target.mean()}

    def actor_loss(self, actor_params, state: SACState, batch, key):
        mean, log_std = self.actor_net.apply(actor_params, batch.obs)
        a, logp = sample_tanh_gaussian(key, mean, log_std)
        alpha = jnp.exp(state.log_alpha.params)
        q = jnp.min(self.critic.q(state.q_heads.params, state.critic_state, batch.obs, a), axis=0)
        loss = jnp.mean(alpha * logp - q)
        return loss, {"actor_loss": loss, "entropy": -logp.mean(), "logp": logp}

    def update_actor_critic(self, state: SACState, batch, key, update_idx):
        """One SAC step on ``batch``: critic, actor, temperature, then (every k-th step) the target critic."""
        k_critic, k_actor = jax.random.split(key)
        (_, c_info), c_grads = jax.value_and_grad(self.critic_loss, has_aux=True)(
            state.q_heads.params, state, batch, k_critic
        )
        state = state.replace(q_heads=state.q_heads.apply_gradients(c_grads))
        (_, a_info), a_grads = jax.value_and_grad(self.actor_loss, has_aux=True)(
            state.actor.params, state, batch, k_actor
        )
        state = state.replace(actor=state.actor.apply_gradients(a_grads))
        logp = jax.lax.stop_gradient(a_info.pop("logp"))
        alpha_grad = jax.grad(lambda la: -jnp.mean(la * (logp + self.target_entropy)))(state.log_alpha.params)
        state = state.replace(log_alpha=state.log_alpha.apply_gradients(alpha_grad))
        do_target = (update_idx % self.own.target_update_every) == 0
        state = state.replace(
            target_q_heads=periodic_soft_update(state.target_q_heads, state.q_heads.params,
                                               named(state.hp).actor_critic.tau, do_target)
        )
        return state, {**c_info, **a_info, "alpha": jnp.exp(state.log_alpha.params)}

    def update(self, state: SACState, sampler, key, update_idx):
        """The critic's feature learning, then one SAC step on a fresh batch. Returns (state, metrics)."""
        return learner_step(self, state, sampler, key, update_idx)

    def diagnostics(self, state: SACState, batch, key) -> dict:
        return self.critic.diagnostics(state.critic_state, batch, key)
