"""Starting the next episode of a batch of envs, without a wasted physics reset on every step.

``Env.step`` never resets. After a step, the envs whose episode ended need a fresh initial state. Computing a
reset for every env on every step and selecting it where an episode ended (what auto-reset wrappers usually do)
pays one reset per env per step: on MJX and Playground a reset is a physics forward pass, and under ``vmap`` a
``cond`` on the batched ``done`` turns into a select that computes both sides anyway. Caching one first state
(Brax's wrapper) is free but starts every episode the same way.

``AutoReset(mode="pool")`` keeps a pool of ``size`` fresh initial states, refilled every ``refill_every``
iterations by a real ``lax.cond`` on the (unbatched) iteration index. Envs whose episode ended take the pool's
next unused states in order (a gather and a select, no physics). Each episode starts from a distinct fresh state
as long as at most ``size`` episodes end between two refills; beyond that the pool is reused cyclically and the
count of such starts is reported (``reused``) so it shows in the metrics.
``AutoReset(mode="every_step")`` is the exact, costly way: a fresh reset for every env on every step.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

from diffsr_jax.envs.base import Env, EnvState

AUTO_RESET_MODES = ("pool", "every_step")


@flax.struct.dataclass
class ResetPool:
    states: EnvState  # (size, ...) fresh initial states from env.reset
    cursor: jnp.ndarray  # () int32: pool states handed out since the last refill


def select_where(done, fresh: EnvState, states: EnvState) -> EnvState:
    """Per env: ``fresh`` where ``done`` (n,) else ``states``; both batched (n, ...)."""
    def pick(f, s):
        return jnp.where(jnp.reshape(done, done.shape + (1,) * (s.ndim - 1)), f, s)

    return jax.tree_util.tree_map(pick, fresh, states)


class AutoReset:
    """Auto-reset policy for ``env`` (see the module docstring). Static; state lives in ``ResetPool``."""

    def __init__(self, env: Env, mode: str = "pool", size: int = 16, refill_every: int = 256):
        if mode not in AUTO_RESET_MODES:
            raise ValueError(f"auto_reset must be one of {', '.join(AUTO_RESET_MODES)}, got {mode!r}")
        self.env, self.mode, self.size, self.refill_every = env, mode, int(size), max(int(refill_every), 1)

    def init(self, key) -> ResetPool | None:
        """A fresh pool (None in ``every_step`` mode)."""
        if self.mode != "pool":
            return None
        return ResetPool(jax.vmap(self.env.reset)(jax.random.split(key, self.size)), jnp.zeros((), jnp.int32))

    def start(self, key, num_envs: int) -> tuple[EnvState, ResetPool | None]:
        """First states of ``num_envs`` envs and the initial pool, from one batched reset (one compiled reset:
        on Playground's CheetahRun a reset alone takes ~20 s to compile)."""
        extra = self.size if self.mode == "pool" else 0
        states = jax.vmap(self.env.reset)(jax.random.split(key, num_envs + extra))
        envs = jax.tree_util.tree_map(lambda x: x[:num_envs], states)
        if not extra:
            return envs, None
        return envs, ResetPool(jax.tree_util.tree_map(lambda x: x[num_envs:], states), jnp.zeros((), jnp.int32))

    def __call__(self, states: EnvState, done, pool: ResetPool | None, key, t):
        """Envs (n,) whose episode ended (``done`` (n,) bool) start a new one. ``t``: the iteration index
        (unbatched). Returns (states, pool, reused: () number of starts from an already used pool state)."""
        if self.mode == "every_step":
            fresh = jax.vmap(self.env.reset)(jax.random.split(key, done.shape[0]))
            return select_where(done, fresh, states), pool, jnp.zeros((), jnp.int32)
        pool = jax.lax.cond(t % self.refill_every == 0, lambda p: self.init(key), lambda p: p, pool)
        order = pool.cursor + jnp.cumsum(done.astype(jnp.int32)) - 1  # the k-th env that ended takes cursor + k
        fresh = jax.tree_util.tree_map(lambda x: x[order % self.size], pool.states)
        reused = jnp.sum(jnp.logical_and(done, order >= self.size).astype(jnp.int32))
        pool = pool.replace(cursor=pool.cursor + jnp.sum(done.astype(jnp.int32)))
        return select_where(done, fresh, states), pool, reused
