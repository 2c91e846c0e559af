"""The simulated tool author's bug model: real edits to real source.

Each kind is an AST mutation of a bundled tool (``envs.bundle``) that a model
writing the code by hand plausibly makes. Whether a bug is caught, and what it costs
downstream, is not decided here: the mutated code runs in the sandbox against tests
and, once promoted, against the world.

* ``off_by_one``: a ``<``/``<=``/``>``/``>=`` comparison flips strictness;
* ``missing_empty_guard``: an ``if not x: return ...``-style guard is dropped;
* ``wrong_key``: a string key of a subscript or ``.get()`` becomes another key of the code;
* ``wrong_type``: an ``int()``/``float()`` conversion is dropped (numbers stay strings);
* ``forbidden_import``: the tool imports ``os`` (refused by the static policy);
* ``unbounded_loop``: the entry function retries forever on any exception.

``bug_sites(code, clean)`` is the other direction: which top-level definitions of
``code`` differ from the clean source (what a repair reviews).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable

import numpy as np

BUG_KINDS = (
    "off_by_one",
    "missing_empty_guard",
    "wrong_key",
    "wrong_type",
    "forbidden_import",
    "unbounded_loop",
)

_FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}


def _entry(tree: ast.Module, entry: str) -> ast.FunctionDef | None:
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry), None)


def _functions(tree: ast.Module) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def _off_by_one(tree: ast.Module, entry: str, rng: np.random.Generator) -> bool:
    sites = [
        (node, i)
        for fn in _functions(tree)
        for node in ast.walk(fn)
        if isinstance(node, ast.Compare)
        for i, op in enumerate(node.ops)
        if type(op) in _FLIP
    ]
    if not sites:
        return False
    node, i = sites[int(rng.integers(len(sites)))]
    node.ops[i] = _FLIP[type(node.ops[i])]()
    return True


def _is_empty_test(test: ast.expr) -> bool:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return True
    if isinstance(test, ast.Compare) and isinstance(test.left, ast.Call):
        fn = test.left.func
        return isinstance(fn, ast.Name) and fn.id == "len" and any(isinstance(op, (ast.Eq, ast.Lt)) for op in test.ops)
    return False


def _missing_empty_guard(tree: ast.Module, entry: str, rng: np.random.Generator) -> bool:
    sites = []
    for fn in _functions(tree):
        for parent in ast.walk(fn):
            body = getattr(parent, "body", None)
            if not isinstance(body, list):
                continue
            for i, stmt in enumerate(body):
                if (
                    isinstance(stmt, ast.If)
                    and not stmt.orelse
                    and _is_empty_test(stmt.test)
                    and isinstance(stmt.body[-1], (ast.Return, ast.Raise, ast.Continue))
                ):
                    sites.append((body, i))
    if not sites:
        return False
    body, i = sites[int(rng.integers(len(sites)))]
    body[i] = ast.Pass()
    return True


def _key_nodes(tree: ast.Module) -> list[ast.Constant]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            if isinstance(node.slice.value, str):
                out.append(node.slice)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.append(node.args[0])
    return out


def _wrong_key(tree: ast.Module, entry: str, rng: np.random.Generator) -> bool:
    keys = _key_nodes(tree)
    vocabulary = sorted({str(k.value) for k in keys})
    if len(vocabulary) < 2:
        return False
    node = keys[int(rng.integers(len(keys)))]
    others = [v for v in vocabulary if v != node.value]
    node.value = others[int(rng.integers(len(others)))]
    return True


def _wrong_type(tree: ast.Module, entry: str, rng: np.random.Generator) -> bool:
    sites: list[tuple[ast.AST, str, int | None, ast.Call]] = []
    for node in ast.walk(tree):
        for field, value in ast.iter_fields(node):
            items = value if isinstance(value, list) else [value]
            for j, child in enumerate(items):
                if (
                    isinstance(child, ast.Call)
                    and isinstance(child.func, ast.Name)
                    and child.func.id in ("int", "float")
                    and len(child.args) == 1
                    and not child.keywords
                ):
                    sites.append((node, field, j if isinstance(value, list) else None, child))
    if not sites:
        return False
    parent, field, index, call = sites[int(rng.integers(len(sites)))]
    if index is None:
        setattr(parent, field, call.args[0])
    else:
        getattr(parent, field)[index] = call.args[0]
    return True


def _forbidden_import(tree: ast.Module, entry: str, rng: np.random.Generator) -> bool:
    fn = _entry(tree, entry)
    if fn is None:
        return False
    first = 1 if isinstance(tree.body[0], ast.ImportFrom) and tree.body[0].module == "__future__" else 0
    tree.body.insert(first, ast.parse("import os").body[0])
    start = 1 if ast.get_docstring(fn) is not None else 0
    fn.body.insert(start, ast.parse("_workdir = os.getcwd()").body[0])
    return True


def _unbounded_loop(tree: ast.Module, entry: str, rng: np.random.Generator) -> bool:
    fn = _entry(tree, entry)
    if fn is None:
        return False
    start = 1 if ast.get_docstring(fn) is not None else 0
    body = fn.body[start:]
    if not body:
        return False
    retry = ast.parse("while True:\n    try:\n        pass\n    except Exception:\n        continue").body[0]
    assert isinstance(retry, ast.While) and isinstance(retry.body[0], ast.Try)
    retry.body[0].body = body
    fn.body = [*fn.body[:start], retry]
    return True


MUTATIONS: dict[str, Callable[[ast.Module, str, np.random.Generator], bool]] = {
    "off_by_one": _off_by_one,
    "missing_empty_guard": _missing_empty_guard,
    "wrong_key": _wrong_key,
    "wrong_type": _wrong_type,
    "forbidden_import": _forbidden_import,
    "unbounded_loop": _unbounded_loop,
}


def mutate(code: str, entry: str, kind: str, rng: np.random.Generator) -> str | None:
    """``code`` with one bug of ``kind`` (None when the code offers no site for it)."""
    if kind not in MUTATIONS:
        raise ValueError(f"unknown bug kind {kind!r}; accepted: {', '.join(BUG_KINDS)}")
    tree = ast.parse(code)
    if not MUTATIONS[kind](tree, entry, rng):
        return None
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _sites(tree: ast.Module) -> dict[str, str]:
    """Top-level statements by a stable key (definition name, or the import text) -> their dump."""
    out: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            key = stmt.name
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            key = "import:" + ast.unparse(stmt)
        else:
            key = "stmt:" + ",".join(sorted(n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)))
        base, n = key, 1
        while key in out:  # a statement stated twice (a second `import os`) is a site of its own
            n += 1
            key = f"{base}#{n}"
        out[key] = ast.dump(stmt)
    return out


def bug_sites(code: str, clean: str) -> list[str]:
    """Keys of the top-level statements where ``code`` departs from ``clean`` (added, changed, removed)."""
    try:
        got = _sites(ast.parse(code))
    except SyntaxError:
        return ["<syntax>"]
    want = _sites(ast.parse(clean))
    return sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))


def restore(code: str, clean: str, keys: set[str]) -> str:
    """``code`` with the statements under ``keys`` put back as in ``clean`` (the rest kept)."""
    tree, ref = ast.parse(code), ast.parse(clean)
    ref_by_key = dict(zip(_sites(ref).keys(), ref.body, strict=True))
    body: list[ast.stmt] = []
    for key, stmt in zip(_sites(tree).keys(), tree.body, strict=True):
        if key in keys:
            if key in ref_by_key:
                body.append(copy.deepcopy(ref_by_key[key]))
            continue  # an added statement (the forbidden import) is dropped
        body.append(stmt)
    present = {k for k in _sites(tree)}
    for i, (key, stmt) in enumerate(ref_by_key.items()):  # statements the bug removed come back
        if key in keys and key not in present:
            body.insert(min(i, len(body)), copy.deepcopy(stmt))
    tree.body = body
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"
