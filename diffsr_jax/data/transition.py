"""One step of experience, as the replay stores it and the learners read it."""

from __future__ import annotations

import flax.struct
import jax.numpy as jnp


@flax.struct.dataclass
class Transition:
    obs: jnp.ndarray  # (..., d_s)
    action: jnp.ndarray  # (..., d_a) in [-1, 1]
    reward: jnp.ndarray  # (...)
    next_obs: jnp.ndarray  # (..., d_s) true next observation
    terminated: jnp.ndarray  # (...) float 1.0 where the episode ended without bootstrap
