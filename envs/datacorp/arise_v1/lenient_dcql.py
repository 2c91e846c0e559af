"""DCQL with the paper's semantics: a lenient interpreter that ignores what it does not understand.

The graders use it because the paper's expected values came from it (``run_dcql``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from envs.datacorp.arise_v1.constants import RATES

# =================================================================================
# DCQL with the paper's semantics (lenient: what it does not understand is ignored)
# =================================================================================
_DCQL_TOKEN = re.compile(
    r'"[^"]*"'  # double-quoted string
    r"|'[^']*'"  # single-quoted string
    r"|[<>!=]=?"  # comparison operators
    r"|[(),*]"  # punctuation
    r"|[A-Za-z_]\w*"  # identifiers and keywords
    r"|\d+(?:\.\d+)?"  # numbers
    r"|\S+"  # anything else, one chunk
)
_DURATION = re.compile(r"^(\d+)([hms])$")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_CLAUSES = ("WHERE", "GROUP", "ORDER", "LIMIT")


def _unquote(tok: str) -> str:
    if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "\"'":
        return tok[1:-1]
    return tok


@dataclass(frozen=True)
class PaperSelectItem:
    kind: str  # "star" | "column" | "function"
    name: str = ""
    args: tuple[str, ...] = ()
    alias: str | None = None

    @property
    def output(self) -> str:
        if self.alias:
            return self.alias
        return self.name.lower() if self.kind == "function" else self.name


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class PaperTimeRange:
    field: str
    duration: str


@dataclass
class DcqlQuery:
    select: list[PaperSelectItem]
    table: str
    where: list[Condition | PaperTimeRange] = field(default_factory=list)
    group_by: str | None = None
    order_by: tuple[str, bool] | None = None  # (column, descending)
    limit: int | None = None
    ignored: list[str] = field(default_factory=list)  # trailing tokens the paper's parser dropped


class _Tokens:
    def __init__(self, query: str) -> None:
        self.toks = _DCQL_TOKEN.findall(query)
        self.pos = 0

    def peek(self, ahead: int = 0) -> str | None:
        i = self.pos + ahead
        return self.toks[i] if i < len(self.toks) else None

    def peek_upper(self) -> str:
        tok = self.peek()
        return tok.upper() if tok is not None else ""

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None:
            raise ValueError(f"DCQL: unexpected end of query, expected {expected or 'a token'}")
        if expected is not None and tok.upper() != expected:
            raise ValueError(f"DCQL: expected {expected}, got {tok!r}")
        self.pos += 1
        return tok


def parse_dcql(query: str) -> DcqlQuery:
    """Parse DCQL the paper's way.

    ``SELECT items FROM table`` then any of ``WHERE c [AND c ...]``, ``GROUP BY col``,
    ``ORDER BY col [ASC|DESC]``, ``LIMIT n``. At the first token that starts none of
    these (``OR``, ``HAVING``, ``NOT``, a typo, ...) parsing stops and the rest of the
    query is dropped without a word (kept in ``ignored`` for diagnostics only).
    Aggregate calls such as ``COUNT(*)`` are not part of the language (a syntax error).
    """
    t = _Tokens(query)
    t.take("SELECT")
    select: list[PaperSelectItem] = []
    while True:
        tok = t.peek()
        if tok == "*":
            t.take()
            select.append(PaperSelectItem("star"))
        elif tok is not None and tok.upper().startswith("DC_") and t.peek(1) == "(":
            name = t.take().upper()
            t.take("(")
            args: list[str] = []
            while t.peek() != ")":
                if t.peek() is None:
                    raise ValueError(f"DCQL: {name}( is not closed")
                arg = t.take()
                if arg != ",":
                    args.append(_unquote(arg))
            t.take(")")
            alias = None
            if t.peek_upper() == "AS":
                t.take()
                alias = t.take()
            select.append(PaperSelectItem("function", name, tuple(args), alias))
        else:
            name = t.take()
            alias = None
            if t.peek_upper() == "AS":
                t.take()
                alias = t.take()
            select.append(PaperSelectItem("column", name, (), alias))
        if t.peek() == ",":
            t.take()
        else:
            break
    t.take("FROM")
    q = DcqlQuery(select=select, table=t.take())
    while t.peek() is not None:
        kw = t.peek_upper()
        if kw not in _CLAUSES:
            break
        t.take()
        if kw == "WHERE":
            q.where = _parse_where(t)
        elif kw == "GROUP":
            t.take("BY")
            q.group_by = t.take()
        elif kw == "ORDER":
            t.take("BY")
            col = t.take()
            desc = False
            if t.peek_upper() in ("ASC", "DESC"):
                desc = t.take().upper() == "DESC"
            q.order_by = (col, desc)
        else:
            tok = t.take()
            try:
                q.limit = int(tok)
            except ValueError:
                raise ValueError(f"DCQL: LIMIT needs an integer, got {tok!r}") from None
    q.ignored = t.toks[t.pos :]
    return q


def _parse_where(t: _Tokens) -> list[Condition | PaperTimeRange]:
    out: list[Condition | PaperTimeRange] = []
    while True:
        if t.peek_upper() == "DC_TIMERANGE":
            t.take()
            t.take("(")
            col = t.take()
            t.take(",")
            duration = _unquote(t.take())
            t.take(")")
            out.append(PaperTimeRange(col, duration))
        else:
            col, op, raw = t.take(), t.take(), t.take()
            value: Any
            if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
                value = raw[1:-1]
            else:
                try:
                    value = int(raw)
                except ValueError:
                    try:
                        value = float(raw)
                    except ValueError:
                        value = raw
            out.append(Condition(col, op, value))
        if t.peek_upper() == "AND":
            t.take()
        else:
            return out


@dataclass
class DcqlResult:
    columns: list[str]
    rows: list[dict[str, Any]]
    ignored: list[str]  # tokens dropped by the parser
    notes: list[str]  # other silent behaviours that applied (diagnostics, never shown by the paper)

    @property
    def row_count(self) -> int:
        return len(self.rows)


def dc_convert(amount: Any, target: str, source: Any = "USD") -> float:
    """``amount`` in ``source`` currency expressed in ``target`` (unknown currencies count as USD)."""
    try:
        value = float(amount)
    except (TypeError, ValueError):
        return 0.0
    src = RATES.get(str(source).upper(), 1.0)
    tgt = RATES.get(str(target).upper(), 1.0)
    return round(value * src / tgt, 2)


def dc_hash(value: Any) -> str:
    """First 16 hex characters of sha256(str(value))."""
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()[:16]


def _call(item: PaperSelectItem, row: dict[str, Any], notes: list[str]) -> Any:
    if item.name == "DC_CONVERT" and len(item.args) >= 2:
        return dc_convert(row.get(item.args[0], 0), item.args[1], row.get("currency", "USD"))
    if item.name == "DC_HASH" and item.args:
        return dc_hash(row.get(item.args[0], ""))
    note = f"{item.name}({', '.join(item.args)}) is not understood: null values"
    if note not in notes:
        notes.append(note)
    return None


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op in ("=", "!="):
        try:
            same = float(actual) == float(expected)
        except (TypeError, ValueError):
            same = str(actual) == str(expected)
        return same if op == "=" else not same
    try:
        a, b = float(actual), float(expected)
    except (TypeError, ValueError):
        return False
    return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}.get(op, False)


def run_dcql(query: str, tables: dict[str, list[dict[str, Any]]]) -> DcqlResult:
    """Execute DCQL with the paper's semantics over in-memory tables.

    Order of work: every ``DC_TIMERANGE`` (window ending at the largest numeric value
    of its column; a column without numbers filters nothing), then the conditions
    (rows where the column is missing never match; ``=`` compares as numbers when both
    sides are numeric, else as text; an unknown operator matches nothing), then
    ``GROUP BY`` (groups sorted by their text; ``*`` gives ``count``, other columns the
    group's first value) or the projection, then ``ORDER BY`` on the *projected* rows
    (a column the projection dropped sorts nothing), then ``LIMIT``.
    """
    q = parse_dcql(query)
    if q.table not in tables:
        raise ValueError(f"DCQL: table {q.table!r} not found; available: {sorted(tables)}")
    notes: list[str] = []
    if q.ignored:
        notes.append(f"ignored trailing tokens: {' '.join(q.ignored)}")
    rows = [dict(r) for r in tables[q.table]]
    for tr in (w for w in q.where if isinstance(w, PaperTimeRange)):
        m = _DURATION.match(tr.duration.strip())
        if m is None:
            raise ValueError(f"DCQL: invalid DC_TIMERANGE duration {tr.duration!r} (use e.g. 24h, 30m, 90s)")
        stamps = [r[tr.field] for r in rows if isinstance(r.get(tr.field), (int, float))]
        if not stamps:
            notes.append(f"DC_TIMERANGE({tr.field}): no numeric values, nothing filtered")
            continue
        cutoff = max(stamps) - int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        rows = [r for r in rows if isinstance(r.get(tr.field), (int, float)) and r[tr.field] >= cutoff]
    for c in (w for w in q.where if isinstance(w, Condition)):
        if c.op not in ("=", "!=", ">", "<", ">=", "<="):
            notes.append(f"operator {c.op!r} is not understood: the condition matches nothing")
        rows = [r for r in rows if r.get(c.field) is not None and _compare(r[c.field], c.op, c.value)]
    out: list[dict[str, Any]]
    if q.group_by:
        groups: dict[Any, list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(r.get(q.group_by), []).append(r)
        out = []
        for key in sorted(groups, key=str):
            members = groups[key]
            row: dict[str, Any] = {q.group_by: key}
            for item in q.select:
                if item.kind == "star":
                    row["count"] = len(members)
                elif item.kind == "column" and item.name != q.group_by:
                    row[item.name] = members[0].get(item.name)
                elif item.kind == "function":
                    row[item.output] = _call(item, members[0], notes)
            out.append(row)
        columns = list(out[0]) if out else []
    elif any(item.kind == "star" for item in q.select):
        out = rows
        columns = list(rows[0]) if rows else []
    else:
        columns = [item.output for item in q.select]
        out = []
        for r in rows:
            out.append(
                {
                    item.output: (_call(item, r, notes) if item.kind == "function" else r.get(item.name))
                    for item in q.select
                }
            )
    if q.order_by:
        col, desc = q.order_by
        if out and all(col not in r for r in out):
            notes.append(f"ORDER BY {col}: not a column of the result, order unchanged")
        else:
            out = sorted(out, key=lambda r: (r.get(col) is None, r.get(col, "")), reverse=desc)
    if q.limit is not None:
        out = out[: q.limit]
    return DcqlResult(columns, out, list(q.ignored), notes)
