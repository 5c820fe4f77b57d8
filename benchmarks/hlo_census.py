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
e.g. every ``lax.scan`` / ``fori_loop`` with static bounds); that is read first (``trip_source: "xla"``). When it is
absent, the count is derived from the HLO (``trip_source: "derived"``) only when all of this holds: the condition's
root (directly or as the root of a fusion it calls) compares ``get-tuple-element(param, k)`` with an integer
``constant`` (LT / LE / GT / GE / NE); element k of the ``tuple`` the ``while`` starts from is an integer
``constant``; and element k of the body's root ``tuple`` is ``add(get-tuple-element(param, k), constant)`` (through
``copy`` / ``bitcast`` / ``convert`` and single-op fusions) with a step of the right sign. Anything else (a
data-dependent stop, as in ``lax.while_loop`` or MuJoCo MJX's solver loop) is unknown (``trip_count: None``).

Names. Each loop and conditional keeps its ``op_name`` from the instruction's metadata (``jit(f)/while`` for a
``lax.scan``, ``.../while`` for a ``lax.while_loop``, ``.../cond`` for a ``lax.cond``) and, where the HLO carries the
StackFrames table (jax >= 0.6), ``source``: the innermost Python frame that built it (``file:line (function)``), so a
report can say e.g. that an unbounded loop is MJX's ``solver.py`` ``while_loop``.
"""

from __future__ import annotations

import math
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
_PASS_THROUGH = frozenset({"copy", "bitcast", "convert", "reshape"})

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
def _int_constant(ins: Instr | None):
    if ins is None or ins.opcode != "constant" or not re.match(r"^[su]\d+\[\]", ins.shape):
        return None
    try:
        return int(ins.operand_text.strip())
    except ValueError:
        return None


class _Resolver:
    """Follows values through pass-through ops and single-purpose fusions (XLA:CPU wraps lone scalar ops as
    ``wrapped_*`` fusions)."""

    def __init__(self, module: Module):
        self.m = module

    def value(self, comp: Computation, name: str, depth: int = 0):
        """-> ("const", int) | ("gte", index) of the computation's parameter | ("op", opcode, [args]) | None."""
        ins = comp.by_name.get(name)
        if ins is None or depth > 12:
            return None
        if ins.opcode in _PASS_THROUGH and len(ins.operands) == 1:
            return self.value(comp, ins.operands[0], depth + 1)
        c = _int_constant(ins)
        if c is not None:
            return ("const", c)
        if ins.opcode == "get-tuple-element" and ins.operands:
            src = comp.by_name.get(ins.operands[0])
            if src is not None and src.opcode == "parameter":
                idx = ins.attr("index")
                return ("gte", int(idx)) if idx is not None else None
            return None
        if ins.opcode == "fusion":
            called = ins.called("calls")
            fc = self.m.computations.get(called[0]) if called else None
            if fc is None or fc.root is None:
                return None
            return self._in_fusion(fc, fc.root.name, comp, ins, depth + 1)
        if ins.opcode in ("add", "compare", "subtract"):
            return ("op", ins.opcode, [self.value(comp, o, depth + 1) for o in ins.operands], ins.attr("direction"))
        return None

    def _in_fusion(self, fc: Computation, name: str, outer: Computation, fusion: Instr, depth: int):
        ins = fc.by_name.get(name)
        if ins is None or depth > 12:
            return None
        if ins.opcode == "parameter":
            i = int(ins.operand_text.strip())
            return self.value(outer, fusion.operands[i], depth + 1) if i < len(fusion.operands) else None
        if ins.opcode in _PASS_THROUGH and len(ins.operands) == 1:
            return self._in_fusion(fc, ins.operands[0], outer, fusion, depth + 1)
        c = _int_constant(ins)
        if c is not None:
            return ("const", c)
        if ins.opcode in ("add", "compare", "subtract"):
            return ("op", ins.opcode, [self._in_fusion(fc, o, outer, fusion, depth + 1) for o in ins.operands],
                    ins.attr("direction"))
        return None


def _derive_trip(module: Module, comp: Computation, loop: Instr):
    """Trip count of ``loop`` (in ``comp``) from its condition, start tuple and body (see the module docstring)."""
    r = _Resolver(module)
    cond = module.computations.get((loop.called("condition") or [None])[0])
    body = module.computations.get((loop.called("body") or [None])[0])
    if cond is None or body is None or cond.root is None or body.root is None:
        return None
    v = r.value(cond, cond.root.name)
    if not v or v[0] != "op" or v[1] != "compare" or len(v[2]) != 2 or None in v[2]:
        return None
    a, b, direction = v[2][0], v[2][1], v[3]
    flip = {"LT": "GT", "GT": "LT", "LE": "GE", "GE": "LE", "NE": "NE"}
    if a[0] == "const" and b[0] == "gte":
        a, b, direction = b, a, flip.get(direction)
    if not (a[0] == "gte" and b[0] == "const") or direction not in flip:
        return None
    k, limit = a[1], b[1]
    start_ins = comp.by_name.get(loop.operands[0]) if loop.operands else None
    if start_ins is None or start_ins.opcode != "tuple" or k >= len(start_ins.operands):
        return None
    init = r.value(comp, start_ins.operands[k])
    if body.root.opcode != "tuple" or k >= len(body.root.operands) or not init or init[0] != "const":
        return None
    upd = r.value(body, body.root.operands[k])
    if not upd or upd[0] != "op" or upd[1] != "add" or len(upd[2]) != 2:
        return None
    x, y = upd[2]
    if x == ("gte", k) and y and y[0] == "const":
        step = y[1]
    elif y == ("gte", k) and x and x[0] == "const":
        step = x[1]
    else:
        return None
    c0 = init[1]
    if step == 0:
        return None
    if direction == "LT" and step > 0:
        return max(0, math.ceil((limit - c0) / step))
    if direction == "LE" and step > 0:
        return max(0, (limit - c0) // step + 1)
    if direction == "GT" and step < 0:
        return max(0, math.ceil((c0 - limit) / -step))
    if direction == "GE" and step < 0:
        return max(0, (c0 - limit) // -step + 1)
    if direction == "NE" and (limit - c0) % step == 0 and (limit - c0) // step >= 0:
        return (limit - c0) // step
    return None


def trip_count(module: Module, comp: Computation, loop: Instr):
    """(trip count or None, "xla" | "derived" | None) of a ``while`` instruction."""
    m = _TRIP.search(loop.attrs)
    if m:
        return int(m.group(1)), "xla"
    n = _derive_trip(module, comp, loop)
    return (n, "derived") if n is not None else (None, None)


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
                n, source = trip_count(module, comp, ins)
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
    if not os.path.exists(a.path):
        sys.exit(f"error: no file {a.path}")
    with open(a.path) as f:
        try:
            c = census(f.read(), a.iterations)
        except ValueError as e:
            sys.exit(f"error: {a.path}: {e}")
    print(json.dumps(c, indent=2) if a.json else format_census(c))


if __name__ == "__main__":
    main()
