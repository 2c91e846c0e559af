"""The DataCorp world of the ARISE paper (protocol ``arise_v1``).

Reproduces the paper's DataCorp fixture in distribution (not byte for byte: the paper
used Python's ``random``, this uses named numpy streams from ``envs.seeding``):

* three exports in the paper's ``.dc`` dialect (``exports/orders.dc`` 50 rows,
  ``exports/products.dc`` 20, ``exports/customers.dc`` 16): a first ``##`` line with
  ``key=value`` metadata, a ``## columns:`` line of ``|``-separated names, then ``|``
  delimited rows with no quoting and no malformed rows;
* the plain JSON validation API behind ``http://validation.datacorp.internal``:
  ``GET /schemas``, ``GET /schemas/{name}``, ``POST /validate`` with the paper's error
  codes (DC-001 missing field ... DC-008 duplicate key, DC-010 unknown schema; DC-009
  is defined but, as in the paper, never emitted);
* the paper's query language semantics (``run_dcql``), a lenient interpreter that
  silently ignores what it does not understand, used by the graders because the
  paper's expected values came from it.

``DcData`` is the graders' view: it re-reads the exports and the schema list through
``WorldAccess`` (never ``World.facts``) with a strict parser.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from envs import seeding
from envs.access import WorldAccess
from envs.http import WorldHttp, error_response, json_response
from envs.world import World

# -- facts of the paper's fixture --------------------------------------------------
STATUSES: tuple[str, ...] = ("completed", "pending", "failed", "refunded", "processing")
CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD")
CUSTOMER_EMAILS: tuple[str, ...] = tuple(
    f"{n}@corp.com"
    for n in (
        "alice", "bob", "carol", "dave", "eve", "frank", "grace", "henry",
        "iris", "jack", "kate", "liam", "mia", "noah", "olivia", "peter",
    )
)  # fmt: skip
CUSTOMER_NAMES: tuple[str, ...] = (
    "Alice Smith", "Bob Jones", "Carol White", "Dave Brown", "Eve Davis", "Frank Miller",
    "Grace Wilson", "Henry Moore", "Iris Taylor", "Jack Anderson", "Kate Thomas", "Liam Jackson",
    "Mia Harris", "Noah Martin", "Olivia Garcia", "Peter Martinez",
)  # fmt: skip
PRODUCT_NAMES: tuple[str, ...] = (
    "widget-a", "widget-b", "gadget-pro", "gadget-lite", "service-basic",
    "service-premium", "addon-x", "addon-y", "bundle-starter", "bundle-enterprise",
)  # fmt: skip
PRODUCT_CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP")
CATEGORIES: tuple[str, ...] = ("hardware", "software", "service", "bundle")
COUNTRIES: tuple[str, ...] = ("US", "DE", "GB", "FR", "CA", "AU", "JP")
TIERS: tuple[str, ...] = ("free", "basic", "premium", "enterprise")

ORDER_COLUMNS: tuple[str, ...] = ("order_id", "customer", "amount", "currency", "status", "timestamp")
PRODUCT_COLUMNS: tuple[str, ...] = ("product_id", "name", "price", "currency", "category", "in_stock")
CUSTOMER_COLUMNS: tuple[str, ...] = ("customer_id", "email", "name", "country", "tier", "joined_ts")
SCHEMA_NAMES: tuple[str, ...] = ("orders", "products", "customers")
COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ORDER_COLUMNS,
    "products": PRODUCT_COLUMNS,
    "customers": CUSTOMER_COLUMNS,
}

N_ORDERS, N_PRODUCTS, N_CUSTOMERS = 50, 20, 16
FIRST_ORDER_ID, FIRST_PRODUCT_ID, FIRST_CUSTOMER_ID = 101, 201, 301
T_START = 1_710_000_000
ORDER_WINDOW = 7 * 86_400  # order timestamps: T_START + U{0..7 days}
JOINED_START = 1_680_000_000
JOINED_WINDOW = 365 * 86_400
NOW = T_START + ORDER_WINDOW
EXPORTED = "2024-03-01"
EXPORT_VERSION = "DataCorp Export v2"
EXPORT_DIR = "exports"

VALIDATION_HOST = "validation.datacorp.internal"
VALIDATION_URL = f"http://{VALIDATION_HOST}"

VALIDATION_CODES: dict[str, str] = {
    "DC-001": "missing required field",
    "DC-002": "invalid field type",
    "DC-003": "value out of range",
    "DC-004": "invalid enum value",
    "DC-005": "field length exceeded",
    "DC-006": "invalid timestamp format",
    "DC-007": "cross-field constraint violation",
    "DC-008": "duplicate primary key",
    "DC-009": "reference integrity violation",
    "DC-010": "schema not found",
}

# The schema definitions GET /schemas/{name} serves (the paper's, field for field).
SCHEMAS: dict[str, dict[str, Any]] = {
    "orders": {
        "name": "orders",
        "description": "Customer order records",
        "fields": {
            "order_id": {"type": "integer", "required": True, "min": 1},
            "customer": {"type": "email", "required": True, "max_length": 100},
            "amount": {"type": "float", "required": True, "min": 0.01, "max": 999999.99},
            "currency": {"type": "enum", "required": True, "values": list(CURRENCIES)},
            "status": {"type": "enum", "required": True, "values": list(STATUSES)},
            "timestamp": {"type": "unix_timestamp", "required": True, "min": 0},
        },
        "constraints": [
            {"type": "cross_field", "rule": "if status == 'refunded' then amount > 0", "code": "DC-007"},
        ],
        "primary_key": "order_id",
    },
    "products": {
        "name": "products",
        "description": "Product catalog records",
        "fields": {
            "product_id": {"type": "integer", "required": True, "min": 1},
            "name": {"type": "string", "required": True, "max_length": 50},
            "price": {"type": "float", "required": True, "min": 0.01},
            "currency": {"type": "enum", "required": True, "values": list(PRODUCT_CURRENCIES)},
            "category": {"type": "enum", "required": True, "values": list(CATEGORIES)},
            "in_stock": {"type": "boolean", "required": True},
        },
        "constraints": [],
        "primary_key": "product_id",
    },
    "customers": {
        "name": "customers",
        "description": "Customer account records",
        "fields": {
            "customer_id": {"type": "integer", "required": True, "min": 1},
            "email": {"type": "email", "required": True, "max_length": 100},
            "name": {"type": "string", "required": True, "max_length": 100},
            "country": {"type": "enum", "required": True, "values": list(COUNTRIES)},
            "tier": {"type": "enum", "required": True, "values": list(TIERS)},
            "joined_ts": {"type": "unix_timestamp", "required": True, "min": 0},
        },
        "constraints": [],
        "primary_key": "customer_id",
    },
}

# DC_CONVERT's fixed rates: value of one unit in USD.
RATES: dict[str, float] = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "CAD": 0.74, "AUD": 0.65}


# =================================================================================
# The .dc dialect
# =================================================================================
def export_path(schema: str) -> str:
    return f"{EXPORT_DIR}/{schema}.dc"


def format_dc(schema: str, rows: list[tuple[str, ...]]) -> str:
    """The paper's export text: metadata line, columns line, one ``|`` row per record."""
    lines = [
        f"## {EXPORT_VERSION} | schema={schema} | exported={EXPORTED}",
        "## columns: " + "|".join(COLUMNS[schema]),
    ]
    lines += ["|".join(r) for r in rows]
    return "\n".join(lines) + "\n"


def generate_orders(seed: int, n: int = N_ORDERS) -> list[tuple[str, ...]]:
    r = seeding.rng(seed, "arise_v1", "datacorp", "orders")
    customers = r.integers(0, len(CUSTOMER_EMAILS), size=n)
    amounts = r.uniform(10.0, 2000.0, size=n)
    currencies = r.integers(0, len(CURRENCIES), size=n)
    statuses = r.integers(0, len(STATUSES), size=n)
    offsets = r.integers(0, ORDER_WINDOW, size=n, endpoint=True)
    return [
        (
            str(FIRST_ORDER_ID + i),
            CUSTOMER_EMAILS[int(customers[i])],
            f"{round(float(amounts[i]), 2):.2f}",
            CURRENCIES[int(currencies[i])],
            STATUSES[int(statuses[i])],
            str(T_START + int(offsets[i])),
        )
        for i in range(n)
    ]


def generate_products(seed: int, n: int = N_PRODUCTS) -> list[tuple[str, ...]]:
    r = seeding.rng(seed, "arise_v1", "datacorp", "products")
    out: list[tuple[str, ...]] = []
    for i in range(n):
        out.append(
            (
                str(FIRST_PRODUCT_ID + i),
                PRODUCT_NAMES[int(r.integers(len(PRODUCT_NAMES)))],
                f"{round(float(r.uniform(5.0, 500.0)), 2):.2f}",
                PRODUCT_CURRENCIES[int(r.integers(len(PRODUCT_CURRENCIES)))],
                CATEGORIES[int(r.integers(len(CATEGORIES)))],
                ("true", "false")[int(r.integers(2))],
            )
        )
    return out


def generate_customers(seed: int) -> list[tuple[str, ...]]:
    """One record per known customer email, in the fixed email order (as the paper did)."""
    r = seeding.rng(seed, "arise_v1", "datacorp", "customers")
    out: list[tuple[str, ...]] = []
    for i, email in enumerate(CUSTOMER_EMAILS[:N_CUSTOMERS]):
        out.append(
            (
                str(FIRST_CUSTOMER_ID + i),
                email,
                CUSTOMER_NAMES[i % len(CUSTOMER_NAMES)],
                COUNTRIES[int(r.integers(len(COUNTRIES)))],
                TIERS[int(r.integers(len(TIERS)))],
                str(JOINED_START + int(r.integers(0, JOINED_WINDOW, endpoint=True))),
            )
        )
    return out


@dataclass
class DcTable:
    """A parsed ``.dc`` export: metadata, column names, typed rows."""

    metadata: dict[str, str]
    columns: list[str]
    rows: list[dict[str, Any]]


def _typed(schema: str | None, column: str, raw: str) -> Any:
    ftype = SCHEMAS.get(schema or "", {}).get("fields", {}).get(column, {}).get("type")
    if ftype in ("integer", "unix_timestamp"):
        return int(raw)
    if ftype == "float":
        return float(raw)
    if ftype == "boolean":
        if raw not in ("true", "false"):
            raise ValueError(f"column {column!r}: expected true/false, got {raw!r}")
        return raw == "true"
    return raw


def parse_dc(text: str) -> DcTable:
    """Strict ``.dc`` parser (graders' side): every row must have one value per column.

    Values are typed by the schema named in the metadata line (integers, floats and
    booleans; everything else stays text).
    """
    metadata: dict[str, str] = {}
    columns: list[str] = []
    raw_rows: list[tuple[int, list[str]]] = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("## columns:"):
            columns = [c.strip() for c in s[len("## columns:") :].split("|")]
        elif s.startswith("##"):
            for seg in s[2:].split("|"):
                key, eq, value = seg.strip().partition("=")
                if eq:
                    metadata[key.strip()] = value.strip()
                else:
                    metadata["version"] = seg.strip()
        else:
            if not columns:
                raise ValueError(f"line {n}: data row before the '## columns:' line")
            raw_rows.append((n, [v.strip() for v in s.split("|")]))
    schema = metadata.get("schema")
    rows: list[dict[str, Any]] = []
    for n, values in raw_rows:
        if len(values) != len(columns):
            raise ValueError(f"line {n}: {len(values)} values for {len(columns)} columns")
        rows.append({c: _typed(schema, c, v) for c, v in zip(columns, values, strict=True)})
    return DcTable(metadata, columns, rows)


# =================================================================================
# Validation (the paper's rules; POST /validate)
# =================================================================================
def _is_email(value: str) -> bool:
    _local, at, domain = value.partition("@")
    return bool(at) and "." in domain


def _err(field_name: str, code: str, message: str) -> dict[str, str]:
    return {"field": field_name, "code": code, "message": message}


def validate_record(record: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, str]]:
    """Errors of one record (``record`` is updated with coerced values, as the paper's API did).

    Rules in field order: DC-001 missing or empty; DC-002 wrong type (numeric strings
    are coerced, not rejected); DC-006 a timestamp that is not an integer; DC-003
    below ``min`` / above ``max``; DC-004 not in ``values``; DC-005 longer than
    ``max_length``; then the orders cross-field rule DC-007 (refunded needs amount > 0).
    """
    errors: list[dict[str, str]] = []
    for name, spec in schema["fields"].items():
        value = record.get(name)
        if spec.get("required") and (value is None or value == ""):
            errors.append(_err(name, "DC-001", f"Missing required field '{name}'"))
            continue
        if value is None:
            continue
        ftype = spec["type"]
        if ftype in ("integer", "unix_timestamp") and (isinstance(value, bool) or not isinstance(value, int)):
            try:
                value = int(value)
            except (TypeError, ValueError):
                code = "DC-006" if ftype == "unix_timestamp" else "DC-002"
                what = "a unix timestamp (integer)" if ftype == "unix_timestamp" else "an integer"
                errors.append(_err(name, code, f"Field '{name}' must be {what}, got {type(value).__name__}"))
                continue
            record[name] = value
        elif ftype == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            try:
                value = float(value)
            except (TypeError, ValueError):
                errors.append(_err(name, "DC-002", f"Field '{name}' must be a number, got {type(value).__name__}"))
                continue
            record[name] = value
        elif ftype == "email" and not _is_email(str(value)):
            errors.append(_err(name, "DC-002", f"Field '{name}' must be a valid email"))
            continue
        elif ftype == "boolean":
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
                record[name] = value
            elif not isinstance(value, bool):
                errors.append(_err(name, "DC-002", f"Field '{name}' must be a boolean (true/false)"))
                continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "min" in spec and value < spec["min"]:
                errors.append(_err(name, "DC-003", f"Field '{name}' value {value} below minimum {spec['min']}"))
            if "max" in spec and value > spec["max"]:
                errors.append(_err(name, "DC-003", f"Field '{name}' value {value} exceeds maximum {spec['max']}"))
        if ftype == "enum" and str(value) not in spec.get("values", []):
            errors.append(
                _err(name, "DC-004", f"Field '{name}' value '{value}' not in allowed values: {spec['values']}")
            )
        if "max_length" in spec and isinstance(value, str) and len(value) > spec["max_length"]:
            errors.append(_err(name, "DC-005", f"Field '{name}' length {len(value)} exceeds max {spec['max_length']}"))
    if schema["name"] == "orders":
        amount = record.get("amount")
        if (
            record.get("status") == "refunded"
            and isinstance(amount, (int, float))
            and not isinstance(amount, bool)
            and amount <= 0
        ):
            errors.append(_err("amount", "DC-007", "Refunded orders must have amount > 0"))
    return errors


class UnknownSchema(KeyError):
    """DC-010: the named schema does not exist."""


def validate_batch(records: list[dict[str, Any]], schema_name: str) -> dict[str, Any]:
    """The body of a successful ``POST /validate``: per-record results and a code histogram.

    DC-008 is checked on the raw primary-key value before coercion, first occurrence wins.
    """
    if schema_name not in SCHEMAS:
        raise UnknownSchema(schema_name)
    schema = SCHEMAS[schema_name]
    pk = schema["primary_key"]
    seen: list[Any] = []
    valid: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    summary: dict[str, int] = {}
    for index, original in enumerate(records):
        record = copy.deepcopy(original)
        errors: list[dict[str, str]] = []
        if pk in record:
            if record[pk] in seen:
                errors.append(_err(pk, "DC-008", f"Duplicate primary key value '{record[pk]}' for field '{pk}'"))
            else:
                seen.append(record[pk])
        errors += validate_record(record, schema)
        if errors:
            invalid.append({"index": index, "record": record, "errors": errors})
            for e in errors:
                summary[e["code"]] = summary.get(e["code"], 0) + 1
        else:
            valid.append({"index": index, "record": record})
    return {
        "schema": schema_name,
        "total": len(records),
        "valid_count": len(valid),
        "invalid_count": len(invalid),
        "valid": valid,
        "invalid": invalid,
        "error_summary": summary,
    }


def _ordered_json(status: int, payload: Any) -> httpx.Response:
    """Compact JSON keeping the schema's field order (``json_response`` sorts keys); still stable bytes."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return httpx.Response(status, content=body, headers={"content-type": "application/json"})


def _validation_api(http: WorldHttp) -> None:
    vh = http.add_host(VALIDATION_HOST)
    names = list(SCHEMAS)

    def list_schemas(request: httpx.Request) -> httpx.Response:
        return json_response(200, names)

    def get_schema(request: httpx.Request, name: str) -> httpx.Response:
        if name not in SCHEMAS:
            return error_response(404, f"Schema '{name}' not found", code="DC-010", schemas=names)
        return _ordered_json(200, SCHEMAS[name])

    def validate(request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content or b"null")
        except json.JSONDecodeError as exc:
            return error_response(400, f"request body is not JSON: {exc.msg}")
        usage = 'expected a JSON object {"records": [{...}, ...], "schema": "<name>"}'
        if not isinstance(body, dict):
            return error_response(422, usage)
        records, schema = body.get("records"), body.get("schema")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            return error_response(422, f"'records' must be a list of objects; {usage}")
        if not isinstance(schema, str):
            return error_response(422, f"'schema' must be a schema name; {usage}")
        try:
            return _ordered_json(200, validate_batch(records, schema))
        except UnknownSchema:
            return error_response(404, f"Schema '{schema}' not found", code="DC-010", schemas=names)

    def wrong_method(request: httpx.Request) -> httpx.Response:
        # FastAPI answered 405 here in the paper: the agent, with GET only, could never validate.
        message = (
            f"Method {request.method} not allowed on /validate; use POST with a JSON body "
            '{"records": [...], "schema": "<name>"}'
        )
        return json_response(405, {"error": message, "allow": "POST"}, headers={"allow": "POST"})

    vh.route("GET", path="/schemas").mock(side_effect=list_schemas)
    vh.route("GET", path_regex=r"^/schemas/(?P<name>[^/]+)$").mock(side_effect=get_schema)
    vh.route("POST", path="/validate").mock(side_effect=validate)
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        vh.route(method, path="/validate").mock(side_effect=wrong_method)


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


# =================================================================================
# Handbook and world
# =================================================================================
HANDBOOK: dict[str, str] = {
    "dc-format": (
        "# DataCorp exports (.dc)\n\n"
        "Pipe-delimited text. The first line is `## DataCorp Export v2 | schema=<name> | exported=<date>`;\n"
        "the second is `## columns: col1|col2|...`. Every other line is one record, values separated by `|`\n"
        "(no quoting). Timestamps are unix seconds. Files: "
        + ", ".join(f"`{export_path(s)}`" for s in SCHEMA_NAMES)
        + ".\n"
    ),
    "validation-api": (
        "# Validation API\n\n"
        f"Base URL: {VALIDATION_URL}\n\n"
        "- `GET /schemas` -> JSON list of schema names.\n"
        "- `GET /schemas/{name}` -> the schema: fields (type, required, min, max, max_length, values),\n"
        "  constraints and primary_key. Unknown name -> 404 with code DC-010.\n"
        '- `POST /validate` with `{"records": [...], "schema": "<name>"}` -> `{schema, total, valid_count,\n'
        "  invalid_count, valid, invalid, error_summary}`; other methods get 405.\n\n"
        "Error codes:\n" + "".join(f"- {code}: {meaning}\n" for code, meaning in VALIDATION_CODES.items())
    ),
    "dcql": (
        "# DCQL\n\n"
        "SELECT cols FROM table [WHERE cond AND cond] [GROUP BY col] [ORDER BY col [ASC|DESC]] [LIMIT n].\n"
        'Functions: DC_CONVERT(amount, "USD") (from the row\'s own currency; rates in USD: '
        + ", ".join(f"{k}={v}" for k, v in RATES.items())
        + '), DC_HASH(field) (first 16 hex chars of sha256), DC_TIMERANGE(ts, "24h") in WHERE (window\n'
        "ending at the largest timestamp of the table). Conditions: = != > < >= <=.\n"
    ),
}


def build_arise_v1_world(seed: int, options: dict[str, Any] | None = None) -> World:
    """The arise_v1 DataCorp world for ``seed`` (the paper's generator had no knobs)."""
    opts = dict(options or {})
    if opts:
        raise ValueError(
            f"the arise_v1 DataCorp world takes no options (the paper's generator is fixed), got {sorted(opts)}"
        )
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    files = {
        export_path("orders"): format_dc("orders", generate_orders(seed)),
        export_path("products"): format_dc("products", generate_products(seed)),
        export_path("customers"): format_dc("customers", generate_customers(seed)),
    }
    http = WorldHttp()
    _validation_api(http)
    fingerprint = json.dumps({"schemas": SCHEMAS, "codes": VALIDATION_CODES}, separators=(",", ":"), sort_keys=True)
    entities = [
        *SCHEMA_NAMES,
        *dict.fromkeys(c for cols in COLUMNS.values() for c in cols),
        *CURRENCIES,
        *STATUSES,
        *CUSTOMER_EMAILS,
        *VALIDATION_CODES,
        VALIDATION_HOST,
    ]
    return World(
        name="datacorp",
        protocol="arise_v1",
        seed=seed,
        now=NOW,
        files=files,
        docs=dict(HANDBOOK),
        http=http,
        facts={"exports": {s: export_path(s) for s in SCHEMA_NAMES}},
        api_fingerprint=fingerprint.encode(),
        entities=entities,
        options={},
    )


# =================================================================================
# The graders' view
# =================================================================================
@dataclass
class DcData:
    """Everything the graders need, re-read from the world's exports and API."""

    texts: dict[str, str]  # schema -> export text
    tables: dict[str, DcTable]
    schema_names: list[str]

    @classmethod
    def load(cls, access: WorldAccess) -> DcData:
        key = ("arise_v1", "DcData")
        cached = access.world.cache.get(key)
        if isinstance(cached, DcData):
            return cached
        resp = access.http_get(f"{VALIDATION_URL}/schemas")
        if resp["status"] != 200:
            raise RuntimeError(f"validation API /schemas answered {resp['status']}: {resp['body'][:200]}")
        names = list(json.loads(resp["body"]))
        texts = {s: access.read_file(export_path(s)) for s in SCHEMA_NAMES}
        data = cls(texts=texts, tables={s: parse_dc(t) for s, t in texts.items()}, schema_names=names)
        access.world.cache[key] = data
        return data

    def rows(self, schema: str) -> list[dict[str, Any]]:
        return self.tables[schema].rows

    def query(self, dcql: str) -> DcqlResult:
        return run_dcql(dcql, {s: t.rows for s, t in self.tables.items()})


def schema_of(access: WorldAccess, name: str) -> dict[str, Any]:
    """``GET /schemas/{name}`` (graders' side)."""
    resp = access.http_get(f"{VALIDATION_URL}/schemas/{name}")
    if resp["status"] != 200:
        raise RuntimeError(f"validation API /schemas/{name} answered {resp['status']}: {resp['body'][:200]}")
    return dict(json.loads(resp["body"]))


def post_validate(access: WorldAccess, records: list[dict[str, Any]], schema: str = "orders") -> dict[str, Any]:
    """``POST /validate`` (graders' side: the graders may POST, the paper's agent could not)."""
    resp = access.http_post(f"{VALIDATION_URL}/validate", json={"records": records, "schema": schema})
    if resp["status"] != 200:
        raise RuntimeError(f"validation API /validate answered {resp['status']}: {resp['body'][:200]}")
    return dict(json.loads(resp["body"]))
