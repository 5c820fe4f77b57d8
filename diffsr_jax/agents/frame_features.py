"""How a pixel agent (``agents.drqv2``) turns a stack of frames into the features its actor and critic read: the
encoder component ``DrQV2`` takes, one per agent of the pair.

- ``ConvFeatures`` (``drqv2``): DrQ-v2's convolutional encoder on the whole stack (``networks.encoders.ConvEncoder``,
  sized by ``config.drqv2``), trained by the critic's loss alone (``drqv2.encoder_lr``); the critic reads it through
  a trunk of its own (``networks.encoders.Trunk``: Dense -> LayerNorm -> tanh, ``drqv2.feature_dim``) that the
  critic's optimizer trains with its heads. The TD target's bootstrap stack is encoded by the online encoder without
  gradient, as DrQ-v2 does.
- ``LatentFeatures`` (``diffsr_drqv2``, the paper's image-based variant): a per-frame VAE (``networks.vae.FrameVAE``,
  ``config.vae``); the features are the posterior means of the stack's frames, concatenated oldest first
  (``frames x latent_dim``). The VAE is trained by its own negative ELBO (``vae.lr``) on the stack's frames as the
  critic saw them (shifted) and on the next step's newest frame (un-shifted), the images rl-rep's ``ae_step`` reads;
  no other loss reaches it. An EMA copy (``vae.tau``) encodes the TD target's bootstrap stack, as rl-rep's
  ``vae_target`` does. The critic reads the latents directly (psi has its own input layers): no trunk. The
  representation's next state is the next step's newest frame's latent (``next_dim = latent_dim``): zeta models one
  frame, psi reads the stack.
  Before the first update, ``vae.pretrain_steps`` steps on the warm-up's replay (rl-rep's pre-training; without them
  the ELBO alone leaves the latents near the prior for the first ~1,000 updates, and the critic's input shifts under
  it when they start to carry the frame: docs/pixels.md): the first ``vae.pretrain_vae_only`` train the VAE alone,
  the rest also psi and zeta by score matching (``agents.drqv2.DrQV2.pretrain``).

Every encoder offers: ``hparams()``; ``init(key, frames, hp) -> state``; ``params(state)`` (the online parameters,
the ones a critic gradient would reach); ``features(params, frames) -> (B, feature_dim)``;
``bootstrap_features(state, frames)`` (constant); ``next_features(params, next_frames)`` (the representation's
next state, constant); ``critic_input_init(key, features) -> dict`` and ``critic_input(critic_params, features)``
(what the critic's heads see); ``update(state, critic_grads, frames, next_frames, key, hp) -> (state, info)``;
``trained_by_critic`` (whether ``update`` wants the critic loss's gradient); ``pretrain_steps`` and
``pretrain_vae_only`` (the pre-training's length and its encoder-only part; 0 for DrQ-v2's); ``critic_dim`` (the size the critic's
heads read) and ``next_dim`` (the representation's next-state size, None: the critic's).
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections

from diffsr_jax.fields import ConfigError, ConfigGroup, Fields, named, traced_values
from diffsr_jax.networks.encoders import ConvEncoder, Trunk, conv_output_side
from diffsr_jax.networks.vae import FrameVAE, elbo_loss, frames_of
from diffsr_jax.optim import Learner, adam, soft_update

VAE_HPARAMS = ("lr", "kl_weight", "tau")


def vae_defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.latent_dim = 256  # per frame; the state is frame_stack of them (rl-rep: 3 x 256)
    g.channels = 32  # the encoder's convolutions (and the decoder's transposed ones) ...
    g.layers = 4  # ... 3x3, the first of stride 2
    g.kl_weight = 1.0  # the ELBO's KL term's weight (rl-rep's kl_coef)
    g.lr = 3e-4  # Adam
    g.tau = 0.01  # Polyak rate of the copy that encodes the TD target's bootstrap stack
    g.pretrain_steps = 10_000  # steps on the warm-up's replay before the first update (rl-rep's; 0: none) ...
    g.pretrain_vae_only = 5_000  # ... the first of them the VAE's alone, the rest also psi and zeta's score matching
    return g


def validate_vae(config) -> None:
    g = config.vae
    f = Fields(g, "vae")
    f.integer("latent_dim", "channels", "layers")
    f.integer("pretrain_steps", "pretrain_vae_only", minimum=0)
    if g.pretrain_vae_only > g.pretrain_steps:
        f.fail("pretrain_vae_only", f"={g.pretrain_vae_only} is more than pretrain_steps={g.pretrain_steps}; it counts "
                                    "the first of those steps")
    one_iteration = int(config.env.num_envs) * int(config.env.action_repeat)
    if g.pretrain_steps and int(config.run.warmup_steps) < one_iteration:
        f.fail("pretrain_steps", f"={g.pretrain_steps} trains on the warm-up's replay, and run.warmup_steps="
                                 f"{config.run.warmup_steps} frames leaves none (one iteration is {one_iteration}): set "
                                 "run.warmup_steps higher (rl-rep: 4000) or vae.pretrain_steps=0")
    f.positive("lr")
    f.within("tau", 0.0, 1.0, low_open=True)
    if g.kl_weight < 0:
        f.fail("kl_weight", f"must be >= 0, got {g.kl_weight}")
    pixels = int(config.env.pixels)
    if pixels and conv_output_side(pixels, int(g.layers)) < 1:
        f.fail("layers", f"={g.layers} leaves no feature map of a {pixels}x{pixels} frame; use fewer layers or more "
                         "pixels")
    steps = int(config.representation.steps_per_update)
    if steps != 1:
        raise ConfigError(f"config.representation.steps_per_update={steps}: diffsr_drqv2 trains psi and zeta once an "
                          "update, on the latents of that update's batch; set it to 1")


VAE_CONFIG = ConfigGroup("vae", vae_defaults, validate_vae, "the per-frame VAE whose latents diffsr_drqv2 reads")


class ConvFeatures:
    """DrQ-v2's encoder (module docstring); its state is a ``Learner`` of the convolutions."""

    trained_by_critic = True
    next_dim = None
    pretrain_steps = pretrain_vae_only = 0  # DrQ-v2 has no pre-training

    def __init__(self, config):
        own = config.drqv2
        self.own = own
        self.conv = ConvEncoder(int(own.channels), int(own.conv_layers))
        self.trunk = Trunk(int(own.feature_dim), config.mlp_critic.init)
        self.critic_dim = int(own.feature_dim)

    def hparams(self) -> dict:
        return {"drqv2": traced_values(self.own, ("encoder_lr",))}

    def init(self, key, frames, hp) -> Learner:
        return Learner.create(self.conv.init(key, frames), adam(named(hp).drqv2.encoder_lr))

    def params(self, state: Learner):
        return state.params

    def features(self, params, frames):
        return self.conv.apply(params, frames)

    def bootstrap_features(self, state: Learner, frames):
        return jax.lax.stop_gradient(self.features(state.params, frames))

    def next_features(self, params, next_frames):
        return jax.lax.stop_gradient(self.features(params, next_frames))

    def critic_input_init(self, key, features) -> dict:
        return {"trunk": self.trunk.init(key, features)}

    def critic_input(self, critic_params, features):
        return self.trunk.apply(critic_params["trunk"], features)

    def update(self, state: Learner, critic_grads, frames, next_frames, key, hp):
        del frames, next_frames, key, hp  # the critic loss's gradient is all it learns from
        return state.apply_gradients(critic_grads), {}


@flax.struct.dataclass
class LatentState:
    learner: Learner  # the VAE and its Adam state (vae.lr)
    target: Any  # its Polyak copy (vae.tau): encodes the TD target's bootstrap stack


class LatentFeatures:
    """The per-frame VAE's stacked posterior means (module docstring)."""

    trained_by_critic = False

    def __init__(self, config):
        g, e = config.vae, config.env
        self.own = g
        self.frames = int(e.frame_stack)
        self.vae = FrameVAE(int(e.pixels), int(g.latent_dim), int(g.channels), int(g.layers))
        self.critic_dim = self.frames * int(g.latent_dim)
        self.next_dim = int(g.latent_dim)
        self.pretrain_steps, self.pretrain_vae_only = int(g.pretrain_steps), int(g.pretrain_vae_only)

    def hparams(self) -> dict:
        return {"vae": traced_values(self.own, VAE_HPARAMS)}

    def init(self, key, frames, hp) -> LatentState:
        params = self.vae.init(key, frames_of(frames, self.frames)[:, -1])
        return LatentState(Learner.create(params, adam(named(hp).vae.lr)), params)

    def params(self, state: LatentState):
        return state.learner.params

    def features(self, params, frames):
        """(B, N, N, 3 frames) uint8 -> (B, frames x latent_dim): each frame's posterior mean, oldest first."""
        mean, _ = self.vae.apply(params, frames_of(frames, self.frames), method=FrameVAE.encode)
        return mean.reshape(mean.shape[:-2] + (-1,))

    def bootstrap_features(self, state: LatentState, frames):
        return jax.lax.stop_gradient(self.features(state.target, frames))

    def next_features(self, params, next_frames):
        """The next step's newest frame's posterior mean, (B, latent_dim): what zeta models."""
        mean, _ = self.vae.apply(params, next_frames[..., -3:], method=FrameVAE.encode)
        return jax.lax.stop_gradient(mean)

    def critic_input_init(self, key, features) -> dict:
        del key, features
        return {}

    def critic_input(self, critic_params, features):
        del critic_params
        return features

    def update(self, state: LatentState, critic_grads, frames, next_frames, key, hp):
        """One Adam step on the negative ELBO of the stack's frames and the next step's newest frame, then the copy's
        averaging."""
        del critic_grads  # None: the VAE learns from its ELBO alone
        side = frames.shape[-2]
        images = jnp.concatenate([frames_of(frames, self.frames).reshape((-1, side, side, 3)),
                                  next_frames[..., -3:]], axis=0)
        own = named(hp).vae
        (_, info), grads = jax.value_and_grad(lambda p: elbo_loss(self.vae, p, images, key, own.kl_weight),
                                              has_aux=True)(state.learner.params)
        learner = state.learner.apply_gradients(grads)
        return LatentState(learner, soft_update(state.target, learner.params, own.tau)), info
