"""Diffuser-style decision-time planner presets (see ``diffsr_jax/agents/diffusion_planner.py``).

The trajectory model uses PolyGRAD's settings (spec section 6) by default; the critic/actor are SAC's.
``paper``: 128 denoising steps, horizon 10, 1024 x 6 denoiser, 64 candidates per action; brax/halfcheetah, 200k steps.
``fast``: gymnax/Pendulum-v1 at CPU sizes (10 denoising steps, horizon 8, 256-wide denoiser, 16 candidates).
"""

from experiments.configs.base import mbbl_budget, preset_config
from experiments.configs.trajectory_diffusion import use_cpu_trajectory_model


def _common(c):
    c.replay.normalize_obs = True
    c.actor_critic.activation = "elu"
    c.sac.init_alpha = 0.1
    c.mlp_critic.activation = "elu"


def _paper(c):
    _common(c)
    mbbl_budget(c)
    c.sac.target_update_every = 2


def _fast(c):
    _common(c)
    use_cpu_trajectory_model(c)
    c.trajectory_model.update(denoise_steps=10, horizon=8)
    c.planner.num_candidates = 16
    c.sac.alpha_lr = 1e-3


def get_config(preset: str = "fast"):
    return preset_config("diffusion_planner", preset, fast=_fast, paper=_paper)
