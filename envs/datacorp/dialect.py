"""The ``.dc`` export dialect: a typed, pipe-delimited CSV variant with a strict reader.

Normative description for agents: ``handbook/dialect.md``. In short::

    ## dc-version: 1
    ## schema: orders
    ## exported: 1718000000
    ## columns: order_id:int|note:str?|status:enum(paid,shipped)
    1|"say ""hi"" | wrap"|paid
    2|\\N|shipped

* The header is the run of lines starting with ``##`` at the top of the file, each
  ``## key: value``; ``dc-version`` (must be ``1``), ``schema``, ``exported`` (unix
  seconds) and ``columns`` are required, other keys (``part``) are informative.
* ``columns`` lists ``name:type`` separated by ``|``; types are ``int``, ``decimal``
  (exactly two digits after the point), ``str``, ``bool`` (``true``/``false``), ``ts``
  (non-negative unix seconds) and ``enum(a,b,c)``; a trailing ``?`` makes a column
  nullable.
* Fields are separated by ``|``. A field that contains ``|``, ``"``, a line feed or a
  carriage return, that starts with ``#``, or that is the literal text ``\\N`` is
  written in double quotes with inner quotes doubled; a quoted field may span lines.
  Unquoted ``\\N`` is null; an empty unquoted field is the empty string.
* Records end at a line feed outside quotes; blank lines outside quotes are skipped.
* A record is *malformed* when its quoting is broken, its field count differs from
  the columns, a value does not parse as its column's type, or a non-nullable column
  is null. Malformed records are reported with the line they start on and skipped;
  reading resumes on the line after the last line the record occupied (for quoting
  errors: the line where the error was found; an unterminated quote runs to the end of
  the file).

``read_dc`` never accepts a malformed record silently; ``write_dc`` produces files
that ``read_dc`` reads back exactly (round trip).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

DC_VERSION = 1
NULL = "\\N"
EXPORT_DIR = "exports"
TYPES = ("int", "decimal", "str", "bool", "ts", "enum")
REQUIRED_META = ("dc-version", "schema", "exported", "columns")
# Malformed-record kinds: the prefix of every reason string (``"<kind>: <details>"``).
MALFORMED_KINDS = ("quote", "unterminated_quote", "field_count", "type", "null")

_META = re.compile(r"^##\s*([a-z][a-z0-9_-]*)\s*:\s*(.*?)\s*$")
_COLUMN = re.compile(r"^([a-z_][a-z0-9_]*):(int|decimal|str|bool|ts|enum\(([^()|]*)\))(\?)?$")
_ENUM_VALUE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_TS = re.compile(r"0|[1-9][0-9]*")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]{2}")
_NEEDS_QUOTES = re.compile(r'[|"\n\r]')


class DcFormatError(ValueError):
    """The file as a whole cannot be read (bad or missing header); rows are never this."""


@dataclass(frozen=True)
class Column:
    """One typed column of a ``.dc`` file."""

    name: str
    type: str
    values: tuple[str, ...] = ()
    nullable: bool = False

    def spec(self) -> str:
        t = f"enum({','.join(self.values)})" if self.type == "enum" else self.type
        return f"{self.name}:{t}{'?' if self.nullable else ''}"


def parse_columns(spec: str) -> tuple[Column, ...]:
    """Parse a ``## columns:`` value (``name:type|name:type?|...``)."""
    if not spec.strip():
        raise DcFormatError("the columns header is empty")
    cols: list[Column] = []
    for part in spec.split("|"):
        m = _COLUMN.match(part.strip())
        if not m:
            raise DcFormatError(
                f"bad column spec {part.strip()!r}; expected name:type with type one of "
                "int, decimal, str, bool, ts, enum(a,b,...) and an optional trailing '?'"
            )
        name, typ, enum_body, q = m.group(1), m.group(2), m.group(3), m.group(4)
        values: tuple[str, ...] = ()
        if typ.startswith("enum"):
            values = tuple(v.strip() for v in (enum_body or "").split(","))
            if not values or not all(_ENUM_VALUE.match(v) for v in values):
                raise DcFormatError(f"bad enum values in {part.strip()!r}")
            if len(set(values)) != len(values):
                raise DcFormatError(f"duplicate enum values in {part.strip()!r}")
            typ = "enum"
        cols.append(Column(name, typ, values, q == "?"))
    names = [c.name for c in cols]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DcFormatError(f"duplicate column name(s) {dup}")
    return tuple(cols)


def format_columns(columns: Sequence[Column]) -> str:
    return "|".join(c.spec() for c in columns)


# -- writing -------------------------------------------------------------------------


def quote(text: str) -> str:
    """Enclose ``text`` in double quotes, doubling inner quotes."""
    return '"' + text.replace('"', '""') + '"'


def encode_text(text: str) -> str:
    """A str/enum value as field text, quoted exactly when the dialect requires it."""
    if text == NULL or text.startswith("#") or _NEEDS_QUOTES.search(text):
        return quote(text)
    return text


def encode_value(column: Column, value: Any) -> str:
    """One typed value as field text (raises ``ValueError`` when it does not fit the column)."""
    if value is None:
        if not column.nullable:
            raise ValueError(f"column {column.name} is not nullable")
        return NULL
    t = column.type
    if t in ("int", "ts"):
        if not isinstance(value, int) or isinstance(value, bool) or (t == "ts" and value < 0):
            raise ValueError(f"column {column.name} ({t}) cannot hold {value!r}")
        return str(value)
    if t == "decimal":
        if isinstance(value, bool) or not isinstance(value, (Decimal, int, float)):
            raise ValueError(f"column {column.name} (decimal) cannot hold {value!r}")
        d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        q = d.quantize(Decimal("0.01"))
        if q != d:
            raise ValueError(f"column {column.name} (decimal) needs at most 2 decimals, got {value!r}")
        return f"{q:.2f}"
    if t == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"column {column.name} (bool) cannot hold {value!r}")
        return "true" if value else "false"
    if not isinstance(value, str):
        raise ValueError(f"column {column.name} ({t}) cannot hold {value!r}")
    if t == "enum" and value not in column.values:
        raise ValueError(f"column {column.name}: {value!r} is not one of {list(column.values)}")
    return encode_text(value)


def column_encoder(column: Column) -> Callable[[Any], str]:
    """A fast ``encode_value`` for one column (common values short-circuit the checks)."""
    t = column.type

    def generic(value: Any) -> str:
        return encode_value(column, value)

    if t in ("int", "ts"):

        def enc_int(value: Any) -> str:
            if type(value) is int and (t == "int" or value >= 0):
                return str(value)
            return generic(value)

        return enc_int
    if t == "decimal":

        def enc_dec(value: Any) -> str:
            if type(value) is Decimal and value.as_tuple().exponent == -2:
                return str(value)
            return generic(value)

        return enc_dec
    if t == "enum":
        allowed = frozenset(column.values)
        return lambda value: value if value in allowed and type(value) is str else generic(value)
    if t == "str":
        return lambda value: encode_text(value) if type(value) is str else generic(value)
    return generic


def encode_row(columns: Sequence[Column], row: Sequence[Any]) -> str:
    if len(row) != len(columns):
        raise ValueError(f"row has {len(row)} values for {len(columns)} columns")
    text = "|".join(encode_value(c, v) for c, v in zip(columns, row, strict=True))
    if text == "":  # a one-column empty string must not look like a blank line
        text = '""'
    return text


def header_lines(
    schema: str, columns: Sequence[Column], exported: int, meta: dict[str, str] | None = None
) -> list[str]:
    lines = [f"## dc-version: {DC_VERSION}", f"## schema: {schema}", f"## exported: {exported}"]
    for k, v in (meta or {}).items():
        if k in REQUIRED_META:
            raise ValueError(f"meta key {k!r} is written by write_dc itself")
        lines.append(f"## {k}: {v}")
    lines.append(f"## columns: {format_columns(columns)}")
    return lines


def write_dc(
    schema: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    exported: int,
    meta: dict[str, str] | None = None,
) -> str:
    """Render a complete ``.dc`` file (header + one record per row, LF line ends)."""
    lines = header_lines(schema, columns, exported, meta)
    lines.extend(encode_row(columns, r) for r in rows)
    return "\n".join(lines) + "\n"


# -- reading -------------------------------------------------------------------------


@dataclass
class DcFile:
    """A parsed ``.dc`` file: typed rows plus every malformed record (line, reason)."""

    schema: str
    exported: int
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    malformed: list[tuple[int, str]]
    meta: dict[str, str] = field(default_factory=dict)
    # 1-based line on which each row (same index as ``rows``) starts.
    row_lines: list[int] = field(default_factory=list)
    _records: list[dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def index(self, name: str) -> int:
        for i, c in enumerate(self.columns):
            if c.name == name:
                return i
        raise KeyError(f"no column {name!r} in {self.schema}; columns: {self.column_names}")

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts of typed values (``Decimal`` for decimals, ``None`` for nulls).

        Memoised: callers share the list and must not mutate it.
        """
        if self._records is None or len(self._records) != len(self.rows):
            names = self.column_names
            self._records = [dict(zip(names, r, strict=True)) for r in self.rows]
        return self._records


class _Malformed(ValueError):
    """A record-level problem; the message is the reason (``"<kind>: <details>"``)."""


def _unquoted_converter(col: Column, conv: Callable[[str], Any]) -> Callable[[str], Any]:
    """Like ``conv`` but an unquoted ``\\N`` is null (or malformed when the column is not nullable)."""
    if col.nullable:
        return lambda s: None if s == NULL else conv(s)
    message = f"null: column {col.name} is not nullable"

    def not_null(s: str) -> Any:
        if s == NULL:
            raise _Malformed(message)
        return conv(s)

    return not_null


def _converter(col: Column) -> Callable[[str], Any]:
    """text -> typed value; raises ``_Malformed`` with a ``type:`` reason."""
    name, t = col.name, col.type
    if t == "str":
        return lambda s: s
    if t == "int":

        def conv_int(s: str) -> int:
            if not _INT.fullmatch(s):
                raise _Malformed(f"type: column {name} (int) got {s!r}")
            return int(s)

        return conv_int
    if t == "ts":

        def conv_ts(s: str) -> int:
            if not _TS.fullmatch(s):
                raise _Malformed(f"type: column {name} (ts) got {s!r}")
            return int(s)

        return conv_ts
    if t == "decimal":

        def conv_dec(s: str) -> Decimal:
            if not _DECIMAL.fullmatch(s):
                raise _Malformed(f"type: column {name} (decimal, 2 places) got {s!r}")
            try:
                return Decimal(s)
            except InvalidOperation:  # pragma: no cover - the pattern already guarantees a number
                raise _Malformed(f"type: column {name} (decimal) got {s!r}") from None

        return conv_dec
    if t == "bool":

        def conv_bool(s: str) -> bool:
            if s == "true":
                return True
            if s == "false":
                return False
            raise _Malformed(f"type: column {name} (bool) got {s!r}")

        return conv_bool
    allowed = frozenset(col.values)

    def conv_enum(s: str) -> str:
        if s not in allowed:
            raise _Malformed(f"type: column {name} (enum) got {s!r}, not one of {','.join(col.values)}")
        return s

    return conv_enum


def _scan_quoted(lines: list[str], start: int) -> tuple[list[tuple[str, bool]], int, str | None]:
    """Character scan of a record that contains quotes.

    Returns (fields as (text, was_quoted), index of the last line used, error or None).
    """
    n = len(lines)
    idx = start
    s = lines[idx]
    pos = 0
    fields: list[tuple[str, bool]] = []
    while True:
        if pos < len(s) and s[pos] == '"':
            pos += 1
            buf: list[str] = []
            while True:
                j = s.find('"', pos)
                if j == -1:
                    buf.append(s[pos:])
                    idx += 1
                    if idx >= n:
                        return fields, n - 1, "unterminated_quote: the file ends inside a quoted field"
                    buf.append("\n")
                    s, pos = lines[idx], 0
                    continue
                buf.append(s[pos:j])
                if j + 1 < len(s) and s[j + 1] == '"':
                    buf.append('"')
                    pos = j + 2
                    continue
                pos = j + 1
                break
            fields.append(("".join(buf), True))
            if pos == len(s):
                return fields, idx, None
            if s[pos] == "|":
                pos += 1
                continue
            return fields, idx, f"quote: unexpected character {s[pos]!r} after a closing quote (line {idx + 1})"
        j = s.find("|", pos)
        raw = s[pos:] if j == -1 else s[pos:j]
        if '"' in raw:
            return fields, idx, f"quote: a double quote inside an unquoted field (line {idx + 1})"
        fields.append((raw, False))
        if j == -1:
            return fields, idx, None
        pos = j + 1


def read_header(lines: list[str]) -> tuple[dict[str, str], int]:
    """Parse the ``##`` header; returns (meta, index of the first body line)."""
    meta: dict[str, str] = {}
    i = 0
    while i < len(lines) and lines[i].startswith("##"):
        m = _META.match(lines[i])
        if not m:
            raise DcFormatError(f"line {i + 1}: metadata lines look like '## key: value', got {lines[i]!r}")
        key, value = m.group(1), m.group(2)
        if key in meta:
            raise DcFormatError(f"line {i + 1}: duplicate metadata key {key!r}")
        meta[key] = value
        i += 1
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise DcFormatError(
            f"missing metadata line(s) {missing}; a .dc file starts with ## {', ## '.join(REQUIRED_META)}"
        )
    if meta["dc-version"] != str(DC_VERSION):
        raise DcFormatError(f"unsupported dc-version {meta['dc-version']!r}; this reader supports {DC_VERSION}")
    if not _TS.fullmatch(meta["exported"]):
        raise DcFormatError(f"exported must be unix seconds, got {meta['exported']!r}")
    if not meta["schema"]:
        raise DcFormatError("the schema metadata value is empty")
    return meta, i


def read_dc(text: str) -> DcFile:
    """Strictly parse a ``.dc`` file.

    Raises ``DcFormatError`` when the header is unusable. Every record that is not
    well-formed is listed in ``malformed`` as ``(line, reason)`` and left out of
    ``rows``; reasons start with one of ``MALFORMED_KINDS``.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    meta, i = read_header(lines)
    columns = parse_columns(meta["columns"])
    convs = [_converter(c) for c in columns]  # for quoted fields (a quoted \N is text)
    plain = [_unquoted_converter(c, conv) for c, conv in zip(columns, convs, strict=True)]
    ncol = len(columns)
    rows: list[tuple[Any, ...]] = []
    row_lines: list[int] = []
    malformed: list[tuple[int, str]] = []
    n = len(lines)
    while i < n:
        line = lines[i]
        if line == "":
            i += 1
            continue
        start = i
        try:
            if '"' not in line:  # fast path: no quoting on this line
                i += 1
                raw = line.split("|")
                if len(raw) != ncol:
                    raise _Malformed(f"field_count: expected {ncol} fields, got {len(raw)}")
                values = tuple([conv(text) for conv, text in zip(plain, raw)])
            else:
                fields, end, err = _scan_quoted(lines, i)
                i = end + 1
                if err:
                    raise _Malformed(err)
                if len(fields) != ncol:
                    raise _Malformed(f"field_count: expected {ncol} fields, got {len(fields)}")
                values = tuple([(convs[k] if quoted else plain[k])(text) for k, (text, quoted) in enumerate(fields)])
        except _Malformed as exc:
            malformed.append((start + 1, str(exc)))
            continue
        rows.append(values)
        row_lines.append(start + 1)
    return DcFile(
        schema=meta["schema"],
        exported=int(meta["exported"]),
        columns=columns,
        rows=rows,
        malformed=malformed,
        meta=meta,
        row_lines=row_lines,
    )


def malformed_kind(reason: str) -> str:
    """The kind of a malformed reason (``"type: ..."`` -> ``"type"``)."""
    return reason.split(":", 1)[0]


# -- export layout and JSON records ----------------------------------------------------


def table_files(paths: Iterable[str], table: str) -> list[str]:
    """The files that make up ``table``'s export, in order.

    A table is exported either as ``exports/<table>.dc`` or, when large, as parts
    ``exports/<table>/part-001.dc``, ``part-002.dc``, ... (each with its own header).
    """
    paths = list(paths)
    single = f"{EXPORT_DIR}/{table}.dc"
    if single in paths:
        return [single]
    return sorted(p for p in paths if p.startswith(f"{EXPORT_DIR}/{table}/") and p.endswith(".dc"))


def export_tables(paths: Iterable[str]) -> list[str]:
    """Names of the tables exported under ``exports/``."""
    out = set()
    for p in paths:
        if not p.startswith(f"{EXPORT_DIR}/") or not p.endswith(".dc"):
            continue
        rest = p[len(EXPORT_DIR) + 1 :]
        out.add(rest.split("/", 1)[0] if "/" in rest else rest[: -len(".dc")])
    return sorted(out)


def json_value(value: Any) -> Any:
    """A typed .dc value as JSON (decimals become numbers, e.g. Decimal('19.90') -> 19.9)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def to_record(columns: Sequence[Column], row: Sequence[Any]) -> dict[str, Any]:
    """A typed row as the JSON record the validation API expects (nulls kept as null)."""
    return {c.name: json_value(v) for c, v in zip(columns, row, strict=True)}
