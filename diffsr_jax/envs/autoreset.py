"""Starting the next episode of a batch of envs, without a wasted physics reset on every step.

``Env.step`` never resets. After a step, the envs whose episode ended need a fresh initial state. Computing a
reset for every env on every step and selecting it where an episode ended (what auto-reset wrappers usually do)
pays one reset per env per step: on MJX and Playground a reset is a physics forward pass, and under ``vmap`` a
``cond`` on the batched ``done`` turns into a select that computes both sides anyway. Caching one first state
(Brax's wrapper) is free but starts every episode the same way.

``AutoReset(mode="pool")`` keeps a pool of ``size`` fresh initial states, refilled at the start of every block of
at most ``refill_every`` iterations: the trainer runs a chunk's iterations as a nested scan of such blocks
(``blocks``), so a refill is no branch (a ``lax.cond`` would make a GPU wait for its predicate on every iteration).
Envs whose episode ended take the pool's
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

    def refill(self, pool: ResetPool, key) -> ResetPool:
        """A pool of fresh states in place of ``pool``."""
        del pool
        return self.init(key)

    def blocks(self, num_iters: int) -> tuple[int, int, int]:
        """How ``num_iters`` iterations split into refill blocks: (block length, full blocks, tail). The fewest
        blocks of at most ``refill_every`` iterations; of equal length where they divide ``num_iters`` (one scan
        body), else ``refill_every`` long and a shorter tail (a second copy of the iteration in the program)."""
        n = int(num_iters)
        count = -(-n // self.refill_every)
        if n % count == 0:
            return n // count, count, 0
        return self.refill_every, n // self.refill_every, n % self.refill_every

    def scan(self, body, carry, xs, refill):
        """``lax.scan(body, carry, xs)`` with ``carry = refill(carry)`` at the start of every block (``blocks``) in
        pool mode: a nested scan, no branch. ``xs`` leaves have the iterations as leading axis."""
        if self.mode != "pool":
            return jax.lax.scan(body, carry, xs)
        n = jax.tree_util.tree_leaves(xs)[0].shape[0]
        length, full, tail = self.blocks(n)
        head = jax.tree_util.tree_map(lambda x: x[:full * length].reshape((full, length) + x.shape[1:]), xs)
        carry, ys = jax.lax.scan(lambda c, xb: jax.lax.scan(body, refill(c), xb), carry, head)
        ys = jax.tree_util.tree_map(lambda y: y.reshape((full * length,) + y.shape[2:]), ys)
        if tail:
            carry, ys_tail = jax.lax.scan(body, refill(carry), jax.tree_util.tree_map(lambda x: x[full * length:], xs))
            ys = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), ys, ys_tail)
        return carry, ys

    def __call__(self, states: EnvState, done, pool: ResetPool | None, key):
        """Envs (n,) whose episode ended (``done`` (n,) bool) start a new one. Returns (states, pool, reused: ()
        number of starts from an already used pool state)."""
        if self.mode == "every_step":
            fresh = jax.vmap(self.env.reset)(jax.random.split(key, done.shape[0]))
            return select_where(done, fresh, states), pool, jnp.zeros((), jnp.int32)
        order = pool.cursor + jnp.cumsum(done.astype(jnp.int32)) - 1  # the k-th env that ended takes cursor + k
        fresh = jax.tree_util.tree_map(lambda x: x[order % self.size], pool.states)
        reused = jnp.sum(jnp.logical_and(done, order >= self.size).astype(jnp.int32))
        pool = pool.replace(cursor=pool.cursor + jnp.sum(done.astype(jnp.int32)))
        return select_where(done, fresh, states), pool, reused
