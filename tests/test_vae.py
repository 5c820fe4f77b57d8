"""networks.vae: the per-frame VAE's shapes at the sides runs use, its KL and loss against their formulas, and that it
learns to tell frames apart."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from diffsr_jax.networks.vae import (FrameVAE, elbo_loss, frames_of, gaussian_kl, sample_posterior, scaled,
                                     stride2_output_padding)


@pytest.mark.parametrize("side,layers", [(84, 4), (64, 4), (33, 3), (32, 3), (16, 2)])
def test_a_frame_decodes_back_to_its_own_size(side, layers):
    vae = FrameVAE(side, latent_dim=8, channels=4, layers=layers)
    frames = jax.ShapeDtypeStruct((2, side, side, 3), jnp.uint8)
    params = jax.eval_shape(vae.init, jax.random.PRNGKey(0), frames)  # shapes only: nothing is computed
    mean, logvar = jax.eval_shape(lambda p, f: vae.apply(p, f, method=FrameVAE.encode), params, frames)
    assert mean.shape == logvar.shape == (2, 8)
    decode = lambda p, z: vae.apply(p, z, method=FrameVAE.decode)  # noqa: E731
    assert jax.eval_shape(decode, params, mean).shape == (2, side, side, 3)
    # leading axes pass through: a (batch, frames) block of latents decodes to the same block of frames
    assert jax.eval_shape(decode, params, jax.ShapeDtypeStruct((2, 3, 8), jnp.float32)).shape == (2, 3, side, side, 3)
    assert stride2_output_padding(side) == (1 if side % 2 == 0 else 0)


def test_the_kl_and_the_loss_are_their_formulas():
    mean, logvar = jnp.array([[0.0, 0.0], [1.0, -2.0]]), jnp.array([[0.0, 0.0], [0.0, jnp.log(4.0)]])
    # KL(N(m, v) || N(0, 1)) = (m^2 + v - 1 - log v) / 2 per dimension
    np.testing.assert_allclose(gaussian_kl(mean, logvar), [0.0, 0.5 + 0.5 * (4.0 + 4.0 - 1.0 - np.log(4.0))], rtol=1e-6)
    vae = FrameVAE(16, latent_dim=4, channels=4, layers=2)
    frames = jax.random.randint(jax.random.PRNGKey(1), (3, 16, 16, 3), 0, 256).astype(jnp.uint8)
    params = jax.jit(vae.init)(jax.random.PRNGKey(0), frames)
    key = jax.random.PRNGKey(2)
    loss, info = jax.jit(lambda p: elbo_loss(vae, p, frames, key, 0.1))(params)
    m, lv = jax.jit(lambda p: vae.apply(p, frames, method=FrameVAE.encode))(params)
    recon = jax.jit(lambda p: vae.apply(p, sample_posterior(key, m, lv), method=FrameVAE.decode))(params)
    target = np.asarray(frames, np.float64) / 255 - 0.5
    expected_recon = np.mean(np.sum((np.asarray(recon) - target) ** 2, axis=(1, 2, 3)))
    np.testing.assert_allclose(info["vae_recon_loss"], expected_recon, rtol=1e-5)
    np.testing.assert_allclose(loss, expected_recon + 0.1 * np.mean(gaussian_kl(m, lv)), rtol=1e-5)


def test_the_log_variance_is_clamped():
    vae = FrameVAE(16, latent_dim=4, channels=4, layers=2)
    frames = jnp.full((1, 16, 16, 3), 255, jnp.uint8)
    params = jax.jit(vae.init)(jax.random.PRNGKey(0), frames)
    params = jax.tree_util.tree_map(lambda x: x * 1e4, params)  # huge weights: unclamped log-variances far outside
    _, logvar = jax.jit(lambda p: vae.apply(p, frames, method=FrameVAE.encode))(params)
    assert float(logvar.min()) >= -30.0 and float(logvar.max()) <= 20.0


def test_frames_of_splits_a_stack_oldest_first():
    frames = jnp.arange(3)[:, None, None, None] * jnp.ones((3, 4, 4, 3))  # frame i filled with i
    stack = jnp.concatenate(list(frames), axis=-1)[None]  # (1, 4, 4, 9): envs.pixels' layout, oldest first
    out = frames_of(stack, 3)
    assert out.shape == (1, 3, 4, 4, 3)
    np.testing.assert_array_equal(out[0, :, 0, 0, 0], [0, 1, 2])
    np.testing.assert_array_equal(out[0], frames)


def test_the_vae_learns_to_tell_frames_apart():
    """Four frames, each a bright square in a different quadrant. After training, each frame's reconstruction is
    nearer its own frame than to any other, and the error is well below what the best single image (their mean)
    gets: the latent carries which frame it is. An encoder whose output did not reach the decoder could reach only
    the mean image's error."""
    side = 16
    frames = np.zeros((4, side, side, 3), np.uint8)
    for i, (r, c) in enumerate([(0, 0), (0, 8), (8, 0), (8, 8)]):
        frames[i, r:r + 8, c:c + 8] = 255
    frames = jnp.asarray(frames)
    vae = FrameVAE(side, latent_dim=4, channels=8, layers=2)
    params = jax.jit(vae.init)(jax.random.PRNGKey(0), frames)
    tx = optax.adam(3e-3)

    @jax.jit
    def step(params, opt, key):
        (_, info), g = jax.value_and_grad(lambda p: elbo_loss(vae, p, frames, key, 1e-3), has_aux=True)(params)
        updates, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, updates), opt, info

    opt = tx.init(params)
    for key in jax.random.split(jax.random.PRNGKey(1), 1000):
        params, opt, info = step(params, opt, key)
    recon = np.asarray(jax.jit(lambda p: vae.apply(p, frames))(params))  # the posterior mean's reconstruction
    target = np.asarray(scaled(frames))
    errors = ((recon[:, None] - target[None]) ** 2).sum(axis=(2, 3, 4))  # [reconstruction i, frame j]
    assert np.all(np.argmin(errors, axis=1) == np.arange(4)), errors
    mean_image_error = ((target - target.mean(0)) ** 2).sum(axis=(1, 2, 3)).mean()  # 192 pixels x 3 x 0.25 = 144
    # measured: ~1 after 1000 steps, ~5 after 700 (Adam 3e-3, KL weight 1e-3)
    assert np.mean(np.diag(errors)) < 0.1 * mean_image_error, (np.diag(errors), mean_image_error)
