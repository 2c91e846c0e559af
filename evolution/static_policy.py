"""The static policy: an AST check of synthesized tool code before it ever runs.

Defence in depth, not the security boundary (the sandbox is). It rejects code that
imports outside an allow-list or reaches for the machinery that escapes a namespace:
``__import__``, ``importlib``, ``exec``/``eval``/``compile``, ``open``, dunder
attribute access (``__subclasses__``, ``__globals__``, ``__builtins__``...),
``getattr``/``setattr`` with a computed or dunder name, ``sys.modules``, and modules
such as ``os``, ``subprocess``, ``socket`` and ``ctypes``.

    check_source(code) -> PolicyReport(ok, violations)

Each violation names the line and what was wrong, so a repair prompt can quote it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

# The ARISE paper's allow-list (json, re, base64, urllib, hashlib, collections, math) plus
# pure, side-effect-free standard modules a data tool reasonably needs.
DEFAULT_ALLOWED_IMPORTS: frozenset[str] = frozenset(
    {
        "json", "re", "base64", "urllib", "urllib.parse", "hashlib", "collections", "math",
        "statistics", "datetime", "itertools", "functools", "decimal", "fractions", "string",
        "textwrap", "dataclasses", "typing", "bisect", "heapq", "csv", "operator", "binascii", "difflib",
        "__future__", "envs.toolkit",
    }
)  # fmt: skip
FORBIDDEN_CALLS = frozenset(
    {"__import__", "exec", "eval", "compile", "open", "globals", "locals", "vars", "breakpoint", "input", "memoryview"}
)
FORBIDDEN_NAMES = frozenset({"__builtins__", "__loader__", "__spec__", "importlib", "sys", "os", "builtins"})
# Dunder attributes harmless to touch (object construction); every other dunder is refused.
ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__doc__", "__len__", "__iter__", "__next__", "__eq__"})
NAME_ATTR_FUNCS = frozenset({"getattr", "setattr", "delattr", "hasattr"})


@dataclass(frozen=True)
class PolicyReport:
    ok: bool
    violations: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return "; ".join(self.violations) if self.violations else "ok"


class _Checker(ast.NodeVisitor):
    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed
        self.violations: list[str] = []

    def _bad(self, node: ast.AST, what: str) -> None:
        self.violations.append(f"line {getattr(node, 'lineno', '?')}: {what}")

    def _check_module(self, node: ast.AST, module: str) -> None:
        if module not in self.allowed and module.split(".")[0] not in self.allowed:
            self._bad(node, f"import of {module!r} is not allowed (allowed: {', '.join(sorted(self.allowed))})")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self._bad(node, "relative imports are not allowed")
        else:
            self._check_module(node, node.module or "")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name):
            name = node.func.id
            if name in NAME_ATTR_FUNCS and len(node.args) >= 2:
                attr = node.args[1]
                if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
                    self._bad(node, f"{name}() with a computed attribute name is not allowed")
                elif attr.value.startswith("__"):
                    self._bad(node, f"{name}() of dunder attribute {attr.value!r} is not allowed")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("__") and node.attr.endswith("__") and node.attr not in ALLOWED_DUNDERS:
            self._bad(node, f"access to dunder attribute {node.attr!r} is not allowed")
        if node.attr == "modules" and isinstance(node.value, ast.Name) and node.value.id == "sys":
            self._bad(node, "sys.modules is not allowed")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self._bad(node, f"use of {node.id!r} is not allowed")
        elif node.id in FORBIDDEN_CALLS:  # called or taken as a value (f = eval; f(...))
            self._bad(node, f"use of {node.id}() is not allowed")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and node.value in ("__builtins__", "__globals__", "__subclasses__"):
            self._bad(node, f"string {node.value!r} is not allowed")


def check_source(code: str, allowed_imports: frozenset[str] | None = None) -> PolicyReport:
    """Check ``code``; a syntax error is a violation too (with its line)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return PolicyReport(False, [f"line {exc.lineno}: syntax error: {exc.msg}"])
    except (ValueError, RecursionError) as exc:  # NUL bytes, absurd nesting
        return PolicyReport(False, [f"unparseable source: {type(exc).__name__}: {exc}"])
    checker = _Checker(allowed_imports if allowed_imports is not None else DEFAULT_ALLOWED_IMPORTS)
    checker.visit(tree)
    return PolicyReport(not checker.violations, checker.violations)
