"""``config.baselines``: the sampling-based diffusion baselines (polygrad, diffusion_planner).

Both train a trajectory diffusion model; defaults are PolyGRAD's published settings (spec section 6): 128
denoising steps, horizon 10, cosine schedule, residual-MLP denoiser 1024 wide with 6 layers, time embedding 128,
diffusion batch 256.
"""

from __future__ import annotations

import ml_collections

from diffsr_jax.config.checks import Fields


def baselines_defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    # the trajectory diffusion model
    g.denoise_steps = 128  # levels of the schedule = denoiser evaluations per sample
    g.horizon = 10  # trajectory length (states incl. the observed first one)
    g.schedule = "cosine"
    g.model_width = 1024
    g.model_layers = 6
    g.time_embed_dim = 128
    g.model_batch = 256  # replay segments per denoising-loss step
    g.lr = 3e-4
    g.x0_clip = 10.0  # |predicted clean sample| bound during sampling (data are standardised)
    g.max_grad_norm = 100.0
    g.tau = 0.01  # Polyak rate of the denoiser copy PolyGRAD imagines with (1: the live model)
    # diffusion_planner
    g.num_candidates = 64  # sampled trajectories per action
    g.planner_noise = 0.1  # Gaussian exploration noise on the planned action while training
    # polygrad
    g.imagined_batch = 1024
    g.guidance_type = "grad"  # grad: policy-guidance gradient on the actions | sample: on-policy resampling
    g.guidance_scale = 0.005  # initial policy-guidance scale delta, then tuned online
    g.guidance_lr = 0.01  # log(delta) += guidance_lr * (action z-score std - 1) per update
    g.action_noise_scale = 1.0  # action re-noising, in units of the level's posterior std
    g.action_clip_std = 3.0  # final actions kept within this many policy stds
    g.actor_std = "global"  # global: one learned std per action dim (PolyGRAD) | state: SAC-style std head
    g.min_std = 0.1  # floor of the global std
    g.init_std = 1.0
    g.lam = 0.9
    g.entropy_coef = 1e-5
    return g


def validate_baselines(config) -> None:
    from diffsr_jax.diffusion import SCHEDULE_KINDS

    g = config.baselines
    f = Fields(g, "baselines")
    f.choice("schedule", SCHEDULE_KINDS)
    f.integer("denoise_steps", "model_width", "model_layers", "time_embed_dim", "model_batch", "num_candidates",
              "imagined_batch")
    f.integer("horizon", minimum=2)  # a trajectory needs a next state
    if g.time_embed_dim % 2:
        f.fail("time_embed_dim", f"must be even, got {g.time_embed_dim}")
    f.positive("lr", "x0_clip", "guidance_scale", "action_clip_std")
    f.within("tau", 0.0, 1.0, low_open=True)
    f.within("lam", 0.0, 1.0)
    f.choice("guidance_type", ("grad", "sample"))
    f.choice("actor_std", ("global", "state"))
    if not 0.0 < g.min_std < g.init_std:
        f.fail("min_std", f"and config.baselines.init_std must satisfy 0 < min_std < init_std, got {g.min_std} and "
               f"{g.init_std}")
