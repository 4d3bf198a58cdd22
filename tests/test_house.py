"""The house rules of issue #13, checked on every test run: small modules, small classes,
no import cycle. (The layer contracts are import-linter's, run by ``tasks.py test``.)"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

import kubeline

PACKAGE = Path(kubeline.__file__).parent
MAX_FILE_LINES = 700
MAX_CLASS_LINES = 400


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_source_file_is_over_the_limit() -> None:
    too_long = {
        str(path.relative_to(PACKAGE)): lines
        for path in _sources()
        if (lines := path.read_text(encoding="utf-8").count("\n")) > MAX_FILE_LINES
    }
    assert too_long == {}, f"split these by concept (limit {MAX_FILE_LINES} lines)"


def test_no_class_is_over_the_limit() -> None:
    too_long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    too_long[f"{path.relative_to(PACKAGE)}:{node.name}"] = lines
    assert too_long == {}, f"split these by concept (limit {MAX_CLASS_LINES} lines)"


def _import_cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(imports):
        if start in index:
            continue
        work = [(start, iter(sorted(imports[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(imports[target]))))
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == module:
                            break
                    if len(group) > 1:
                        cycles.append(sorted(group))
    return cycles


def test_the_cycle_finder_finds_a_cycle() -> None:
    found = _import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert found == [["a", "b", "c"]]
    assert _import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("kubeline", exclude_type_checking_imports=True)
    imports = {
        module: {
            # A package's __init__ importing its own modules is its structure, not a cycle.
            target
            for target in graph.find_modules_directly_imported_by(module)
            if target in graph.modules and not target.startswith(f"{module}.")
        }
        for module in graph.modules
    }
    assert _import_cycles(imports) == []
