"""DDPG: a deterministic actor and one critic, both with soft-updated targets, on any critic component.

With ``MLPCritic`` this is DDPG (Lillicrap et al. 2016, with Gaussian exploration noise); ``diffsr_ddpg`` puts it
on the Diff-SR representation without a line of Diff-SR code here. Traced hyperparameters (``state.hp``): gamma,
tau, actor_lr, critic_lr, expl_noise, plus the critic's own.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from diffsr_jax.agents.common import (
    Learner,
    deterministic_act,
    init_deterministic_actor_critic,
    learner_step,
    soft_update,
    td_target,
    traced_hparams,
)
from diffsr_jax.networks.actors import DeterministicActor


@flax.struct.dataclass
class DDPGState:
    actor: Learner
    target_actor: Any
    critic: Learner
    target_critic: Any
    features: Any  # the critic component's own state (None for an MLP critic)
    hp: dict


class DDPG:
    HPARAMS = ("gamma", "tau", "actor_lr", "critic_lr", "expl_noise")
    NUM_Q = 1  # one critic

    def __init__(self, cfg, obs_dim: int, action_dim: int, critic):
        self.cfg, self.critic = cfg, critic
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.actor_net = DeterministicActor(action_dim, tuple(cfg.actor_hidden), cfg.activation, cfg.actor_layer_norm)

    def hparams(self) -> dict:
        """Traced values by group: this algorithm's ``actor_critic`` fields and the critic's own."""
        return {"actor_critic": traced_hparams(self.cfg, self.HPARAMS), **self.critic.hparams()}

    def init(self, key, hp: dict) -> DDPGState:
        parts = init_deterministic_actor_critic(self.actor_net, self.critic, key, self.obs_dim, self.action_dim, hp)
        return DDPGState(*parts, hp)

    def act(self, state: DDPGState, obs, key, deterministic: bool):
        noise = state.hp["actor_critic"]["expl_noise"]
        return deterministic_act(self.actor_net, state.actor.params, obs, key, noise, deterministic)

    def critic_loss(self, critic_params, state: DDPGState, batch, key):
        """Squared TD error against r + gamma Q'(s', mu'(s')): the target actor's action, no smoothing noise."""
        del key
        next_a = self.actor_net.apply(state.target_actor, batch.next_obs)
        next_q = self.critic.q(state.target_critic, state.features, batch.next_obs, next_a)[0]
        target = jax.lax.stop_gradient(td_target(batch.reward, batch.terminated, next_q, state.hp["actor_critic"]["gamma"]))
        q = self.critic.q(critic_params, state.features, batch.obs, batch.action)[0]
        loss = jnp.mean((q - target) ** 2)
        return loss, {"critic_loss": loss, "q_mean": q.mean(), "target_q": target.mean()}

    def actor_loss(self, actor_params, state: DDPGState, batch):
        a = self.actor_net.apply(actor_params, batch.obs)
        loss = -jnp.mean(self.critic.q(state.critic.params, state.features, batch.obs, a)[0])
        return loss, {"actor_loss": loss}

    def update_actor_critic(self, state: DDPGState, batch, key, update_idx):
        """Critic step, actor step, then both targets by Polyak averaging."""
        del update_idx
        (_, c_info), c_grads = jax.value_and_grad(self.critic_loss, has_aux=True)(
            state.critic.params, state, batch, key)
        state = state.replace(critic=state.critic.apply_gradients(c_grads))
        (_, a_info), a_grads = jax.value_and_grad(self.actor_loss, has_aux=True)(state.actor.params, state, batch)
        state = state.replace(actor=state.actor.apply_gradients(a_grads))
        tau = state.hp["actor_critic"]["tau"]
        state = state.replace(target_actor=soft_update(state.target_actor, state.actor.params, tau),
                              target_critic=soft_update(state.target_critic, state.critic.params, tau))
        return state, {**c_info, **a_info}

    def update(self, state: DDPGState, sampler, key, update_idx):
        """The critic's feature learning, then one DDPG step on a fresh batch."""
        return learner_step(self, state, sampler, key, update_idx)

    def diagnostics(self, state: DDPGState, batch, key) -> dict:
        return self.critic.diagnostics(state.features, batch, key)
