"""Diffuser-style decision-time planner presets (see ``diffsr_jax/agents/diffusion_planner.py``).

The trajectory model uses PolyGRAD's settings (spec section 6) by default; the critic/actor are SAC's.
``paper``: 128 denoising steps, horizon 10, 1024 x 6 denoiser, 64 candidates per action; brax/halfcheetah, 200k steps.
``fast``: gymnax/Pendulum-v1 at CPU sizes (10 denoising steps, horizon 8, 256-wide denoiser, 16 candidates).
"""

from experiments.configs.base import base_config, mbbl_budget
from experiments.configs.trajectory_diffusion import add_trajectory_model_fields, use_cpu_trajectory_model


def get_config(preset: str = "fast"):
    c = add_trajectory_model_fields(base_config())
    c.agent = "diffusion_planner"
    c.preset = preset
    c.normalize_obs = True
    c.num_candidates = 64  # sampled trajectories per action
    c.planner_noise = 0.1  # Gaussian exploration noise on the planned action while training
    c.init_alpha = 0.1
    c.activation = "elu"
    if preset == "paper":
        mbbl_budget(c)
        c.target_update_every = 2
    elif preset == "fast":
        use_cpu_trajectory_model(c)
        c.denoise_steps = 10
        c.horizon = 8
        c.num_candidates = 16
        c.actor_lr = 1e-3
        c.critic_lr = 1e-3
        c.alpha_lr = 1e-3
    else:
        raise ValueError(f"unknown diffusion_planner preset {preset!r}; choose fast or paper")
    return c
