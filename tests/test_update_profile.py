"""benchmarks.update_profile: every kernel of a compiled program filed under one kind, times read from XLA's own
trace, and the GPU's threefry lowering on the CPU."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import optax
from benchmarks.update_profile import KINDS, kernel_table, trace_times
from diffsr_jax.program.threefry import threefry_lowering


def _step(params, opt_state, x, key):
    """One Adam step of a sin-feature regression on noisy inputs: a dot, elementwise math, random numbers and an
    optimizer, each of known count."""
    tx = optax.adam(1e-3)

    def loss(p):
        noisy = x + jax.random.normal(key, x.shape)
        return jnp.mean(jnp.sin(noisy @ p["w"]) ** 2)

    grads = jax.grad(loss)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def _args(n=256):
    params = {"w": jnp.ones((n, n)) / n}
    return params, optax.adam(1e-3).init(params), jnp.ones((n, n)), jax.random.PRNGKey(0)


def test_every_kernel_has_a_kind_and_the_kinds_are_the_right_ones():
    kernels = {}
    for lowering in ("loop", "unrolled"):
        with threefry_lowering(lowering):
            compiled = jax.jit(lambda *a: _step(*a)).lower(*_args()).compile()
        _, kinds, weighted = kernel_table(compiled.as_text())
        assert set(kinds.values()) <= set(KINDS)
        assert weighted["dot"] >= 2  # the forward dot and at least one of the backward's
        assert weighted["optimizer"] >= 1  # Adam's moment and parameter updates
        assert weighted["elementwise"] >= 1  # sin, its derivative, the squares
        kernels[lowering] = weighted
    # the normal draw: JAX's CPU loop, every one of its 5 trips counted; unrolled, XLA fuses the hash into the
    # elementwise math around it
    assert kernels["loop"]["rng"] >= 5
    assert sum(kernels["unrolled"].values()) < sum(kernels["loop"].values()) - 4, kernels


def test_the_trace_files_time_under_the_kinds_and_a_big_matmul_dominates(tmp_path):
    n = 768  # a dot of 2 n^3 = 0.9 GFLOP against O(n^2) elementwise work
    compiled = jax.jit(lambda a, b: jnp.tanh(a @ b) + 1.0).lower(jnp.ones((n, n)), jnp.ones((n, n))).compile()
    _, kinds, _ = kernel_table(compiled.as_text())
    a = jnp.ones((n, n))
    jax.block_until_ready(compiled(a, a))
    with jax.profiler.trace(str(tmp_path), create_perfetto_trace=True):
        for _ in range(3):
            jax.block_until_ready(compiled(a, a))
    per_op = trace_times(str(tmp_path), kinds)
    assert per_op, "no kernel of the program found in the trace"
    by_kind = {}
    for op, us in per_op.items():
        by_kind[kinds[op]] = by_kind.get(kinds[op], 0.0) + us
    assert by_kind.get("dot", 0.0) > 0.5 * sum(by_kind.values()), by_kind


def test_the_script_writes_one_row_per_preset_and_variant_whose_kinds_add_up(tmp_path):
    cmd = [sys.executable, "-m", "benchmarks.update_profile", "--presets=sac:fast", "--maps=members,vmap",
           "--num_updates=2", "--repeats=1", "--profile_calls=1", f"--out={tmp_path}", "--name=p"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    row, vmapped = json.loads((tmp_path / "p.json").read_text())["results"]
    assert [(r["map"], r["rff_trig"], r["rng_lowering"]) for r in (row, vmapped)] == [
        ("members", "polynomial", "unrolled"), ("vmap", "polynomial", "unrolled")]
    assert row["ms_over_first"] == 1.0 and vmapped["ms_over_first"] > 0
    assert vmapped["first"] == "members/polynomial/unrolled"
    # one seed mapped two ways computes the same updates: equal up to float rounding
    assert row["metrics_max_rel_diff_vs_first"] == 0.0 and vmapped["metrics_max_rel_diff_vs_first"] < 1e-3
    assert row["preset"] == "sac:fast" and row["ms"] > 0 and row["kernels"] > 100
    assert abs(sum(row["ms_by_kind"].values()) - row["kernel_ms"]) < 1e-9
    assert row["ms_by_kind"].get("dot", 0) > 0 and row["kernels_by_kind"].get("optimizer", 0) > 0
    assert "most expensive instructions" in (tmp_path / "p.md").read_text()


def test_the_rff_trig_variant_swaps_what_the_rff_layer_traces():
    """``--rff_trig=xla`` traces XLA's own sine in the RFF layer and ``polynomial`` (what runs use) none, and the
    swap ends with its block."""
    from benchmarks.update_profile import rff_trig
    from diffsr_jax.networks import rff, trig
    from diffsr_jax.networks.rff import LearnedRFF

    x = jnp.ones((4, 3))
    layer = LearnedRFF(8, "sincos")
    params = layer.init(jax.random.PRNGKey(0), x)

    def hlo():
        return jax.jit(lambda p: jax.grad(lambda p: layer.apply(p, x).sum())(p)).lower(params).as_text()

    with rff_trig("xla"):
        assert "sine" in hlo() and "cosine" in hlo()
    assert rff.trig is trig
    with rff_trig("polynomial"):
        assert "sine" not in hlo() and "cosine" not in hlo()
