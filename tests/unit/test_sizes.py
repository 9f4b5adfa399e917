"""The size ratchet: no module over 400 lines and no function over 60 (nested functions count
within the function that holds them). Today's exceptions are listed with their size as a
ceiling: one may shrink, never grow, and leaves the list once under the limit (the test says
so), so the list only gets shorter."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
MODULE_LINES = 400
FUNCTION_LINES = 60

# path (from src/) -> its lines today
MODULES = {
    "remem/memory/longterm.py": 432,
    "remem/memory/search.py": 479,
    "remem/store/embedded.py": 425,
}
# "path:function" -> its lines today
FUNCTIONS = {
    "remem/api/lean.py:get_route_handler": 67,
}


def sizes() -> tuple[dict[str, int], dict[str, int]]:
    modules, functions = {}, {}
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        text = path.read_text()
        modules[name] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                key = f"{name}:{node.name}"
                functions[key] = max(functions.get(key, 0), lines)
    return modules, functions


def check(found: dict[str, int], allowed: dict[str, int], limit: int, what: str) -> list[str]:
    problems = []
    for name, lines in found.items():
        ceiling = allowed.get(name, limit)
        if lines > ceiling:
            problems.append(f"{what} {name}: {lines} lines, over {ceiling}: split it")
    for name, ceiling in allowed.items():
        lines = found.get(name, 0)
        if lines <= limit:
            problems.append(f"{what} {name} is {lines} lines now: remove it from the exceptions")
        elif lines < ceiling:
            problems.append(f"{what} {name} shrank to {lines} lines: lower its ceiling to that")
    return problems


def test_no_module_or_function_grows_past_its_size() -> None:
    modules, functions = sizes()
    problems = check(modules, MODULES, MODULE_LINES, "module")
    problems += check(functions, FUNCTIONS, FUNCTION_LINES, "function")
    assert not problems, "\n".join(problems)


def test_the_ratchet_catches_growth_and_stale_exceptions() -> None:
    assert check({"a.py": 401}, {}, 400, "module") == ["module a.py: 401 lines, over 400: split it"]
    assert check({"a.py": 300}, {"a.py": 500}, 400, "module")[0].endswith("exceptions")
    assert check({"a.py": 450}, {"a.py": 500}, 400, "module")[0].endswith("to that")
    assert check({"a.py": 450}, {"a.py": 450}, 400, "module") == []
