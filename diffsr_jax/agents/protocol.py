"""The contract every agent meets: what the trainer (``program.trainer``) calls, and nothing else.

An agent is a static object (sizes from its config groups) with pure functions over a state pytree. ``state.hp``
holds the traced hyperparameters (``hparams()``), so settings can be a vmapped axis of one compiled program. A base
actor-critic (SAC, TD3, DDPG) also takes its critic as a component (``Critic``, ``agents.critics``) and never knows
which one it holds.

To add a base algorithm: one module with its config group (a ``fields.ConfigGroup``) and a builder
``(config, obs_dim, action_dim, critic) -> Agent``; then one line in ``agents.registry.BASES`` (``<name>`` and
``diffsr_<name>`` follow) and one in ``diffsr_jax.config.COMPONENT_GROUPS``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax


@runtime_checkable
class Agent(Protocol):
    def hparams(self) -> dict:
        """{group: {field: float32 scalar}}: the traced values ``init`` stores as ``state.hp``."""

    def init(self, key: jax.Array, hp: dict) -> Any:
        """The agent's state (a pytree) for one member."""

    def act(self, state: Any, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        """obs (N, d_s) -> actions (N, d_a) in [-1, 1]; ``deterministic`` for evaluation."""

    def update(self, state: Any, sampler: Any, key: jax.Array, update_idx: jax.Array) -> tuple[Any, dict]:
        """One learner update, drawing its batches from ``sampler`` (``data.sampler``) -> (state, scalar metrics).
        ``update_idx`` is the traced count of updates so far (for delays, as masks, never branches)."""

    def diagnostics(self, state: Any, batch: Any, key: jax.Array) -> dict:
        """Scalars about the state on a batch (e.g. the representation's probes); {} when there are none."""

    # Optional: ``pretrain_steps`` (int, > 0) and ``pretrain(state, sampler, key) -> state``, a phase of learning
    # from the warm-up's replay alone that the trainer runs once, between the last warm-up iteration and the first
    # update (``diffsr_drqv2``'s VAE, as rl-rep's image agent). An agent without them has none.


@runtime_checkable
class Critic(Protocol):
    """How a base actor-critic's critic sees (s, a); see ``agents.critics`` for the two there are."""

    def hparams(self) -> dict: ...

    def init(self, key: jax.Array, obs_dim: int, action_dim: int, hp: dict) -> tuple[Any, Any]: ...

    def q(self, params: Any, critic_state: Any, obs: jax.Array, action: jax.Array) -> jax.Array: ...

    def target_q(self, params: Any, critic_state: Any, obs: jax.Array, action: jax.Array) -> jax.Array: ...

    def update_critic_state(self, critic_state: Any, sampler: Any, key: jax.Array, hp: dict,
                        critic_loss) -> tuple[Any, dict]:
        """The critic's own feature learning (none for an MLP critic); ``critic_loss(critic_state, batch, key)`` is
        the TD loss that also trains the features where the critic's gradient reaches them, None: the features'
        own objective alone (a pre-training)."""

    def reward_bonus(self, critic_state: Any, batch: Any, hp: dict) -> jax.Array: ...

    def step_batch_key(self, key_features: jax.Array, key_fresh: jax.Array) -> jax.Array: ...

    def diagnostics(self, critic_state: Any, batch: Any, key: jax.Array) -> dict: ...
