"""Adaptive tool injection: offer the model only the k library tools most relevant to a task.

Relevance is lexical: the words of a tool's name, description and parameters that also occur in
the task prompt, each weighted by its inverse document frequency over the tool set
(a word every tool shares says nothing). Ties keep the library order, so the choice
is deterministic. Affordances (``keep``) are always offered and do not count toward k.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "to",
        "in",
        "for",
        "on",
        "by",
        "or",
        "is",
        "are",
        "be",
        "as",
        "at",
        "with",
        "from",
        "this",
        "that",
        "it",
        "its",
    ]
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower().replace("_", " ")) if w not in _STOP and len(w) > 1}


def _document(tool: dict[str, Any]) -> str:
    """A tool's name, description, and parameter names and descriptions."""
    props = (tool.get("parameters") or {}).get("properties") or {}
    params = " ".join(f"{name} {spec.get('description', '')}" for name, spec in props.items() if isinstance(spec, dict))
    return f"{tool.get('name', '')} {tool.get('description', '')} {params}"


def relevance(tools: list[dict[str, Any]], prompt: str) -> list[float]:
    """A relevance score per tool (``ToolSpec.to_json()`` shape) for ``prompt``."""
    docs = [_words(_document(t)) for t in tools]
    df = Counter(w for d in docs for w in d)
    n = len(docs)
    query = _words(prompt)
    return [sum(math.log(1 + n / df[w]) for w in d & query) for d in docs]


def select_tools(
    tools: list[dict[str, Any]], prompt: str, k: int, keep: set[str] | frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """``keep`` tools plus the ``k`` most relevant others, in their original order."""
    library = [t for t in tools if t.get("name") not in keep]
    scores = relevance(library, prompt)
    ranked = sorted(range(len(library)), key=lambda i: (-scores[i], i))[:k]
    chosen = {library[i]["name"] for i in ranked}
    return [t for t in tools if t.get("name") in keep or t.get("name") in chosen]
