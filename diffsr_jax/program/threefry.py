"""How JAX's threefry hash (every ``jax.random`` draw) is lowered on a CPU: unrolled, as on a GPU.

JAX lowers the hash per platform. On a GPU it is one unrolled chain of 20 rounds that XLA fuses into a kernel or two
per draw; on a CPU it is a 5-trip ``while`` loop whose body's kernels and carried-value copies XLA:CPU runs once per
trip. Unrolled, a Diff-SR-SAC ``fast`` update is 297 kernels instead of 1,811 and a learning iteration 371 instead of
2,470; on this CPU an update took 0.93-1.02x the time, a whole gymnax run 0.92x with a 15% shorter compile, an MJX
run 0.94-0.95x with the same compile (``docs/performance.md``, issue 45). The bits are the same: a draw hashes to the
same numbers either way (``tests/test_threefry.py``).

``Trainer`` selects the unrolled lowering when it is built, so every program a run compiles (the launcher's chunks,
``make_train``, evaluation) uses it; the selection is process-wide and affects only CPU compiles from then on. JAX has
no public option for this, so it goes through ``jax._src``; the test fails if that path moves.
"""

from __future__ import annotations

import contextlib

LOWERINGS = ("unrolled", "loop")


def _rules():
    from jax._src.random import threefry2x32

    return threefry2x32.threefry2x32_p, {"unrolled": threefry2x32._threefry2x32_lowering_rule,
                                         "loop": threefry2x32._threefry2x32_cpu_lowering_rule}


def use_threefry_lowering(kind: str = "unrolled") -> None:
    """Lower threefry on the CPU as ``kind`` (``unrolled``: the GPU's chain, what runs use; ``loop``: JAX's CPU
    default) for every later CPU compile of this process. Programs compiled before keep theirs."""
    from jax._src.interpreters import mlir

    if kind not in LOWERINGS:
        raise ValueError(f"threefry lowering {kind!r} is none of {', '.join(LOWERINGS)}")
    prim, rules = _rules()
    mlir.register_lowering(prim, rules[kind], platform="cpu")


@contextlib.contextmanager
def threefry_lowering(kind: str):
    """While open, CPU compiles lower threefry as ``kind``; on exit, as runs do (``unrolled``). For an A/B of the two
    lowerings in one process."""
    use_threefry_lowering(kind)
    try:
        yield
    finally:
        use_threefry_lowering("unrolled")
