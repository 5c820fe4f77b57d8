"""The import graph of ``diffsr_jax`` and ``experiments``: layered (import-linter's contract in setup.cfg: nothing
imports a layer above it) and acyclic module by module. Both read every import statement, those inside functions
too, so a cycle cannot hide in a function-local import."""

from __future__ import annotations

import os

import grimp
from importlinter.cli import lint_imports

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.find_modules_directly_imported_by(w)))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _graph():
    return grimp.build_graph("diffsr_jax", "experiments", cache_dir=None)


def test_no_module_imports_a_layer_above_it():
    cwd = os.getcwd()
    os.chdir(ROOT)  # import-linter reads its contract from setup.cfg here
    try:
        assert lint_imports(config_filename="setup.cfg", no_cache=True) == 0
    finally:
        os.chdir(cwd)


def test_no_import_cycle_between_modules():
    assert cycles(_graph()) == []


def test_the_cycle_check_sees_a_cycle_through_a_function_local_import():
    graph = _graph()
    graph.add_import(importer="diffsr_jax.fields", imported="diffsr_jax.training.plan", line_number=1,
                     line_contents="    from diffsr_jax.training.plan import plan_run")
    found = cycles(graph)
    assert len(found) == 1 and {"diffsr_jax.fields", "diffsr_jax.training.plan"} <= set(found[0])
