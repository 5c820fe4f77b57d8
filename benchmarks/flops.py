"""Matrix-multiply FLOPs of a JAX function, counted from its jaxpr (i.e. from the layer shapes).

Every ``dot_general`` counts 2 x (output elements) x (contracted size); a ``scan`` body counts ``length``
times, a ``cond`` counts its most expensive branch, and nested calls (jit, custom_jvp/vjp, remat) are entered.
Elementwise work is not counted: for these networks it is a few percent of the total.
"""

from __future__ import annotations

import math

import jax
from jax.extend import core as jex_core


def _sub_jaxprs(value):
    if isinstance(value, jex_core.ClosedJaxpr):
        yield value.jaxpr
    elif isinstance(value, jex_core.Jaxpr):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _sub_jaxprs(v)


def jaxpr_flops(jaxpr) -> float:
    total = 0.0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            (lhs_contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval
            contract = math.prod(lhs.shape[i] for i in lhs_contract)
            total += 2.0 * math.prod(eqn.outvars[0].aval.shape) * contract
        elif name == "scan":
            total += eqn.params["length"] * jaxpr_flops(eqn.params["jaxpr"].jaxpr)
        elif name == "cond":
            total += max(jaxpr_flops(b.jaxpr) for b in eqn.params["branches"])
        else:
            for v in eqn.params.values():
                for sub in _sub_jaxprs(v):
                    total += jaxpr_flops(sub)
    return total


def matmul_flops(fn, *args) -> float:
    """FLOPs of the matrix multiplies ``fn(*args)`` performs."""
    return jaxpr_flops(jax.make_jaxpr(fn)(*args).jaxpr)
