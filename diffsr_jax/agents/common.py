"""Pieces shared by every agent: transitions, optimizers, target updates, TD targets, traced hyperparameters and
the learner step of an actor-critic with a critic component."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class Transition:
    obs: jnp.ndarray  # (..., d_s)
    action: jnp.ndarray  # (..., d_a) in [-1, 1]
    reward: jnp.ndarray  # (...)
    next_obs: jnp.ndarray  # (..., d_s) true next observation
    terminated: jnp.ndarray  # (...) float 1.0 where the episode ended without bootstrap


@flax.struct.dataclass
class Learner:
    """Parameters and their optimizer state (the optimizer itself is static)."""

    params: Any
    opt_state: Any
    tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)

    @classmethod
    def create(cls, params, tx):
        return cls(params, tx.init(params), tx)

    def apply_gradients(self, grads):
        updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
        return self.replace(params=optax.apply_updates(self.params, updates), opt_state=opt_state)


def adam(learning_rate, max_grad_norm: float = 0.0) -> optax.GradientTransformation:
    """Adam whose learning rate lives in the optimizer state, so it may be a traced (vmapped) value."""
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)
    if max_grad_norm and max_grad_norm > 0:
        tx = optax.chain(optax.clip_by_global_norm(max_grad_norm), tx)
    return tx


def soft_update(target, online, tau):
    """Polyak averaging: target <- (1 - tau) target + tau online."""
    return jax.tree_util.tree_map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def periodic_soft_update(target, online, tau, do_update):
    """``soft_update`` where ``do_update`` (bool scalar) holds, else ``target`` unchanged."""
    return jax.tree_util.tree_map(lambda t, o: jnp.where(do_update, (1.0 - tau) * t + tau * o, t), target, online)


def td_target(reward, terminated, next_value, gamma):
    """r + gamma (1 - terminated) V(s'): (B,)."""
    return reward + gamma * (1.0 - terminated) * next_value


def reduce_twin(q, how: str):
    """q (2, B) -> (B,) by "min", "mean" or "q1"."""
    if how == "min":
        return jnp.min(q, axis=0)
    if how == "mean":
        return jnp.mean(q, axis=0)
    if how == "q1":
        return q[0]
    raise ValueError(f"unknown twin reduction {how!r}; choose one of min, mean, q1")



def traced_hparams(group, names) -> dict:
    """The fields ``names`` of a config group as float32 scalars. An agent's ``state.hp`` is {group: these}: traced
    values, so they can be vmapped (swept) inside one compiled program."""
    return {k: jnp.asarray(group[k], jnp.float32) for k in names}


def init_deterministic_actor_critic(actor_net, critic, key, obs_dim: int, action_dim: int, hp: dict) -> tuple:
    """-> (actor Learner, target actor params, critic Learner, target critic params, critic features): the start
    of an actor-critic with a deterministic actor and target copies of both networks (TD3, DDPG)."""
    k_actor, k_critic = jax.random.split(key)
    actor_params = actor_net.init(k_actor, jnp.zeros((1, obs_dim)))
    critic_params, features = critic.init(k_critic, obs_dim, action_dim, hp)
    return (Learner.create(actor_params, adam(hp["actor_critic"]["actor_lr"])), actor_params,
            Learner.create(critic_params, adam(hp["actor_critic"]["critic_lr"])), critic_params, features)


def deterministic_act(actor_net, params, obs, key, noise_std, deterministic: bool):
    """mu(s), or mu(s) + N(0, noise_std^2) clipped to [-1, 1] while exploring (TD3, DDPG)."""
    a = actor_net.apply(params, obs)
    if deterministic:
        return a
    return jnp.clip(a + noise_std * jax.random.normal(key, a.shape), -1.0, 1.0)


def learner_step(agent, state, sampler, key, update_idx):
    """One learner update of an actor-critic whose critic is a component (``agents.critics``): the critic's own
    feature learning (``critic.update_features``, on fresh batches), then the agent's actor-critic step on another
    batch. ``agent`` has ``critic``, ``critic_loss(critic_params, state, batch, key) -> (loss, info)`` and
    ``update_actor_critic(state, batch, key, update_idx) -> (state, info)``; ``state`` has ``critic``, ``features``
    and ``hp``. Returns (state, metrics)."""
    k_features, k_batch, k_ac = jax.random.split(key, 3)

    def critic_loss_of_features(features, batch, k):
        return agent.critic_loss(state.critic.params, state.replace(features=features), batch, k)[0]

    features, f_info = agent.critic.update_features(state.features, sampler, k_features, state.hp,
                                                    critic_loss_of_features)
    state, info = agent.update_actor_critic(state.replace(features=features), sampler.batch(k_batch), k_ac,
                                            update_idx)
    return state, {**f_info, **info}
