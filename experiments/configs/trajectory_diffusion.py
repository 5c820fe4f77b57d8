"""Fields of the trajectory diffusion model shared by the sampling-based baselines (polygrad, diffusion_planner).

Defaults are PolyGRAD's published settings (spec section 6): 128 denoising steps, horizon 10, cosine schedule,
residual-MLP denoiser 1024 wide with 6 layers, time embedding 128, diffusion batch 256.
"""


def add_trajectory_model_fields(c):
    c.denoise_steps = 128  # levels of the schedule = denoiser evaluations per sample
    c.horizon = 10  # trajectory length (states incl. the observed first one)
    c.model_schedule = "cosine"
    c.model_width = 1024
    c.model_layers = 6
    c.time_embed_dim = 128
    c.model_batch = 256  # replay segments per denoising-loss step
    c.model_lr = 3e-4
    c.x0_clip = 10.0  # |predicted clean sample| bound during sampling (data are standardised)
    c.max_grad_norm = 100.0
    return c
