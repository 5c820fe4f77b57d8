"""TD3 presets: ``fast`` (CPU minutes on gymnax/Pendulum-v1) and ``paper`` (the DMC TD3 settings of spec section 4)."""

from experiments.configs.base import dmc_budget, fast_budget, preset_config


def _paper(c):
    dmc_budget(c)
    c.mlp_critic.hidden = (512, 512, 512)
    c.td3.update(noise_clip=0.3, policy_delay=1, actor_q_reduce="mean")


def get_config(preset: str = "fast"):
    return preset_config("td3", preset, fast=fast_budget, paper=_paper)
