"""A census of a compiled XLA program, read from its optimized HLO text: how many kernels one call launches, which
while loops run a trip count XLA could not determine, and which ``conditional``s stayed real branches.

    text = jax.jit(f).lower(*args).compile().as_text()
    c = census(text, iterations=n)       # c["kernels"], c["kernels_per_iteration"], c["unbounded_loops"], ...
    print(format_census(c))

    python -m benchmarks.hlo_census program.hlo.txt --iterations=100      # a saved HLO text

What counts as a kernel (one launch a backend makes for it; GPU XLA launches each of these on its own):

- every ``fusion`` instruction, whatever it fuses (one kernel; fusion computations are never descended into),
  counted by fusion kind (``kLoop``, ``kInput``, ``kOutput``, ``kCustom`` + its ``fusion_config`` kind, e.g.
  ``kCustom(__ynn_fusion)`` for XLA:CPU's library dots, ``kCustom(__triton_gemm)`` on GPU);
- every ``custom-call`` (library calls: cuBLAS / cuDNN / LAPACK / oneDNN / Eigen / ...), counted by target;
- every other top-level instruction that does work: unfused ``dot``, ``convolution``, ``sort``, ``scatter``, ``gather``,
  ``rng*``, ``copy``, ``reduce``, ``broadcast``, ``iota``, collectives (their ``*-start``), ... counted by opcode.

Not kernels (bookkeeping or control flow): ``parameter``, ``constant``, ``tuple``, ``get-tuple-element``,
``bitcast``, ``copy-start`` / ``copy-done``, every ``*-done`` and ``*-update`` of an async pair, ``after-all``,
``add-dependency``, ``opt-barrier``, ``domain``, ``partition-id``, ``replica-id``, and the control-flow ops themselves:
``while``, ``conditional``, ``call``, ``async-start`` (their computations are descended into and their contents
counted).

Weights. The walk starts at the entry computation and descends into ``call`` / ``async-start`` computations (weight
1), ``while`` bodies (weight: the loop's trip count n) and conditions (n + 1: a condition is evaluated once more
than the body), and ``conditional`` branches: only the branch with the most kernels is added (an upper bound for
one call; every branch's count is listed under ``conditionals``). Weights multiply through nesting, so a kernel in
the body of a 5-trip loop inside a 3-trip loop counts 15 (+ the conditions). A loop whose trip count is unknown
counts as ONE trip (so ``kernels`` is then a lower bound) and is listed in ``unbounded_loops``.

Trip counts. XLA's while-loop analysis writes ``"known_trip_count":{"n":"<n>"}`` into the ``while``'s
``backend_config`` on the CPU and GPU pipelines (jax 0.10: XLA:CPU prints it on every loop whose count it proved,
e.g. every ``lax.scan`` / ``fori_loop`` with static bounds; ``trip_source: "xla"``). Only that count is taken: a
loop without it is one whose count the runtime does not know either, so on a GPU it may wait on the host at every
trip, whatever its counter looks like; it is unknown (``trip_count: None``; a data-dependent stop, as in
``lax.while_loop`` or MuJoCo MJX's solver loop, is always such a loop).

Names. Each loop and conditional keeps its ``op_name`` from the instruction's metadata (``jit(f)/while`` for a
``lax.scan``, ``.../while`` for a ``lax.while_loop``, ``.../cond`` for a ``lax.cond``) and, where the HLO carries the
StackFrames table (jax >= 0.6), ``source``: the innermost Python frame that built it (``file:line (function)``), so a
report can say e.g. that an unbounded loop is MJX's ``solver.py`` ``while_loop``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field

# Instructions that launch nothing by themselves.
BOOKKEEPING = frozenset({
    "parameter", "constant", "tuple", "get-tuple-element", "bitcast", "copy-start", "copy-done", "after-all",
    "add-dependency", "opt-barrier", "domain", "partition-id", "replica-id", "async-update", "async-done",
    "send-done", "recv-done", "get-dimension-size",
})
CONTROL_FLOW = frozenset({"while", "conditional", "call", "async-start"})

_INSTR = re.compile(r"^\s*(ROOT\s+)?%?([^\s=]+)\s*=\s*(.*)$")
_HEADER = re.compile(r"^(ENTRY\s+)?%?([^\s(]+)\s*\(.*\{\s*$")
_OPCODE = re.compile(r"\s*([A-Za-z][\w\-]*)\(")
_NAME_REF = re.compile(r"%([^\s,(){}\[\]]+)")
_COMP_ATTR = re.compile(r"\b(calls|to_apply|condition|body|branch_computations|true_computation|false_computation|"
                        r"called_computations)=(\{[^}]*\}|%[^\s,(){}]+)")
_TRIP = re.compile(r'known_trip_count\\?"\s*:\s*\{\s*\\?"n\\?"\s*:\s*\\?"?(\d+)')
_TABLE_ROW = re.compile(r'^(\d+)\s+(.*)$')


@dataclass
class Instr:
    name: str
    opcode: str
    shape: str
    operands: list
    operand_text: str
    attrs: str
    is_root: bool = False

    def called(self, role: str) -> list:
        """Computation names under attribute ``role`` (``calls``, ``body``, ``branch_computations``, ...)."""
        out = []
        for m in _COMP_ATTR.finditer(self.attrs):
            if m.group(1) == role:
                out += _NAME_REF.findall(m.group(2))
        return out

    def attr(self, key: str) -> str | None:
        m = re.search(r"\b" + re.escape(key) + r"=([^\s,]+)", self.attrs)
        return m.group(1) if m else None

    def metadata(self) -> dict:
        seg = _braced(self.attrs, "metadata=")
        out = {}
        if seg is None:
            return out
        m = re.search(r'op_name="((?:[^"\\]|\\.)*)"', seg)
        if m:
            out["op_name"] = m.group(1)
        m = re.search(r"stack_frame_id=(\d+)", seg)
        if m:
            out["stack_frame_id"] = int(m.group(1))
        m = re.search(r'source_file="((?:[^"\\]|\\.)*)"', seg)
        if m:
            out["source_file"] = m.group(1)
        m = re.search(r"source_line=(\d+)", seg)
        if m:
            out["source_line"] = int(m.group(1))
        return out


@dataclass
class Computation:
    name: str
    entry: bool
    instrs: list = field(default_factory=list)
    by_name: dict = field(default_factory=dict)
    root: Instr | None = None


def _balanced(s: str, i: int, open_ch: str = "(", close_ch: str = ")") -> int:
    """Index just past the bracket group starting at s[i] == open_ch (quotes respected)."""
    depth, quote, j = 0, False, i
    while j < len(s):
        c = s[j]
        if quote:
            if c == "\\":
                j += 1
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
        elif c == open_ch:
            depth += 1
        elif c == close_ch:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return len(s)


def _braced(s: str, key: str) -> str | None:
    i = s.find(key)
    if i < 0 or i + len(key) >= len(s) or s[i + len(key)] != "{":
        return None
    start = i + len(key)
    return s[start + 1:_balanced(s, start, "{", "}") - 1]


def _parse_instr(line: str) -> Instr | None:
    m = _INSTR.match(line)
    if not m:
        return None
    rest = m.group(3)
    if rest.startswith("("):
        end = _balanced(rest, 0)
    else:
        end = len(rest.split(None, 1)[0]) if rest.strip() else 0
    shape, tail = rest[:end], rest[end:]
    om = _OPCODE.match(tail)
    if not om:
        return None
    op_start = om.end() - 1
    op_end = _balanced(tail, op_start)
    operand_text = tail[op_start + 1:op_end - 1]
    return Instr(name=m.group(2).lstrip("%"), opcode=om.group(1), shape=shape, operands=_NAME_REF.findall(operand_text),
                 operand_text=operand_text, attrs=tail[op_end:], is_root=bool(m.group(1)))


@dataclass
class Module:
    computations: dict
    entry: str | None
    frames: dict  # stack_frame_id -> (file, line, function, parent id or 0)

    def where(self, meta: dict, depth: int = 1) -> str | None:
        """``file:line (function)`` of the innermost ``depth`` frames of an instruction's metadata (None if absent)."""
        if "stack_frame_id" in meta and meta["stack_frame_id"] in self.frames:
            out, fid, seen = [], meta["stack_frame_id"], set()
            while fid and fid in self.frames and fid not in seen and len(out) < depth:
                seen.add(fid)
                f, line, fn, parent = self.frames[fid]
                here = f"{_short(f)}:{line} ({fn})"
                if not out or out[-1] != here:
                    out.append(here)
                fid = parent
            return " <- ".join(out) if out else None
        if "source_file" in meta:
            return f"{_short(meta['source_file'])}:{meta.get('source_line', '?')}"
        return None


def _short(path: str) -> str:
    """The last two parts of a path (``mjx/_src/solver.py`` -> ``_src/solver.py``)."""
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-2:])


def _parse_tables(lines: list) -> dict:
    """FileNames / FunctionNames / FileLocations / StackFrames (jax >= 0.6 HLO text) -> frame id -> (file, line,
    function, parent id). XLA prints parent ids shifted by one (a root frame names itself): detected and undone."""
    tables, current = {}, None
    for line in lines:
        s = line.strip()
        if s in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            current = tables.setdefault(s, {})
            continue
        if current is None:
            continue
        m = _TABLE_ROW.match(s)
        if not m:
            current = None
            continue
        current[int(m.group(1))] = m.group(2)
    files = {k: v.strip('"') for k, v in tables.get("FileNames", {}).items()}
    funcs = {k: v.strip('"') for k, v in tables.get("FunctionNames", {}).items()}

    def ints(v):
        return {k: int(x) for k, x in re.findall(r"(\w+)=(-?\d+)", v)}

    locs = {k: ints(v) for k, v in tables.get("FileLocations", {}).items()}
    raw = {k: ints(v) for k, v in tables.get("StackFrames", {}).items()}
    shifted = any(v.get("parent_frame_id", 0) >= k for k, v in raw.items())
    frames = {}
    for k, v in raw.items():
        loc = locs.get(v.get("file_location_id"), {})
        parent = v.get("parent_frame_id", 0) - (1 if shifted else 0)
        frames[k] = (files.get(loc.get("file_name_id"), "?"), loc.get("line", 0),
                     funcs.get(loc.get("function_name_id"), "?"), parent if parent != k else 0)
    return frames


def parse_hlo(text: str) -> Module:
    """The computations of an HLO module's text (``compiled.as_text()``)."""
    lines = text.splitlines()
    comps, entry, current = {}, None, None
    for line in lines:
        if current is None:
            m = _HEADER.match(line)
            if m and not line.startswith("HloModule"):
                current = Computation(m.group(2).lstrip("%"), bool(m.group(1)))
                if current.entry:
                    entry = current.name
            continue
        if line.strip() == "}":
            comps[current.name] = current
            current = None
            continue
        ins = _parse_instr(line)
        if ins is not None:
            current.instrs.append(ins)
            current.by_name[ins.name] = ins
            if ins.is_root:
                current.root = ins
    for c in comps.values():
        if c.root is None and c.instrs:
            c.root = c.instrs[-1]
    return Module(comps, entry, _parse_tables(lines))


# --- trip counts ------------------------------------------------------------------------------------------------------
def trip_count(loop: Instr):
    """(trip count or None, "xla" | None) of a ``while`` instruction: the count XLA annotated, if any."""
    m = _TRIP.search(loop.attrs)
    return (int(m.group(1)), "xla") if m else (None, None)


# --- the census -------------------------------------------------------------------------------------------------------
def _kind_key(ins: Instr):
    if ins.opcode == "fusion":
        kind = ins.attr("kind") or "?"
        cfg = re.search(r'fusion_config\\?"\s*:\s*\{\s*\\?"kind\\?"\s*:\s*\\?"([^"\\]+)', ins.attrs)
        return ("fusion", f"{kind}({cfg.group(1)})" if cfg else kind)
    if ins.opcode == "custom-call":
        t = re.search(r'custom_call_target="([^"]*)"', ins.attrs)
        return ("custom-call", t.group(1) if t else "?")
    return ("other", ins.opcode)


def _is_kernel(ins: Instr) -> bool:
    op = ins.opcode
    return not (op in BOOKKEEPING or op in CONTROL_FLOW or op.endswith("-done") or op.endswith("-update"))


def census(hlo_text: str, iterations: int | None = None) -> dict:
    """Census of one call of the program in ``hlo_text`` (see the module docstring for what counts and how).

    Returns a dict: ``kernels`` (int; a lower bound when ``lower_bound``: some loop's trip count is unknown and it
    counts one trip), ``kernels_per_iteration`` (kernels / iterations, or None), ``by_kind``
    ({fusion, custom-call, other} -> kernels), ``fusion_kinds``, ``custom_call_targets``, ``other_ops`` (name ->
    kernels), ``while_loops`` ([{op_name, source, trip_count, trip_source, depth, kernels_per_trip, entries}]: entries
    = how often the loop is started per call), ``unbounded_loops`` (those with trip_count None), ``conditionals``
    ([{op_name, source, branches, branch_kernels, depth, entries}]), ``entry`` (the entry computation's name)."""
    module = parse_hlo(hlo_text)
    if module.entry is None:
        raise ValueError("no ENTRY computation in the HLO text")
    loops, conds = [], []

    def visit(name: str, depth: int, entries: int, stack: tuple) -> Counter:
        comp = module.computations.get(name)
        tally = Counter()
        if comp is None or name in stack:
            return tally
        stack = stack + (name,)
        for ins in comp.instrs:
            op = ins.opcode
            if op == "while":
                n, source = trip_count(ins)
                meta = ins.metadata()
                rec = {"op_name": meta.get("op_name"), "source": module.where(meta, 3), "trip_count": n,
                       "trip_source": source, "depth": depth, "entries": entries}
                loops.append(rec)
                trips = n if n is not None else 1
                body = visit((ins.called("body") or [""])[0], depth + 1, entries * trips, stack)
                cond = visit((ins.called("condition") or [""])[0], depth + 1, entries * (trips + 1), stack)
                rec["kernels_per_trip"] = sum(body.values()) + sum(cond.values())
                for k, v in body.items():
                    tally[k] += v * trips
                for k, v in cond.items():
                    tally[k] += v * (trips + 1)
            elif op == "conditional":
                branches = ins.called("branch_computations") or (ins.called("true_computation")
                                                                + ins.called("false_computation"))
                meta = ins.metadata()
                rec = {"op_name": meta.get("op_name"), "source": module.where(meta, 3), "branches": len(branches),
                       "depth": depth, "entries": entries}
                conds.append(rec)
                counts = [visit(b, depth, entries, stack) for b in branches]
                rec["branch_kernels"] = [sum(c.values()) for c in counts]
                if counts:
                    tally.update(max(counts, key=lambda c: sum(c.values())))
            elif op in ("call", "async-start"):
                for c in ins.called("to_apply") + ins.called("calls") + ins.called("called_computations"):
                    tally.update(visit(c, depth, entries, stack))
            elif _is_kernel(ins):
                tally[_kind_key(ins)] += 1
        return tally

    tally = visit(module.entry, 0, 1, ())
    total = int(sum(tally.values()))

    def group(kind):
        return dict(sorted(((k[1], int(v)) for k, v in tally.items() if k[0] == kind), key=lambda kv: -kv[1]))

    by_kind = {kind: int(sum(v for k, v in tally.items() if k[0] == kind))
               for kind in ("fusion", "custom-call", "other")}
    return {
        "entry": module.entry,
        "kernels": total,
        "iterations": iterations,
        "kernels_per_iteration": (total / iterations) if iterations else None,
        "by_kind": by_kind,
        "fusion_kinds": group("fusion"),
        "custom_call_targets": group("custom-call"),
        "other_ops": group("other"),
        "while_loops": loops,
        "unbounded_loops": [lp for lp in loops if lp["trip_count"] is None],
        "lower_bound": any(lp["trip_count"] is None for lp in loops),
        "conditionals": conds,
    }


def format_census(c: dict) -> str:
    """A few human lines: totals, unbounded loops and conditionals by name."""
    per = c.get("kernels_per_iteration")
    lines = [f"kernels: {'>= ' if c.get('lower_bound') else ''}{c['kernels']}"
             + (f" ({per:.1f} per iteration)" if per is not None else "")
             + f"; by kind {c['by_kind']}"]
    if c["custom_call_targets"]:
        lines.append(f"custom-calls: {c['custom_call_targets']}")
    lines.append(f"while loops: {len(c['while_loops'])}, trip counts "
                 f"{[lp['trip_count'] for lp in c['while_loops']]}")
    for lp in c["unbounded_loops"]:
        lines.append(f"  unbounded: {lp['op_name']} at {lp['source']} ({lp['kernels_per_trip']} kernels per trip)")
    lines.append(f"conditionals: {len(c['conditionals'])}")
    for cd in c["conditionals"]:
        lines.append(f"  {cd['op_name']} at {cd['source']}: branch kernels {cd['branch_kernels']}")
    return "\n".join(lines)


def main(argv=None):
    import argparse
    import json
    import sys

    p = argparse.ArgumentParser(description="census of an optimized HLO text file")
    p.add_argument("path")
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print the whole census as JSON")
    a = p.parse_args(argv)
    if not os.path.isfile(a.path):
        sys.exit(f"error: no file {a.path}; pass an optimized HLO text file (e.g. from XLA_FLAGS=--xla_dump_to=...)")
    with open(a.path) as f:
        try:
            c = census(f.read(), a.iterations)
        except ValueError as e:
            sys.exit(f"error: {a.path}: {e}")
    print(json.dumps(c, indent=2) if a.json else format_census(c))


if __name__ == "__main__":
    main()
