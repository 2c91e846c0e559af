"""How the simulated model reads a request: the tools it offers, and the API a prompt documents.

The sim's skill is knowing *what* it needs (a plan's call is an intention: the reference
tool's name, description and parameters); *which* tool does that, and under which
argument names, it reads off the request like a real model:

* ``choose_tool``: among the offered tools (name, description, parameter schema) the one
  whose description says it does the intended job (word overlap of the descriptions at
  least ``MIN_DESCRIPTION_MATCH``), the best by description, name and parameter names;
  a tool whose description does not say so is not trusted, whatever its name;
* ``fill_args``: the intended arguments under the chosen tool's parameter names (the same
  name, else the parameter whose name and description best match the intended one);
  arguments the schema has no place for are dropped;
* ``documented_api``: the functions a tool-author prompt documents
  (``- name(arg: type = default, ...) -> type: summary`` lines after "functions of
  `module`"), which the author's code calls (``agents/sim/author.py``).

So a lying description, schema or API text misleads the sim as it would a real model.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from typing import Any

# Share of description words in common for the model to take a tool for the intended job. Different
# tools of the shipped worlds share at most half their words (log_count vs log_group_count: 0.5), so a
# tool that does a neighbouring job is not taken for this one (the first cut, 0.3, was: an arise run
# then called log_group_count for log_count, never reported log_count missing and evolved fewer tools).
MIN_DESCRIPTION_MATCH = 0.6
MIN_PARAMETER_MATCH = 0.34  # the same for an argument's place in a schema

_WORD = re.compile(r"[a-z][a-z0-9]+")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "this",
        "that",
        "are",
        "all",
        "any",
        "its",
        "into",
        "per",
        "each",
        "one",
        "only",
        "not",
        "but",
        "can",
        "than",
        "of",
        "a",
        "an",
        "to",
        "in",
        "on",
        "or",
        "by",
        "as",
        "is",
        "be",
        "at",
        "it",
    ]
)


def words(text: str) -> set[str]:
    """Content words of ``text`` (lower case, split at non-letters and underscores)."""
    return {w for w in _WORD.findall(text.lower().replace("_", " ")) if w not in _STOP}


def overlap(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two word sets (0 when both are empty)."""
    return len(a & b) / len(a | b) if a | b else 0.0


@dataclass(frozen=True)
class OfferedTool:
    name: str
    description: str
    parameters: dict[str, Any]

    @property
    def properties(self) -> dict[str, Any]:
        props = self.parameters.get("properties") if isinstance(self.parameters, dict) else None
        return props if isinstance(props, dict) else {}


def offered_tools(tools: list[dict[str, Any]]) -> list[OfferedTool]:
    """The request's tools (``{name, description, parameters}``, or OpenAI's ``{function: {...}}``)."""
    out = []
    for t in tools:
        inner = t.get("function")
        fn: dict[str, Any] = inner if isinstance(inner, dict) else t
        params = fn.get("parameters")
        out.append(
            OfferedTool(
                str(fn.get("name")), str(fn.get("description") or ""), params if isinstance(params, dict) else {}
            )
        )
    return out


def _summary(description: str) -> set[str]:
    """The words of a description's first paragraph (the part that says what a tool does)."""
    return words(description.strip().split("\n\n")[0])


def choose_tool(intended: OfferedTool, offered: list[OfferedTool]) -> OfferedTool | None:
    """The offered tool that does ``intended``'s job, by its description, name and parameters (None: none does)."""
    want = _summary(intended.description)
    best: tuple[float, str] | None = None
    chosen = None
    for tool in offered:
        desc = overlap(want, _summary(tool.description))
        if desc < MIN_DESCRIPTION_MATCH:
            continue
        name = 1.0 if tool.name == intended.name else overlap(words(tool.name), words(intended.name))
        params = overlap(set(tool.properties), set(intended.properties))
        score = (desc + name + params, tool.name)
        if best is None or score[0] > best[0]:
            best, chosen = score, tool
    return chosen


def fill_args(intended: OfferedTool, args: dict[str, Any], tool: OfferedTool) -> dict[str, Any]:
    """``args`` (named as ``intended`` names them) under ``tool``'s parameter names."""
    props = tool.properties
    out: dict[str, Any] = {}
    free = [p for p in props if p not in args]
    for arg, value in args.items():
        if arg in props:
            out[arg] = value
            continue
        about = words(arg) | words(str((intended.properties.get(arg) or {}).get("description") or ""))
        scored = [(overlap(about, words(p) | words(str(props[p].get("description") or ""))), p) for p in free]
        match = max(scored, default=(0.0, ""))
        if match[0] >= MIN_PARAMETER_MATCH:
            out[match[1]] = value
            free.remove(match[1])
    return out


# -- the tool author's API ---------------------------------------------------------------------
@dataclass(frozen=True)
class DocumentedFunction:
    name: str
    params: tuple[str, ...]  # in order
    summary: str


_MODULE = re.compile(r"functions of `([A-Za-z_][\w.]*)`")
_FUNCTION = re.compile(r"^- ([A-Za-z_]\w*)\((.*)\) -> [^:]+: (.*)$", re.MULTILINE)


def _param_names(text: str) -> tuple[str, ...]:
    """Parameter names of ``arg: type = default, ...`` (brackets in types do not split)."""
    names, depth, start = [], 0, 0
    for i, ch in enumerate(text + ","):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            part = text[start:i].strip()
            if part:
                names.append(part.split(":")[0].split("=")[0].strip())
            start = i + 1
    return tuple(names)


def documented_api(prompt: str) -> tuple[str | None, dict[str, DocumentedFunction]]:
    """(module, functions by name) that ``prompt`` documents for tools to call; (None, {}) if it documents none."""
    module = _MODULE.search(prompt)
    functions = {m.group(1): DocumentedFunction(m.group(1), _param_names(m.group(2)), m.group(3).strip())
                 for m in _FUNCTION.finditer(prompt)}  # fmt: skip
    return (module.group(1) if module else None), functions


class UndocumentedAPI(Exception):
    """The prompt documents no function for something the tool must do (the message says what)."""


def _real_toolkit() -> dict[str, inspect.Signature]:
    from envs import toolkit
    from envs.access import ALL_AFFORDANCES

    return {name: inspect.signature(getattr(toolkit, name)) for name in ALL_AFFORDANCES}


def _capability(name: str) -> set[str]:
    """What the model means by ``name`` (its skill): the words of that affordance's first docstring line."""
    from envs import toolkit

    return words((inspect.getdoc(getattr(toolkit, name)) or "").splitlines()[0] if hasattr(toolkit, name) else name)


def against_api(code: str, prompt: str, toolkit_module: str = "envs.toolkit") -> str:
    """``code`` (written for ``toolkit_module``) rewritten against the API ``prompt`` documents.

    Each toolkit function the code imports becomes the documented function of the same name or,
    failing that, the one whose summary says it does the same thing; its keyword arguments take the
    documented parameter names (by position). The import names the documented module. Raises
    ``UndocumentedAPI`` when the prompt documents no module or no function for something the code does.
    """
    module, documented = documented_api(prompt)
    if module is None or not documented:
        raise UndocumentedAPI("the prompt documents no API for tools to reach the company's systems")
    tree = ast.parse(code)
    before = ast.dump(tree)
    real = _real_toolkit()
    renames: dict[str, DocumentedFunction] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == toolkit_module:
            for alias in stmt.names:
                renames[alias.name] = _documented_for(alias.name, documented)
            stmt.module = module
            stmt.names = [ast.alias(renames[a.name].name, a.asname) for a in stmt.names]
    for call in ast.walk(tree):  # keyword arguments first, while calls still carry the names the code knows
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in renames:
            doc = renames[call.func.id]
            params = list(real[call.func.id].parameters) if call.func.id in real else []
            for kw in call.keywords:
                if kw.arg in params and params.index(kw.arg) < len(doc.params):
                    kw.arg = doc.params[params.index(kw.arg)]
    for name in ast.walk(tree):
        if isinstance(name, ast.Name) and name.id in renames:
            name.id = renames[name.id].name
    if ast.dump(tree) == before:  # the prompt documents the API the code was written for: keep its text
        return code
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _documented_for(name: str, documented: dict[str, DocumentedFunction]) -> DocumentedFunction:
    if name in documented:
        return documented[name]
    want = _capability(name)
    scored = sorted(((overlap(want, words(d.summary)), d.name) for d in documented.values()), reverse=True)
    if scored and scored[0][0] >= MIN_DESCRIPTION_MATCH:
        return documented[scored[0][1]]
    raise UndocumentedAPI(f"the prompt documents no function that does what {name} does ({' '.join(sorted(want))})")
