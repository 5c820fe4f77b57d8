"""Where one learner update's time goes, by kind of work, from XLA's own profile of the compiled update on this CPU,
and how many kernels it launches.

    python -m benchmarks.update_profile                                    # SAC, TD3, Diff-SR-SAC, Diff-SR-TD3, fast + paper
    python -m benchmarks.update_profile --presets=diffsr_sac:fast --num_seeds=4 --name=update_profile_dsac

Each ``agent:preset`` is set up as in ``benchmarks.update_cost`` (HalfCheetah's sizes, d_s 17, d_a 6; a replay of random
transitions), ``--num_seeds`` seeds a members axis (``training.devices.members_map``, as a run maps its seeds), and
``--num_updates`` updates run in one jitted ``lax.scan`` whose per-update metrics are returned (as the trainer returns
them). Measured per update:

- ``ms``: wall-clock, median of ``--repeats`` calls after an untimed first one;
- ``metrics_max_rel_diff_vs_first``: the largest relative difference of any per-update metric of the call from the
  first variant's (0 for the first; float rounding where two variants compute the same thing);
- ``ms_no_metrics``: the same scan with the metrics dropped (XLA removes what only they need), so ``ms - ms_no_metrics``
  is what computing the metrics costs;
- ``kernels``: the kernels one call launches (``benchmarks.hlo_census``'s rules: each fusion, library call and unfused
  op that does work, loop bodies weighted by their trip counts) divided by ``--num_updates``;
- the split by kind: a ``jax.profiler`` trace of ``--profile_calls`` calls, whose events XLA:CPU's thunk executor names
  by HLO instruction (``args.hlo_op``); each instruction's time is summed and filed under one kind:

  ``rng``           random numbers: anything JAX's ``random`` functions lowered (threefry hashing, its loops, the
                    uniform-to-normal transforms), by the instruction's ``op_name``;
  ``optimizer``     Adam and target-network averaging: instructions whose Python source is optax or ``diffsr_jax/optim.py``;
  ``dot``           matrix multiplies: ``dot`` / ``convolution``, a matmul library call, or a fusion that contains a dot
                    (XLA:CPU's ``__ynn_fusion`` library fusions);
  ``copy``          copies and transposes (alone or as a fusion's root);
  ``gather/slice``  ``gather``, ``scatter``, ``dynamic-slice``, ``dynamic-update-slice`` (replay sampling, the scan's
                    per-step outputs);
  ``reduction``     reduce fusions and unfused reductions;
  ``elementwise``   every other fusion and unfused op (activations, losses' arithmetic, broadcasts).

  ``kernel_ms`` is the kinds' sum per update; ``ms - kernel_ms`` is what the runtime spends between kernels (dispatch,
  loop control; negative where kernels overlapped on the two cores).

The kinds are counted in kernels too (``kernels_by_kind``). Times are this machine's under its load at the time (say
so when comparing); compare revisions by running both in one script, alternated.

Random numbers and the kernel count. JAX lowers its threefry hash on a CPU as a 5-trip ``while`` loop and on a GPU as
one unrolled chain; runs use the unrolled one on the CPU too (``diffsr_jax.program.threefry``: the same bits, fewer
kernels), and so does this script by default. ``--rng_lowering=unrolled,loop`` times both in one process.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import itertools
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter

from absl import flags

from diffsr_jax.program.threefry import LOWERINGS, threefry_lowering

FLAGS = flags.FLAGS
KINDS = ("dot", "elementwise", "rng", "optimizer", "reduction", "copy", "gather/slice", "other")
_RNG_OP = re.compile(r"_threefry|threefry2x32|random_bits|jit\(_normal|jit\(_uniform|jit\(_randint|random_split|"
                     r"random_wrap|random_unwrap|jit\(_truncated_normal|jit\(_bernoulli")
_DOT_TARGET = re.compile(r"matmul|gemm|dot", re.IGNORECASE)


# --- kinds of instructions ----------------------------------------------------------------------------------------
def _frames_files(module, meta: dict) -> list:
    """The source files of every Python frame of an instruction's metadata (innermost first)."""
    out, fid, seen = [], meta.get("stack_frame_id"), set()
    while fid and fid in module.frames and fid not in seen:
        seen.add(fid)
        f, _, _, parent = module.frames[fid]
        out.append(f)
        fid = parent
    if not out and "source_file" in meta:
        out.append(meta["source_file"])
    return out


def _fused_opcodes(module, ins) -> list:
    called = ins.called("calls")
    comp = module.computations.get(called[0]) if called else None
    if comp is None:
        return []
    ops = []
    for i in comp.instrs:
        ops.append(i.opcode)
        if i.opcode == "fusion":
            ops += _fused_opcodes(module, i)
    return ops


def _fusion_root_opcode(module, ins) -> str | None:
    called = ins.called("calls")
    comp = module.computations.get(called[0]) if called else None
    return comp.root.opcode if comp is not None and comp.root is not None else None


def kind_of(module, ins) -> str:
    """One of ``KINDS`` for a kernel instruction (see the module docstring for the rules, applied in that order)."""
    meta = ins.metadata()
    if _RNG_OP.search(meta.get("op_name", "")):
        return "rng"
    files = _frames_files(module, meta)
    if any("/optax/" in f or f.endswith("diffsr_jax/optim.py") for f in files):
        return "optimizer"
    op = ins.opcode
    if op in ("dot", "convolution"):
        return "dot"
    if op == "custom-call":
        t = re.search(r'custom_call_target="([^"]*)"', ins.attrs)
        return "dot" if t and _DOT_TARGET.search(t.group(1)) else "other"
    if op == "fusion":
        fused = _fused_opcodes(module, ins)
        if "dot" in fused or "convolution" in fused or "ynn_fusion" in ins.attrs:
            return "dot"
        root = _fusion_root_opcode(module, ins)
        if root in ("copy", "transpose") or set(fused) <= {"parameter", "copy", "transpose", "bitcast", "reshape"}:
            return "copy"
        if root in ("dynamic-update-slice", "dynamic-slice", "gather", "scatter") or "scatter" in fused:
            return "gather/slice"
        if ins.attr("kind") == "kInput" or root == "reduce":
            return "reduction"
        return "elementwise"
    if op in ("copy", "transpose"):
        return "copy"
    if op in ("gather", "scatter", "dynamic-slice", "dynamic-update-slice"):
        return "gather/slice"
    if op in ("reduce", "reduce-window"):
        return "reduction"
    if op in ("sort", "rng", "rng-bit-generator", "rng-get-and-update-state"):
        return "rng" if op.startswith("rng") else "other"
    return "elementwise"


def kernel_table(hlo_text: str):
    """(module, {instruction name: kind}, Counter kind -> kernels per call): every kernel of one call of the program,
    weighted by its loops' trip counts (``benchmarks.hlo_census`` rules; a loop of unknown count weighs 1)."""
    from benchmarks.hlo_census import CONTROL_FLOW, _is_kernel, parse_hlo, trip_count

    module = parse_hlo(hlo_text)
    kinds, weighted = {}, Counter()

    def visit(name: str, weight: int, stack: tuple):
        comp = module.computations.get(name)
        if comp is None or name in stack:
            return
        stack = stack + (name,)
        for ins in comp.instrs:
            if ins.opcode == "while":
                n = trip_count(ins)[0] or 1
                visit((ins.called("body") or [""])[0], weight * n, stack)
                visit((ins.called("condition") or [""])[0], weight * (n + 1), stack)
            elif ins.opcode == "conditional":
                for b in ins.called("branch_computations") + ins.called("true_computation") + ins.called(
                        "false_computation"):
                    visit(b, weight, stack)  # an upper bound: every branch counted
            elif ins.opcode in CONTROL_FLOW:
                for c in ins.called("to_apply") + ins.called("calls") + ins.called("called_computations"):
                    visit(c, weight, stack)
            elif _is_kernel(ins):
                k = kinds.setdefault(ins.name, kind_of(module, ins))
                weighted[k] += weight

    visit(module.entry, 1, ())
    return module, kinds, weighted


def trace_times(trace_dir: str, kinds: dict) -> Counter:
    """Instruction name -> total microseconds of its events in the ``jax.profiler`` trace under ``trace_dir`` (each
    event is named by its HLO instruction, ``args.hlo_op``; instructions not in ``kinds`` are skipped: control flow and
    other programs)."""
    paths = glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True)
    if not paths:
        raise RuntimeError(f"no trace written under {trace_dir}")
    with gzip.open(sorted(paths)[-1]) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    us = Counter()
    for e in events:
        op = (e.get("args") or {}).get("hlo_op")
        if e.get("ph") == "X" and op in kinds:
            us[op] += float(e.get("dur", 0.0))
    return us


# --- one preset -----------------------------------------------------------------------------------------------------
MAPS = ("members", "vmap")
"""How the seeds are mapped: ``members`` as a run maps them (``training.devices.members_map``: one seed unbatched),
``vmap`` always ``jax.vmap`` (what runs did before ``members_map``)."""


@contextlib.contextmanager
def rff_trig(kind: str):
    """While open, the RFF layer traces sin/cos as ``kind``: ``polynomial`` (``networks.trig``, what runs use) or
    ``xla`` (``jnp.sin`` / ``jnp.cos``, XLA's own, for an A/B in one process)."""
    from diffsr_jax.networks import rff, trig

    if kind == "polynomial":
        yield
        return
    import types

    import jax.numpy as jnp

    rff.trig = types.SimpleNamespace(sin=jnp.sin, cos=jnp.cos)
    try:
        yield
    finally:
        rff.trig = trig


def measure(spec: str) -> list[dict]:
    """One row per ``--maps`` entry for ``spec``; every program of the preset is timed in turn, round after round."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from benchmarks.update_cost import setup_update
    from diffsr_jax.training.devices import members_map

    agent, _, sample, cfg = setup_update(spec, FLAGS.obs_dim, FLAGS.action_dim)
    n, s = FLAGS.num_updates, FLAGS.num_seeds
    states = jax.vmap(lambda k: agent.init(k, agent.hparams()))(jax.random.split(jax.random.PRNGKey(0), s))
    keys = jax.random.split(jax.random.PRNGKey(1), s)

    def updates(keep_metrics: bool, mapping: str):
        def one_seed(state, key):
            def body(st, xs):
                st, metrics = agent.update(st, sample, *xs)
                return st, (metrics if keep_metrics else None)
            return jax.lax.scan(body, state, (jax.random.split(key, n), jnp.arange(n)))
        mapped = members_map(one_seed, in_axes=(0, 0)) if mapping == "members" else jax.vmap(one_seed)
        return jax.jit(mapped)

    rows, compiled = {}, {}
    for mapping, trig, rng in itertools.product(FLAGS.maps, FLAGS.rff_trig, FLAGS.rng_lowering):
        v = f"{mapping}/{trig}/{rng}"
        rows[v] = {"preset": spec, "map": mapping, "rff_trig": trig, "rng_lowering": rng,
                   "num_seeds": s, "num_updates_per_call": n, "batch_size": int(cfg.replay.batch_size)}
        for label, keep in (("ms", True), ("ms_no_metrics", False)):
            t0 = time.perf_counter()
            with rff_trig(trig), threefry_lowering(rng):  # the RFF layer's sin/cos and the threefry hash as lowered now
                compiled[v, label] = updates(keep, mapping).lower(states, keys).compile()
            rows[v][f"compile_s{'' if keep else '_no_metrics'}"] = time.perf_counter() - t0
    times, last = {k: [] for k in compiled}, {}
    for k, c in compiled.items():
        last[k] = jax.block_until_ready(c(states, keys))[1]
    for _ in range(FLAGS.repeats):  # alternated, so load changes touch every program alike
        for k, c in compiled.items():
            t0 = time.perf_counter()
            jax.block_until_ready(c(states, keys))
            times[k].append(time.perf_counter() - t0)
    for (mapping, label), t in times.items():
        rows[mapping][label] = 1e3 * float(np.median(t)) / n
    first = next(iter(rows))
    for v, out in rows.items():
        out["metrics_ms"] = out["ms"] - out["ms_no_metrics"]
        # per round, this variant's time over the first's: a ratio that the machine's load changes less than the times
        out["ms_over_first"] = float(np.median(np.array(times[v, "ms"]) / np.array(times[first, "ms"])))
        out["first"] = first
        # the variant's per-update metrics against the first's, every update of the call: equal up to float rounding?
        out["metrics_max_rel_diff_vs_first"] = max(
            float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
                         / (np.abs(np.asarray(b, np.float64)) + 1e-6)))
            for a, b in zip(jax.tree_util.tree_leaves(last[v, "ms"]), jax.tree_util.tree_leaves(last[first, "ms"])))
        _split(out, compiled[v, "ms"], states, keys, n)
    return list(rows.values())


def _split(out: dict, compiled, states, keys, n: int) -> None:
    """Kernels per update and the split of a profiled call's kernel time by kind, into ``out``."""
    import jax

    module, kinds, weighted = kernel_table(compiled.as_text())
    out["kernels"] = sum(weighted.values()) / n
    out["kernels_by_kind"] = {k: weighted[k] / n for k in KINDS if weighted[k]}
    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
            for _ in range(FLAGS.profile_calls):
                jax.block_until_ready(compiled(states, keys))
        per_op = trace_times(trace_dir, kinds)
    calls = FLAGS.profile_calls * n
    by_kind = Counter()
    for op, t in per_op.items():
        by_kind[kinds[op]] += t
    out["ms_by_kind"] = {k: by_kind[k] / 1e3 / calls for k in KINDS if by_kind[k]}
    out["kernel_ms"] = sum(out["ms_by_kind"].values())
    out["between_kernels_ms"] = out["ms"] - out["kernel_ms"]
    out["top"] = [{"op": op, "kind": kinds[op], "ms": t / 1e3 / calls, **_describe(module, op)}
                  for op, t in per_op.most_common(FLAGS.top)]


def _describe(module, name: str) -> dict:
    """The shape, op_name tail and Python source of instruction ``name``."""
    for comp in module.computations.values():
        ins = comp.by_name.get(name)
        if ins is not None and not comp.name.startswith("fused"):
            meta = ins.metadata()
            return {"shape": ins.shape[:60], "op_name": "/".join(meta.get("op_name", "").split("/")[-3:]),
                    "source": module.where(meta, 2)}
    return {}


def _row(r: dict) -> list:
    share = {k: r["ms_by_kind"].get(k, 0.0) for k in KINDS}
    ratio = next(v for k, v in r.items() if k.startswith("ms_over_"))
    variant = f"{r['map']}/{r.get('rff_trig', 'xla')}/{r.get('rng_lowering', 'loop')}"
    return ([r["preset"], variant, r["num_seeds"], f"{r['ms']:.2f}", f"{ratio:.3f}",
             f"{r['metrics_ms']:.2f}", f"{r['kernel_ms']:.2f}"]
            + [f"{share[k]:.2f}" for k in KINDS]
            + [f"{r['between_kernels_ms']:.2f}", f"{r['kernels']:.0f}"]
            + [f"{r['kernels_by_kind'].get(k, 0):.0f}" for k in ("dot", "elementwise", "rng", "optimizer")])


HEADER = (["preset", "map/RFF trig/rng lowering", "seeds", "ms/update", "ms / first row's", "metrics ms", "kernel ms"]
          + [f"{k} ms" for k in KINDS]
          + ["between kernels ms", "kernels/update", "dot kernels", "elementwise kernels", "rng kernels",
             "optimizer kernels"])


def main(_):
    from benchmarks.common import machine, write_results

    results = []
    for spec in FLAGS.presets:
        for r in measure(spec):
            results.append(r)
            print(" | ".join(str(c) for c in _row(r)), flush=True)
    md = write_results(FLAGS.name, {"machine": machine(), "command": " ".join(sys.argv), "load_at_start": os.getloadavg(),
                                    "results": results}, [_row(r) for r in results], HEADER, FLAGS.out)
    with open(os.path.join(FLAGS.out, f"{FLAGS.name}.md"), "a") as f:
        for r in results:
            f.write(f"\n## {r['preset']} ({r['map']}), {r['num_seeds']} seed(s): the {len(r['top'])} most expensive instructions\n\n"
                    "| instruction | kind | ms/update | shape | op_name | source |\n|---|---|---|---|---|---|\n")
            for t in r["top"]:
                f.write(f"| {t['op']} | {t['kind']} | {t['ms']:.3f} | `{t.get('shape', '')}` | {t.get('op_name', '')} | "
                        f"{t.get('source') or ''} |\n")
    print(md)


# --- the script -----------------------------------------------------------------------------------------------------
def define_flags():
    """The command line's flags, defined only when run as a script (tests import this module beside others)."""
    flags.DEFINE_list("presets", [f"{a}:{p}" for p in ("fast", "paper") for a in ("sac", "td3", "diffsr_sac",
                                                                                     "diffsr_td3")],
                      "agent:preset, or agent:preset+ablation (experiments/suites.py ABLATIONS)")
    flags.DEFINE_integer("obs_dim", 17, "observation size")
    flags.DEFINE_integer("action_dim", 6, "action size")
    flags.DEFINE_integer("num_seeds", 1, "seeds, the members axis")
    flags.DEFINE_list("maps", ["members"], f"how the seeds are mapped, one row each, timed in turn: {', '.join(MAPS)} "
                      "(the MAPS docstring)")
    flags.register_validator("maps", lambda v: bool(v) and set(v) <= set(MAPS),
                             f"--maps takes one or more of {', '.join(MAPS)}")
    flags.DEFINE_list("rff_trig", ["polynomial"], "the RFF layer's sin/cos, one row each, timed in turn: polynomial "
                      "(networks.trig, what runs use), xla (jnp.sin/jnp.cos)")
    flags.DEFINE_integer("num_updates", 10, "updates per call (one lax.scan)")
    flags.DEFINE_integer("repeats", 5, "timed calls of each program, alternated; the median is reported")
    flags.DEFINE_integer("profile_calls", 2, "calls traced by jax.profiler for the split by kind")
    flags.DEFINE_list("rng_lowering", ["unrolled"], "threefry's lowering on the CPU, one row each, timed in turn: "
                      "unrolled (what runs use), loop (JAX's CPU default); diffsr_jax.program.threefry")
    flags.register_validator("rng_lowering", lambda v: bool(v) and set(v) <= set(LOWERINGS),
                             f"--rng_lowering takes {' and/or '.join(LOWERINGS)}, e.g. --rng_lowering=unrolled,loop")
    flags.DEFINE_integer("top", 20, "the most expensive instructions listed per preset (JSON and markdown)")
    flags.DEFINE_string("out", "benchmarks/results", "output directory")
    flags.DEFINE_string("name", "update_profile", "output file name")


if __name__ == "__main__":
    from experiments.cli import run_main

    define_flags()
    run_main(main)
