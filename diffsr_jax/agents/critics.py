"""How an actor-critic's critic sees (s, a): the component a base agent (SAC, TD3, DDPG) takes as its critic.

Every critic offers the same five calls, so a base agent's losses never know which one it holds:

- ``init(key, obs_dim, action_dim, hp) -> (critic params, features)``: ``features`` is the critic's own state
  (None for ``MLPCritic``; the representation's state for ``RepresentationCritic``); the agent keeps it in its
  ``features`` slot and hands it back on every call.
- ``q(params, features, obs (B, d_s), action (B, d_a)) -> (num, B)`` Q-values of the ``num`` heads.
- ``update_features(features, sampler, key, hp, critic_loss) -> (features, info)``: the critic's own learning,
  run before each actor-critic step; ``critic_loss(features, batch, key) -> scalar`` is the agent's TD loss as a
  function of the features' state (for a representation trained end to end through the critic).
- ``diagnostics(features, batch, key) -> dict`` of scalars; ``hparams() -> {group: {name: float32}}``: the traced
  values it reads from ``hp`` (the agent merges them into its own).
"""

from __future__ import annotations

import flax.linen as nn
import jax

from diffsr_jax.networks.critics import Ensemble, MLPQHead

CRITIC_READS = ("online", "target")


class MLPCritic:
    """Q(s, a) = MLP(concat(s, a)), ``num`` independently initialised heads. No state of its own."""

    def __init__(self, head: MLPQHead, num: int = 2):
        self.net = Ensemble(head, num)

    def hparams(self) -> dict:
        return {}

    def init(self, key, obs_dim: int, action_dim: int, hp: dict):
        del hp
        return self.net.init(key, jax.numpy.zeros((1, obs_dim)), jax.numpy.zeros((1, action_dim))), None

    def q(self, params, features, obs, action):
        del features
        return self.net.apply(params, obs, action)

    def update_features(self, features, sampler, key, hp, critic_loss):
        del sampler, key, hp, critic_loss
        return features, {}

    def diagnostics(self, features, batch, key) -> dict:
        del features, batch, key
        return {}


class RepresentationCritic:
    """Q(s, a) = head(psi(s, a)), ``num`` heads on the features of a learned ``representation`` (an object with
    ``init / features / update / diagnostics / hparams``, e.g. ``DiffSRRepresentation``).

    ``read``: the critic reads the online psi or the representation's EMA target. ``grad_to_rep``: the critic's TD
    loss also trains psi (end to end); otherwise psi's parameters are behind ``stop_gradient`` in ``q`` (the
    gradient w.r.t. the *action* still flows through psi, which the actor needs).
    """

    def __init__(self, representation, head: nn.Module, num: int = 2, read: str = "online", grad_to_rep: bool = False):
        if read not in CRITIC_READS:
            raise ValueError(f"unknown critic read {read!r}; choose one of {', '.join(CRITIC_READS)}")
        if grad_to_rep and read != "online":
            raise ValueError("a critic that trains psi must read the online psi")
        self.representation, self.net = representation, Ensemble(head, num)
        self.read, self.grad_to_rep = read, grad_to_rep

    def hparams(self) -> dict:
        return self.representation.hparams()

    def rep_params(self, features):
        """The psi parameters the critic reads: the online ones or the EMA target."""
        return features.target if self.read == "target" else features.learner.params

    def init(self, key, obs_dim: int, action_dim: int, hp: dict):
        k_rep, k_head = jax.random.split(key)
        features = self.representation.init(k_rep, obs_dim, action_dim, hp)
        obs, action = jax.numpy.zeros((1, obs_dim)), jax.numpy.zeros((1, action_dim))
        psi = self.representation.features(self.rep_params(features), obs, action)
        return self.net.init(k_head, psi), features

    def q(self, params, features, obs, action):
        rep = self.rep_params(features)
        if not self.grad_to_rep:
            rep = jax.lax.stop_gradient(rep)
        return self.net.apply(params, self.representation.features(rep, obs, action))

    def update_features(self, features, sampler, key, hp, critic_loss):
        extra = None
        if self.grad_to_rep:
            def extra(rep_params, batch, k):
                return critic_loss(features.replace(learner=features.learner.replace(params=rep_params)), batch, k)
        return self.representation.update(features, sampler, key, hp, extra)

    def diagnostics(self, features, batch, key) -> dict:
        return self.representation.diagnostics(features, batch, key)
