"""What SAC and TD3 share: sizes, traced hyperparameters and the critic hooks Diff-SR overrides."""

from __future__ import annotations

import jax.numpy as jnp

from diffsr_jax.networks.critics import Ensemble, MLPQHead


class TracedHyperparams:
    """Agents list in ``HPARAMS`` the config fields held as traced float32 scalars in ``state.hp`` (vmappable)."""

    HPARAMS: tuple = ()

    @classmethod
    def hparam_names(cls) -> tuple:
        """Names of the config fields held as traced values (sweepable with vmap)."""
        return cls.HPARAMS

    def hparams(self) -> dict:
        """The traced hyperparameters (float32 scalars) this agent keeps in ``state.hp``."""
        return {k: jnp.asarray(self.cfg[k], jnp.float32) for k in self.hparam_names()}


class ActorCritic(TracedHyperparams):
    """Base of the actor-critic agents. The critic is reached only through ``critic_init`` / ``q_values`` /
    ``critic_rep_params``, so a representation-based critic (Diff-SR) can replace it without touching losses."""

    def __init__(self, cfg, obs_dim: int, action_dim: int):
        self.cfg = cfg
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.critic_net = self.make_critic_net()

    def make_critic_net(self):
        """Twin MLP critic on concat(s, a)."""
        c = self.cfg
        return Ensemble(MLPQHead(tuple(c.critic_hidden), c.activation, c.critic_layer_norm), 2)

    def critic_init(self, key, obs, action, rep_params):
        del rep_params
        return self.critic_net.init(key, obs, action)

    def q_values(self, critic_params, rep_params, obs, action):
        """(2, B) twin Q-values."""
        del rep_params
        return self.critic_net.apply(critic_params, obs, action)

    def critic_rep_params(self, state):
        """Representation parameters the critic reads (None without a representation)."""
        return
