"""Typed comparators and lenient answer extraction.

A comparator turns (predicted, truth) into a ``Grade``: a score in [0, 1] and a
breakdown saying why. Scores are binary for scalars, sets and lists, and per-key
partial credit for dicts (fraction of keys right). Success means ``score == 1``.
Every comparator describes itself (``describe``) so the prompt states exactly what
is compared and with which tolerance.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

# jsonschema imports every optional format checker that is installed. rfc3987_syntax (pulled in by
# jupyterlab, a dev dependency) compiles lark grammars at import: about 1 s in every process that
# grades, and the test suite starts ~150 of them. We never check formats (no format_checker is
# passed), so it is kept out; a process that imported it already is left as it is.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
import jsonschema  # noqa: E402

_MISSING = object()


@dataclass
class Grade:
    score: float
    success: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "success": self.success, "detail": self.detail}


class Comparator(ABC):
    """Base class: ``compare`` returns (ok, note) for one value."""

    @abstractmethod
    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        """(is it right, a short note when it is not)."""

    @abstractmethod
    def describe(self) -> str:
        """How the value is compared, for the prompt."""

    def grade(self, pred: Any, truth: Any) -> Grade:
        ok, note = self.compare(pred, truth)
        return Grade(1.0 if ok else 0.0, ok, {"note": note} if note else {})


def shown(value: Any, limit: int = 200) -> str:
    """``repr(value)`` for a grader's note, cut at ``limit`` characters: a note explains, the answer
    itself is already in the record (a 1 MB answer was copied into every note)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _as_number(x: Any) -> float | None:
    if isinstance(x, bool):
        return None
    try:
        if isinstance(x, (int, float)):
            return float(x)
        if isinstance(x, str):
            return float(x.strip())
    except (ValueError, OverflowError):  # not a number, or beyond float range
        return None
    return None


@dataclass(frozen=True)
class ExactInt(Comparator):
    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        num = _as_number(pred)
        if num is None or not math.isfinite(num) or num != int(num):
            return False, f"expected an integer, got {shown(pred)}"
        return int(num) == truth, "" if int(num) == truth else "wrong value"

    def describe(self) -> str:
        return "integer, exact"


@dataclass(frozen=True)
class ExactStr(Comparator):
    """Exact string match after trimming whitespace (case-sensitive unless ``casefold``)."""

    casefold: bool = False

    def _norm(self, s: str) -> str:
        s = s.strip()
        return s.casefold() if self.casefold else s

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        if not isinstance(pred, str):
            return False, f"expected a string, got {type(pred).__name__}"
        ok = self._norm(pred) == self._norm(str(truth))
        return ok, "" if ok else "wrong value"

    def describe(self) -> str:
        return "string, exact" + (" (case-insensitive)" if self.casefold else "")


@dataclass(frozen=True)
class ExactBool(Comparator):
    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        if not isinstance(pred, bool):
            return False, f"expected true/false, got {shown(pred)}"
        return pred == truth, "" if pred == truth else "wrong value"

    def describe(self) -> str:
        return "boolean"


@dataclass(frozen=True)
class Tolerance(Comparator):
    """|pred - truth| <= abs_tol + rel_tol * |truth|."""

    abs_tol: float = 0.0
    rel_tol: float = 0.0

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        num = _as_number(pred)
        if num is None or not math.isfinite(num):
            return False, f"expected a number, got {shown(pred)}"
        ok = abs(num - float(truth)) <= self.abs_tol + self.rel_tol * abs(float(truth)) + 1e-12
        return ok, "" if ok else "outside tolerance"

    def describe(self) -> str:
        parts = []
        if self.abs_tol:
            parts.append(f"absolute tolerance {self.abs_tol:g}")
        if self.rel_tol:
            parts.append(f"relative tolerance {self.rel_tol:g}")
        return "number, " + (" + ".join(parts) if parts else "exact")


@dataclass(frozen=True)
class SetOf(Comparator):
    """Same set of elements (order and duplicates ignored). Jaccard is reported."""

    item: Comparator = field(default_factory=ExactStr)

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        if not isinstance(pred, list):
            return False, f"expected a list, got {type(pred).__name__}"
        p = {_canon(x) for x in pred}
        t = {_canon(x) for x in truth}
        ok = p == t
        union = p | t
        jac = len(p & t) / len(union) if union else 1.0
        return ok, "" if ok else f"jaccard={jac:.3f}"

    def describe(self) -> str:
        return "set (order ignored, exact elements)"


@dataclass(frozen=True)
class OrderedList(Comparator):
    item: Comparator = field(default_factory=ExactStr)

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        if not isinstance(pred, list):
            return False, f"expected a list, got {type(pred).__name__}"
        if len(pred) != len(truth):
            return False, f"expected {len(truth)} items, got {len(pred)}"
        for i, (p, t) in enumerate(zip(pred, truth, strict=True)):
            ok, note = self.item.compare(p, t)
            if not ok:
                return False, f"item {i}: {note}"
        return True, ""

    def describe(self) -> str:
        return f"ordered list of {self.item.describe()}"


@dataclass(frozen=True)
class ListOfRecords(Comparator):
    """A set of records: each record compared field-wise, order ignored, exact match needed."""

    fields: tuple[tuple[str, Comparator], ...]

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        if not isinstance(pred, list) or not all(isinstance(x, dict) for x in pred):
            return False, "expected a list of objects"
        remaining = list(truth)
        for rec in pred:
            for i, t in enumerate(remaining):
                if all(self._field_ok(rec, t, k, c) for k, c in self.fields):
                    remaining.pop(i)
                    break
            else:
                return False, f"unexpected record {shown(rec)}"
        return (not remaining), "" if not remaining else f"{len(remaining)} record(s) missing"

    @staticmethod
    def _field_ok(rec: dict[str, Any], t: dict[str, Any], key: str, comp: Comparator) -> bool:
        if key not in rec:
            return False
        if t[key] is None:
            return rec[key] is None
        return comp.compare(rec[key], t[key])[0]

    def describe(self) -> str:
        return "list of records, order ignored: " + ", ".join(f"{k} ({c.describe()})" for k, c in self.fields)


@dataclass(frozen=True)
class Nullable(Comparator):
    """``null`` is right exactly when the truth is null; otherwise delegate."""

    inner: Comparator

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        if truth is None:
            return pred is None, "" if pred is None else "expected null"
        if pred is None:
            return False, "got null"
        return self.inner.compare(pred, truth)

    def describe(self) -> str:
        return f"{self.inner.describe()} or null"


@dataclass(frozen=True)
class DictOf(Comparator):
    """Per-key comparison; score = fraction of keys right (partial credit)."""

    keys: tuple[tuple[str, Comparator], ...]

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        g = self.grade(pred, truth)
        return g.success, ""

    def grade(self, pred: Any, truth: Any) -> Grade:
        if not isinstance(pred, dict):
            return Grade(0.0, False, {"note": f"expected a JSON object, got {type(pred).__name__}"})
        per_key: dict[str, Any] = {}
        right = 0
        for key, comp in self.keys:
            val = pred.get(key, _MISSING)
            if val is _MISSING:
                per_key[key] = "missing"
                continue
            ok, note = comp.compare(val, truth[key])
            per_key[key] = "ok" if ok else (note or "wrong")
            right += ok
        score = right / len(self.keys)
        return Grade(score, right == len(self.keys), {"keys": per_key})

    def describe(self) -> str:
        return "object; each key scored separately: " + "; ".join(f"{k}: {c.describe()}" for k, c in self.keys)


@dataclass(frozen=True)
class CountMap(Comparator):
    """A ``{name: int}`` map. Score = fraction of the truth's keys with the exact count,
    halved when the answer has extra keys; success needs every key right and no extras."""

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        return self.grade(pred, truth).success, ""

    def grade(self, pred: Any, truth: Any) -> Grade:
        if not isinstance(pred, dict):
            return Grade(0.0, False, {"note": f"expected a JSON object, got {type(pred).__name__}"})
        right = sum(ExactInt().compare(pred[k], v)[0] for k, v in truth.items() if k in pred)
        extra = sorted(set(pred) - set(truth))
        score = (right / len(truth) if truth else float(not pred)) * (0.5 if extra else 1.0)
        ok = right == len(truth) and not extra
        return Grade(score, ok, {"right": right, "of": len(truth), "extra_keys": extra})

    def describe(self) -> str:
        return "object of name -> integer; every name present with its exact count, no extra names"


CheckFn = Callable[[str, Any], tuple[bool, str]]


@dataclass(frozen=True)
class FreeTextCheck(Comparator):
    """A named free-text check (the paper protocols' substring-style graders).

    Subclasses set ``checks`` = {kind: (check(text, truth) -> (ok, note), description)};
    ``free_text`` makes ``grade_answer`` pass the raw answer text.
    """

    kind: str
    free_text: ClassVar[bool] = True
    checks: ClassVar[dict[str, tuple[CheckFn, str]]] = {}
    label: ClassVar[str] = "free-text"

    def __post_init__(self) -> None:
        if self.kind not in self.checks:
            raise ValueError(f"unknown {self.label} check {self.kind!r}; known: {', '.join(sorted(self.checks))}")

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        text = pred if isinstance(pred, str) else json.dumps(pred, ensure_ascii=False)
        return self.checks[self.kind][0](text, truth)

    def describe(self) -> str:
        return f"free text; {self.checks[self.kind][1]}"


def _canon(x: Any) -> str:
    if isinstance(x, str):
        return x.strip()
    if isinstance(x, float) and x.is_integer():  # 17.0 and 17 are the same element
        return json.dumps(int(x))
    return json.dumps(x, sort_keys=True)


# -- answer extraction --------------------------------------------------------
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


class AnswerParseError(ValueError):
    pass


def extract_answer(raw: Any) -> tuple[Any, str]:
    """Lenient extraction of a JSON answer; returns (value, how it was found).

    ``how`` is ``value`` (already decoded, not a string), ``json`` (the string is
    JSON), ``fenced`` (last fenced block), ``embedded`` (last balanced ``{...}`` or
    ``[...]`` in free text) or ``text`` (no JSON anywhere: the trimmed string itself,
    so a bare string answer like ``payments`` stands). Raises ``AnswerParseError``
    for an empty answer.
    """
    if not isinstance(raw, str):
        return raw, "value"
    text = raw.strip()
    if not text:
        raise AnswerParseError("empty answer")
    try:
        return json.loads(text), "json"
    except (json.JSONDecodeError, RecursionError, ValueError):  # RecursionError: absurd nesting
        pass
    for block in reversed(_FENCE.findall(text)):
        try:
            return json.loads(block.strip()), "fenced"
        except (json.JSONDecodeError, RecursionError, ValueError):
            continue
    # The last balanced {...} or [...] block that parses wins, whichever kind ends later.
    for start, end in _blocks_by_end(text):
        try:
            return json.loads(text[start : end + 1]), "embedded"
        except (json.JSONDecodeError, RecursionError, ValueError):
            continue
    return text, "text"


def _blocks_by_end(text: str, limit: int = 64) -> list[tuple[int, int]]:
    """Balanced bracket spans, latest-ending first (one linear pass; at most ``limit``).

    Strings are not tracked, so a bracket inside a JSON string can mis-pair a span; the
    span then fails to parse and the next one is tried.
    """
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    pairs = {"}": "{", "]": "["}
    for i, ch in enumerate(text):
        if ch in "{[":
            stack.append((ch, i))
        elif ch in pairs:
            if stack and stack[-1][0] == pairs[ch]:
                spans.append((stack.pop()[1], i))
            else:
                stack.clear()  # unbalanced: nothing open so far can close validly
    spans.sort(key=lambda se: (-se[1], se[0]))
    return spans[:limit]


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def schema_error(value: Any, schema: dict[str, Any]) -> str | None:
    """The first way ``value`` violates ``schema`` (a short message), or None when it fits."""
    if not schema:
        return None
    err = jsonschema.exceptions.best_match(_validator(json.dumps(schema, sort_keys=True)).iter_errors(value))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path)
    return f"{where + ': ' if where else ''}{err.message}"[:300]


def grade_answer(raw: Any, truth: Any, comparator: Comparator, schema: dict[str, Any] | None = None) -> Grade:
    """Extract and grade; parse failures are reported as such (score 0).

    Comparators with ``free_text = True`` (the arise_v1 substring checks) receive the
    answer as text: a JSON string value as-is, anything else JSON-encoded. With ``schema``,
    the breakdown also reports ``schema_error`` (None when the answer fits).
    """
    if getattr(comparator, "free_text", False):
        text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
        return comparator.grade(text, truth)
    try:
        value, how = extract_answer(raw)
    except AnswerParseError as exc:
        return Grade(0.0, False, {"parse_error": str(exc)})
    grade = comparator.grade(value, truth)
    grade.detail["extraction"] = how
    if schema is not None:  # does the answer fit the schema the prompt stated?
        grade.detail["schema_error"] = schema_error(value, schema)
    return grade
