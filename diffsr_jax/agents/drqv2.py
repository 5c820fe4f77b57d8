"""DrQ-v2 (Yarats et al. 2022), the base of the paper's image-based variant: a deterministic actor-critic on pixel
observations (``envs.pixels``) with random-shift augmentation, n-step returns and a scheduled exploration noise; its
encoder (DrQ-v2's convolutions, or the image Diff-SR's VAE) and its critic (MLP heads, or heads on psi) are
components.

One update (DrQ-v2's ``update``), on a batch of ``n_step``-long segments of replay (``sampler.segments``). The frames
become features through an encoder component (``agents.frame_features``): DrQ-v2's convolutional encoder trained by
the critic (``drqv2``), or the per-frame VAE's stacked latents (``diffsr_drqv2``):

- both ends of each segment are shifted at random (``data.augment.random_shift``, ``pad`` pixels), each image by its
  own offset;
- the TD target, formed once: ``y = sum_{k<m} gamma^k r_k + gamma^m (1 - terminated_m) min_i Q'_i(s_m, a')``, where m
  (1 .. n_step) stops at the segment's first termination or reset (``sampler.segments``' mask), ``s_m``'s features
  are the encoder's ``bootstrap_features`` (DrQ-v2: the online encoder without gradient; the VAE: its EMA copy),
  ``Q'`` the target heads (and trunk) on them (on the EMA target psi for ``diffsr_drqv2``'s presets,
  ``psi_critic.bootstrap_reads=target``, as rl-rep's image agent), and
  ``a' = clip(mu(s_m) + clip(std eps, -std_clip, std_clip), -1, 1)`` from the online actor;
- the critic component's own feature learning (``critic.update_critic_state``; nothing for the MLP critic): psi and
  zeta of ``diffsr_drqv2`` take one step on this update's transitions as features, (stack's latents, action, reward,
  next step's newest frame's latent), handed over by a ``data.sampler.FixedSampler``, with the critic's loss on the
  same ``y`` as the extra loss where ``psi_critic.grad_to_rep`` (the critic's gradient reaches psi, not the VAE);
- critic: ``Q_i(s, a) = head_i(critic_input(f), a)`` on the features ``f`` of the shifted stack (``critic_input``:
  DrQ-v2's trunk, or the latents as they are); the loss, the heads' squared errors to ``y`` summed, trains the heads
  and the trunk (``critic_lr``) and, where the encoder is trained by the critic (DrQ-v2), the encoder
  (``encoder_lr``; the only gradient it gets);
- the encoder's own step (``encoder.update``): DrQ-v2's applies the critic loss's gradient; the VAE one step on its
  ELBO;
- actor: its own trunk on ``f`` (computed before the encoder's step, as DrQ-v2 does) with the gradient stopped, then
  an MLP to tanh(mu); loss ``-mean(min_i Q_i(s, mu(s) + clipped noise))`` (DrQ-v2's, straight-through at the action
  bounds);
- targets: the critic's trunk and heads by Polyak averaging (``tau``); no target actor.

Exploration noise: std falls linearly from ``std_start`` to ``std_end`` over ``std_decay_frames`` env frames (DrQ-v2's
``linear(1.0, 0.1, N)`` counts agent steps from the run's first frame; here the frame count is reckoned from the
updates so far, kept in the state: ``warmup frames + updates x frames per update``).
Acting adds ``N(0, std^2)`` unclipped, as DrQ-v2 does; the first ``run.warmup_steps`` frames act uniformly at random
(the trainer's warm-up, DrQ-v2's ``num_expl_steps``).

Where ``diffsr_drqv2`` departs from the official image code (docs/pixels.md): psi and the critic read the VAE's
posterior means without gradient to the VAE (rl-rep's score and critic losses also reach its encoder); the actor's
loss reads the online psi (rl-rep's the EMA psi); one Adam per network, not one summed loss.

Pre-training (``diffsr_drqv2``, ``pretrain``): once, between the warm-up and the first update, rl-rep's phase of the
VAE's steps, then the VAE's and psi/zeta's score-matching steps, on the warm-up's replay (``vae.pretrain_steps``).

Initialisation: dense layers by ``actor_critic.actor_init`` (the actor) and ``mlp_critic.init`` (DrQ-v2's critic trunk
and heads), the convolutions by Flax's default (LeCun normal; DrQ-v2 uses orthogonal with ReLU gain).

Traced hyperparameters (``state.hp``): ``actor_critic`` gamma, tau, actor_lr, critic_lr; ``drqv2`` std_start, std_end,
std_clip; the encoder's (``drqv2.encoder_lr``, or ``vae`` lr, kl_weight, tau) and the critic's.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import ml_collections

from diffsr_jax.agents.actor_critic import base_hparams
from diffsr_jax.data.augment import random_shift
from diffsr_jax.data.sampler import FixedSampler
from diffsr_jax.data.transition import Transition
from diffsr_jax.fields import ConfigError, ConfigGroup, Fields, named
from diffsr_jax.networks.actors import DeterministicActor
from diffsr_jax.networks.encoders import Trunk, conv_output_side
from diffsr_jax.optim import Learner, adam, soft_update

NUM_Q = 2
HPARAMS = ("std_start", "std_end", "std_clip")  # encoder_lr is ConvFeatures' (agents.frame_features)


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.n_step = 3  # rewards summed before bootstrapping
    g.std_start = 1.0  # exploration noise std at the first frame ...
    g.std_end = 0.1  # ... falling linearly to this ...
    g.std_decay_frames = 1_000_000  # ... over this many env frames (DrQ-v2's medium tasks: 500k steps of 2 frames)
    g.std_clip = 0.3  # the noise on the target's and the actor loss's actions is clipped to +-std_clip
    g.encoder_lr = 1e-4  # DrQ-v2's convolutional encoder (diffsr_drqv2 encodes with config.vae instead) ...
    g.channels = 32  # ... its channels ...
    g.conv_layers = 4  # ... and 3x3 layers (the first of stride 2)
    g.feature_dim = 50  # the actor's trunk output (and DrQ-v2's critic trunk's)
    g.pad = 4  # random shift of up to pad pixels (0: no augmentation)
    return g


def validate(config) -> None:
    g = config.drqv2
    f = Fields(g, "drqv2")
    f.integer("n_step", "channels", "conv_layers", "feature_dim", "std_decay_frames")
    f.integer("pad", minimum=0)
    f.positive("encoder_lr")
    for name in ("std_start", "std_end", "std_clip"):
        if g[name] < 0:
            f.fail(name, f"must be >= 0, got {g[name]}")
    pixels = int(config.env.pixels)
    if not pixels:
        raise ConfigError(f"{config.run.agent} reads pixel observations: set --config.env.pixels (84 as the official "
                          "runs, 48-64 on a CPU) with an env the camera can draw")
    if conv_output_side(pixels, int(g.conv_layers)) < 1:
        f.fail("conv_layers", f"={g.conv_layers} leaves no feature map of a {pixels}x{pixels} frame; use fewer layers "
                              "or more pixels")


DRQV2_CONFIG = ConfigGroup("drqv2", defaults, validate, "DrQ-v2's own: encoder, augmentation, n-step, noise schedule")


@flax.struct.dataclass
class DrQV2State:
    encoder: Any  # the encoder component's state (agents.frame_features)
    critic: Learner  # {["trunk": DrQ-v2's critic trunk], "heads": the critic component's heads} (critic_lr)
    target_critic: Any  # their Polyak copy
    actor: Learner  # its trunk and MLP (actor_lr)
    critic_state: Any  # the critic component's own state (None for the MLP critic; psi and zeta for diffsr_drqv2)
    updates: jnp.ndarray  # () float32: updates so far (the noise schedule's clock)
    hp: dict


class Actor(nn.Module):
    """Its own trunk on the encoder's features, then an MLP to tanh(mu) (``networks.actors.DeterministicActor``)."""

    action_dim: int
    feature_dim: int
    hidden: tuple
    activation: str
    init_scheme: str

    @nn.compact
    def __call__(self, features):
        h = Trunk(self.feature_dim, self.init_scheme)(features)
        return DeterministicActor(self.action_dim, self.hidden, self.activation, False, self.init_scheme)(h)


def clipped_noise_action(key, mu, std, clip):
    """mu + clip(std eps, -clip, clip), kept inside (-1, 1) with the gradient of mu passing the bound unchanged
    (DrQ-v2's TruncatedNormal sample)."""
    a = mu + jnp.clip(std * jax.random.normal(key, mu.shape), -clip, clip)
    return a + jax.lax.stop_gradient(jnp.clip(a, -1.0 + 1e-6, 1.0 - 1e-6) - a)


def n_step_targets(seg, valid, gamma):
    """From segments (B, n, ...) and their mask: (summed discounted rewards (B,), gamma^m (1 - terminated_m) (B,), the
    observation to bootstrap from (B, ...)), where m is the number of valid steps of each segment."""
    n = valid.shape[1]
    discounts = gamma ** jnp.arange(n, dtype=jnp.float32)
    reward = jnp.sum(discounts * valid * seg.reward, axis=1)
    last = jnp.sum(valid, axis=1).astype(jnp.int32) - 1  # index of the last valid step (valid[:, 0] is always 1)
    rows = jnp.arange(valid.shape[0])
    bootstrap = gamma ** (last + 1).astype(jnp.float32) * (1.0 - seg.terminated[rows, last])
    return reward, bootstrap, seg.next_obs[rows, last]


def merged(*groups: dict) -> dict:
    """{group: {field: value}} mappings merged group by group (an encoder may add fields to its base's group)."""
    out = {}
    for g in groups:
        for name, fields in g.items():
            out[name] = {**out.get(name, {}), **fields}
    return out


class DrQV2:
    def __init__(self, config, obs_dim: int, action_dim: int, critic, encoder):
        """``critic``: an ``agents.critics`` component with ``NUM_Q`` heads on ``encoder.critic_dim`` features;
        ``encoder``: an ``agents.frame_features`` component."""
        shared, own, e = config.actor_critic, config.drqv2, config.env
        self.shared, self.own, self.critic, self.encoder = shared, own, critic, encoder
        del obs_dim  # the frames' shape is config.env's (envs.pixels.PixelEnv.obs_shape)
        self.frame_shape = (int(e.pixels), int(e.pixels), 3 * int(e.frame_stack))
        self.action_dim, self.n_step, self.pad = action_dim, int(own.n_step), int(own.pad)
        self.batch_size = int(config.replay.batch_size)
        self.actor_net = Actor(action_dim, int(own.feature_dim), tuple(shared.actor_hidden), shared.activation,
                               shared.actor_init)
        frames_per_update = int(e.action_repeat) * int(e.num_envs) / int(config.run.updates_per_step)
        self.warmup_frames, self.frames_per_update = float(config.run.warmup_steps), float(frames_per_update)
        self.decay_frames = float(own.std_decay_frames)

    def hparams(self) -> dict:
        return merged(base_hparams(self.shared, "drqv2", self.own, HPARAMS, self.critic), self.encoder.hparams())

    def init(self, key, hp: dict) -> DrQV2State:
        k_encoder, k_input, k_actor, k_critic = jax.random.split(key, 4)
        frames = jnp.zeros((1,) + self.frame_shape, jnp.uint8)
        encoder = self.encoder.init(k_encoder, frames, hp)
        features = self.encoder.features(self.encoder.params(encoder), frames)
        heads, critic_state = self.critic.init(k_critic, self.encoder.critic_dim, self.action_dim, hp)
        critic = {**self.encoder.critic_input_init(k_input, features), "heads": heads}
        actor = self.actor_net.init(k_actor, features)
        ac = named(hp).actor_critic
        return DrQV2State(encoder, Learner.create(critic, adam(ac.critic_lr)), critic,
                          Learner.create(actor, adam(ac.actor_lr)), critic_state, jnp.zeros((), jnp.float32), hp)

    def std(self, state: DrQV2State):
        """The exploration noise's std at the frame the updates so far have reached (module docstring)."""
        own = named(state.hp).drqv2
        frames = self.warmup_frames + state.updates * self.frames_per_update
        progress = jnp.clip(frames / self.decay_frames, 0.0, 1.0)
        return own.std_start + progress * (own.std_end - own.std_start)

    def act(self, state: DrQV2State, obs, key, deterministic: bool):
        """mu(s), or mu(s) + N(0, std^2) clipped to [-1, 1] while exploring."""
        mu = self.actor_net.apply(state.actor.params, self.encoder.features(self.encoder.params(state.encoder), obs))
        if deterministic:
            return mu
        return jnp.clip(mu + self.std(state) * jax.random.normal(key, mu.shape), -1.0, 1.0)

    def q(self, critic_params, critic_state, features, action, bootstrap: bool = False):
        """(num_q, B) Q-values: the critic component's heads on the critic's input from the encoder's features
        (``bootstrap``: as a TD target reads them, ``critic.target_q``)."""
        q = self.critic.target_q if bootstrap else self.critic.q
        return q(critic_params["heads"], critic_state, self.encoder.critic_input(critic_params, features), action)

    def td_target(self, state: DrQV2State, reward, bootstrap, next_obs, key):
        """(y, info): y = reward + bootstrap x min_i Q'_i(s_m, a'), (B,), constant (module docstring): ``reward`` and
        ``bootstrap`` are ``n_step_targets``', ``next_obs`` the shifted stack s_m. The info's ``target_heads_gap`` is
        the mean of max_i Q'_i - min_i Q'_i: the min's downward bias grows with it, and the bootstrap compounds it."""
        next_f = self.encoder.bootstrap_features(state.encoder, next_obs)
        next_a = clipped_noise_action(key, self.actor_net.apply(state.actor.params, next_f), self.std(state),
                                      named(state.hp).drqv2.std_clip)
        heads = self.q(state.target_critic, state.critic_state, next_f, next_a, bootstrap=True)
        y = jax.lax.stop_gradient(reward + bootstrap * jnp.min(heads, axis=0))
        return y, {"target_heads_gap": jnp.mean(jnp.max(heads, axis=0) - jnp.min(heads, axis=0))}

    def td_loss(self, critic_params, critic_state, features, action, target):
        """(the heads' squared errors to ``target`` summed, their Q-values (num_q, B))."""
        q = self.q(critic_params, critic_state, features, action)
        return jnp.sum(jnp.mean((q - target) ** 2, axis=-1)), q

    def critic_loss(self, critic_params, encoder_params, critic_state, obs, action, target):
        """(loss, (info, the encoder's features of ``obs``)) of the critic's heads (and trunk, and DrQ-v2's encoder
        when differentiated in ``encoder_params``)."""
        f = self.encoder.features(encoder_params, obs)
        loss, q = self.td_loss(critic_params, critic_state, f, action, target)
        info = {"critic_loss": loss, "q_mean": q.mean(), "q_std": q.std(), "target_q": target.mean()}
        return loss, (info, f)

    def actor_loss(self, actor_params, state: DrQV2State, features, key):
        own = named(state.hp).drqv2
        a = clipped_noise_action(key, self.actor_net.apply(actor_params, features), self.std(state), own.std_clip)
        q = self.q(state.critic.params, state.critic_state, features, a)
        loss = -jnp.mean(jnp.min(q, axis=0))
        return loss, {"actor_loss": loss}

    def update(self, state: DrQV2State, sampler, key, update_idx):
        """The TD target, the critic component's feature learning, the critic's and the encoder's steps, the actor's,
        the targets' averaging (module docstring)."""
        del update_idx  # no delays: the schedule's clock is state.updates
        k_seg, k_aug, k_aug_next, k_critic, k_actor = jax.random.split(key, 5)
        k_encoder, k_features = jax.random.split(jax.random.fold_in(key, 1))
        seg, valid = sampler.segments(k_seg, self.batch_size, self.n_step)
        ac = named(state.hp).actor_critic
        reward, bootstrap, next_obs = n_step_targets(seg, valid, ac.gamma)
        obs = random_shift(k_aug, seg.obs[:, 0], self.pad)
        next_obs = random_shift(k_aug_next, next_obs, self.pad)
        action = seg.action[:, 0]
        target, t_info = self.td_target(state, reward, bootstrap, next_obs, k_critic)
        encoder_params = self.encoder.params(state.encoder)

        # the critic's own feature learning, on this update's transitions as features
        features = jax.lax.stop_gradient(self.encoder.features(encoder_params, obs))
        transitions = Transition(features, action, seg.reward[:, 0],
                                 self.encoder.next_features(encoder_params, seg.next_obs[:, 0]),
                                 seg.terminated[:, 0])

        def critic_loss_of(critic_state, batch, k):
            del k
            return self.td_loss(state.critic.params, critic_state, batch.obs, batch.action, target)[0]

        critic_state, f_info = self.critic.update_critic_state(state.critic_state, FixedSampler(transitions),
                                                               k_features, state.hp, critic_loss_of)

        argnums = (0, 1) if self.encoder.trained_by_critic else 0
        (_, (c_info, features)), grads = jax.value_and_grad(self.critic_loss, argnums, has_aux=True)(
            state.critic.params, encoder_params, critic_state, obs, action, target)
        g_critic, g_encoder = grads if self.encoder.trained_by_critic else (grads, None)
        encoder, e_info = self.encoder.update(state.encoder, g_encoder, obs, seg.next_obs[:, 0], k_encoder, state.hp)
        state = state.replace(encoder=encoder, critic=state.critic.apply_gradients(g_critic), critic_state=critic_state)
        (_, a_info), g_actor = jax.value_and_grad(self.actor_loss, has_aux=True)(
            state.actor.params, state, jax.lax.stop_gradient(features), k_actor)
        state = state.replace(actor=state.actor.apply_gradients(g_actor),
                              target_critic=soft_update(state.target_critic, state.critic.params, ac.tau),
                              updates=state.updates + 1.0)
        return state, {**f_info, **e_info, **c_info, **t_info, **a_info, "std": self.std(state),
                       "n_step_bootstrap": bootstrap.mean()}

    @property
    def pretrain_steps(self) -> int:
        """The encoder's pre-training steps (``pretrain``; 0: none)."""
        return self.encoder.pretrain_steps

    def pretrain(self, state: DrQV2State, sampler, key) -> DrQV2State:
        """rl-rep's pre-training, once, at the warm-up's end: ``encoder.pretrain_steps`` steps on one-step transitions
        of the warm-up's replay, the first ``encoder.pretrain_vae_only`` the encoder's own step alone (the VAE's ELBO),
        the rest also the critic component's own feature learning without the critic's loss (psi and zeta's score
        matching on the latents, as ``update`` forms them). The critic's heads, the actor and the noise schedule's
        clock are untouched; the EMA copies follow by their own averaging (rl-rep copies them at each step)."""

        def step(with_features, state, k):
            k_seg, k_aug, k_encoder, k_features = jax.random.split(k, 4)
            seg, _ = sampler.segments(k_seg, self.batch_size, 1)
            obs = random_shift(k_aug, seg.obs[:, 0], self.pad)
            critic_state = state.critic_state
            if with_features:
                params = self.encoder.params(state.encoder)
                transitions = Transition(jax.lax.stop_gradient(self.encoder.features(params, obs)), seg.action[:, 0],
                                         seg.reward[:, 0], self.encoder.next_features(params, seg.next_obs[:, 0]),
                                         seg.terminated[:, 0])
                critic_state, _ = self.critic.update_critic_state(critic_state, FixedSampler(transitions), k_features,
                                                                  state.hp, None)
            encoder, _ = self.encoder.update(state.encoder, None, obs, seg.next_obs[:, 0], k_encoder, state.hp)
            return state.replace(encoder=encoder, critic_state=critic_state), None

        k_vae, k_joint = jax.random.split(key)
        n_vae = self.encoder.pretrain_vae_only
        state, _ = jax.lax.scan(functools.partial(step, False), state, jax.random.split(k_vae, n_vae))
        state, _ = jax.lax.scan(functools.partial(step, True), state,
                                jax.random.split(k_joint, self.pretrain_steps - n_vae))
        return state

    def diagnostics(self, state: DrQV2State, batch, key) -> dict:
        """The critic component's diagnostics (the representation's probes for ``diffsr_drqv2``) on ``batch`` as the
        encoder's features: the stack's, and the next step's as the representation sees it."""
        params = self.encoder.params(state.encoder)
        encoded = batch.replace(obs=self.encoder.features(params, batch.obs),
                                next_obs=self.encoder.next_features(params, batch.next_obs))
        return self.critic.diagnostics(state.critic_state, encoded, key)
