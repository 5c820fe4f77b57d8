"""Guards against silent retracing of the compiled chunk (``chex.assert_max_traces``), and the one cause found:
weakly typed leaves in the run state."""

from __future__ import annotations

import itertools

import chex
import jax

MAX_CHUNK_TRACES = 1  # traces of one chunk shape per Trainer (``Trainer.chunk``) and per trace of ``train`` (make_train)
_GUARD_IDS = itertools.count()


def trace_guard(fn, label: str, n: int = MAX_CHUNK_TRACES):
    """``chex.assert_max_traces(n)`` of ``fn(*args)`` with a count of its own: chex counts per footprint (the call stack
    where the wrapper is made, the function's source and name), not per wrapper, so two Trainers built the same way
    would share a count; a serial number in the name keeps one wrapper's traces apart from another's."""
    def guarded(*args):
        return fn(*args)

    guarded.__name__ = guarded.__qualname__ = f"{label}#{next(_GUARD_IDS)}"
    return chex.assert_max_traces(guarded, n=n)


def strongly_typed(tree):
    """``tree`` with its weakly typed leaves made strong, values unchanged. ``init`` and ``chunk_program`` return the
    run state through it: gymnax Pendulum's reset sets ``last_u = jnp.array(0.0)`` (weak), a step makes it strong and a
    pool refill weak again, so the second chunk would not match the first one's program: a second trace and compile
    of the chunk, which the guard (``chunk``) refuses."""
    return jax.tree_util.tree_map(lambda x: x.astype(x.dtype) if jax.typeof(x).weak_type else x, tree)
