"""Diff-SR on any registered base algorithm: the base's preset with its critic replaced by the RFF critic on the
Diff-SR representation psi(s, a). Only the critic and representation groups (``representation``, ``psi_critic``)
are set here, so ``diffsr_<base>`` and ``<base>`` differ in nothing else (tests/test_presets_pairs.py).
``--agent=diffsr_<base>`` without a preset file of its own runs this:

    --config=experiments/configs/diffsr.py:ddpg,fast

The representation is Diff-SR-SAC's (spec section 3): MLP psi/zeta, beta_cdf levels, score parameterisation, ELU
RFF critic.

- ``paper``: the spec's sizes and rl-rep's details: F=256, psi 256, zeta 512, 4 steps of batch 256 per env step at
  lr 3e-3, RFF 256/256, PyTorch's default init of psi, zeta and the heads, the score loss as rl-rep codes it.
- ``study``: the paper's update volume per env step (4 psi/zeta steps on fresh batches of 256 at lr 3e-3) and its
  details, with psi, zeta and the heads at half the paper's widths (F=128, psi 256, zeta 256, RFF 128/128). The
  paper's update is 6.4x the study's on this 2-core CPU (230 vs 36 ms, d_s 17: benchmarks/results/update_cost_presets.md),
  mostly zeta's output layer (F x d_s); 200k frames of 4 seeds at the paper's sizes is ~20 h here, beyond a study.
- ``fast``: CPU minutes on gymnax/Pendulum-v1 (F=64, 1 step at lr 1e-3, RFF 128/128, Flax's init).

On a pixel base (DrQ-v2, ``--agent=diffsr_drqv2``) the representation is the image variant's
(``with_latent_representation``): psi on the VAE's 3 stacked latents, zeta on the next frame's, DDPM's linear
schedule of 1000 levels without extra noise scale, the score loss as rl-rep codes it, Adam 3e-4, one step an update on
that update's batch, the critic's gradient into psi, the TD target on an EMA psi (tau 0.01), LayerNorm on psi before
the RFF heads (docs/pixels.md section 3).

- ``paper``: rl-rep's image settings where this code has them: VAE latent 256 of 32 channels and 4 layers; F=2048;
  psi and zeta residual (width 512, 3 blocks between rl-rep's 2 and 4, per-input encoders 512, Mish), zeta on a
  sinusoidal embedding of the level; RFF heads 1024/1024; PyTorch's default init; the VAE's KL weight 1.0 and
  rl-rep's pre-training (10,000 steps, the first 5,000 the VAE's alone). Not here: dropout 0.1, AdamW's weight decay.
- ``fast``: DrQ-v2's fast setting on 32 x 32 frames: VAE latent 64 of 8 channels and 3 layers (half DrQ-v2's fast
  encoder's channels: the decoder's transposed convolutions' gradients dominate the update on XLA:CPU,
  docs/pixels.md); KL weight 0.1 (at 1.0 the latents stay at the prior: docs/pixels.md) and 1,000 pre-training
  steps (500 the VAE's alone); F=64, MLP psi and zeta of 128, RFF 128/128.
"""

import importlib


def with_representation(c, preset: str):
    """Set ``c.representation`` and ``c.psi_critic`` for ``preset`` (the defaults are the paper's sizes)."""
    c.psi_critic.activation = "elu"
    if preset == "fast":
        c.representation.update(feature_dim=64, psi_hidden=(128,), zeta_hidden=(128,), steps_per_update=1, lr=1e-3)
        c.psi_critic.update(rff_dim=128, rff_hidden=128)
        return c
    c.representation.update(init="torch", score_sigma_power=1)  # rl-rep: PyTorch's default init, its coded loss
    c.psi_critic.update(init="torch", step_batch="last_feature")  # rl-rep's critic and actor reuse the last batch
    if preset == "study":
        c.representation.update(feature_dim=128, psi_hidden=(256,), zeta_hidden=(256,))
        c.psi_critic.update(rff_dim=128, rff_hidden=128)
    return c


def with_latent_representation(c, preset: str):
    """Set ``c.vae``, ``c.representation`` and ``c.psi_critic`` for ``preset`` of a pixel base (module docstring)."""
    c.representation.update(schedule="linear", num_levels=1000, noise_scale=1.0, parameterization="score",
                            score_sigma_power=1, lr=3e-4, steps_per_update=1, tau=0.01)
    c.psi_critic.update(activation="elu", grad_to_rep=True, input_layer_norm=True, reads="online",
                        bootstrap_reads="target")
    if preset == "fast":
        c.vae.update(latent_dim=64, channels=8, layers=3)  # the ELBO step here: 0.43 s with 16 channels, 0.16 s with 8
        # at 32 px the ELBO's reconstruction sums (84/32)^2 ~ 7x fewer pixels than rl-rep's at 84: its KL weight 1.0
        # kept the latents at the prior (KL ~0.5 nats after 600 steps), 0.1 (spectral-rl2's) keeps ~21 nats of the
        # frame (docs/pixels.md); rl-rep's pre-training, a tenth as long
        c.vae.update(kl_weight=0.1, pretrain_steps=1000, pretrain_vae_only=500)
        c.representation.update(feature_dim=64, arch="mlp", psi_hidden=(128,), zeta_hidden=(128,))
        c.psi_critic.update(rff_dim=128, rff_hidden=128)
        return c
    c.vae.update(latent_dim=256, channels=32, layers=4)
    c.representation.update(feature_dim=2048, arch="residual", res_width=512, res_blocks=3, enc_hidden=512,
                            enc_out=512, activation="mish", level_input="embedding", level_embed_dim=128,
                            init="torch")
    c.psi_critic.update(rff_dim=1024, rff_hidden=1024, init="torch")
    return c


def get_config(arg: str = "sac,fast"):
    base, _, preset = arg.partition(",")
    preset = preset or "fast"
    try:
        module = importlib.import_module(f"experiments.configs.{base}")
    except ModuleNotFoundError:
        raise ValueError(f"no preset file experiments/configs/{base}.py for base {base!r}") from None
    c = module.get_config(preset)
    c.run.agent = f"diffsr_{base}"
    if int(c.env.pixels):
        return with_latent_representation(c, preset)
    return with_representation(c, preset)
