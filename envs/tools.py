"""Tools: a plain function is the whole artefact; one runner interface executes them.

A tool is a Python function with type-annotated parameters and a Google-style
docstring. Its JSON schema is derived from the signature and docstring
(``tool_spec``), never written twice. Every way of executing tools implements
``ToolRunner``: ``InProcessRunner`` for trusted hand-written tools now, the sandbox
(evolution/) for synthesized code later. The env only ever talks to a ToolRunner.
"""

from __future__ import annotations

import inspect
import json
import re
import time
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from envs import toolkit
from envs.access import WorldAccess

_JSON_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object"}


@dataclass(frozen=True)
class ToolSpec:
    """Name, description and JSON-schema parameters of a tool (OpenAI function shape)."""

    name: str
    description: str
    parameters: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@dataclass(frozen=True)
class ToolResult:
    """Outcome of one tool call. ``output`` is what the agent sees when ``ok``."""

    ok: bool
    output: str
    error: str | None = None
    duration_s: float = 0.0


@runtime_checkable
class ToolRunner(Protocol):
    """Executes a set of tools against a world. Implementations must never raise from ``call``."""

    def specs(self) -> list[ToolSpec]: ...

    def call(self, name: str, args: dict[str, Any], access: WorldAccess) -> ToolResult: ...


def _json_type(annotation: Any) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _json_type(members[0])
        return {"anyOf": [_json_type(m) for m in members]}
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple):
        args = typing.get_args(annotation)
        out: dict[str, Any] = {"type": "array"}
        if args and args[0] is not Ellipsis:
            out["items"] = _json_type(args[0])
        return out
    if origin is dict:
        return {"type": "object"}
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    if typing.get_origin(annotation) is typing.Literal:
        return {"enum": list(typing.get_args(annotation))}
    raise TypeError(f"unsupported parameter annotation {annotation!r}")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {arg: description})."""
    doc = inspect.cleandoc(doc or "")
    head, _, rest = doc.partition("\nArgs:\n")
    arg_docs: dict[str, str] = {}
    current = None
    for line in rest.splitlines():
        if re.match(r"^\S", line):  # next section (Returns:, ...)
            break
        m = re.match(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
        if m and (current is None or len(line) - len(line.lstrip()) <= 4):
            current = m.group(1)
            arg_docs[current] = m.group(2).strip()
        elif current and line.strip():
            arg_docs[current] += " " + line.strip()
    returns = ""
    m = re.search(r"\nReturns:\n((?:\s+.*\n?)+)", "\n" + rest)
    if m:
        returns = " ".join(s.strip() for s in m.group(1).splitlines())
    desc = " ".join(head.split())
    if returns:
        desc += f" Returns: {returns}"
    return desc, arg_docs


def tool_spec(fn: Callable[..., Any], name: str | None = None) -> ToolSpec:
    """Derive a ToolSpec from a function's signature and docstring."""
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn)
    desc, arg_docs = _parse_docstring(fn.__doc__ or "")
    props: dict[str, Any] = {}
    required = []
    for pname, param in sig.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__}: *args/**kwargs are not allowed in tools")
        schema = _json_type(hints.get(pname, param.annotation))
        if pname in arg_docs:
            schema["description"] = arg_docs[pname]
        if param.default is inspect.Parameter.empty:
            required.append(pname)
        else:
            schema["default"] = param.default
        props[pname] = schema
    params = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
    return ToolSpec(name=name or fn.__name__, description=desc, parameters=params)


def check_args(spec: ToolSpec, args: Any) -> str | None:
    """A clear error message if ``args`` do not fit ``spec``, else None."""
    if not isinstance(args, dict):
        return f"arguments for {spec.name} must be a JSON object, got {type(args).__name__}"
    props = spec.parameters.get("properties", {})
    unknown = sorted(set(args) - set(props))
    if unknown:
        return f"{spec.name}: unknown argument(s) {unknown}; accepted: {sorted(props)}"
    missing = [r for r in spec.parameters.get("required", []) if r not in args]
    if missing:
        return f"{spec.name}: missing required argument(s) {missing}"
    for key, value in args.items():
        expected = props[key].get("type")
        if expected and not _matches(value, expected):
            return f"{spec.name}: argument {key!r} must be of type {expected}, got {type(value).__name__}"
    return None


def _matches(value: Any, expected: str) -> bool:
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, dict)
    return True


def render_output(value: Any) -> str:
    """Tool return value -> observation text (strings as-is, the rest as compact JSON)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=False)


@dataclass
class InProcessRunner:
    """Runs trusted Python functions in this process, bound to the world via ``envs.toolkit``."""

    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, fns: Iterable[Callable[..., Any]]) -> InProcessRunner:
        return cls({fn.__name__: fn for fn in fns})

    def __post_init__(self) -> None:
        self._specs = {name: tool_spec(fn, name) for name, fn in self.functions.items()}

    def specs(self) -> list[ToolSpec]:
        return list(self._specs.values())

    def call(self, name: str, args: dict[str, Any], access: WorldAccess) -> ToolResult:
        spec = self._specs.get(name)
        if spec is None:
            return ToolResult(False, "", f"unknown tool {name!r}; available: {sorted(self._specs)}")
        problem = check_args(spec, args)
        if problem:
            return ToolResult(False, "", problem)
        t0 = time.perf_counter()
        try:
            with toolkit.bound(access):
                value = self.functions[name](**args)
            out = render_output(value)
        except Exception as exc:  # a tool failure is an observation, never a crash
            return ToolResult(False, "", f"{type(exc).__name__}: {exc}", time.perf_counter() - t0)
        return ToolResult(True, out, None, time.perf_counter() - t0)
