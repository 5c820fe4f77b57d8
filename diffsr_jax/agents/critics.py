"""How an actor-critic's critic sees (s, a): the component a base agent (SAC, TD3, DDPG) takes as its critic.

Every critic offers the same eight calls, so a base agent's losses never know which one it holds:

- ``init(key, obs_dim, action_dim, hp) -> (critic params, critic_state)``: ``critic_state`` is the critic's own state
  (None for ``MLPCritic``; the representation's state for ``RepresentationCritic``); the agent keeps it in its
  ``critic_state`` slot and hands it back on every call.
- ``q(params, critic_state, obs (B, d_s), action (B, d_a)) -> (num, B)`` Q-values of the ``num`` heads.
- ``target_q(params, critic_state, obs, action) -> (num, B)``: the Q-values a TD target bootstraps from, called with
  the target heads: ``q``'s, except where ``config.psi_critic.bootstrap_reads=target`` has them read the EMA target
  psi (rl-rep's image agent's TD target).
- ``update_critic_state(critic_state, sampler, key, hp, critic_loss) -> (critic_state, info)``: the critic's own
  learning, run before each actor-critic step; ``critic_loss(critic_state, batch, key) -> scalar`` is the agent's TD
  loss as a function of that state (for a representation trained end to end through the critic).
- ``reward_bonus(critic_state, batch, hp) -> (B,)``: the exploration bonus b(s, a) the agent's TD target adds to
  the reward (``actor_critic.td_target``): zeros here, the bonus on psi with ``agents.optimism``.
- ``step_batch_key(key_features, key_fresh) -> key``: the key of the batch the agent's actor-critic step draws:
  ``key_fresh`` (its own batch), or the key of the last batch ``update_critic_state`` drew from ``key_features``
  (``config.psi_critic.step_batch=last_feature``: rl-rep's critic and actor reuse the last score-matching batch).
- ``diagnostics(critic_state, batch, key) -> dict`` of scalars; ``hparams() -> {group: {name: float32}}``: the traced
  values it reads from ``hp`` (the agent merges them into its own).

Config groups: ``config.mlp_critic`` (``MLPCritic``) and ``config.psi_critic`` (the heads on psi; the paper calls
them RFF heads: a learned dense layer followed by sin, then an MLP); ``mlp_critic(...)`` and ``psi_critic(...)`` build
the components from them (``psi_critic`` with the optimism bonus of ``config.optimism`` when it is on).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from diffsr_jax.agents.optimism import optimistic
from diffsr_jax.diffusion import make_schedule
from diffsr_jax.fields import ConfigError, ConfigGroup, Fields
from diffsr_jax.networks.activations import ACTIVATIONS
from diffsr_jax.networks.critics import Ensemble, MLPQHead, RFFHead
from diffsr_jax.networks.init import INITS
from diffsr_jax.networks.rff import RFF_KINDS
from diffsr_jax.representation import PsiZeta, PsiNet, ZetaNet
from diffsr_jax.representation.learner import DiffSRRepresentation

CRITIC_READS = ("online", "target")
BOOTSTRAP_READS = ("critic", "target")


STEP_BATCHES = ("fresh", "last_feature")


def mlp_critic_defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.hidden = (256, 256)
    g.activation = "relu"
    g.hidden_layer_norm = False  # LayerNorm after each hidden layer
    g.init = "lecun"  # its layers' initialisation (networks.init): lecun | torch | orthogonal
    return g


def validate_mlp_critic(config) -> None:
    f = Fields(config.mlp_critic, "mlp_critic")
    f.sizes("hidden")
    f.choice("activation", tuple(ACTIVATIONS))
    f.choice("init", INITS)


def psi_critic_defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.rff_dim = 256  # sin features of the head's first (learned) layer
    g.rff_hidden = 256
    g.rff_kind = "sin"  # sin | sincos
    g.activation = "relu"
    g.input_layer_norm = False  # LayerNorm on psi
    g.hidden_layer_norm = False  # LayerNorm after the hidden layer
    g.reads = "online"  # online | target: the psi the heads read
    g.grad_to_rep = False  # the critic's TD loss also trains psi (end to end)
    g.init = "lecun"  # the heads' layers (networks.init): lecun | torch (rl-rep's RFF critic keeps PyTorch's default)
    g.step_batch = "fresh"  # the actor-critic step's batch: fresh (its own) | last_feature (the last batch psi/zeta
    #                         learned on, as rl-rep's critic and actor do)
    g.bootstrap_reads = "critic"  # the psi the TD target's bootstrap reads: critic (the one the heads read, `reads`) |
    #                               target (the EMA target psi, representation.tau: rl-rep's image agent)
    return g


def check_reads(reads: str, grad_to_rep: bool) -> None:
    """The one rule on which psi the critic reads; ConfigError naming the fields and the fix."""
    if reads not in CRITIC_READS:
        raise ConfigError(f"config.psi_critic.reads must be one of {', '.join(CRITIC_READS)}; got {reads!r}")
    if grad_to_rep and reads != "online":
        raise ConfigError("config.psi_critic.grad_to_rep=True trains psi through the critic, so the critic must read "
                          "the online psi: set config.psi_critic.reads=online")


def validate_psi_critic(config) -> None:
    g = config.psi_critic
    f = Fields(g, "psi_critic")
    f.choice("activation", tuple(ACTIVATIONS))
    f.choice("rff_kind", RFF_KINDS)
    f.choice("init", INITS)
    f.choice("step_batch", STEP_BATCHES)
    f.choice("bootstrap_reads", BOOTSTRAP_READS)
    f.integer("rff_dim", "rff_hidden")
    check_reads(g.reads, bool(g.grad_to_rep))


MLP_CRITIC = ConfigGroup("mlp_critic", mlp_critic_defaults, validate_mlp_critic, "the MLP critic on concat(s, a)")
PSI_CRITIC = ConfigGroup("psi_critic", psi_critic_defaults, validate_psi_critic, "the critic's heads on psi(s, a)")


class MLPCritic:
    """Q(s, a) = MLP(concat(s, a)), ``num`` independently initialised heads. No state of its own."""

    def __init__(self, head: MLPQHead, num: int = 2):
        self.net = Ensemble(head, num)

    def hparams(self) -> dict:
        return {}

    def init(self, key, obs_dim: int, action_dim: int, hp: dict):
        del hp
        return self.net.init(key, jax.numpy.zeros((1, obs_dim)), jax.numpy.zeros((1, action_dim))), None

    def q(self, params, critic_state, obs, action):
        del critic_state
        return self.net.apply(params, obs, action)

    def target_q(self, params, critic_state, obs, action):
        return self.q(params, critic_state, obs, action)

    def update_critic_state(self, critic_state, sampler, key, hp, critic_loss):
        del sampler, key, hp, critic_loss
        return critic_state, {}

    def reward_bonus(self, critic_state, batch, hp):
        del critic_state, hp
        return jnp.zeros_like(batch.reward)

    def step_batch_key(self, key_features, key_fresh):
        del key_features  # no feature learning, no batch of its own
        return key_fresh

    def diagnostics(self, critic_state, batch, key) -> dict:
        del critic_state, batch, key
        return {}


class RepresentationCritic:
    """Q(s, a) = head(psi(s, a)), ``num`` heads on psi of a learned ``representation`` (an object with
    ``init / psi / update / diagnostics / hparams``, e.g. ``DiffSRRepresentation``).

    ``read``: the critic reads the online psi or the representation's EMA target. ``grad_to_rep``: the critic's TD
    loss also trains psi (end to end); otherwise psi's parameters are behind ``stop_gradient`` in ``q`` (the
    gradient w.r.t. the *action* still flows through psi, which the actor needs). ``bootstrap``: the psi
    ``target_q`` reads, "critic" (``read``'s) or "target" (the EMA target; the representation must keep one).
    """

    def __init__(self, representation, head: nn.Module, num: int = 2, read: str = "online", grad_to_rep: bool = False,
                 step_batch: str = "fresh", bootstrap: str = "critic"):
        check_reads(read, grad_to_rep)
        if bootstrap == "target" and not representation.keep_target:
            raise ValueError("bootstrap='target' reads the EMA target psi: build the representation with keep_target")
        self.representation, self.net = representation, Ensemble(head, num)
        self.read, self.grad_to_rep, self.step_batch, self.bootstrap = read, grad_to_rep, step_batch, bootstrap

    def hparams(self) -> dict:
        return self.representation.hparams()

    def rep_params(self, critic_state):
        """The psi parameters the critic reads: the online ones or the EMA target."""
        return critic_state.target if self.read == "target" else critic_state.learner.params

    def init(self, key, obs_dim: int, action_dim: int, hp: dict):
        k_rep, k_head = jax.random.split(key)
        critic_state = self.representation.init(k_rep, obs_dim, action_dim, hp)
        obs, action = jax.numpy.zeros((1, obs_dim)), jax.numpy.zeros((1, action_dim))
        psi = self.representation.psi(self.rep_params(critic_state), obs, action)
        return self.net.init(k_head, psi), critic_state

    def q(self, params, critic_state, obs, action):
        rep = self.rep_params(critic_state)
        if not self.grad_to_rep:
            rep = jax.lax.stop_gradient(rep)
        return self.net.apply(params, self.representation.psi(rep, obs, action))

    def target_q(self, params, critic_state, obs, action):
        """(num, B): the heads ``params`` on the psi the TD target reads (``bootstrap``), without gradient to psi's
        parameters."""
        rep = critic_state.target if self.bootstrap == "target" else self.rep_params(critic_state)
        return self.net.apply(params, self.representation.psi(jax.lax.stop_gradient(rep), obs, action))

    def features(self, critic_state, obs, action):
        """The psi the heads read, (B, F), as a constant (no gradient to psi's parameters or the action)."""
        return jax.lax.stop_gradient(self.representation.psi(self.rep_params(critic_state), obs, action))

    def reward_bonus(self, critic_state, batch, hp):
        del critic_state, hp
        return jnp.zeros_like(batch.reward)

    def step_batch_key(self, key_features, key_fresh):
        """``step_batch`` fresh: ``key_fresh``; last_feature: the key of the representation's last batch (a fresh
        one where it draws none)."""
        last = self.representation.last_batch_key(key_features, self.grad_to_rep)
        return key_fresh if self.step_batch == "fresh" or last is None else last

    def update_critic_state(self, critic_state, sampler, key, hp, critic_loss):
        extra = None
        if self.grad_to_rep and critic_loss is not None:
            def extra(rep_params, batch, k):
                learner = critic_state.learner.replace(params=rep_params)
                return critic_loss(critic_state.replace(learner=learner), batch, k)
        return self.representation.update(critic_state, sampler, key, hp, extra)

    def diagnostics(self, critic_state, batch, key) -> dict:
        return self.representation.diagnostics(critic_state, batch, key)


def mlp_critic(config, obs_dim: int, action_dim: int, num: int, next_dim: int | None = None) -> MLPCritic:
    """``num`` MLP heads on concat(s, a), from ``config.mlp_critic`` (``next_dim``: no next state is modelled)."""
    del obs_dim, action_dim, next_dim
    c = config.mlp_critic
    return MLPCritic(MLPQHead(tuple(c.hidden), c.activation, c.hidden_layer_norm, c.init), num)


def psi_critic(config, obs_dim: int, action_dim: int, num: int, next_dim: int | None = None) -> RepresentationCritic:
    """``num`` heads on psi(s, a) of the Diff-SR representation (spec sections 3 and 4), from
    ``config.psi_critic`` and ``config.representation``; with ``config.optimism``'s bonus when it is on.
    ``next_dim``: the size of the next state zeta models, the observation's by default (the image variant: one
    frame's latent, where psi reads a stack of them)."""
    del action_dim
    r, q = config.representation, config.psi_critic
    model = PsiZeta(
        PsiNet(r.feature_dim, r.arch, tuple(r.psi_hidden), r.activation, r.enc_hidden, r.enc_out, r.res_width,
               r.res_blocks, r.res_final_layer_norm, r.init),
        ZetaNet(r.feature_dim, next_dim or obs_dim, r.arch, tuple(r.zeta_hidden), r.activation, r.level_input,
                r.level_embed_dim, r.enc_hidden, r.enc_out, r.res_width, r.res_blocks, r.res_final_layer_norm, r.init),
    )

    def head():  # the critic's heads and the reward head have the same shape
        return RFFHead(q.rff_dim, q.rff_hidden, q.rff_kind, q.input_layer_norm, q.hidden_layer_norm, q.activation,
                       q.init)

    representation = DiffSRRepresentation(
        model, make_schedule(r.schedule, r.num_levels), parameterization=r.parameterization,
        noise_scale=r.noise_scale, feature_dim=r.feature_dim, traced=r,
        reward_head=head() if r.reward_weight > 0 else None, steps_per_update=r.steps_per_update,
        keep_target="target" in (q.reads, q.bootstrap_reads), objective=r.objective,
        sigma_power=int(r.score_sigma_power))
    return optimistic(RepresentationCritic(representation, head(), num, q.reads, bool(q.grad_to_rep), q.step_batch,
                                           q.bootstrap_reads), config)
