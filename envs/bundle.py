"""Self-contained source for a world's tool: what the simulated tool author "writes".

The simulated model knows each world's formats the way the reference tools implement
them. To write a tool as real, sandbox-runnable code it needs that knowledge as one
self-contained module: the tool function plus every helper, class and constant it
reaches in ``envs.*`` modules and registered world packages (``envs.registry``, plugins too),
with standard-library imports kept and ``envs.toolkit``
(the affordances, forwarded by the sandbox) as the only project import.

``bundle_tool(fn)`` walks the definitions the function needs (free names and
``module_alias.attr`` references, transitively), renames on collision, and emits them
in dependency order. Code that needs a third-party package (numpy, httpx...) cannot be
bundled and raises ``BundleError`` naming the definition: such helpers are world
*generators*, never format knowledge a tool needs.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from envs.registry import WORLDS

TOOLKIT = "envs.toolkit"
_BUILTINS = frozenset(dir(builtins))


class BundleError(ValueError):
    """The tool reaches code that cannot run in the sandbox."""


@dataclass
class _Module:
    name: str
    tree: ast.Module
    defs: dict[str, ast.stmt] = field(default_factory=dict)  # top-level name -> defining statement
    # local name -> (module, attribute or None for a module binding)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)


def _is_project(module: str) -> bool:
    """Project code a tool may reach: ``envs.*`` and the package of every registered world (plugins too)."""
    packages = {"envs", *(entry.package for entry in WORLDS.values())}
    return any(module == p or module.startswith(p + ".") for p in packages)


def _is_stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names or module == "__future__"


@functools.cache
def _module(name: str) -> _Module:
    mod = importlib.import_module(name)
    tree = ast.parse(inspect.getsource(mod))
    out = _Module(name, tree)
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.defs[stmt.name] = stmt
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        out.defs.setdefault(node.id, stmt)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                local = alias.asname or alias.name.split(".")[0]
                out.imports[local] = (alias.name if alias.asname else alias.name.split(".")[0], None)
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            for alias in stmt.names:
                full = f"{stmt.module}.{alias.name}"
                is_module = _is_project(stmt.module) and inspect.ismodule(
                    getattr(importlib.import_module(stmt.module), alias.name, None)
                )
                out.imports[alias.asname or alias.name] = (full, None) if is_module else (stmt.module, alias.name)
    return out


def _locals_of(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """Names bound inside a function (parameters and assignments), not counting nested scopes."""
    a = fn.args
    names = {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs]}
    names |= {p.arg for p in (a.vararg, a.kwarg) if p is not None}
    if isinstance(fn, ast.Lambda):  # a walrus in a lambda binds in the lambda
        return names | {n.target.id for n in ast.walk(fn.body) if isinstance(n, ast.NamedExpr)}
    declared_global: set[str] = set()
    stack: list[ast.AST] = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            stack.extend(node.decorator_list)
            continue  # a nested scope
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Global):
            declared_global.update(node.names)
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((al.asname or al.name).split(".")[0] for al in node.names)
        if isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return names - declared_global


def _comp_locals(node: ast.AST) -> set[str]:
    gens = getattr(node, "generators", [])
    return {n.id for g in gens for n in ast.walk(g.target) if isinstance(n, ast.Name)}


class _Refs(ast.NodeVisitor):
    """Free global references of a statement: bare names and ``alias.attr`` pairs (annotations skipped)."""

    def __init__(self, mod: _Module) -> None:
        self.mod = mod
        self.scopes: list[set[str]] = []
        self.names: set[str] = set()
        self.attrs: set[tuple[str, str]] = set()

    def _local(self, name: str) -> bool:
        return any(name in s for s in self.scopes)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
            self.visit(default)
        self.scopes.append(_locals_of(node))
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in node.args.defaults:
            self.visit(default)
        self.scopes.append(_locals_of(node))
        self.visit(node.body)
        self.scopes.pop()

    def _comprehension(self, node: ast.AST) -> None:
        self.scopes.append(_comp_locals(node))
        for child in ast.iter_child_nodes(node):
            self.visit(child)
        self.scopes.pop()

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for n in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(n)
        self.scopes.append(set())  # class-body names are not visible in methods; treat them as local here
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if self.scopes and isinstance(node.target, ast.Name):
            self.scopes[-1].add(node.target.id)
        if node.value is not None:
            self.visit(node.value)

    def visit_arg(self, node: ast.arg) -> None:
        return  # annotations are strings (from __future__ import annotations), never evaluated

    def visit_Attribute(self, node: ast.Attribute) -> None:
        base = node.value
        if isinstance(base, ast.Name) and not self._local(base.id):
            bound = self.mod.imports.get(base.id)
            if bound and bound[1] is None and _is_project(bound[0]):
                self.attrs.add((base.id, node.attr))
                return
        self.visit(base)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and not self._local(node.id):
            self.names.add(node.id)


Key = tuple[str, str]  # (module, top-level name)


class _Bundler:
    def __init__(self) -> None:
        self.order: list[Key] = []  # post-order: dependencies first
        self.seen: set[Key] = set()
        self.stdlib: dict[str, tuple[str, str | None]] = {}  # local name -> import
        self.toolkit: set[str] = set()
        self.resolution: dict[Key, dict[str, Key]] = {}  # per definition: local ref -> definition key

    def resolve(self, module: str, name: str, chain: tuple[str, ...]) -> Key | None:
        """The definition ``name`` refers to in ``module`` (None: builtin, stdlib or toolkit)."""
        mod = _module(module)
        if name in mod.defs:
            self.visit((module, name), chain)
            return (module, name)
        if name in mod.imports:
            target, attr = mod.imports[name]
            if target == TOOLKIT and attr:
                self.toolkit.add(attr)
                return None
            if _is_project(target):
                if attr is None:
                    raise BundleError(f"{'.'.join(chain)} uses module {target} as a value; it cannot be bundled")
                return self.resolve(target, attr, chain)
            if _is_stdlib(target):
                prev = self.stdlib.get(name)
                if prev is not None and prev != (target, attr):
                    raise BundleError(f"{name!r} names two different imports: {prev} and {(target, attr)}")
                self.stdlib[name] = (target, attr)
                return None
            raise BundleError(f"{' -> '.join(chain)} needs {target} (not in the standard library)")
        if name in _BUILTINS:
            return None
        raise BundleError(f"{' -> '.join(chain)}: name {name!r} is not defined in {module}")

    def visit(self, key: Key, chain: tuple[str, ...] = ()) -> None:
        if key in self.seen:
            return
        self.seen.add(key)
        module, name = key
        mod = _module(module)
        stmt = mod.defs[name]
        refs = _Refs(mod)
        refs.visit(stmt)
        here = (*chain, f"{module.rsplit('.', 1)[-1]}.{name}")
        own = _defined_names(stmt)
        table: dict[str, Key] = {}
        for ref in sorted(refs.names - own):
            target = self.resolve(module, ref, here)
            if target is not None:
                table[ref] = target
        for alias, attr in sorted(refs.attrs):
            target_mod = mod.imports[alias][0]
            resolved = self.resolve(target_mod, attr, here)
            if resolved is not None:
                table[f"{alias}.{attr}"] = resolved
        self.resolution[key] = table
        self.order.append(key)


def _defined_names(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


class _Rename(ast.NodeTransformer):
    """Rewrite references of one definition to the bundled names (locals untouched)."""

    def __init__(self, table: dict[str, str], mod: _Module) -> None:
        self.table = table
        self.refs = _Refs(mod)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.args.defaults = [self.visit(d) for d in node.args.defaults]
        node.args.kw_defaults = [self.visit(d) if d is not None else None for d in node.args.kw_defaults]
        self.refs.scopes.append(_locals_of(node))
        node.body = [self.visit(s) for s in node.body]
        self.refs.scopes.pop()
        if node.name in self.table and not self.refs._local(node.name):
            node.name = self.table[node.name]
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.refs.scopes.append(_locals_of(node))
        node.body = self.visit(node.body)
        self.refs.scopes.pop()
        return node

    def _comprehension(self, node: ast.AST) -> ast.AST:
        self.refs.scopes.append(_comp_locals(node))
        self.generic_visit(node)
        self.refs.scopes.pop()
        return node

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        node.bases = [self.visit(b) for b in node.bases]
        self.refs.scopes.append(set())
        node.body = [self.visit(s) for s in node.body]
        self.refs.scopes.pop()
        if node.name in self.table:
            node.name = self.table[node.name]
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        base = node.value
        if isinstance(base, ast.Name) and not self.refs._local(base.id):
            new = self.table.get(f"{base.id}.{node.attr}")
            if new is not None:
                return ast.copy_location(ast.Name(id=new, ctx=node.ctx), node)
        node.value = self.visit(base)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if not self.refs._local(node.id) and node.id in self.table:
            node.id = self.table[node.id]
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node


def bundle_tool(fn: Callable[..., Any]) -> str:
    """One self-contained module defining ``fn`` under its own name (see the module docstring)."""
    module = fn.__module__
    b = _Bundler()
    b.visit((module, fn.__name__))
    # Bundled names: the original unless two definitions share it (the tool keeps its own).
    taken: dict[str, Key] = {fn.__name__: (module, fn.__name__)}
    taken.update({name: (name, "") for name in b.stdlib})
    names: dict[Key, str] = {}
    for key in [(module, fn.__name__), *b.order]:
        mod_name, name = key
        if key in names:
            continue
        new = name
        if taken.get(new, key) != key:
            new = f"_{mod_name.rsplit('.', 1)[-1]}_{name.lstrip('_')}"
        taken[new] = key
        names[key] = new
    lines = ["from __future__ import annotations", ""]
    for local, (target, attr) in sorted(b.stdlib.items(), key=lambda kv: (kv[1][0], kv[0])):
        if attr is None:
            lines.append(f"import {target}" + (f" as {local}" if local != target.split(".")[0] else ""))
        else:
            lines.append(f"from {target} import {attr}" + (f" as {local}" if local != attr else ""))
    if b.toolkit:
        lines.append(f"from {TOOLKIT} import {', '.join(sorted(b.toolkit))}")
    emitted: set[int] = set()
    for key in b.order:
        mod = _module(key[0])
        stmt = mod.defs[key[1]]
        if id(stmt) in emitted:  # one statement binding several names
            continue
        emitted.add(id(stmt))
        table = {ref: names[target] for ref, target in b.resolution[key].items()}
        for own in _defined_names(stmt):
            if (key[0], own) in names:
                table[own] = names[(key[0], own)]
        new_stmt = _Rename(table, mod).visit(_copy(stmt))
        lines += ["", "", ast.unparse(ast.fix_missing_locations(new_stmt))]
    return "\n".join(lines) + "\n"


def _copy(stmt: ast.stmt) -> ast.stmt:
    node = ast.parse(ast.unparse(stmt)).body[0]
    return node
