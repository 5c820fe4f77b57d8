"""A per-frame variational autoencoder: the image-based Diff-SR's encoder (a frame -> a 256-d latent; the state is the
stacked latents of the last frames, ``docs/pixels.md`` section 2).

``FrameVAE`` works on single RGB frames (..., N, N, 3) uint8:

- ``encode``: ``networks.encoders.ConvEncoder`` (x / 255 - 0.5, ``layers`` 3x3 convolutions of ``channels``, the first
  of stride 2, ReLU), then Dense(``latent_dim``) -> LayerNorm -> swish -> Dense(2 ``latent_dim``) = (mean,
  log-variance), the log-variance clamped to [-30, 20]: a diagonal Gaussian posterior;
- ``decode``: Dense to the encoder's last feature map, ReLU, ``layers - 1`` 3x3 transposed convolutions of stride 1 and
  one of stride 2 (each with ReLU; the stride-2 one padded at the bottom and right so that it returns to N x N, as
  PyTorch's ``output_padding``), then a 3x3 convolution to 3 channels with 'SAME' padding and no activation: the
  frame in the encoder's scale (x / 255 - 0.5).

``elbo_loss`` is the negative ELBO of a batch of frames as the official image code computes it: the squared error of a
posterior sample's reconstruction summed over the pixels plus ``kl_weight`` x KL(q(z | x) || N(0, I)) summed over the
latent, both averaged over the frames.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from diffsr_jax.networks.encoders import ConvEncoder, conv_output_side

LOGVAR_RANGE = (-30.0, 20.0)


def scaled(frames):
    """uint8 frames -> float32 in [-0.5, 0.5], the encoder's input scale and the decoder's target."""
    return frames.astype(jnp.float32) / 255.0 - 0.5


def stride2_output_padding(side: int) -> int:
    """Rows (and columns) a 3x3 stride-2 transposed convolution needs added at the end to return from the first
    convolution's output to a ``side`` x ``side`` frame: 1 for even sides, 0 for odd."""
    first = (side - 3) // 2 + 1
    return side - (2 * first + 1)


class FrameVAE(nn.Module):
    side: int  # frames are side x side x 3
    latent_dim: int = 256
    channels: int = 32
    layers: int = 4

    def setup(self):
        self.conv = ConvEncoder(self.channels, self.layers)
        self.fc = nn.Dense(self.latent_dim)
        self.norm = nn.LayerNorm()
        self.moments = nn.Dense(2 * self.latent_dim)
        self.map_side = conv_output_side(self.side, self.layers)
        self.unflatten = nn.Dense(self.map_side * self.map_side * self.channels)
        pad = stride2_output_padding(self.side)
        self.deconvs = [nn.ConvTranspose(self.channels, (3, 3), strides=(1, 1), padding="VALID")
                        for _ in range(self.layers - 1)]
        # lax.conv_transpose pads the dilated input: (2, 2) gives 2s + 1; 2 + pad at the end adds rows that only the
        # bias reaches, as PyTorch's output_padding does
        self.upsample = nn.ConvTranspose(self.channels, (3, 3), strides=(2, 2), padding=((2, 2 + pad), (2, 2 + pad)))
        self.to_rgb = nn.Conv(3, (3, 3), padding="SAME")

    def encode(self, frames):
        """(..., N, N, 3) uint8 -> (mean, log-variance), each (..., latent_dim)."""
        h = self.moments(nn.swish(self.norm(self.fc(self.conv(frames)))))
        mean, logvar = jnp.split(h, 2, axis=-1)
        return mean, jnp.clip(logvar, *LOGVAR_RANGE)

    def decode(self, z):
        """(..., latent_dim) -> (..., N, N, 3) float32 in the encoder's scale."""
        lead = z.shape[:-1]
        h = nn.relu(self.unflatten(z)).reshape((-1, self.map_side, self.map_side, self.channels))
        for deconv in self.deconvs:
            h = nn.relu(deconv(h))
        out = self.to_rgb(nn.relu(self.upsample(h)))
        return out.reshape(lead + out.shape[1:])

    def __call__(self, frames):
        """The reconstruction of the posterior mean (initialises every layer)."""
        mean, _ = self.encode(frames)
        return self.decode(mean)


def sample_posterior(key, mean, logvar):
    """z = mean + exp(logvar / 2) eps (the reparameterised sample)."""
    return mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape)


def gaussian_kl(mean, logvar):
    """KL(N(mean, exp(logvar)) || N(0, I)) summed over the last axis."""
    return 0.5 * jnp.sum(mean ** 2 + jnp.exp(logvar) - 1.0 - logvar, axis=-1)


def elbo_loss(vae: FrameVAE, params, frames, key, kl_weight):
    """The negative ELBO of ``frames`` (B, N, N, 3) uint8 (module docstring) -> (loss, info)."""
    mean, logvar = vae.apply(params, frames, method=FrameVAE.encode)
    recon = vae.apply(params, sample_posterior(key, mean, logvar), method=FrameVAE.decode)
    recon_loss = jnp.mean(jnp.sum((recon - scaled(frames)) ** 2, axis=(-3, -2, -1)))
    kl = jnp.mean(gaussian_kl(mean, logvar))
    return recon_loss + kl_weight * kl, {"vae_recon_loss": recon_loss, "vae_kl": kl}


def frames_of(stack, frames: int):
    """A stack of ``frames`` RGB frames on the channels, (..., N, N, 3 frames) -> (..., frames, N, N, 3), oldest first
    (``envs.pixels`` stacks them so)."""
    return jnp.moveaxis(stack.reshape(stack.shape[:-1] + (frames, 3)), -2, -4)
