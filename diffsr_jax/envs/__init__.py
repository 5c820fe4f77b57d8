"""Environments behind one small functional interface (see ``base.Env``)."""

from diffsr_jax.envs.base import Env, EnvState, StepResult
from diffsr_jax.envs.registry import (
    ENV_FAMILIES,
    make_env,
    make_env_from_config,
    validate_env_name,
)

__all__ = ["ENV_FAMILIES", "Env", "EnvState", "StepResult", "make_env", "make_env_from_config", "validate_env_name"]
