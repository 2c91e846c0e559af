"""Tolerant parsing of model output for the evolution pipeline: gaps and tool drafts.

Models wrap JSON in code fences, nest lists under a key, add keys nobody asked for,
or answer in Markdown with Python blocks. Every parser here returns a ``Parsed``
(value or ``None``, plus the problems met as event strings) and never raises: a parse
failure is an event in the library's log, not an exception out of the run.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_FENCE = re.compile(r"```([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)
_IDENT_CHARS = re.compile(r"[^0-9a-zA-Z_]+")


@dataclass
class Parsed(Generic[T]):
    value: T | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Gap:
    """A missing capability diagnosed from failures."""

    name: str
    description: str
    signature: str = ""
    evidence: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ToolDraft:
    """A synthesized tool: source, tests and the schema the model claims for it."""

    name: str
    description: str
    parameters: dict[str, Any]
    code: str
    tests: str


def without_lone_surrogates(value: Any) -> Any:
    """``value`` with every lone UTF-16 surrogate backslash-escaped (a ``"\\ud800"`` JSON escape from a model
    or a sandbox decodes to one; no UTF-8 encoder, database or HTTP client accepts it)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    return value


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def extract_json(text: str) -> Parsed[Any]:
    """The first JSON object or array in ``text`` (inside a fence if there is one)."""
    candidates = [body for lang, body in fenced_blocks(text) if lang in ("json", "")] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start, ch in enumerate(candidate):
            if ch not in "[{":
                continue
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                continue
            except RecursionError:
                return Parsed(None, ["the JSON in the model output nests too deeply to read"])
            return Parsed(without_lone_surrogates(value))
    return Parsed(None, ["no JSON object or array found in the model output"])


def identifier(name: Any) -> str | None:
    """``name`` as a snake_case Python identifier, or None when nothing usable is left."""
    if not isinstance(name, str):
        return None
    ident = _IDENT_CHARS.sub("_", name.strip()).strip("_").lower()
    if not ident:
        return None
    return ident if ident[0].isalpha() else f"tool_{ident}"


def parse_gaps(text: str) -> Parsed[list[Gap]]:
    """Gaps from a list, ``{"gaps": [...]}``, or a single gap object; bad entries are skipped and noted."""
    raw = extract_json(without_lone_surrogates(text))
    if raw.value is None:
        return Parsed(None, raw.problems)
    value, problems = raw.value, []
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if "name" in value:
            value = [value]
        elif lists:
            if len(lists) > 1:
                problems.append("several lists in the output; used the first")
            value = lists[0]
    if not isinstance(value, list):
        return Parsed(None, [f"expected a list of gaps, got {type(value).__name__}"])
    gaps = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            problems.append(f"gap #{i} is a {type(item).__name__}, not an object; skipped")
            continue
        name = identifier(item.get("name") or item.get("tool_name") or item.get("tool"))
        if name is None:
            problems.append(f"gap #{i} has no usable name; skipped")
            continue
        extra = sorted(set(item) - {"name", "tool_name", "tool", "description", "signature", "evidence"})
        if extra:
            problems.append(f"gap {name!r}: ignored extra keys {extra}")
        evidence = item.get("evidence") or []
        gaps.append(
            Gap(
                name=name,
                description=str(item.get("description") or ""),
                signature=str(item.get("signature") or ""),
                evidence=[str(e) for e in evidence] if isinstance(evidence, list) else [str(evidence)],
            )
        )
    if not gaps:
        return Parsed(None, [*problems, "no usable gap in the output"])
    return Parsed(gaps, problems)


def parse_tool(text: str) -> Parsed[ToolDraft]:
    """A tool draft from JSON (name, description, parameters, code, tests) or from Markdown fences."""
    text = without_lone_surrogates(text)
    raw = extract_json(text)
    if isinstance(raw.value, dict) and isinstance(raw.value.get("code"), str):
        return _draft_from_json(raw.value)
    blocks = [body for lang, body in fenced_blocks(text) if lang in ("python", "py", "")]
    if not blocks:
        return Parsed(None, ["neither a JSON tool object nor a ```python block in the model output"])
    tests = "\n".join(b for b in blocks if re.search(r"^\s*def test", b, re.MULTILINE))
    code = "\n".join(b for b in blocks if not re.search(r"^\s*def test", b, re.MULTILINE))
    return _draft(code, tests, None, "", None, ["tool given as Markdown code blocks"])


def _draft_from_json(obj: dict[str, Any]) -> Parsed[ToolDraft]:
    problems = []
    extra = sorted(set(obj) - {"name", "description", "parameters", "code", "tests"})
    if extra:
        problems.append(f"ignored extra keys {extra}")
    tests = obj.get("tests") or ""
    if isinstance(tests, list):
        tests = "\n\n".join(str(t) for t in tests)
    params = obj.get("parameters")
    return _draft(str(obj["code"]), str(tests), obj.get("name"), str(obj.get("description") or ""), params, problems)


def _draft(code: str, tests: str, name: Any, description: str, params: Any, problems: list[str]) -> Parsed[ToolDraft]:
    code = _strip_fence(code)
    tests = _strip_fence(tests)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        return Parsed(None, [*problems, f"the tool code does not parse: {exc}"])
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if not functions:
        return Parsed(None, [*problems, "the tool code defines no top-level function"])
    wanted = identifier(name)
    fn = next((f for f in functions if f.name == wanted), None)
    if fn is None:
        fn = next((f for f in functions if not f.name.startswith("_")), functions[0])
        if wanted is not None:
            problems.append(f"named {wanted!r} but the code defines {fn.name!r}; using {fn.name!r}")
    if not isinstance(params, dict):
        params = _schema_from_signature(fn)
        problems.append("no parameters schema given; derived from the signature")
    if not description:
        description = ast.get_docstring(fn) or ""
    return Parsed(ToolDraft(fn.name, description, params, code, tests), problems)


def _strip_fence(text: str) -> str:
    blocks = fenced_blocks(text)
    return blocks[0][1] if blocks else text


_ANNOTATION_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean", "list": "array",
                     "dict": "object"}  # fmt: skip


def _schema_from_signature(fn: ast.FunctionDef) -> dict[str, Any]:
    props: dict[str, Any] = {}
    args = fn.args.args
    n_required = len(args) - len(fn.args.defaults)
    for arg in args:
        ann = arg.annotation.id if isinstance(arg.annotation, ast.Name) else None
        props[arg.arg] = {"type": _ANNOTATION_TYPES.get(ann or "", "string")}
    return {"type": "object", "properties": props, "required": [a.arg for a in args[:n_required]]}
