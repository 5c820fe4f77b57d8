"""Soft Actor-Critic with twin critics and a learned temperature.

The critic is reached only through the ``ActorCritic`` hooks, so Diff-SR-SAC can swap in an RFF critic on
psi(s, a) and reuse every loss here. Traced hyperparameters (``state.hp``): gamma, tau, actor_lr, critic_lr,
alpha_lr, init_alpha.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from diffsr_jax.agents.base import ActorCritic
from diffsr_jax.agents.common import Learner, adam, periodic_soft_update, td_target
from diffsr_jax.networks.actors import TanhGaussianActor, sample_tanh_gaussian


@flax.struct.dataclass
class SACState:
    actor: Learner
    critic: Learner
    target_critic: Any
    log_alpha: Learner
    hp: dict
    rep: Any = None  # representation learner (Diff-SR agents); None for plain SAC
    target_rep: Any = None


class SAC(ActorCritic):
    HPARAMS = ("gamma", "tau", "actor_lr", "critic_lr", "alpha_lr", "init_alpha")

    def __init__(self, cfg, obs_dim: int, action_dim: int):
        super().__init__(cfg, obs_dim, action_dim)
        self.actor_net = TanhGaussianActor(
            action_dim, tuple(cfg.actor_hidden), cfg.activation, cfg.actor_layer_norm, cfg.log_std_min, cfg.log_std_max
        )
        self.target_entropy = -float(action_dim) * cfg.target_entropy_scale

    def init(self, key, hp: dict, rep=None, target_rep=None) -> SACState:
        k_actor, k_critic = jax.random.split(key)
        obs = jnp.zeros((1, self.obs_dim))
        action = jnp.zeros((1, self.action_dim))
        actor = Learner.create(self.actor_net.init(k_actor, obs), adam(hp["actor_lr"]))
        rep_params = None if rep is None else (target_rep if target_rep is not None else rep.params)
        critic_params = self.critic_init(k_critic, obs, action, rep_params)
        critic = Learner.create(critic_params, adam(hp["critic_lr"]))
        log_alpha = Learner.create(jnp.log(hp["init_alpha"]), adam(hp["alpha_lr"]))
        return SACState(actor, critic, critic_params, log_alpha, hp, rep, target_rep)

    def act(self, state: SACState, obs, key, deterministic: bool):
        mean, log_std = self.actor_net.apply(state.actor.params, obs)
        if deterministic:
            return jnp.tanh(mean)
        return sample_tanh_gaussian(key, mean, log_std)[0]

    def critic_loss(self, critic_params, state: SACState, batch, key):
        hp = state.hp
        rep_params = self.critic_rep_params(state)
        mean, log_std = self.actor_net.apply(state.actor.params, batch.next_obs)
        next_a, next_logp = sample_tanh_gaussian(key, mean, log_std)
        alpha = jnp.exp(state.log_alpha.params)
        next_q = jnp.min(self.q_values(state.target_critic, rep_params, batch.next_obs, next_a), axis=0)
        target = td_target(batch.reward, batch.terminated, next_q - alpha * next_logp, hp["gamma"])
        q = self.q_values(critic_params, rep_params, batch.obs, batch.action)
        loss = jnp.sum(jnp.mean((q - jax.lax.stop_gradient(target)) ** 2, axis=-1))
        return loss, {"critic_loss": loss, "q_mean": q.mean(), "q_std": q.std(), "target_q": target.mean()}

    def actor_loss(self, actor_params, state: SACState, batch, key):
        mean, log_std = self.actor_net.apply(actor_params, batch.obs)
        a, logp = sample_tanh_gaussian(key, mean, log_std)
        alpha = jnp.exp(state.log_alpha.params)
        q = jnp.min(self.q_values(state.critic.params, self.critic_rep_params(state), batch.obs, a), axis=0)
        loss = jnp.mean(alpha * logp - q)
        return loss, {"actor_loss": loss, "entropy": -logp.mean(), "logp": logp}

    def update_actor_critic(self, state: SACState, batch, key, update_idx):
        """One SAC step on ``batch``: critic, actor, temperature, then (every k-th step) targets."""
        k_critic, k_actor = jax.random.split(key)
        (_, c_info), c_grads = jax.value_and_grad(self.critic_loss, has_aux=True)(
            state.critic.params, state, batch, k_critic
        )
        state = state.replace(critic=state.critic.apply_gradients(c_grads))
        (_, a_info), a_grads = jax.value_and_grad(self.actor_loss, has_aux=True)(
            state.actor.params, state, batch, k_actor
        )
        state = state.replace(actor=state.actor.apply_gradients(a_grads))
        logp = jax.lax.stop_gradient(a_info.pop("logp"))
        alpha_grad = jax.grad(lambda la: -jnp.mean(la * (logp + self.target_entropy)))(state.log_alpha.params)
        state = state.replace(log_alpha=state.log_alpha.apply_gradients(alpha_grad))
        do_target = (update_idx % self.cfg.target_update_every) == 0
        state = state.replace(
            target_critic=periodic_soft_update(state.target_critic, state.critic.params, state.hp["tau"], do_target)
        )
        return state, {**c_info, **a_info, "alpha": jnp.exp(state.log_alpha.params)}

    def update(self, state: SACState, sample_fn, key, update_idx):
        """One learner step: draw a batch with ``sample_fn(key)`` and update. Returns (state, metrics)."""
        k_batch, k_update = jax.random.split(key)
        return self.update_actor_critic(state, sample_fn(k_batch), k_update, update_idx)
