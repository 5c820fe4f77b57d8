"""DrQ-v2 (Yarats et al. 2022), the base of the paper's image-based variant: a deterministic actor-critic on pixel
observations (``envs.pixels``) with a convolutional encoder trained by the critic alone, random-shift augmentation,
n-step returns and a scheduled exploration noise.

One update (DrQ-v2's ``update``), on a batch of ``n_step``-long segments of replay (``sampler.segments``):

- both ends of each segment are shifted at random (``data.augment.random_shift``, ``pad`` pixels), each image by its
  own offset, and encoded by the convolutional encoder (``networks.encoders.ConvEncoder``);
- critic: features ``f = conv(obs)``, ``Q_i(s, a) = head_i(trunk(f), a)`` with ``trunk`` the critic's own
  Dense -> LayerNorm -> tanh (``networks.encoders.Trunk``) and the heads the critic component's
  (``agents.critics``); target ``y = sum_{k<m} gamma^k r_k + gamma^m (1 - terminated) min_i Q'_i(s_m, a')``, where m
  (1 .. n_step) stops at the segment's first termination or reset (``sampler.segments``' mask), ``s_m`` is encoded by
  the online encoder without gradient and ``Q'`` is the target trunk and heads; ``a' = clip(mu(s_m) + clip(std eps,
  -std_clip, std_clip), -1, 1)`` from the online actor. The loss, the heads' squared TD errors summed, trains the
  heads and the critic's trunk (``critic_lr``) and the encoder (``encoder_lr``; the only gradient the encoder gets);
- actor: its own trunk on the encoder's features of ``obs`` (computed before the encoder's step, as DrQ-v2 does) with
  the gradient stopped, then an MLP to tanh(mu);
  loss ``-mean(min_i Q_i(s, mu(s) + clipped noise))`` (DrQ-v2's, straight-through at the action bounds);
- targets: the critic's trunk and heads by Polyak averaging (``tau``); no target actor, no target encoder.

Exploration noise: std falls linearly from ``std_start`` to ``std_end`` over ``std_decay_frames`` env frames (DrQ-v2's
``linear(1.0, 0.1, N)`` counts agent steps from the run's first frame; here the frame count is reckoned from the
updates so far, kept in the state: ``warmup frames + updates x frames per update``).
Acting adds ``N(0, std^2)`` unclipped, as DrQ-v2 does; the first ``run.warmup_steps`` frames act uniformly at random
(the trainer's warm-up, DrQ-v2's ``num_expl_steps``).

The critic component's own feature learning (``update_critic_state``) is not run: DrQ-v2 is registered with the MLP
critic, which has none.

Initialisation: dense layers by ``actor_critic.actor_init`` (the actor) and ``mlp_critic.init`` (the critic's trunk and
heads), the convolutions by Flax's default (LeCun normal; DrQ-v2 uses orthogonal with ReLU gain).

Traced hyperparameters (``state.hp``): ``actor_critic`` gamma, tau, actor_lr, critic_lr; ``drqv2`` std_start, std_end,
std_clip, encoder_lr.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import ml_collections

from diffsr_jax.agents.actor_critic import base_hparams
from diffsr_jax.data.augment import random_shift
from diffsr_jax.fields import ConfigError, ConfigGroup, Fields, named
from diffsr_jax.networks.actors import DeterministicActor
from diffsr_jax.networks.encoders import ConvEncoder, Trunk, conv_output_side
from diffsr_jax.optim import Learner, adam, soft_update

NUM_Q = 2
HPARAMS = ("std_start", "std_end", "std_clip", "encoder_lr")


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.n_step = 3  # rewards summed before bootstrapping
    g.std_start = 1.0  # exploration noise std at the first frame ...
    g.std_end = 0.1  # ... falling linearly to this ...
    g.std_decay_frames = 1_000_000  # ... over this many env frames (DrQ-v2's medium tasks: 500k steps of 2 frames)
    g.std_clip = 0.3  # the noise on the target's and the actor loss's actions is clipped to +-std_clip
    g.encoder_lr = 1e-4
    g.channels = 32  # the convolutional encoder's channels ...
    g.conv_layers = 4  # ... and 3x3 layers (the first of stride 2)
    g.feature_dim = 50  # the actor's and the critic's trunk output
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
        raise ConfigError("drqv2 reads pixel observations: set --config.env.pixels (84 as the official runs, 48-64 on a "
                          "CPU) with an env the camera can draw")
    if conv_output_side(pixels, int(g.conv_layers)) < 1:
        f.fail("conv_layers", f"={g.conv_layers} leaves no feature map of a {pixels}x{pixels} frame; use fewer layers "
                              "or more pixels")


DRQV2_CONFIG = ConfigGroup("drqv2", defaults, validate, "DrQ-v2's own: encoder, augmentation, n-step, noise schedule")


@flax.struct.dataclass
class DrQV2State:
    encoder: Learner  # the convolutional encoder, trained by the critic loss (drqv2.encoder_lr)
    critic: Learner  # {"trunk": the critic's trunk, "heads": the critic component's heads on (trunk, a)} (critic_lr)
    target_critic: Any  # their Polyak copy
    actor: Learner  # its trunk and MLP (actor_lr)
    critic_state: Any  # the critic component's own state (None for the MLP critic)
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


class DrQV2:
    def __init__(self, config, obs_dim: int, action_dim: int, critic):
        """``critic``: an ``agents.critics`` component with ``NUM_Q`` heads; it sees the critic trunk's features."""
        shared, own, e = config.actor_critic, config.drqv2, config.env
        self.shared, self.own, self.critic = shared, own, critic
        del obs_dim  # the frames' shape is config.env's (envs.pixels.PixelEnv.obs_shape)
        self.frame_shape = (int(e.pixels), int(e.pixels), 3 * int(e.frame_stack))
        self.action_dim, self.n_step, self.pad = action_dim, int(own.n_step), int(own.pad)
        self.batch_size = int(config.replay.batch_size)
        self.conv = ConvEncoder(int(own.channels), int(own.conv_layers))
        self.trunk = Trunk(int(own.feature_dim), config.mlp_critic.init)
        self.actor_net = Actor(action_dim, int(own.feature_dim), tuple(shared.actor_hidden), shared.activation,
                               shared.actor_init)
        frames_per_update = int(e.action_repeat) * int(e.num_envs) / int(config.run.updates_per_step)
        self.warmup_frames, self.frames_per_update = float(config.run.warmup_steps), float(frames_per_update)
        self.decay_frames = float(own.std_decay_frames)

    def hparams(self) -> dict:
        return base_hparams(self.shared, "drqv2", self.own, HPARAMS, self.critic)

    def init(self, key, hp: dict) -> DrQV2State:
        k_conv, k_trunk, k_actor, k_critic = jax.random.split(key, 4)
        frames = jnp.zeros((1,) + self.frame_shape, jnp.uint8)
        conv = self.conv.init(k_conv, frames)
        features = self.conv.apply(conv, frames)
        heads, critic_state = self.critic.init(k_critic, int(self.own.feature_dim), self.action_dim, hp)
        critic = {"trunk": self.trunk.init(k_trunk, features), "heads": heads}
        actor = self.actor_net.init(k_actor, features)
        ac, own = named(hp).actor_critic, named(hp).drqv2
        return DrQV2State(Learner.create(conv, adam(own.encoder_lr)), Learner.create(critic, adam(ac.critic_lr)),
                          critic, Learner.create(actor, adam(ac.actor_lr)), critic_state, jnp.zeros((), jnp.float32),
                          hp)

    def std(self, state: DrQV2State):
        """The exploration noise's std at the frame the updates so far have reached (module docstring)."""
        own = named(state.hp).drqv2
        frames = self.warmup_frames + state.updates * self.frames_per_update
        progress = jnp.clip(frames / self.decay_frames, 0.0, 1.0)
        return own.std_start + progress * (own.std_end - own.std_start)

    def features(self, conv_params, frames):
        return self.conv.apply(conv_params, frames)

    def act(self, state: DrQV2State, obs, key, deterministic: bool):
        """mu(s), or mu(s) + N(0, std^2) clipped to [-1, 1] while exploring."""
        mu = self.actor_net.apply(state.actor.params, self.features(state.encoder.params, obs))
        if deterministic:
            return mu
        return jnp.clip(mu + self.std(state) * jax.random.normal(key, mu.shape), -1.0, 1.0)

    def q(self, critic_params, critic_state, features, action):
        """(num_q, B) Q-values: the critic component's heads on the critic trunk's features of the encoder's."""
        h = self.trunk.apply(critic_params["trunk"], features)
        return self.critic.q(critic_params["heads"], critic_state, h, action)

    def critic_loss(self, params, state: DrQV2State, obs, action, reward, bootstrap, next_obs, key):
        """(loss, (info, the encoder's features of ``obs``)). ``params``: (encoder params, critic params)."""
        encoder, critic = params
        own = named(state.hp).drqv2
        next_f = jax.lax.stop_gradient(self.features(encoder, next_obs))
        next_a = clipped_noise_action(key, self.actor_net.apply(state.actor.params, next_f), self.std(state),
                                      own.std_clip)
        next_q = jnp.min(self.q(state.target_critic, state.critic_state, next_f, next_a), axis=0)
        target = jax.lax.stop_gradient(reward + bootstrap * next_q)
        f = self.features(encoder, obs)
        q = self.q(critic, state.critic_state, f, action)
        loss = jnp.sum(jnp.mean((q - target) ** 2, axis=-1))
        info = {"critic_loss": loss, "q_mean": q.mean(), "q_std": q.std(), "target_q": target.mean()}
        return loss, (info, f)

    def actor_loss(self, actor_params, state: DrQV2State, features, key):
        own = named(state.hp).drqv2
        a = clipped_noise_action(key, self.actor_net.apply(actor_params, features), self.std(state), own.std_clip)
        q = self.q(state.critic.params, state.critic_state, features, a)
        loss = -jnp.mean(jnp.min(q, axis=0))
        return loss, {"actor_loss": loss}

    def update(self, state: DrQV2State, sampler, key, update_idx):
        """One critic-and-encoder step, one actor step, the targets' averaging (module docstring)."""
        del update_idx  # no delays: the schedule's clock is state.updates
        k_seg, k_aug, k_aug_next, k_critic, k_actor = jax.random.split(key, 5)
        seg, valid = sampler.segments(k_seg, self.batch_size, self.n_step)
        ac = named(state.hp).actor_critic
        reward, bootstrap, next_obs = n_step_targets(seg, valid, ac.gamma)
        obs = random_shift(k_aug, seg.obs[:, 0], self.pad)
        next_obs = random_shift(k_aug_next, next_obs, self.pad)
        params = (state.encoder.params, state.critic.params)
        (_, (c_info, features)), (g_encoder, g_critic) = jax.value_and_grad(self.critic_loss, has_aux=True)(
            params, state, obs, seg.action[:, 0], reward, bootstrap, next_obs, k_critic)
        state = state.replace(encoder=state.encoder.apply_gradients(g_encoder),
                              critic=state.critic.apply_gradients(g_critic))
        (_, a_info), g_actor = jax.value_and_grad(self.actor_loss, has_aux=True)(
            state.actor.params, state, jax.lax.stop_gradient(features), k_actor)
        state = state.replace(actor=state.actor.apply_gradients(g_actor),
                              target_critic=soft_update(state.target_critic, state.critic.params, ac.tau),
                              updates=state.updates + 1.0)
        return state, {**c_info, **a_info, "std": self.std(state), "n_step_bootstrap": bootstrap.mean()}

    def diagnostics(self, state: DrQV2State, batch, key) -> dict:
        del batch, key
        return {}
