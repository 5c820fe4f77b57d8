"""benchmarks.hlo_census: kernel counts weighted by while-loop trip counts, unbounded loops, conditionals."""

import re

import jax
import jax.numpy as jnp
from jax import lax

from benchmarks.hlo_census import census, format_census

W = jnp.linspace(-1.0, 1.0, 64).reshape(8, 8)


def _hlo(fn, *args) -> str:
    return jax.jit(fn).lower(*args).compile().as_text()


def _scan(length: int):
    def f(x):
        def body(c, _):
            c = jnp.tanh(c @ W) + 1.0
            return c, c.sum()

        return lax.scan(body, x, None, length=length)

    return _hlo(f, jnp.ones((4, 8)))


def _nested(inner: int, outer: int = 3):
    def f(x):
        def inner_body(c, _):
            return jnp.sin(c @ W) * 2.0, None

        def outer_body(c, _):
            c, _ = lax.scan(inner_body, c, None, length=inner)
            return jnp.cos(c) + 1.0, None

        return lax.scan(outer_body, x, None, length=outer)[0]

    return _hlo(f, jnp.ones((4, 8)))


def test_scan_trip_count_and_weighting():
    c7, c14 = census(_scan(7), iterations=7), census(_scan(14))
    assert [lp["trip_count"] for lp in c7["while_loops"]] == [7]
    loop = c7["while_loops"][0]
    assert loop["trip_source"] == "xla" and loop["depth"] == 0 and "while" in loop["op_name"]
    assert c7["unbounded_loops"] == [] and c7["conditionals"] == []
    assert loop["kernels_per_trip"] >= 2  # at least the dot and the tanh / add
    # kernels(n) = outside + n * body + (n + 1) * condition: 7 more trips add 7 kernels_per_trip
    assert c14["kernels"] - c7["kernels"] == 7 * loop["kernels_per_trip"]
    assert c7["kernels_per_iteration"] == c7["kernels"] / 7
    assert c7["kernels"] == sum(c7["by_kind"].values())


def test_a_loop_xla_did_not_annotate_is_unknown_whatever_its_counter():
    text = _scan(7)
    stripped = re.sub(r'"known_trip_count":\{"n":"\d+"\},?', "", text)
    assert stripped != text
    a, b = census(text), census(stripped)
    # the counter still runs 0..7, but a runtime that was not told the count may wait on the host at each trip
    assert [lp["trip_count"] for lp in b["while_loops"]] == [None] and b["lower_bound"]
    assert b["kernels"] < a["kernels"]  # counted once


def test_data_dependent_while_loop_is_unbounded():
    def g(x):
        return lax.while_loop(lambda c: c.sum() < 100.0, lambda c: c * 2.0 + 1.0, x)

    c = census(_hlo(g, jnp.ones((4, 8))))
    assert len(c["while_loops"]) == 1 and len(c["unbounded_loops"]) == 1
    loop = c["unbounded_loops"][0]
    assert loop["trip_count"] is None and "while" in loop["op_name"]
    assert "test_hlo_census.py" in (loop["source"] or "")  # named by the Python frame that built it
    assert "unbounded" in format_census(c)


def _cond(p, x):
    return lax.cond(p > 0, lambda x: jnp.sin(x) @ W, lambda x: jnp.cos(x), x)


def test_cond_on_unbatched_predicate_is_a_conditional():
    c = census(_hlo(_cond, 1.0, jnp.ones((4, 8))))
    assert len(c["conditionals"]) == 1
    cd = c["conditionals"][0]
    assert cd["branches"] == 2 and "cond" in cd["op_name"]
    assert c["kernels"] >= max(cd["branch_kernels"])  # the costlier branch is counted
    assert c["while_loops"] == []


def test_cond_under_vmap_with_batched_predicate_is_a_select():
    c = census(_hlo(jax.vmap(_cond), jnp.array([1.0, -1.0, 2.0]), jnp.ones((3, 4, 8))))
    assert c["conditionals"] == []
    assert c["kernels"] > 0


def test_nested_scans_weight_inner_kernels_by_both_trip_counts():
    c5, c10 = census(_nested(5)), census(_nested(10))
    assert sorted(lp["trip_count"] for lp in c5["while_loops"]) == [3, 5]
    inner = next(lp for lp in c5["while_loops"] if lp["trip_count"] == 5)
    outer = next(lp for lp in c5["while_loops"] if lp["trip_count"] == 3)
    assert inner["depth"] == 1 and inner["entries"] == 3 and outer["depth"] == 0
    # 5 more inner trips in each of 3 outer trips: 15 * the inner loop's kernels per trip
    assert c10["kernels"] - c5["kernels"] == 15 * inner["kernels_per_trip"]
    assert c5["unbounded_loops"] == [] and c5["conditionals"] == []


# A hand-written module: what counts, exactly.
HANDMADE = """HloModule m, is_scheduled=true

%fused (p0: f32[4]) -> f32[4] {
  %p0 = f32[4]{0} parameter(0)
  ROOT %n = f32[4]{0} negate(%p0)
}

%inner_body (t: (s32[], f32[4])) -> (s32[], f32[4]) {
  %t = (s32[], f32[4]{0}) parameter(0)
  %i = s32[] get-tuple-element(%t), index=0
  %x = f32[4]{0} get-tuple-element(%t), index=1
  %one = s32[] constant(1)
  %i1 = s32[] add(%i, %one)
  %f1 = f32[4]{0} fusion(%x), kind=kLoop, calls=%fused
  %cc = f32[4]{0} custom-call(%f1), custom_call_target="__cublas$gemm"
  %bc = f32[4]{0} bitcast(%cc)
  ROOT %r = (s32[], f32[4]{0}) tuple(%i1, %bc)
}

%inner_cond (t: (s32[], f32[4])) -> pred[] {
  %t = (s32[], f32[4]{0}) parameter(0)
  %i = s32[] get-tuple-element(%t), index=0
  %lim = s32[] constant(5)
  ROOT %lt = pred[] compare(%i, %lim), direction=LT
}

%outer_body (t: (s32[], f32[4])) -> (s32[], f32[4]) {
  %t = (s32[], f32[4]{0}) parameter(0)
  %i = s32[] get-tuple-element(%t), index=0
  %x = f32[4]{0} get-tuple-element(%t), index=1
  %zero = s32[] constant(0)
  %s = (s32[], f32[4]{0}) tuple(%zero, %x)
  %w = (s32[], f32[4]{0}) while(%s), condition=%inner_cond, body=%inner_body, metadata={op_name="jit(f)/while/body/while"}, backend_config={"known_trip_count":{"n":"5"}}
  %y = f32[4]{0} get-tuple-element(%w), index=1
  %one = s32[] constant(1)
  %i1 = s32[] add(%i, %one)
  ROOT %r = (s32[], f32[4]{0}) tuple(%i1, %y)
}

%outer_cond (t: (s32[], f32[4])) -> pred[] {
  %t = (s32[], f32[4]{0}) parameter(0)
  %i = s32[] get-tuple-element(%t), index=0
  %lim = s32[] constant(3)
  ROOT %lt = pred[] compare(%i, %lim), direction=LT
}

%b0 (x: f32[4]) -> f32[4] {
  %x = f32[4]{0} parameter(0)
  ROOT %f = f32[4]{0} fusion(%x), kind=kLoop, calls=%fused
}

%b1 (x: f32[4]) -> f32[4] {
  %x = f32[4]{0} parameter(0)
  %f = f32[4]{0} fusion(%x), kind=kLoop, calls=%fused
  ROOT %s = f32[4]{0} sort(%f), dimensions={0}, to_apply=%fused
}

ENTRY %main (x: f32[4], p: s32[]) -> f32[4] {
  %x = f32[4]{0} parameter(0)
  %p = s32[] parameter(1)
  %zero = s32[] constant(0)
  %s = (s32[], f32[4]{0}) tuple(%zero, %x)
  %w = (s32[], f32[4]{0}) while(%s), condition=%outer_cond, body=%outer_body, metadata={op_name="jit(f)/while"}, backend_config={"known_trip_count":{"n":"3"}}
  %y = f32[4]{0} get-tuple-element(%w), index=1
  %c = f32[4]{0} conditional(%p, %y, %y), branch_computations={%b0, %b1}, metadata={op_name="jit(f)/cond"}
  ROOT %d = f32[4]{0} copy(%c)
}
"""


def test_handmade_module_counts_exactly():
    c = census(HANDMADE, iterations=3)
    # inner body: fusion + custom-call + add = 3 per trip, inner condition: compare = 1 per evaluation
    # inner loop per outer trip: 5 * 3 + 6 * 1 = 21; outer body: 21 + add = 22; outer condition: 1
    # outer loop: 3 * 22 + 4 * 1 = 70; conditional: the costlier branch (fusion + sort = 2); entry copy: 1
    assert c["kernels"] == 70 + 2 + 1
    assert c["kernels_per_iteration"] == 73 / 3
    inner = next(lp for lp in c["while_loops"] if lp["depth"] == 1)
    assert inner["trip_count"] == 5 and inner["trip_source"] == "xla" and inner["entries"] == 3
    assert inner["kernels_per_trip"] == 4
    assert c["custom_call_targets"] == {"__cublas$gemm": 15}
    assert c["by_kind"] == {"fusion": 15 + 1, "custom-call": 15, "other": 73 - 31}
    assert c["other_ops"]["sort"] == 1 and c["other_ops"]["copy"] == 1
    assert [cd["branch_kernels"] for cd in c["conditionals"]] == [[1, 2]]
    assert c["unbounded_loops"] == []
