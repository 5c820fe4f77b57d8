"""Image augmentation on replayed pixel observations: DrQ's random shift.

``random_shift(key, images, pad)``: each image (B, H, W, C) is padded by ``pad`` pixels on every side by repeating its
border pixels, then cropped back to H x W at an offset drawn uniformly from 0 .. 2 * pad on each axis: a shift of up
to ``pad`` pixels in each direction, one per image. (DrQ-v2 shifts by bilinear sampling at offsets that are whole
pixels, which is this crop.) Works on any dtype, uint8 frames included; ``pad`` 0 returns the images unchanged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def random_shift(key, images, pad: int):
    """(B, H, W, C) -> (B, H, W, C), each image shifted by its own offset (see the module docstring)."""
    if not pad:
        return images
    b, h, w, c = images.shape
    padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    offsets = jax.random.randint(key, (b, 2), 0, 2 * pad + 1)

    def crop(image, offset):
        return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, c))

    return jax.vmap(crop)(padded, offsets)
