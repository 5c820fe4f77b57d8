"""A deterministic actor mu(s) and a critic component, both with Polyak-averaged targets: what TD3 and DDPG share.

``DeterministicActorCritic`` is the whole algorithm; TD3 and DDPG (``agents/td3.py``, ``agents/ddpg.py``) are its
two settings: TD3 with twin critics, target policy smoothing and a delayed actor, DDPG with one critic and neither.
Traced hyperparameters (``state.hp``): ``actor_critic`` gamma, tau, actor_lr, critic_lr; the variant's own group
(expl_noise, and for smoothing policy_noise, noise_clip); the critic's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from diffsr_jax.agents.actor_critic import base_hparams, learner_step, td_target
from diffsr_jax.fields import named
from diffsr_jax.networks.actors import DeterministicActor
from diffsr_jax.optim import Learner, adam, soft_update

Q_REDUCTIONS = ("q1", "mean", "min")


@flax.struct.dataclass
class DeterministicState:
    actor: Learner
    target_actor: Any
    q_heads: Learner  # the Q heads the critic component computes Q with (params + Adam state)
    target_q_heads: Any  # their target copy (params)
    critic_state: Any  # the critic component's own state (None for an MLP critic)
    hp: dict


def reduce_heads(q, how: str):
    """q (num, B) -> (B,) by "min", "mean" or "q1" (the first head)."""
    return {"min": lambda: jnp.min(q, axis=0), "mean": lambda: jnp.mean(q, axis=0), "q1": lambda: q[0]}[how]()


@dataclasses.dataclass(frozen=True)
class Variant:
    """What sets TD3 and DDPG apart. ``group``: the config group of the variant's own fields; ``num_q``: critic heads
    (the TD target takes their min); ``smoothing``: Gaussian noise (``policy_noise``, clipped to ``noise_clip``) on
    the target action; ``policy_delay``: critic steps per actor and target step (None: no delay); ``actor_q``: how
    the actor's loss reduces the heads."""

    group: str
    num_q: int
    smoothing: bool
    policy_delay: int | None = None  # None: no delay (DDPG); TD3 masks even a delay of 1 (see update_actor_critic)
    actor_q: str = "q1"


class DeterministicActorCritic:
    def __init__(self, variant: Variant, shared, own, obs_dim: int, action_dim: int, critic):
        """``shared``: ``config.actor_critic``; ``own``: the variant's group; ``critic``: an ``agents.critics``
        component with ``variant.num_q`` heads."""
        self.variant, self.shared, self.own, self.critic = variant, shared, own, critic
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.actor_net = DeterministicActor(action_dim, tuple(shared.actor_hidden), shared.activation,
                                            shared.actor_layer_norm, shared.actor_init)
        self.own_hparams = ("expl_noise", "policy_noise", "noise_clip") if variant.smoothing else ("expl_noise",)

    def hparams(self) -> dict:
        return base_hparams(self.shared, self.variant.group, self.own, self.own_hparams, self.critic)

    def init(self, key, hp: dict) -> DeterministicState:
        k_actor, k_critic = jax.random.split(key)
        actor_params = self.actor_net.init(k_actor, jnp.zeros((1, self.obs_dim)))
        critic_params, critic_state = self.critic.init(k_critic, self.obs_dim, self.action_dim, hp)
        return DeterministicState(Learner.create(actor_params, adam(named(hp).actor_critic.actor_lr)), actor_params,
                                  Learner.create(critic_params, adam(named(hp).actor_critic.critic_lr)), critic_params,
                                  critic_state, hp)

    def act(self, state: DeterministicState, obs, key, deterministic: bool):
        """mu(s), or mu(s) + N(0, expl_noise^2) clipped to [-1, 1] while exploring."""
        a = self.actor_net.apply(state.actor.params, obs)
        if deterministic:
            return a
        noise = named(state.hp)[self.variant.group].expl_noise
        return jnp.clip(a + noise * jax.random.normal(key, a.shape), -1.0, 1.0)

    def critic_loss(self, critic_params, state: DeterministicState, batch, key):
        """Squared TD error of every head against r + b + gamma min_i Q'_i(s', mu'(s') [+ clipped noise]) (b: the
        critic's exploration bonus, zeros unless optimism is on)."""
        next_a = self.actor_net.apply(state.target_actor, batch.next_obs)
        if self.variant.smoothing:
            own = named(state.hp)[self.variant.group]
            noise = jnp.clip(own.policy_noise * jax.random.normal(key, next_a.shape), -own.noise_clip,
                             own.noise_clip)
            next_a = jnp.clip(next_a + noise, -1.0, 1.0)
        next_q = jnp.min(self.critic.target_q(state.target_q_heads, state.critic_state, batch.next_obs, next_a),
                         axis=0)
        bonus = self.critic.reward_bonus(state.critic_state, batch, state.hp)
        target = jax.lax.stop_gradient(td_target(batch.reward, bonus, batch.terminated, next_q,
                                                 named(state.hp).actor_critic.gamma))
        q = self.critic.q(critic_params, state.critic_state, batch.obs, batch.action)  # (num_q, B)
        loss = jnp.sum(jnp.mean((q - target) ** 2, axis=-1))
        return loss, {"critic_loss": loss, "q_mean": q.mean(), "q_std": q.std(), "target_q": target.mean()}

    def actor_loss(self, actor_params, state: DeterministicState, batch):
        a = self.actor_net.apply(actor_params, batch.obs)
        q = self.critic.q(state.q_heads.params, state.critic_state, batch.obs, a)
        loss = -jnp.mean(reduce_heads(q, self.variant.actor_q))
        return loss, {"actor_loss": loss}

    def actor_and_targets(self, state: DeterministicState, batch):
        """The actor's step, then both targets by Polyak averaging."""
        (_, info), grads = jax.value_and_grad(self.actor_loss, has_aux=True)(state.actor.params, state, batch)
        state = state.replace(actor=state.actor.apply_gradients(grads))
        tau = named(state.hp).actor_critic.tau
        return state.replace(target_actor=soft_update(state.target_actor, state.actor.params, tau),
                             target_q_heads=soft_update(state.target_q_heads, state.q_heads.params, tau)), info

    def update_actor_critic(self, state: DeterministicState, batch, key, update_idx):
        (_, c_info), grads = jax.value_and_grad(self.critic_loss, has_aux=True)(state.q_heads.params, state, batch, key)
        state = state.replace(q_heads=state.q_heads.apply_gradients(grads))
        stepped, a_info = self.actor_and_targets(state, batch)
        if self.variant.policy_delay is None:
            return stepped, {**c_info, **a_info}
        # masked, not a lax.cond: a branch would make a GPU wait for its predicate at every update; the actor step is
        # computed at every update and kept at every policy_delay-th (the values a branch gives, policy_delay times
        # the actor's share of the work). Kept for a delay of 1 too: without the mask XLA fuses the step otherwise and
        # a seed drifts from its earlier runs in the last bits (measured: 1e-3 relative after 400 updates).
        keep = update_idx % self.variant.policy_delay == 0
        state = jax.tree_util.tree_map(lambda new, old: jnp.where(keep, new, old), stepped, state)
        return state, {**c_info, "actor_loss": jnp.where(keep, a_info["actor_loss"], 0.0)}

    def update(self, state: DeterministicState, sampler, key, update_idx):
        """The critic's feature learning, then one critic step (and, every policy_delay, the actor's and targets')."""
        return learner_step(self, state, sampler, key, update_idx)

    def diagnostics(self, state: DeterministicState, batch, key) -> dict:
        return self.critic.diagnostics(state.critic_state, batch, key)
