"""Agent names -> classes."""

from __future__ import annotations

from diffsr_jax.agents.diffsr import DiffSRSAC, DiffSRTD3
from diffsr_jax.agents.diffusion_planner import DiffusionPlanner
from diffsr_jax.agents.polygrad import PolyGRAD
from diffsr_jax.agents.sac import SAC
from diffsr_jax.agents.td3 import TD3

AGENTS = {"diffsr_sac": DiffSRSAC, "diffsr_td3": DiffSRTD3, "sac": SAC, "td3": TD3,
          "polygrad": PolyGRAD, "diffusion_planner": DiffusionPlanner}


def make_agent(config, obs_dim: int, action_dim: int):
    if config.agent not in AGENTS:
        raise ValueError(f"unknown agent {config.agent!r}; choose one of {', '.join(AGENTS)}")
    return AGENTS[config.agent](config, obs_dim, action_dim)
