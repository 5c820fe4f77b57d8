"""``config.trajectory_model``: the trajectory diffusion model both sampling-based baselines train (PolyGRAD, the
diffusion planner), and its denoiser and noise schedule built from it.

Defaults are PolyGRAD's published settings (spec section 6): 128 denoising steps, horizon 10, cosine schedule,
residual-MLP denoiser 1024 wide with 6 layers, time embedding 128, diffusion batch 256.
"""

from __future__ import annotations

import ml_collections

from diffsr_jax.diffusion import SCHEDULE_KINDS, NoiseSchedule, make_schedule
from diffsr_jax.fields import ConfigGroup, Fields
from diffsr_jax.networks.trajectory_denoiser import TrajectoryDenoiser


def defaults() -> ml_collections.ConfigDict:
    g = ml_collections.ConfigDict()
    g.denoise_steps = 128  # levels of the schedule = denoiser evaluations per sample
    g.horizon = 10  # trajectory length (states incl. the observed first one)
    g.schedule = "cosine"
    g.width = 1024  # the residual-MLP denoiser
    g.layers = 6
    g.time_embed_dim = 128
    g.batch = 256  # replay segments per denoising-loss step
    g.lr = 3e-4
    g.x0_clip = 10.0  # |predicted clean sample| bound during sampling (data are standardised)
    g.max_grad_norm = 100.0  # of every optimizer of the baselines
    g.tau = 0.01  # Polyak rate of the denoiser copy PolyGRAD imagines with (1: the live model)
    return g


def validate(config) -> None:
    g = config.trajectory_model
    f = Fields(g, "trajectory_model")
    f.choice("schedule", SCHEDULE_KINDS)
    f.integer("denoise_steps", "width", "layers", "time_embed_dim", "batch")
    f.integer("horizon", minimum=2)  # a trajectory needs a next state
    if g.time_embed_dim % 2:
        f.fail("time_embed_dim", f"must be even, got {g.time_embed_dim}")
    f.positive("lr", "x0_clip")
    f.within("tau", 0.0, 1.0, low_open=True)


TRAJECTORY_MODEL = ConfigGroup("trajectory_model", defaults, validate, "the baselines' trajectory diffusion model")


def denoiser(g) -> TrajectoryDenoiser:
    """The residual-MLP denoiser of ``config.trajectory_model``."""
    return TrajectoryDenoiser(g.width, g.layers, g.time_embed_dim)


def schedule(g) -> NoiseSchedule:
    """The noise schedule of ``config.trajectory_model``: ``denoise_steps`` levels."""
    return make_schedule(g.schedule, int(g.denoise_steps))
