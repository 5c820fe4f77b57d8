"""Environments behind one small functional interface (see ``base.Env``)."""

from diffsr_jax.envs.autoreset import AUTO_RESET_MODES, AutoReset, ResetPool
from diffsr_jax.envs.base import Env, EnvState, StepResult
from diffsr_jax.envs.families import ENV_FAMILIES, validate_env_name
from diffsr_jax.envs.registry import make_env, make_env_from_config

__all__ = ["AUTO_RESET_MODES", "AutoReset", "ENV_FAMILIES", "ResetPool", "Env", "EnvState", "StepResult", "make_env", "make_env_from_config", "validate_env_name"]
