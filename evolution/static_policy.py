"""The static policy: an AST check of synthesized tool code before it ever runs.

Defence in depth, not the security boundary (the sandbox is). It rejects code that
imports outside an allow-list or reaches for the machinery that escapes a namespace:
``__import__``, ``importlib``, ``exec``/``eval``/``compile``, ``open``, dunder
attribute access (``__subclasses__``, ``__globals__``, ``__builtins__``...),
``getattr``/``setattr``/``attrgetter`` with a computed or dunder name, strings holding
dunder names, ``str.format`` templates that reach attributes, frame and code internals
(``gi_frame``, ``f_globals``...), modules re-exported by allowed ones (``typing.sys``,
``dataclasses.builtins``), ``sys.modules``, and modules such as ``os``, ``subprocess``,
``socket`` and ``ctypes``. The sandbox holds without it (the security suite runs with it off).

    check_source(code) -> PolicyReport(ok, violations)

Each violation names the line and what was wrong, so a repair prompt can quote it.
"""

from __future__ import annotations

import ast
import importlib
import re
import string
import types
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
FORBIDDEN_NAMES = frozenset(
    {"__builtins__", "__loader__", "__spec__", "importlib", "sys", "os", "builtins", "Formatter"}
)
# Dunder attributes harmless to touch (object construction); every other dunder is refused.
ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__doc__", "__len__", "__iter__", "__next__", "__eq__"})
NAME_ATTR_FUNCS = frozenset({"getattr", "setattr", "delattr", "hasattr"})
# Attribute names that reach interpreter internals without a dunder: frames, code objects, tracebacks.
FRAME_ATTRS = frozenset(
    {"gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "tb_frame", "tb_next", "f_back",
     "f_globals", "f_locals", "f_builtins", "f_code", "f_trace", "_getframe", "vformat", "Formatter"}
)  # fmt: skip
_DUNDER = re.compile(r"__\w+__")
_ALLOWED_DUNDER_STRINGS = ALLOWED_DUNDERS | {"__main__"}


def _reexported_modules(allowed: frozenset[str]) -> frozenset[str]:
    """Attribute names under which an allowed module re-exports one that is not (``typing.sys``,
    ``dataclasses.builtins``, ``collections._sys``...): reaching them is importing what is refused."""
    names = {"sys", "os", "builtins"}
    for module_name in sorted(allowed):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for attr, value in vars(module).items():
            if isinstance(value, types.ModuleType):
                top = value.__name__.split(".")[0]
                if value.__name__ not in allowed and top not in allowed and top in _ESCAPE_MODULES:
                    names.add(attr)
    return frozenset(names)


# Modules that hand out the process, the interpreter or the filesystem (an attribute of this name on an
# allowed module is a re-export to refuse; harmless re-exports such as ``copy`` or ``abc`` stay usable).
_ESCAPE_MODULES = frozenset(
    {"sys", "os", "posix", "nt", "builtins", "subprocess", "socket", "ctypes", "importlib", "_imp", "_thread",
     "threading", "inspect", "types", "gc", "io", "_io", "shutil", "signal", "marshal", "pickle", "linecache",
     "_os", "_sys", "_hashlib", "_string", "tokenize", "runpy", "pathlib", "tempfile"}
)  # fmt: skip

REEXPORTED_MODULES = _reexported_modules(
    frozenset(
        {"json", "re", "base64", "urllib", "urllib.parse", "hashlib", "collections", "math", "statistics", "datetime",
         "itertools", "functools", "decimal", "fractions", "string", "textwrap", "dataclasses", "typing", "bisect",
         "heapq", "csv", "operator", "binascii", "difflib"}
    )
)  # fmt: skip


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
        for alias in node.names:  # `from typing import sys as s`, `from string import Formatter`
            if alias.name in FORBIDDEN_NAMES or _forbidden_attr(alias.name):
                self._bad(node, f"import of {alias.name!r} from {node.module!r} is not allowed")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if isinstance(func, ast.Name) and name in NAME_ATTR_FUNCS and len(node.args) >= 2:
            attr = node.args[1]
            if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
                self._bad(node, f"{name}() with a computed attribute name is not allowed")
            elif attr.value.startswith("__"):
                self._bad(node, f"{name}() of dunder attribute {attr.value!r} is not allowed")
        if name in ("attrgetter", "methodcaller"):  # attribute names in strings: constant and harmless only
            for arg in node.args[: 1 if name == "methodcaller" else None]:
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    self._bad(node, f"{name}() with a computed attribute name is not allowed")
                elif any(_forbidden_attr(part) for part in arg.value.split(".")):
                    self._bad(node, f"{name}() of attribute {arg.value!r} is not allowed")
        if isinstance(func, ast.Attribute) and func.attr in ("format", "format_map"):
            # str.format reaches attributes through its fields ("{0.__class__}"): constant templates only,
            # without attribute or index access in a field.
            template = func.value
            if not (isinstance(template, ast.Constant) and isinstance(template.value, str)):
                self._bad(node, f".{func.attr}() on a computed template is not allowed (use an f-string)")
            elif _format_reaches_attributes(template.value):
                self._bad(node, f".{func.attr}() template with attribute or index access is not allowed")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _forbidden_attr(node.attr):
            if node.attr.startswith("__"):
                self._bad(node, f"access to dunder attribute {node.attr!r} is not allowed")
            else:
                self._bad(node, f"access to attribute {node.attr!r} (a module or interpreter internals) is not allowed")
        if node.attr == "modules" and isinstance(node.value, ast.Name) and node.value.id == "sys":
            self._bad(node, "sys.modules is not allowed")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self._bad(node, f"use of {node.id!r} is not allowed")
        elif node.id in FORBIDDEN_CALLS:  # called or taken as a value (f = eval; f(...))
            self._bad(node, f"use of {node.id}() is not allowed")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            for dunder in _DUNDER.findall(node.value):
                if dunder not in _ALLOWED_DUNDER_STRINGS:
                    self._bad(node, f"string containing {dunder!r} is not allowed")
                    break


def _forbidden_attr(attr: str) -> bool:
    dunder = attr.startswith("__") and attr.endswith("__") and attr not in ALLOWED_DUNDERS
    return dunder or attr in FRAME_ATTRS or attr in REEXPORTED_MODULES


def _format_reaches_attributes(template: str) -> bool:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    except ValueError:
        return True  # a malformed template: refuse rather than guess
    return any("." in f or "[" in f for f in fields)


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
