"""Image encoders for pixel observations (``envs.pixels``): DrQ-v2's convolutional encoder and the trunk that turns
its output into a small feature vector.

``ConvEncoder``: uint8 frames (B, H, W, C) scaled to [-0.5, 0.5] (x / 255 - 0.5), then ``layers`` 3x3 convolutions of
``channels`` channels without padding, the first of stride 2 and the rest of stride 1, each followed by ReLU, then
flattened: an 84 x 84 frame gives 35 x 35 x 32 = 39,200 features (DrQ-v2's), a 64 x 64 one 25 x 25 x 32 = 20,000.
``Trunk``: Dense(features) -> LayerNorm -> tanh, DrQ-v2's first layer of both the actor and the critic.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from diffsr_jax.networks.init import dense


def conv_output_side(side: int, layers: int) -> int:
    """The side of the encoder's last feature map for a ``side`` x ``side`` frame: 3x3 VALID convolutions, the first
    of stride 2."""
    side = (side - 3) // 2 + 1
    return side - 2 * (layers - 1)


class ConvEncoder(nn.Module):
    channels: int = 32
    layers: int = 4

    @nn.compact
    def __call__(self, frames):
        x = frames.astype(jnp.float32) / 255.0 - 0.5
        for i in range(self.layers):
            x = nn.relu(nn.Conv(self.channels, (3, 3), strides=2 if i == 0 else 1, padding="VALID")(x))
        return x.reshape(x.shape[:-3] + (-1,))


class Trunk(nn.Module):
    features: int = 50
    init_scheme: str = "lecun"  # the dense layer's (networks.init)

    @nn.compact
    def __call__(self, x):
        return jnp.tanh(nn.LayerNorm()(dense(self.features, self.init_scheme, x.shape[-1])(x)))
