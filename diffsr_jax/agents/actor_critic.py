"""What every base actor-critic (SAC, TD3, DDPG) shares: its config group ``config.actor_critic`` (discount, target
rate, learning rates, the actor's network), the TD target, and the learner step of an actor-critic whose critic is
a component (``agents.critics``). Each base adds a group of its own (``config.sac``, ``config.td3``, ``config.ddpg``)
in its module; the contract every agent meets is ``agents.protocol.Agent``."""

from __future__ import annotations

import jax
import ml_collections

from diffsr_jax.fields import ConfigGroup, Fields, traced_values
from diffsr_jax.networks.activations import ACTIVATIONS
from diffsr_jax.networks.init import INITS

HPARAMS = ("gamma", "tau", "actor_lr", "critic_lr")
"""The traced fields of ``config.actor_critic`` (``state.hp["actor_critic"]``), read by every base."""


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.gamma = 0.99
    g.tau = 0.005  # Polyak rate of the target networks
    g.actor_lr = 3e-4
    g.critic_lr = 3e-4
    g.actor_hidden = (256, 256)
    g.activation = "relu"  # the actor's
    g.actor_layer_norm = False
    g.actor_init = "lecun"  # the actor's layers (networks.init): lecun | torch | orthogonal (rl-rep's SAC actor)
    return g


def validate(config) -> None:
    f = Fields(config.actor_critic, "actor_critic")
    f.within("gamma", 0.0, 1.0)
    f.within("tau", 0.0, 1.0, low_open=True)
    f.positive("actor_lr", "critic_lr")
    f.sizes("actor_hidden")
    f.choice("activation", tuple(ACTIVATIONS))
    f.choice("actor_init", INITS)


ACTOR_CRITIC = ConfigGroup("actor_critic", defaults, validate, "what every base actor-critic shares")


def base_hparams(shared, own_group: str, own, own_names, critic) -> dict:
    """A base's traced values by group: ``actor_critic`` (``shared``), its own group's ``own_names``, the critic's."""
    return {"actor_critic": traced_values(shared, HPARAMS), own_group: traced_values(own, own_names),
            **critic.hparams()}


def td_target(reward, bonus, terminated, next_value, gamma):
    """r + b + gamma (1 - terminated) V(s'): (B,). ``bonus`` is the critic's exploration bonus b(s, a)
    (``critic.reward_bonus``: zeros unless ``config.optimism`` is on)."""
    return reward + bonus + gamma * (1.0 - terminated) * next_value


def learner_step(agent, state, sampler, key, update_idx):
    """One learner update of an actor-critic whose critic is a component (``agents.critics``): the critic's own
    feature learning (``critic.update_critic_state``, on fresh batches), then the agent's actor-critic step on another
    batch (or, where the critic says so, ``critic.step_batch_key``, on the last batch its feature learning drew).
    ``agent`` has ``critic``, ``critic_loss(critic_params, state, batch, key) -> (loss, info)`` and
    ``update_actor_critic(state, batch, key, update_idx) -> (state, info)``; ``state`` has ``q_heads``,
    ``critic_state`` and ``hp``. Returns (state, metrics)."""
    k_features, k_batch, k_ac = jax.random.split(key, 3)

    def critic_loss_of(critic_state, batch, k):
        return agent.critic_loss(state.q_heads.params, state.replace(critic_state=critic_state), batch, k)[0]

    critic_state, f_info = agent.critic.update_critic_state(state.critic_state, sampler, k_features, state.hp,
                                                            critic_loss_of)
    batch = sampler.batch(agent.critic.step_batch_key(k_features, k_batch))  # fresh, or the features' last batch
    state, info = agent.update_actor_critic(state.replace(critic_state=critic_state), batch, k_ac, update_idx)
    return state, {**f_info, **info}
