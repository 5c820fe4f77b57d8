"""PolyGRAD presets (sampling-based diffusion world model; see ``diffsr_jax/agents/polygrad.py``).

``paper``: spec section 6: 128 denoising steps, horizon 10, cosine schedule, residual-MLP denoiser 1024 x 6, time
embedding 128, diffusion batch 256, 1024 imagined trajectories per actor-critic batch, guidance scale 0.005 tuned
online; brax/halfcheetah, 200k env steps, eval every 5k with 10 episodes.

``fast``: the same algorithm at CPU sizes on gymnax/Pendulum-v1 (20 denoising steps, 256-wide denoiser,
128 imagined trajectories) with ``guidance_type=sample`` (exact policy samples along the chain): measured on
brax/inverted_pendulum, the ``grad`` guidance collapsed the policy to 2-step episodes within 4k steps while
``sample`` learned (docs/studies.md, issue 5). Both cost the same per update (one policy evaluation per reverse step).
"""

from experiments.configs.base import mbbl_budget, preset_config
from experiments.configs.trajectory_diffusion import use_cpu_trajectory_model


def _common(c):
    c.replay.normalize_obs = True  # the world model diffuses standardised states
    c.actor_critic.update(actor_lr=3e-5, critic_lr=3e-4, activation="elu")


def _paper(c):
    _common(c)
    mbbl_budget(c)


def _fast(c):
    _common(c)
    use_cpu_trajectory_model(c)
    c.trajectory_model.denoise_steps = 20
    c.polygrad.update(imagined_batch=128, guidance_type="sample")
    c.actor_critic.update(actor_lr=3e-4, critic_lr=1e-3)


def get_config(preset: str = "fast"):
    return preset_config("polygrad", preset, fast=_fast, paper=_paper)
