"""Fields of the trajectory diffusion model shared by the sampling-based baselines (polygrad, diffusion_planner).

Defaults are PolyGRAD's published settings (spec section 6): 128 denoising steps, horizon 10, cosine schedule,
residual-MLP denoiser 1024 wide with 6 layers, time embedding 128, diffusion batch 256.
"""


from experiments.configs.base import fast_budget


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


def use_cpu_trajectory_model(c):
    """The CPU-sized trajectory model and run budget both baselines' ``fast`` presets share (gymnax/Pendulum-v1,
    12k env steps): a 256-wide 4-layer denoiser, time embedding 32, diffusion batch 128, 128-wide actor/critic."""
    fast_budget(c)
    c.model_width = 256
    c.model_layers = 4
    c.time_embed_dim = 32
    c.model_batch = 128
    c.model_lr = 1e-3
    return c
