"""TD3: twin critics, target policy smoothing, delayed actor and target updates, on any critic component.

With ``MLPCritic`` this is TD3; with a ``RepresentationCritic`` on ``DiffSRRepresentation`` it is Diff-SR-TD3.
Traced hyperparameters (``state.hp``): gamma, tau, actor_lr, critic_lr, expl_noise, policy_noise, noise_clip, plus
the critic's own.
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
    reduce_twin,
    soft_update,
    td_target,
    traced_hparams,
)
from diffsr_jax.networks.actors import DeterministicActor


@flax.struct.dataclass
class TD3State:
    actor: Learner
    target_actor: Any
    critic: Learner
    target_critic: Any
    features: Any  # the critic component's own state (None for an MLP critic)
    hp: dict


class TD3:
    HPARAMS = ("gamma", "tau", "actor_lr", "critic_lr", "expl_noise", "policy_noise", "noise_clip")
    NUM_Q = 2  # twin critics

    def __init__(self, cfg, obs_dim: int, action_dim: int, critic):
        self.cfg, self.critic = cfg, critic
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.actor_net = DeterministicActor(action_dim, tuple(cfg.actor_hidden), cfg.activation, cfg.actor_layer_norm)

    def hparams(self) -> dict:
        """Traced values by group: this algorithm's ``actor_critic`` fields and the critic's own."""
        return {"actor_critic": traced_hparams(self.cfg, self.HPARAMS), **self.critic.hparams()}

    def init(self, key, hp: dict) -> TD3State:
        parts = init_deterministic_actor_critic(self.actor_net, self.critic, key, self.obs_dim, self.action_dim, hp)
        return TD3State(*parts, hp)

    def act(self, state: TD3State, obs, key, deterministic: bool):
        noise = state.hp["actor_critic"]["expl_noise"]
        return deterministic_act(self.actor_net, state.actor.params, obs, key, noise, deterministic)

    def critic_loss(self, critic_params, state: TD3State, batch, key):
        hp = state.hp
        next_a = self.actor_net.apply(state.target_actor, batch.next_obs)
        noise = jnp.clip(hp["actor_critic"]["policy_noise"] * jax.random.normal(key, next_a.shape), -hp["actor_critic"]["noise_clip"], hp["actor_critic"]["noise_clip"])
        next_a = jnp.clip(next_a + noise, -1.0, 1.0)
        next_q = jnp.min(self.critic.q(state.target_critic, state.features, batch.next_obs, next_a), axis=0)
        target = jax.lax.stop_gradient(td_target(batch.reward, batch.terminated, next_q, hp["actor_critic"]["gamma"]))
        q = self.critic.q(critic_params, state.features, batch.obs, batch.action)
        loss = jnp.sum(jnp.mean((q - target) ** 2, axis=-1))
        return loss, {"critic_loss": loss, "q_mean": q.mean(), "q_std": q.std(), "target_q": target.mean()}

    def actor_loss(self, actor_params, state: TD3State, batch):
        a = self.actor_net.apply(actor_params, batch.obs)
        q = self.critic.q(state.critic.params, state.features, batch.obs, a)
        loss = -jnp.mean(reduce_twin(q, self.cfg.actor_q_reduce))
        return loss, {"actor_loss": loss}

    def delayed_update(self, state: TD3State, batch):
        """Actor step and target updates (every ``policy_delay`` critic steps)."""
        (_, info), grads = jax.value_and_grad(self.actor_loss, has_aux=True)(state.actor.params, state, batch)
        state = state.replace(actor=state.actor.apply_gradients(grads))
        tau = state.hp["actor_critic"]["tau"]
        state = state.replace(
            target_actor=soft_update(state.target_actor, state.actor.params, tau),
            target_critic=soft_update(state.target_critic, state.critic.params, tau),
        )
        return state, info

    def update_actor_critic(self, state: TD3State, batch, key, update_idx):
        (_, c_info), grads = jax.value_and_grad(self.critic_loss, has_aux=True)(state.critic.params, state, batch, key)
        state = state.replace(critic=state.critic.apply_gradients(grads))
        # masked, not a lax.cond: a branch would make a GPU wait for its predicate at every update; the actor step is
        # computed at every update and kept at every policy_delay-th (the values a branch gives, policy_delay times
        # the actor's share of the work)
        delayed, a_info = self.delayed_update(state, batch)
        keep = update_idx % self.cfg.policy_delay == 0
        state = jax.tree_util.tree_map(lambda new, old: jnp.where(keep, new, old), delayed, state)
        return state, {**c_info, "actor_loss": jnp.where(keep, a_info["actor_loss"], 0.0)}

    def update(self, state: TD3State, sampler, key, update_idx):
        """The critic's feature learning, then one TD3 critic step (and, every policy_delay, the actor's)."""
        return learner_step(self, state, sampler, key, update_idx)

    def diagnostics(self, state: TD3State, batch, key) -> dict:
        return self.critic.diagnostics(state.features, batch, key)
