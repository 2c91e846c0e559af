"""DCQL: DataCorp's query language, the reference lexer, parser and interpreter.

The handbook page ``envs/datacorp/handbook/dcql.md`` is the user-facing
specification; this module implements exactly that text. In short:

* one statement: ``SELECT items FROM table [WHERE cond] [GROUP BY exprs]
  [ORDER BY key [ASC|DESC], ...] [LIMIT n] [;]``; keywords and function names are
  case-insensitive, table and column names are case-sensitive;
* expressions: literals (``'text'`` with ``''`` for a quote, ``12``, ``12.5``,
  ``TRUE``, ``FALSE``, ``NULL``), columns, ``+ - * /``, comparisons ``= != < <= > >=``,
  ``[NOT] IN (literals)``, ``NOT``, ``AND``, ``OR`` and parentheses;
* aggregates ``COUNT(*)``, ``COUNT(e)``, ``SUM``, ``AVG``, ``MIN``, ``MAX`` and the
  functions ``DC_CONVERT(amount, 'EUR')``, ``DC_HASH(value, n)`` and
  ``DC_TIMERANGE(ts, '24h')``;
* two-valued logic (``NULL = NULL`` is true, an ordering comparison with a NULL
  operand is false, NULL counts as false in ``AND``/``OR``/``NOT``/``WHERE``);
* numbers: ``int`` arithmetic is exact; every decimal result of arithmetic, ``SUM``
  and ``AVG`` is rounded to 6 decimal places, ``DC_CONVERT`` to 2;
* ordering: stable, NULL sorts before every value (first with ASC, last with DESC);
  without ORDER BY rows keep table order and groups the order of first appearance;
* every mistake is a ``DcqlError`` with a code ``DCQL-E001`` .. ``DCQL-E009``, the
  line and column, what was found and what is accepted. Nothing is ignored.

Public API: ``parse(text) -> Query``, ``execute(query_or_text, tables, *, rates, now)
-> Result``, ``result_to_json(result)``, ``Table``, ``Result``, ``DcqlError``,
``ERROR_CODES``, ``parse_type``, ``canonical_text``, ``parse_duration``.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, NoReturn

# -- error codes ---------------------------------------------------------------------
E_LEX = "DCQL-E001"
E_SYNTAX = "DCQL-E002"
E_TABLE = "DCQL-E003"
E_COLUMN = "DCQL-E004"
E_FUNCTION = "DCQL-E005"
E_ARGUMENT = "DCQL-E006"
E_TYPE = "DCQL-E007"
E_GROUPING = "DCQL-E008"
E_DATA = "DCQL-E009"

ERROR_CODES: dict[str, str] = {
    E_LEX: "lexical error: a character or literal DCQL does not accept",
    E_SYNTAX: "syntax error: a token where the grammar does not accept it (including SQL words DCQL lacks)",
    E_TABLE: "unknown table",
    E_COLUMN: "unknown or ambiguous column",
    E_FUNCTION: "unknown function",
    E_ARGUMENT: "wrong number of arguments or an invalid literal argument",
    E_TYPE: "type error",
    E_GROUPING: "aggregation error",
    E_DATA: "data error while executing",
}

DECIMAL_PLACES = 6  # arithmetic, SUM, AVG on decimals
MONEY_PLACES = 2  # DC_CONVERT
MAX_HASH_CHARS = 64


class DcqlError(ValueError):
    """A query DCQL rejects. ``code`` is one of ``ERROR_CODES``; ``position`` a 0-based offset."""

    def __init__(self, code: str, message: str, position: int | None = None, text: str | None = None) -> None:
        self.code = code
        self.reason = message
        self.position = position
        if position is not None and text is not None:
            line = text.count("\n", 0, position) + 1
            col = position - (text.rfind("\n", 0, position) + 1) + 1
            self.line: int | None = line
            self.column: int | None = col
            where = f" at line {line}, column {col}"
        else:
            self.line = self.column = None
            where = ""
        super().__init__(f"{code}{where}: {message}")


# -- types -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DType:
    """A static type: int, decimal, str, bool, ts, null, or enum with its values."""

    kind: str
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"enum({','.join(self.values)})" if self.kind == "enum" else self.kind

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "decimal", "ts")

    @property
    def textual(self) -> bool:
        return self.kind in ("str", "enum")


INT, DEC, STR, BOOL, TS, NULL = (DType(k) for k in ("int", "decimal", "str", "bool", "ts", "null"))
_SIMPLE_TYPES = {"int": INT, "decimal": DEC, "str": STR, "bool": BOOL, "ts": TS}
_ENUM_RE = re.compile(r"^enum\((.*)\)$", re.S)


def parse_type(name: str) -> DType:
    """A column type name (``int``, ``decimal``, ``str``, ``bool``, ``ts``, ``enum(a,b)``) -> DType."""
    text = name.strip()
    if text in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[text]
    m = _ENUM_RE.match(text)
    if m:
        values = tuple(v.strip() for v in re.split(r"[,|]", m.group(1)) if v.strip())
        if values:
            return DType("enum", values)
    raise ValueError(f"unknown column type {name!r}; accepted: int, decimal, str, bool, ts, enum(v1,v2,...)")


@dataclass
class Table:
    """A table: ``columns`` as (name, type name) pairs and ``rows`` as tuples of typed values.

    Values: int -> ``int``; decimal -> ``float`` (``Decimal``/``int`` accepted); str and
    enum -> ``str``; bool -> ``bool``; ts -> ``int`` unix seconds; NULL -> ``None``.
    """

    columns: list[tuple[str, str]]
    rows: list[tuple[Any, ...]]


@dataclass
class Result:
    """A query result: output column names, their types and the rows."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    types: list[str] = field(default_factory=list)


def result_to_json(result: Result) -> dict[str, Any]:
    """``{"columns": [...], "rows": [[...], ...]}`` with plain JSON values."""
    return {"columns": list(result.columns), "rows": [list(r) for r in result.rows]}


# -- lexer -----------------------------------------------------------------------------

_KEYWORD_TEXT = "SELECT FROM WHERE GROUP BY ORDER ASC DESC LIMIT AND OR NOT IN AS TRUE FALSE NULL"
KEYWORDS = frozenset(_KEYWORD_TEXT.split())
# SQL words that are not DCQL: rejected by name so that nobody believes they were applied.
_UNSUPPORTED_TEXT = (
    "DISTINCT JOIN INNER LEFT RIGHT OUTER FULL CROSS ON USING HAVING OFFSET UNION INTERSECT EXCEPT "
    "LIKE ILIKE BETWEEN IS CASE WHEN THEN ELSE END WITH INSERT UPDATE DELETE INTO VALUES CAST EXISTS "
    "ALL ANY TOP FETCH"
)
UNSUPPORTED = frozenset(_UNSUPPORTED_TEXT.split())
FUNCTIONS = ("COUNT", "SUM", "AVG", "MIN", "MAX", "DC_CONVERT", "DC_HASH", "DC_TIMERANGE")
AGGREGATES = frozenset(("COUNT", "SUM", "AVG", "MIN", "MAX"))

_OPERATORS = ("<=", ">=", "!=", "=", "<", ">", "(", ")", ",", "*", "+", "-", "/", ";")
_ACCEPTED_CHARS = "letters, digits, _, spaces, tabs, newlines, 'strings', and ( ) , * + - / = != < <= > >= ;"
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_SPACE = " \t\r\n"


@dataclass(frozen=True)
class Token:
    kind: str  # kw, unsupported, ident, str, int, dec, op, eof
    value: str
    pos: int
    end: int

    def describe(self) -> str:
        if self.kind == "eof":
            return "the end of the query"
        if self.kind == "kw":
            return f"keyword {self.value}"
        if self.kind == "unsupported":
            return f"{self.value}, which is not part of DCQL"
        if self.kind == "ident":
            return f"identifier {self.value!r}"
        if self.kind == "str":
            return f"string '{self.value}'"
        if self.kind in ("int", "dec"):
            return f"number {self.value}"
        return f"'{self.value}'"


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens (the last one is ``eof``); raises ``DcqlError`` E001."""
    toks: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            i += 1
            continue
        if ch == "'":
            j = i + 1
            parts = []
            while True:
                k = text.find("'", j)
                if k == -1:
                    raise DcqlError(E_LEX, "unterminated string literal (strings end with ')", i, text)
                parts.append(text[j:k])
                if k + 1 < n and text[k + 1] == "'":
                    parts.append("'")
                    j = k + 2
                    continue
                toks.append(Token("str", "".join(parts), i, k + 1))
                i = k + 1
                break
            continue
        if ch == '"':
            raise DcqlError(E_LEX, "found '\"'; strings use single quotes ('text') and identifiers are bare", i, text)
        m = _NUMBER_RE.match(text, i)
        if m:
            end = m.end()
            if end < n and (text[end].isalnum() or text[end] in "._"):
                bad = re.match(r"[0-9A-Za-z_.]+", text[i:]).group(0)  # type: ignore[union-attr]
                raise DcqlError(
                    E_LEX,
                    f"malformed number {bad!r}; numbers are digits with an optional .digits part (12, 12.5)",
                    i,
                    text,
                )
            tok = m.group(0)
            toks.append(Token("dec" if "." in tok else "int", tok, i, end))
            i = end
            continue
        m = _IDENT_RE.match(text, i)
        if m:
            word = m.group(0)
            up = word.upper()
            kind = "kw" if up in KEYWORDS else "unsupported" if up in UNSUPPORTED else "ident"
            toks.append(Token(kind, up if kind != "ident" else word, i, m.end()))
            i = m.end()
            continue
        if text.startswith("<>", i):
            raise DcqlError(E_LEX, "found '<>'; DCQL writes 'not equal' as !=", i, text)
        if text.startswith("==", i):
            raise DcqlError(E_LEX, "found '=='; DCQL writes equality as a single =", i, text)
        for op in _OPERATORS:
            if text.startswith(op, i):
                toks.append(Token("op", op, i, i + len(op)))
                i += len(op)
                break
        else:
            shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
            raise DcqlError(E_LEX, f"unexpected character {shown}; accepted: {_ACCEPTED_CHARS}", i, text)
    toks.append(Token("eof", "", n, n))
    return toks


# -- syntax tree -------------------------------------------------------------------------
# Nodes compare structurally (positions are excluded), so GROUP BY keys can be matched.


@dataclass(frozen=True)
class Node:
    pos: int = field(compare=False, kw_only=True)
    end: int = field(compare=False, kw_only=True)


@dataclass(frozen=True)
class Col(Node):
    name: str


@dataclass(frozen=True)
class Lit(Node):
    kind: str  # int, decimal, str, bool, null
    value: Any


@dataclass(frozen=True)
class Func(Node):
    name: str  # upper case
    args: tuple[Node, ...]
    star: bool = False


@dataclass(frozen=True)
class Unary(Node):
    op: str  # '-' or 'NOT'
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * / = != < <= > >= AND OR
    left: Node
    right: Node


@dataclass(frozen=True)
class InList(Node):
    operand: Node
    items: tuple[Lit, ...]
    negated: bool


@dataclass(frozen=True)
class SelectItem:
    expr: Node | None  # None for '*'
    alias: str | None
    pos: int
    text: str  # the expression as written


@dataclass(frozen=True)
class OrderItem:
    expr: Node
    desc: bool
    pos: int


@dataclass(frozen=True)
class Query:
    """A parsed query (not yet checked against tables; ``execute`` does that)."""

    text: str
    select: tuple[SelectItem, ...]
    table: str
    table_pos: int
    where: Node | None
    group_by: tuple[Node, ...]
    order_by: tuple[OrderItem, ...]
    limit: int | None


_CMP_OPS = ("=", "!=", "<", "<=", ">", ">=")
_CLAUSE_ORDER = "clauses come in the order SELECT, FROM, WHERE, GROUP BY, ORDER BY, LIMIT"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    # -- token helpers -----------------------------------------------------------------
    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> Token:
        tok = self.toks[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def at_kw(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind == "kw" and tok.value in words

    def at_op(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.value in ops

    def fail(self, expected: str, tok: Token | None = None) -> NoReturn:
        tok = tok or self.peek()
        msg = f"found {tok.describe()}; expected {expected}"
        if tok.kind == "kw" and tok.value in ("SELECT", "FROM", "WHERE", "GROUP", "ORDER", "LIMIT"):
            msg += f" ({_CLAUSE_ORDER}, each at most once)"
        raise DcqlError(E_SYNTAX, msg, tok.pos, self.text)

    def expect_kw(self, word: str, expected: str) -> Token:
        if not self.at_kw(word):
            self.fail(expected)
        return self.take()

    def expect_op(self, op: str, expected: str) -> Token:
        if not self.at_op(op):
            self.fail(expected)
        return self.take()

    def last_end(self) -> int:
        return self.toks[self.i - 1].end if self.i else 0

    # -- statement ---------------------------------------------------------------------
    def query(self) -> Query:
        self.expect_kw("SELECT", "SELECT (a query starts with SELECT)")
        items = [self.select_item()]
        while self.at_op(","):
            self.take()
            items.append(self.select_item())
        if not self.at_kw("FROM"):
            hint = "',' or FROM (an alias needs AS: expr AS name)" if self.peek().kind == "ident" else "',' or FROM"
            self.fail(f"an operator, {hint}")
        self.take()
        table_tok = self.peek()
        if table_tok.kind != "ident":
            self.fail("a table name")
        self.take()
        where = None
        group: list[Node] = []
        order: list[OrderItem] = []
        limit = None
        rest = ["WHERE", "GROUP BY", "ORDER BY", "LIMIT"]
        if self.at_kw("WHERE"):
            self.take()
            where = self.expr()
            rest = ["an operator (AND, OR, =, <, +, ...)", "GROUP BY", "ORDER BY", "LIMIT"]
        if self.at_kw("GROUP"):
            self.take()
            self.expect_kw("BY", "BY (GROUP BY)")
            group.append(self.expr())
            while self.at_op(","):
                self.take()
                group.append(self.expr())
            rest = ["',' or an operator", "ORDER BY", "LIMIT"]
        if self.at_kw("ORDER"):
            self.take()
            self.expect_kw("BY", "BY (ORDER BY)")
            order.append(self.order_item())
            while self.at_op(","):
                self.take()
                order.append(self.order_item())
            rest = ["',' or an operator", "ASC", "DESC", "LIMIT"]
        if self.at_kw("LIMIT"):
            self.take()
            tok = self.peek()
            if tok.kind != "int":
                self.fail("a non-negative integer after LIMIT")
            self.take()
            limit = int(tok.value)
            rest = []
        if self.at_op(";"):
            self.take()
            if self.peek().kind != "eof":
                self.fail("the end of the query after ';' (one statement per query)")
        if self.peek().kind != "eof":
            self.fail(", ".join([*rest, "';'", "or the end of the query"]) if rest else "';' or the end of the query")
        return Query(self.text, tuple(items), table_tok.value, table_tok.pos, where, tuple(group), tuple(order), limit)

    def select_item(self) -> SelectItem:
        tok = self.peek()
        if self.at_op("*"):
            self.take()
            return SelectItem(None, None, tok.pos, "*")
        expr = self.expr()
        text = self.text[expr.pos : expr.end]
        alias = None
        if self.at_kw("AS"):
            self.take()
            name = self.peek()
            if name.kind != "ident":
                self.fail("an alias name after AS (letters, digits, _; not a keyword)")
            self.take()
            alias = name.value
        return SelectItem(expr, alias, tok.pos, text)

    def order_item(self) -> OrderItem:
        tok = self.peek()
        if tok.kind == "int" and self.peek(1).kind in ("eof", "kw", "op") and not self._continues_expr(1):
            raise DcqlError(
                E_SYNTAX,
                f"found number {tok.value} as an ORDER BY key; DCQL does not order by position, "
                "use the column name or alias",
                tok.pos,
                self.text,
            )
        expr = self.expr()
        desc = False
        if self.at_kw("ASC", "DESC"):
            desc = self.take().value == "DESC"
        return OrderItem(expr, desc, tok.pos)

    def _continues_expr(self, k: int) -> bool:
        tok = self.peek(k)
        return tok.kind == "op" and tok.value in ("+", "-", "*", "/", *_CMP_OPS)

    # -- expressions -------------------------------------------------------------------
    def expr(self) -> Node:
        return self.or_expr()

    def or_expr(self) -> Node:
        left = self.and_expr()
        while self.at_kw("OR"):
            self.take()
            right = self.and_expr()
            left = Binary("OR", left, right, pos=left.pos, end=right.end)
        return left

    def and_expr(self) -> Node:
        left = self.not_expr()
        while self.at_kw("AND"):
            self.take()
            right = self.not_expr()
            left = Binary("AND", left, right, pos=left.pos, end=right.end)
        return left

    def not_expr(self) -> Node:
        if self.at_kw("NOT"):
            tok = self.take()
            operand = self.not_expr()
            return Unary("NOT", operand, pos=tok.pos, end=operand.end)
        return self.cmp_expr()

    def cmp_expr(self) -> Node:
        left = self.add_expr()
        node: Node = left
        if self.at_op(*_CMP_OPS):
            op = self.take().value
            right = self.add_expr()
            node = Binary(op, left, right, pos=left.pos, end=right.end)
        elif self.at_kw("IN") or (self.at_kw("NOT") and self.peek(1).kind == "kw" and self.peek(1).value == "IN"):
            negated = self.take().value == "NOT"
            if negated:
                self.take()
            self.expect_op("(", "'(' after IN (IN takes a parenthesised list of literals)")
            items = [self.literal_item()]
            while self.at_op(","):
                self.take()
                items.append(self.literal_item())
            close = self.expect_op(")", "',' or ')' in the IN list")
            node = InList(left, tuple(items), negated, pos=left.pos, end=close.end)
        if self.at_op(*_CMP_OPS) or self.at_kw("IN"):
            self.fail("AND, OR or the end of the condition (comparisons cannot be chained; use AND)")
        return node

    def literal_item(self) -> Lit:
        tok = self.peek()
        if self.at_op("-") and self.peek(1).kind in ("int", "dec"):
            self.take()
            num = self.take()
            lit = self._literal(num)
            return Lit(lit.kind, -lit.value, pos=tok.pos, end=num.end)
        if tok.kind in ("str", "int", "dec") or (tok.kind == "kw" and tok.value in ("TRUE", "FALSE", "NULL")):
            return self._literal(self.take())
        self.fail("a literal in the IN list (string, number, TRUE, FALSE or NULL)")

    def _literal(self, tok: Token) -> Lit:
        if tok.kind == "str":
            return Lit("str", tok.value, pos=tok.pos, end=tok.end)
        if tok.kind == "int":
            return Lit("int", int(tok.value), pos=tok.pos, end=tok.end)
        if tok.kind == "dec":
            return Lit("decimal", float(tok.value), pos=tok.pos, end=tok.end)
        if tok.value == "NULL":
            return Lit("null", None, pos=tok.pos, end=tok.end)
        return Lit("bool", tok.value == "TRUE", pos=tok.pos, end=tok.end)

    def add_expr(self) -> Node:
        left = self.mul_expr()
        while self.at_op("+", "-"):
            op = self.take().value
            right = self.mul_expr()
            left = Binary(op, left, right, pos=left.pos, end=right.end)
        return left

    def mul_expr(self) -> Node:
        left = self.unary()
        while self.at_op("*", "/"):
            op = self.take().value
            right = self.unary()
            left = Binary(op, left, right, pos=left.pos, end=right.end)
        return left

    def unary(self) -> Node:
        if self.at_op("-"):
            tok = self.take()
            operand = self.unary()
            return Unary("-", operand, pos=tok.pos, end=operand.end)
        return self.primary()

    def primary(self) -> Node:
        tok = self.peek()
        if self.at_op("("):
            self.take()
            inner = self.expr()
            close = self.expect_op(")", "')' or an operator")
            # Keep the parenthesised span so output names show the text as written.
            return _respan(inner, tok.pos, close.end)
        if tok.kind in ("str", "int", "dec") or (tok.kind == "kw" and tok.value in ("TRUE", "FALSE", "NULL")):
            return self._literal(self.take())
        if tok.kind == "ident":
            self.take()
            if self.at_op("("):
                return self.call(tok)
            return Col(tok.value, pos=tok.pos, end=tok.end)
        self.fail("an expression (a column, a literal, a function call or '(')")

    def call(self, name: Token) -> Func:
        self.take()  # '('
        fname = name.value.upper()
        args: list[Node] = []
        star = False
        if self.at_op("*"):
            self.take()
            star = True  # only COUNT accepts it; checked with the other argument rules
        elif not self.at_op(")"):
            args.append(self.expr())
            while self.at_op(","):
                self.take()
                args.append(self.expr())
        close = self.expect_op(")", "',' or ')' to close the argument list" if not star else "')' after COUNT(*")
        return Func(fname, tuple(args), star, pos=name.pos, end=close.end)


def _respan(node: Node, pos: int, end: int) -> Node:
    # A copy with the wider span (positions are not part of equality). No object.__setattr__:
    # this module also runs inside the tool sandbox, whose static policy refuses dunder access.
    return replace(node, pos=pos, end=end)


def parse(text: str) -> Query:
    """Parse a DCQL query (syntax only); raises ``DcqlError`` (E001, E002, E006)."""
    if not isinstance(text, str):
        raise DcqlError(E_SYNTAX, f"a query must be a string, got {type(text).__name__}")
    if not text.strip():
        raise DcqlError(E_SYNTAX, "empty query; expected SELECT ...", 0, text)
    return _Parser(text).query()


# -- values ----------------------------------------------------------------------------


def canonical_text(value: Any) -> str | None:
    """The canonical text DC_HASH hashes (None for NULL).

    str -> itself; int/ts -> decimal digits; bool -> ``true``/``false``; decimal -> the
    shortest text that reads back as the same double, without exponent, trailing zeros or
    trailing point (so 12.0 -> ``12``, 0.1 -> ``0.1``, -2.50 -> ``-2.5``).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DcqlError(E_DATA, f"cannot hash the non-finite number {value!r}")
        text = format(Decimal(repr(value)), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    if isinstance(value, Decimal):
        return canonical_text(float(value))
    return str(value)


_DURATION_RE = re.compile(r"^([1-9][0-9]*)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``'90s'``, ``'15m'``, ``'24h'``, ``'7d'`` -> seconds (one positive integer and one unit)."""
    m = _DURATION_RE.match(text)
    if not m:
        raise ValueError(
            f"{text!r} is not a duration; a duration is a positive integer followed by one unit "
            "s, m, h or d (e.g. '90s', '15m', '24h', '7d')"
        )
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is None else (1, value)


# -- compiler ----------------------------------------------------------------------------
# An expression compiles to (static type, closure). Closures take a row tuple (row
# context) or a _Group (group context); the combining code is the same for both.

Fn = Callable[[Any], Any]


class _Group:
    __slots__ = ("key", "rows")

    def __init__(self, key: tuple[Any, ...], rows: list[tuple[Any, ...]]) -> None:
        self.key = key
        self.rows = rows


def _const(value: Any) -> Fn:
    return lambda _x: value


class _Compiler:
    def __init__(self, q: Query, table: Table, rates: Mapping[str, float], now: int) -> None:
        self.q = q
        self.text = q.text
        self.rates = rates
        self.now = now
        self.table = table
        self.cols: dict[str, tuple[int, DType]] = {}
        for i, (name, tname) in enumerate(table.columns):
            try:
                self.cols[name] = (i, parse_type(tname))
            except ValueError as exc:
                raise DcqlError(E_DATA, f"table {q.table}: column {name!r}: {exc}") from None
        self._getters: dict[str, Fn] = {}
        # GROUP BY keys by structure (deduplicated); compiled lazily, in row context.
        self.group_exprs: dict[Node, int] = {}
        for g in q.group_by:
            self.group_exprs.setdefault(g, len(self.group_exprs))
        self._group_compiled: dict[int, tuple[DType, Fn]] = {}

    def err(self, code: str, msg: str, node: Node | None) -> NoReturn:
        raise DcqlError(code, msg, node.pos if node is not None else None, self.text)

    def src(self, node: Node) -> str:
        return self.text[node.pos : node.end]

    def group_key(self, node: Node) -> tuple[DType, Fn]:
        """Type and row closure of a GROUP BY key (aggregates are not allowed in it)."""
        i = self.group_exprs[node]
        if i not in self._group_compiled:
            self._group_compiled[i] = self.compile(node, False, "GROUP BY")
        return self._group_compiled[i]

    # -- columns -------------------------------------------------------------------------
    def column(self, node: Col, hint: str = "") -> tuple[int, DType]:
        found = self.cols.get(node.name)
        if found is None:
            names = list(self.cols)
            close = difflib.get_close_matches(node.name, names, n=1) or [
                n for n in names if n.lower() == node.name.lower()
            ]
            extra = f" (did you mean {close[0]!r}?)" if close else ""
            self.err(
                E_COLUMN,
                f"unknown column {node.name!r} in table {self.q.table}{extra}{hint}; columns: {', '.join(names)}",
                node,
            )
        return found

    def getter(self, name: str) -> Fn:
        fn = self._getters.get(name)
        if fn is None:
            i, dtype = self.cols[name]
            fn = operator.itemgetter(i)
            if dtype.kind in ("decimal", "ts"):
                # Accept Decimal/int decimals and datetime-free ints; convert only when needed.
                conv: Callable[[Any], Any] = float if dtype.kind == "decimal" else int
                want = float if dtype.kind == "decimal" else int
                rows = self.table.rows
                if any(v is not None and type(v) is not want for v in map(fn, rows)):
                    base = fn

                    def fn(r: Any, base: Fn = base, conv: Callable[[Any], Any] = conv) -> Any:
                        v = base(r)
                        return None if v is None else conv(v)

            self._getters[name] = fn
        return fn

    # -- expressions -------------------------------------------------------------------------
    def compile(self, node: Node, group: bool, ctx: str) -> tuple[DType, Fn]:
        """Compile in row context (``group`` False) or group context (``group`` True)."""
        if group and node in self.group_exprs:
            i = self.group_exprs[node]
            return self.group_key(node)[0], (lambda g, i=i: g.key[i])
        if isinstance(node, Lit):
            return _LIT_TYPES[node.kind], _const(node.value)
        if isinstance(node, Col):
            if group:
                self.column(node)
                self.err(
                    E_GROUPING,
                    f"column {node.name!r} in {ctx} must appear in GROUP BY or be used inside an aggregate "
                    "function (COUNT, SUM, AVG, MIN, MAX)",
                    node,
                )
            i, dtype = self.column(
                node, " (select aliases can only be used alone as ORDER BY keys)" if ctx == "ORDER BY" else ""
            )
            return dtype, self.getter(node.name)
        if isinstance(node, Func):
            return self.function(node, group, ctx)
        if isinstance(node, Unary):
            return self.unary(node, group, ctx)
        if isinstance(node, Binary):
            return self.binary(node, group, ctx)
        if isinstance(node, InList):
            return self.in_list(node, group, ctx)
        raise AssertionError(f"unknown node {node!r}")

    def unary(self, node: Unary, group: bool, ctx: str) -> tuple[DType, Fn]:
        t, f = self.compile(node.operand, group, ctx)
        if node.op == "NOT":
            self.need_bool(t, node.operand, "NOT")
            return BOOL, (lambda x: f(x) is not True)
        if not (t.numeric or t.kind == "null"):
            self.err(E_TYPE, f"unary '-' needs a number, found {t} ({self.src(node.operand)})", node.operand)
        rt = DEC if t.kind == "decimal" else INT if t.kind != "null" else NULL

        def neg(x: Any) -> Any:
            v = f(x)
            return None if v is None else -v

        return rt, neg

    def need_bool(self, t: DType, node: Node, what: str) -> None:
        if t.kind not in ("bool", "null"):
            self.err(E_TYPE, f"{what} needs a boolean operand, found {t} ({self.src(node)})", node)

    def binary(self, node: Binary, group: bool, ctx: str) -> tuple[DType, Fn]:
        lt, lf = self.compile(node.left, group, ctx)
        rt, rf = self.compile(node.right, group, ctx)
        op = node.op
        if op in ("AND", "OR"):
            self.need_bool(lt, node.left, op)
            self.need_bool(rt, node.right, op)
            if op == "AND":
                return BOOL, (lambda x: lf(x) is True and rf(x) is True)
            return BOOL, (lambda x: lf(x) is True or rf(x) is True)
        if op in _CMP_OPS:
            self.check_comparable(lt, rt, node, op)
            if op == "=":
                return BOOL, (lambda x: lf(x) == rf(x))
            if op == "!=":
                return BOOL, (lambda x: lf(x) != rf(x))
            cmp = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op]

            def ordered(x: Any) -> bool:
                a = lf(x)
                if a is None:
                    return False
                b = rf(x)
                return b is not None and cmp(a, b)

            return BOOL, ordered
        # arithmetic
        for t, side in ((lt, node.left), (rt, node.right)):
            if not (t.numeric or t.kind == "null"):
                self.err(E_TYPE, f"operator '{op}' needs numbers, found {t} ({self.src(side)})", side)
        if op == "/":
            rtype = DEC

            def div(x: Any) -> Any:
                a = lf(x)
                b = rf(x)
                if a is None or b is None or b == 0:
                    return None
                return round(a / b, DECIMAL_PLACES)

            return rtype, div
        py = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]
        is_dec = "decimal" in (lt.kind, rt.kind)
        rtype = DEC if is_dec else INT

        if is_dec:

            def arith(x: Any) -> Any:
                a = lf(x)
                b = rf(x)
                if a is None or b is None:
                    return None
                return round(py(a, b), DECIMAL_PLACES)

        else:

            def arith(x: Any) -> Any:
                a = lf(x)
                b = rf(x)
                if a is None or b is None:
                    return None
                return py(a, b)

        return rtype, arith

    def check_comparable(self, lt: DType, rt: DType, node: Binary | InList, op: str) -> None:
        ordering = op not in ("=", "!=", "IN", "NOT IN")
        left = node.left if isinstance(node, Binary) else node.operand
        if "null" in (lt.kind, rt.kind):
            if ordering:
                self.err(E_TYPE, f"NULL can only be compared with = or != (or IN), not with {op}", node)
            return
        ok = (
            (lt.numeric and rt.numeric)
            or (lt.textual and rt.textual)
            or (lt.kind == "bool" and rt.kind == "bool" and not ordering)
        )
        if not ok:
            why = " (booleans only support = and !=)" if lt.kind == rt.kind == "bool" else ""
            if lt.kind == "ts" or rt.kind == "ts":
                why = " (ts values are unix seconds: compare them with integers)"
            self.err(E_TYPE, f"cannot compare {lt} with {rt} using {op}{why}", left)
        if isinstance(node, Binary):
            for a, b in ((lt, node.right), (rt, node.left)):
                self.check_enum_literal(a, b)

    def check_enum_literal(self, t: DType, other: Node) -> None:
        if t.kind == "enum" and isinstance(other, Lit) and other.kind == "str" and other.value not in t.values:
            self.err(
                E_TYPE,
                f"'{other.value}' is not a value of the enum ({', '.join(t.values)})",
                other,
            )

    def in_list(self, node: InList, group: bool, ctx: str) -> tuple[DType, Fn]:
        t, f = self.compile(node.operand, group, ctx)
        op = "NOT IN" if node.negated else "IN"
        for item in node.items:
            self.check_comparable(t, _LIT_TYPES[item.kind], node, op)
            self.check_enum_literal(t, item)
        values = frozenset(item.value for item in node.items)
        if node.negated:
            return BOOL, (lambda x: f(x) not in values)
        return BOOL, (lambda x: f(x) in values)

    # -- functions ----------------------------------------------------------------------------
    def arity(self, node: Func, n: int, signature: str) -> None:
        if node.star and node.name != "COUNT":
            self.err(E_ARGUMENT, f"'*' is only accepted in COUNT(*), not in {node.name}", node)
        if len(node.args) != n:
            self.err(
                E_ARGUMENT,
                f"{node.name} takes {n} argument{'s' if n != 1 else ''} {signature}, got {len(node.args)}",
                node,
            )

    def function(self, node: Func, group: bool, ctx: str) -> tuple[DType, Fn]:
        name = node.name
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            extra = f" (did you mean {close[0]}?)" if close else ""
            self.err(E_FUNCTION, f"unknown function {name}{extra}; functions: {', '.join(FUNCTIONS)}", node)
        if name in AGGREGATES:
            return self.aggregate(node, group, ctx)
        if name == "DC_CONVERT":
            return self.dc_convert(node, group, ctx)
        if name == "DC_HASH":
            return self.dc_hash(node, group, ctx)
        return self.dc_timerange(node, group, ctx)

    def aggregate(self, node: Func, group: bool, ctx: str) -> tuple[DType, Fn]:
        name = node.name
        if name == "COUNT":
            if node.star:
                if node.args:
                    self.err(E_ARGUMENT, "COUNT takes either * or one argument", node)
            else:
                self.arity(node, 1, "(* or a value)")
        else:
            self.arity(node, 1, "(a value)")
        if not group:
            where = (
                "inside another aggregate function"
                if ctx == "an aggregate"
                else f"in {ctx}"
                + (" (aggregates belong in SELECT and ORDER BY)" if ctx in ("WHERE", "GROUP BY") else "")
            )
            self.err(E_GROUPING, f"aggregate function {name} is not allowed {where}", node)
        if node.star:
            return INT, (lambda g: len(g.rows))
        arg = node.args[0]
        t, f = self.compile(arg, False, "an aggregate")
        if name == "COUNT":

            def count(g: _Group) -> int:
                n = 0
                for v in map(f, g.rows):
                    if v is not None:
                        n += 1
                return n

            return INT, count
        if name in ("SUM", "AVG"):
            if not (t.numeric or t.kind == "null"):
                self.err(E_TYPE, f"{name} needs numbers, found {t} ({self.src(arg)})", arg)
            exact = t.kind in ("int", "ts")
            if name == "SUM":

                def total(g: _Group) -> Any:
                    vals = [v for v in map(f, g.rows) if v is not None]
                    if not vals:
                        return None
                    return sum(vals) if exact else round(math.fsum(vals), DECIMAL_PLACES)

                return (INT if exact else DEC if t.kind != "null" else NULL), total

            def avg(g: _Group) -> Any:
                vals = [v for v in map(f, g.rows) if v is not None]
                if not vals:
                    return None
                s = sum(vals) if exact else math.fsum(vals)
                return round(s / len(vals), DECIMAL_PLACES)

            return (DEC if t.kind != "null" else NULL), avg
        # MIN / MAX
        if t.kind not in ("int", "decimal", "ts", "str", "enum", "bool", "null"):
            self.err(E_TYPE, f"{name} cannot order values of type {t}", arg)
        pick = min if name == "MIN" else max

        def extreme(g: _Group) -> Any:
            vals = [v for v in map(f, g.rows) if v is not None]
            return pick(vals) if vals else None

        return t, extreme

    def literal_arg(self, node: Func, index: int, kind: str, what: str) -> Lit:
        arg = node.args[index]
        if not isinstance(arg, Lit) or arg.kind != kind:
            self.err(E_ARGUMENT, f"argument {index + 1} of {node.name} must be {what}, found {self.src(arg)}", arg)
        return arg

    def dc_convert(self, node: Func, group: bool, ctx: str) -> tuple[DType, Fn]:
        self.arity(node, 2, "(amount, 'CUR')")
        t, amount = self.compile(node.args[0], group, ctx)
        if not (t.numeric or t.kind == "null"):
            self.err(E_TYPE, f"DC_CONVERT needs a numeric amount, found {t} ({self.src(node.args[0])})", node.args[0])
        target = self.literal_arg(node, 1, "str", "a currency code string literal such as 'EUR'")
        if target.value not in self.rates:
            self.err(
                E_ARGUMENT,
                f"unknown currency '{target.value}' in DC_CONVERT; currencies with a rate: "
                f"{', '.join(sorted(self.rates))}",
                target,
            )
        if "currency" not in self.cols:
            self.err(
                E_COLUMN,
                f"DC_CONVERT converts from each row's own 'currency' column, and table {self.q.table} has none",
                node,
            )
        cur_node = Col("currency", pos=node.pos, end=node.end)
        if group:
            if cur_node not in self.group_exprs:
                self.err(
                    E_GROUPING,
                    f"DC_CONVERT outside an aggregate reads each row's 'currency', so in {ctx} it needs "
                    "currency in GROUP BY (or put it inside SUM/AVG/MIN/MAX)",
                    node,
                )
            ci = self.group_exprs[cur_node]
            currency: Fn = lambda g: g.key[ci]  # noqa: E731
        else:
            currency = self.getter("currency")
        rates = self.rates
        to_rate = float(rates[target.value])

        def convert(x: Any) -> Any:
            a = amount(x)
            if a is None:
                return None
            c = currency(x)
            if c is None:
                return None
            r = rates.get(c)
            if r is None:
                raise DcqlError(
                    E_DATA,
                    f"a row has currency {c!r}, which has no exchange rate; currencies with a rate: "
                    f"{', '.join(sorted(rates))}",
                )
            return round(a * r / to_rate, MONEY_PLACES)

        return DEC, convert

    def dc_hash(self, node: Func, group: bool, ctx: str) -> tuple[DType, Fn]:
        self.arity(node, 2, "(value, n)")
        _t, f = self.compile(node.args[0], group, ctx)
        n_lit = self.literal_arg(node, 1, "int", f"an integer literal from 1 to {MAX_HASH_CHARS}")
        n = int(n_lit.value)
        if not 1 <= n <= MAX_HASH_CHARS:
            self.err(E_ARGUMENT, f"DC_HASH length must be from 1 to {MAX_HASH_CHARS}, got {n}", n_lit)
        sha = hashlib.sha256

        def digest(x: Any) -> Any:
            text = canonical_text(f(x))
            if text is None:
                return None
            return sha(text.encode("utf-8")).hexdigest()[:n]

        return STR, digest

    def dc_timerange(self, node: Func, group: bool, ctx: str) -> tuple[DType, Fn]:
        self.arity(node, 2, "(ts, 'duration')")
        t, f = self.compile(node.args[0], group, ctx)
        if t.kind not in ("ts", "int", "null"):
            self.err(
                E_TYPE, f"DC_TIMERANGE needs a ts (or int) value, found {t} ({self.src(node.args[0])})", node.args[0]
            )
        dur = self.literal_arg(node, 1, "str", "a duration string literal such as '24h'")
        try:
            seconds = parse_duration(dur.value)
        except ValueError as exc:
            self.err(E_ARGUMENT, str(exc), dur)
        lo, hi = self.now - seconds, self.now

        def within(x: Any) -> bool:
            v = f(x)
            return v is not None and lo <= v < hi

        return BOOL, within


_LIT_TYPES = {"int": INT, "decimal": DEC, "str": STR, "bool": BOOL, "null": NULL}


def _references_column(node: Node) -> bool:
    if isinstance(node, Col):
        return True
    if isinstance(node, Func):
        return node.name == "DC_CONVERT" or any(_references_column(a) for a in node.args)
    if isinstance(node, Unary):
        return _references_column(node.operand)
    if isinstance(node, Binary):
        return _references_column(node.left) or _references_column(node.right)
    if isinstance(node, InList):
        return _references_column(node.operand)
    return False


def _contains_aggregate(node: Node | None) -> bool:
    if node is None:
        return False
    if isinstance(node, Func):
        return node.name in AGGREGATES or any(_contains_aggregate(a) for a in node.args)
    if isinstance(node, Unary):
        return _contains_aggregate(node.operand)
    if isinstance(node, Binary):
        return _contains_aggregate(node.left) or _contains_aggregate(node.right)
    if isinstance(node, InList):
        return _contains_aggregate(node.operand)
    return False


# -- execution -----------------------------------------------------------------------------


def execute(
    query: Query | str,
    tables: Mapping[str, Table],
    *,
    rates: Mapping[str, float],
    now: int,
) -> Result:
    """Run a query over ``tables``. ``rates[c]`` is the value of one unit of currency ``c``
    in the common base currency (so the base has rate 1); ``now`` is the export clock
    (unix seconds) that DC_TIMERANGE windows end at."""
    q = parse(query) if isinstance(query, str) else query
    table = tables.get(q.table)
    if table is None:
        close = difflib.get_close_matches(q.table, list(tables), n=1)
        extra = f" (did you mean {close[0]!r}?)" if close else ""
        raise DcqlError(
            E_TABLE, f"unknown table {q.table!r}{extra}; tables: {', '.join(sorted(tables))}", q.table_pos, q.text
        )
    c = _Compiler(q, table, rates, now)

    grouped = bool(q.group_by) or any(_contains_aggregate(s.expr) for s in q.select)

    # Clauses are checked in the order they are written: SELECT, WHERE, GROUP BY, ORDER BY.
    names: list[str] = []
    types: list[DType] = []
    fns: list[Fn] = []
    for item in q.select:
        if item.expr is None:
            if grouped:
                raise DcqlError(
                    E_GROUPING,
                    "SELECT * cannot be used with GROUP BY or aggregates; list the grouped columns",
                    item.pos,
                    q.text,
                )
            for name, _tname in table.columns:
                names.append(name)
                types.append(c.cols[name][1])
                fns.append(c.getter(name))
            continue
        t, f = c.compile(item.expr, grouped, "SELECT")
        names.append(item.alias or item.text)
        types.append(t)
        fns.append(f)

    pred: Fn | None = None
    if q.where is not None:
        wt, pred = c.compile(q.where, False, "WHERE")
        if wt.kind not in ("bool", "null"):
            c.err(E_TYPE, f"WHERE needs a boolean condition, found {wt} ({c.src(q.where)})", q.where)

    key_fns: list[Fn] = []
    for g in c.group_exprs:
        key_fns.append(c.group_key(g)[1])
        if not _references_column(g):
            c.err(
                E_GROUPING,
                f"GROUP BY key {c.src(g)} does not depend on any column (DCQL does not group by position)",
                g,
            )

    # ORDER BY keys: (output index, None) for a bare alias, else (None, closure over a row or group)
    aliases: dict[str, list[int]] = {}
    for i, item in enumerate(q.select):
        if item.alias is not None:
            aliases.setdefault(item.alias, []).append(i)
    keys: list[tuple[int | None, Fn | None, bool]] = []
    for o in q.order_by:
        if isinstance(o.expr, Col) and o.expr.name in aliases:
            hits = aliases[o.expr.name]
            if len({q.select[i].expr for i in hits}) > 1:
                c.err(
                    E_COLUMN, f"ORDER BY key {o.expr.name!r} is ambiguous: several SELECT items use that alias", o.expr
                )
            keys.append((_output_index(q, table, hits[0]), None, o.desc))
        else:
            _t, kf = c.compile(o.expr, grouped, "ORDER BY")
            keys.append((None, kf, o.desc))

    # -- run ------------------------------------------------------------------------------
    rows = table.rows
    if pred is not None:
        rows = [r for r in rows if pred(r) is True]
    units: list[Any]
    if grouped:
        if q.group_by:
            groups: dict[Any, list[tuple[Any, ...]]] = {}
            if len(key_fns) == 1:
                kf0 = key_fns[0]
                for r in rows:
                    k = kf0(r)
                    bucket = groups.get(k)
                    if bucket is None:
                        groups[k] = [r]
                    else:
                        bucket.append(r)
                units = [_Group((k,), v) for k, v in groups.items()]
            else:
                for r in rows:
                    k = tuple(f(r) for f in key_fns)
                    bucket = groups.get(k)
                    if bucket is None:
                        groups[k] = [r]
                    else:
                        bucket.append(r)
                units = [_Group(k, v) for k, v in groups.items()]
        else:
            units = [_Group((), rows)]
    else:
        units = rows
        if keys and all(idx is None for idx, _f, _d in keys):
            # Sort the rows before projecting, so LIMIT saves the projection work.
            units = list(units)
            for _idx, kf_, desc in reversed(keys):
                assert kf_ is not None
                units.sort(key=_unit_key(kf_), reverse=desc)
            keys = []
        if not keys and q.limit is not None:
            units = units[: q.limit]

    out = [tuple(f(u) for f in fns) for u in units]
    if keys:
        recs = list(zip(out, units))
        # Successive stable sorts, last key first; reverse=True keeps ties in input order.
        for idx_, kf_, desc in reversed(keys):
            recs.sort(key=_record_key(idx_, kf_), reverse=desc)
        out = [rec[0] for rec in recs]
    if q.limit is not None:
        out = out[: q.limit]
    return Result(names, out, [str(t) for t in types])


def _unit_key(fn: Fn) -> Callable[[Any], tuple[int, Any]]:
    return lambda unit: _sort_key(fn(unit))


def _record_key(index: int | None, fn: Fn | None) -> Callable[[tuple[tuple[Any, ...], Any]], tuple[int, Any]]:
    if index is not None:
        return lambda rec: _sort_key(rec[0][index])
    assert fn is not None
    return lambda rec: _sort_key(fn(rec[1]))


def _output_index(q: Query, table: Table, item_index: int) -> int:
    """Output column index of SELECT item ``item_index`` (``*`` expands to every column)."""
    return sum(len(table.columns) if item.expr is None else 1 for item in q.select[:item_index])
