"""DataCorp's record schemas and the validation API (host ``api.datacorp.internal``).

The schemas describe the five exported tables (customers, products, orders,
shipments, refunds): field types, required-ness, ranges, enums, patterns, primary
and foreign keys, and cross-field rules. Some limits (the largest order quantity,
product price and stock) differ between worlds. The API (documented for agents in
``handbook/validation-api.md``):

* ``GET /`` -> the endpoints;
* ``GET /schemas`` -> JSON list of schema names;
* ``GET /schemas/{name}`` -> the schema (404 with the known names otherwise);
* ``GET /codes`` -> ``{code: title}`` for DC-001..DC-010;
* ``POST /validate`` with ``{"schema": name, "records": [...]}`` -> per-record results
  with error codes DC-001..DC-010. Foreign keys and the currency rule are checked
  against the DataCorp database (every customer, product and order that exists, not
  the possibly damaged exports). Bad requests get 400/404/405/413 with a JSON error
  that names what is accepted.

Validation is a pure function of (schemas, database, request body), so responses are
identical in-process and over loopback.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from envs.http import WorldHttp, error_response, json_response

HOST = "api.datacorp.internal"
BASE_URL = f"http://{HOST}"
MAX_RECORDS = 1000
TS_MIN = 1_262_304_000  # 2010-01-01T00:00:00Z

CODES: dict[str, str] = {
    "DC-001": "missing required field (absent or null)",
    "DC-002": "unknown field",
    "DC-003": "type mismatch",
    "DC-004": "value out of range",
    "DC-005": "invalid enum value",
    "DC-006": "pattern mismatch",
    "DC-007": "cross-field rule violated",
    "DC-008": "duplicate primary key within the batch",
    "DC-009": "unknown foreign key",
    "DC-010": "currency does not match the referenced record",
}

# -- the domain ------------------------------------------------------------------------

CURRENCIES = ("USD", "EUR", "GBP", "CHF")
REGION_CURRENCY: dict[str, str] = {
    "na-east": "USD",
    "na-west": "USD",
    "eu-central": "EUR",
    "eu-south": "EUR",
    "uk": "GBP",
    "ch": "CHF",
    "apac": "USD",
}
REGIONS = tuple(REGION_CURRENCY)
TIERS = ("free", "pro", "enterprise")
CATEGORIES = ("electronics", "books", "home", "garden", "toys", "sports", "grocery", "apparel")
STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
CARRIERS = ("dhl", "ups", "fedex", "postnl", "royalmail")
REFUND_REASONS = ("damaged", "late", "wrong_item", "not_as_described", "other")

EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}$"
SKU_PATTERN = r"^SKU-[0-9]{5}$"
TRACKING_PATTERN = r"^[A-Z]{2}[0-9]{9}[A-Z]{2}$"

# table -> [(field, referenced table, referenced field)]
FOREIGN_KEYS: dict[str, list[tuple[str, str, str]]] = {
    "customers": [],
    "products": [],
    "orders": [("customer_id", "customers", "id"), ("sku", "products", "sku")],
    "shipments": [("order_id", "orders", "order_id")],
    "refunds": [("order_id", "orders", "order_id")],
}
PRIMARY_KEYS = {
    "customers": "id",
    "products": "sku",
    "orders": "order_id",
    "shipments": "shipment_id",
    "refunds": "refund_id",
}
SCHEMA_NAMES = tuple(sorted(PRIMARY_KEYS))


@dataclass(frozen=True)
class ValidationLimits:
    """The per-world limits of the schemas."""

    quantity_max: int = 50
    price_max: int = 2000
    stock_max: int = 5000


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str  # int, decimal, str, bool, ts, enum
    required: bool = True
    values: tuple[str, ...] = ()
    min: Decimal | int | None = None
    max: Decimal | int | None = None
    pattern: str = ""
    references: str = ""  # "table.field"

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.values:
            out["values"] = list(self.values)
        if self.min is not None:
            out["min"] = _num(self.min)
        if self.max is not None:
            out["max"] = _num(self.max)
        if self.pattern:
            out["pattern"] = self.pattern
        if self.references:
            out["references"] = self.references
        return out


@dataclass(frozen=True)
class Rule:
    """A cross-field rule (DC-007); ``check`` gets a record whose ``fields`` all passed their checks."""

    id: str
    field: str  # the field the error is reported on
    fields: tuple[str, ...]
    description: str
    check: Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class SchemaDef:
    name: str
    primary_key: str
    fields: tuple[FieldDef, ...]
    rules: tuple[Rule, ...] = ()
    currency_rule: str = ""  # description of the DC-010 rule ('' = none)

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"schema {self.name} has no field {name!r}; fields: {[f.name for f in self.fields]}")

    def describe(self) -> dict[str, Any]:
        fks = [{"field": f, "references": f"{t}.{k}", "code": "DC-009"} for f, t, k in FOREIGN_KEYS.get(self.name, [])]
        rules = [
            {"id": r.id, "code": "DC-007", "field": r.field, "fields": list(r.fields), "description": r.description}
            for r in self.rules
        ]
        if self.currency_rule:
            rules.append(
                {
                    "id": "currency_match",
                    "code": "DC-010",
                    "field": "currency",
                    "fields": ["currency"],
                    "description": self.currency_rule,
                }
            )
        out: dict[str, Any] = {
            "name": self.name,
            "primary_key": self.primary_key,
            "fields": [f.describe() for f in self.fields],
            "foreign_keys": fks,
            "rules": rules,
        }
        if self.name == "orders":
            out["region_currencies"] = dict(REGION_CURRENCY)
        return out


def _num(x: Decimal | int) -> int | float:
    if isinstance(x, Decimal):
        return int(x) if x == x.to_integral_value() else float(x)
    return x


def _dec(x: Any) -> Decimal:
    return Decimal(repr(x)) if isinstance(x, float) else Decimal(x)


def build_schemas(limits: ValidationLimits, now: int) -> dict[str, SchemaDef]:
    """The five schemas for a world with these limits and clock."""
    price_max = Decimal(limits.price_max)

    def ts(name: str, required: bool = True) -> FieldDef:
        return FieldDef(name, "ts", required, min=TS_MIN, max=now)

    customers = SchemaDef(
        "customers",
        "id",
        (
            FieldDef("id", "int", min=1),
            FieldDef("name", "str"),
            FieldDef("email", "str", required=False, pattern=EMAIL_PATTERN),
            FieldDef("region", "enum", values=REGIONS),
            FieldDef("tier", "enum", values=TIERS),
            ts("created_at"),
        ),
        (
            Rule(
                "enterprise_email",
                "email",
                ("tier", "email"),
                "customers of tier enterprise must have an email",
                lambda r: r.get("tier") != "enterprise" or r.get("email") is not None,
            ),
        ),
    )
    products = SchemaDef(
        "products",
        "sku",
        (
            FieldDef("sku", "str", pattern=SKU_PATTERN),
            FieldDef("name", "str"),
            FieldDef("category", "enum", values=CATEGORIES),
            FieldDef("price", "decimal", min=Decimal("0.01"), max=price_max),
            FieldDef("currency", "enum", values=CURRENCIES),
            FieldDef("active", "bool"),
            FieldDef("stock", "int", min=0, max=limits.stock_max),
        ),
        (
            Rule(
                "inactive_stock",
                "stock",
                ("active", "stock"),
                "inactive products (active = false) must have stock 0",
                lambda r: r["active"] or r["stock"] == 0,
            ),
        ),
    )
    orders = SchemaDef(
        "orders",
        "order_id",
        (
            FieldDef("order_id", "int", min=1),
            FieldDef("customer_id", "int", min=1, references="customers.id"),
            FieldDef("sku", "str", pattern=SKU_PATTERN, references="products.sku"),
            FieldDef("quantity", "int", min=1, max=limits.quantity_max),
            FieldDef("unit_price", "decimal", min=Decimal("0.01")),
            FieldDef("amount", "decimal", min=Decimal("0.00")),
            FieldDef("currency", "enum", values=CURRENCIES),
            FieldDef("status", "enum", values=STATUSES),
            ts("created_at"),
        ),
        (
            Rule(
                "amount_total",
                "amount",
                ("quantity", "unit_price", "amount"),
                "amount must equal quantity * unit_price exactly (to the cent)",
                lambda r: _dec(r["amount"]) == r["quantity"] * _dec(r["unit_price"]),
            ),
        ),
        "currency must be the billing currency of the customer's region (see region_currencies)",
    )
    shipments = SchemaDef(
        "shipments",
        "shipment_id",
        (
            FieldDef("shipment_id", "int", min=1),
            FieldDef("order_id", "int", min=1, references="orders.order_id"),
            FieldDef("carrier", "enum", values=CARRIERS),
            FieldDef("tracking", "str", pattern=TRACKING_PATTERN),
            ts("shipped_at"),
            ts("delivered_at", required=False),
        ),
        (
            Rule(
                "delivery_order",
                "delivered_at",
                ("shipped_at", "delivered_at"),
                "delivered_at, when present, must not be before shipped_at",
                lambda r: r.get("delivered_at") is None or r["delivered_at"] >= r["shipped_at"],
            ),
        ),
    )
    refunds = SchemaDef(
        "refunds",
        "refund_id",
        (
            FieldDef("refund_id", "int", min=1),
            FieldDef("order_id", "int", min=1, references="orders.order_id"),
            FieldDef("amount", "decimal", min=Decimal("0.01")),
            FieldDef("currency", "enum", values=CURRENCIES),
            FieldDef("reason", "enum", values=REFUND_REASONS),
            FieldDef("note", "str", required=False),
            ts("created_at"),
        ),
        (
            Rule(
                "other_needs_note",
                "note",
                ("reason", "note"),
                "refunds with reason 'other' must have a non-empty note",
                lambda r: r.get("reason") != "other" or bool((r.get("note") or "").strip()),
            ),
        ),
        "currency must equal the currency of the refunded order",
    )
    return {s.name: s for s in (customers, products, orders, shipments, refunds)}


@dataclass
class Database:
    """What the validation service knows exists (for DC-009 and DC-010)."""

    customer_region: dict[int, str] = field(default_factory=dict)
    product_skus: frozenset[str] = frozenset()
    order_currency: dict[int, str] = field(default_factory=dict)

    def exists(self, table: str, key: Any) -> bool:
        if table == "customers":
            return key in self.customer_region
        if table == "products":
            return key in self.product_skus
        if table == "orders":
            return key in self.order_currency
        return False

    def fingerprint(self) -> bytes:
        h = hashlib.sha256()
        h.update(json.dumps(sorted(self.customer_region.items())).encode())
        h.update(json.dumps(sorted(self.product_skus)).encode())
        h.update(json.dumps(sorted(self.order_currency.items())).encode())
        return h.digest()


# -- validation ------------------------------------------------------------------------


def _type_error(fd: FieldDef, v: Any) -> str | None:
    t = fd.type
    if t in ("int", "ts"):
        ok = isinstance(v, int) and not isinstance(v, bool)
        return None if ok else f"{fd.name} must be an integer, got {_show(v)}"
    if t == "decimal":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return f"{fd.name} must be a number with at most 2 decimals, got {_show(v)}"
        if isinstance(v, float) and not math.isfinite(v):
            return f"{fd.name} must be a finite number, got {_show(v)}"
        try:
            exp = _dec(v).as_tuple().exponent
        except InvalidOperation:  # pragma: no cover
            return f"{fd.name} must be a number, got {_show(v)}"
        if isinstance(exp, int) and exp < -2:
            return f"{fd.name} must have at most 2 decimals, got {_show(v)}"
        return None
    if t == "bool":
        return None if isinstance(v, bool) else f"{fd.name} must be true or false, got {_show(v)}"
    return None if isinstance(v, str) else f"{fd.name} must be a string, got {_show(v)}"


def _show(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _err(code: str, fld: str, message: str) -> dict[str, str]:
    return {"code": code, "field": fld, "message": message}


def validate_records(schema: SchemaDef, records: list[dict[str, Any]], db: Database) -> list[dict[str, Any]]:
    """Per-record results; see the module docstring and the handbook for the order of checks."""
    known = {f.name for f in schema.fields}
    seen_keys: set[str] = set()
    fks = {f: (t, k) for f, t, k in FOREIGN_KEYS.get(schema.name, [])}
    results = []
    for index, rec in enumerate(records):
        errors: list[dict[str, str]] = []
        ok_fields: set[str] = set()
        for fd in schema.fields:
            v = rec.get(fd.name)
            if v is None:
                if fd.required:
                    what = "is missing" if fd.name not in rec else "is null"
                    errors.append(_err("DC-001", fd.name, f"required field {fd.name} {what}"))
                continue
            problem = _type_error(fd, v)
            if problem:
                errors.append(_err("DC-003", fd.name, problem))
                continue
            if fd.type == "enum" and v not in fd.values:
                errors.append(
                    _err("DC-005", fd.name, f"{fd.name} must be one of {', '.join(fd.values)}, got {_show(v)}")
                )
                continue
            if fd.min is not None or fd.max is not None:
                num = _dec(v) if fd.type == "decimal" else v
                if (fd.min is not None and num < fd.min) or (fd.max is not None and num > fd.max):
                    lo = "-inf" if fd.min is None else _num(fd.min)
                    hi = "inf" if fd.max is None else _num(fd.max)
                    errors.append(_err("DC-004", fd.name, f"{fd.name} must be within [{lo}, {hi}], got {_show(v)}"))
                    continue
            if fd.pattern and not re.fullmatch(fd.pattern, v):
                errors.append(_err("DC-006", fd.name, f"{fd.name} does not match {fd.pattern}: {_show(v)}"))
                continue
            ok_fields.add(fd.name)
        for name in sorted(set(rec) - known):
            errors.append(
                _err("DC-002", name, f"unknown field {name}; fields of {schema.name}: {', '.join(sorted(known))}")
            )
        view = {k: rec.get(k) for k in known}  # absent optional fields read as null
        for rule in schema.rules:
            needed = [f for f in rule.fields if schema.field(f).required or rec.get(f) is not None]
            if all(f in ok_fields for f in needed) and not rule.check(view):
                errors.append(_err("DC-007", rule.field, rule.description))
        pk = schema.primary_key
        key = rec.get(pk) if pk in ok_fields else None
        if key is not None:
            token = json.dumps(key)
            if token in seen_keys:
                errors.append(_err("DC-008", pk, f"{pk} {_show(key)} appears earlier in this batch"))
            seen_keys.add(token)
        resolved: dict[str, Any] = {}
        for fname, (table, tkey) in fks.items():
            if fname not in ok_fields:
                continue
            if db.exists(table, rec[fname]):
                resolved[table] = rec[fname]
            else:
                errors.append(_err("DC-009", fname, f"{fname} {_show(rec[fname])} does not exist in {table}.{tkey}"))
        if schema.currency_rule and "currency" in ok_fields:
            expected = None
            if schema.name == "orders" and "customers" in resolved:
                expected = REGION_CURRENCY[db.customer_region[resolved["customers"]]]
            elif schema.name == "refunds" and "orders" in resolved:
                expected = db.order_currency[resolved["orders"]]
            if expected is not None and rec["currency"] != expected:
                errors.append(_err("DC-010", "currency", f"currency must be {expected} here, got {rec['currency']}"))
        errors.sort(key=lambda e: (e["code"], e["field"]))
        results.append({"index": index, "key": key, "valid": not errors, "errors": errors})
    return results


# -- HTTP ------------------------------------------------------------------------------

ENDPOINTS = [
    "GET /schemas",
    "GET /schemas/{name}",
    "GET /codes",
    'POST /validate  body: {"schema": <name>, "records": [<object>, ...]}',
]


class ValidationApi:
    """The validation service of one world, registered on ``api.datacorp.internal``."""

    def __init__(self, http: WorldHttp, schemas: dict[str, SchemaDef], db: Database) -> None:
        self.schemas, self.db = schemas, db
        vh = http.add_host(HOST)
        vh.route("GET", path="/").mock(side_effect=self.index)
        vh.route("GET", path="/schemas").mock(side_effect=self.list_schemas)
        vh.route("GET", path="/codes").mock(side_effect=self.codes)
        vh.route("GET", path_regex=r"^/schemas/(?P<name>[^/]+)$").mock(side_effect=self.schema)
        vh.route("POST", path="/validate").mock(side_effect=self.validate)
        # Known paths with the wrong method: 405 naming the allowed one (before the host's 404 fallback).
        vh.router.route(path="/validate").mock(side_effect=self._method_not_allowed("POST"))
        vh.router.route(path__regex=r"^/(schemas(/[^/]+)?|codes)?$").mock(side_effect=self._method_not_allowed("GET"))

    @staticmethod
    def _method_not_allowed(allowed: str) -> Callable[..., httpx.Response]:
        def handler(request: httpx.Request, **_: Any) -> httpx.Response:
            return json_response(
                405,
                {
                    "error": f"method {request.method} not allowed on {request.url.path}; use {allowed}",
                    "allow": [allowed],
                },
                {"Allow": allowed},
            )

        return handler

    def index(self, request: httpx.Request) -> httpx.Response:
        return json_response(200, {"service": "datacorp-validation", "endpoints": ENDPOINTS})

    def list_schemas(self, request: httpx.Request) -> httpx.Response:
        return json_response(200, sorted(self.schemas))

    def codes(self, request: httpx.Request) -> httpx.Response:
        return json_response(200, CODES)

    def schema(self, request: httpx.Request, name: str) -> httpx.Response:
        s = self.schemas.get(name)
        if s is None:
            return error_response(404, f"unknown schema {name!r}", schemas=sorted(self.schemas))
        return json_response(200, s.describe())

    def validate(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return error_response(
                400,
                f'the request body is not JSON ({exc}); send {{"schema": <name>, "records": [...]}}',
                accepted_keys=["schema", "records"],
            )
        if not isinstance(body, dict):
            return error_response(
                400,
                'the request body must be a JSON object {"schema": <name>, "records": [...]}',
                accepted_keys=["schema", "records"],
            )
        extra = sorted(set(body) - {"schema", "records"})
        missing = [k for k in ("schema", "records") if k not in body]
        if extra or missing:
            what = f"unknown key(s) {extra}" if extra else f"missing key(s) {missing}"
            return error_response(400, f"{what} in the request body", accepted_keys=["schema", "records"])
        name = body["schema"]
        if not isinstance(name, str) or name not in self.schemas:
            return error_response(404, f"unknown schema {name!r}", schemas=sorted(self.schemas))
        records = body["records"]
        if not isinstance(records, list):
            return error_response(
                400,
                f"records must be a JSON list of objects, got {type(records).__name__}",
                accepted_keys=["schema", "records"],
            )
        if len(records) > MAX_RECORDS:
            return error_response(
                413,
                f"too many records ({len(records)}); send at most {MAX_RECORDS} per request",
                max_records=MAX_RECORDS,
            )
        bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
        if bad is not None:
            return error_response(
                400, f"records[{bad}] must be a JSON object, got {type(records[bad]).__name__}", index=bad
            )
        results = validate_records(self.schemas[name], records, self.db)
        n_valid = sum(r["valid"] for r in results)
        return json_response(
            200,
            {
                "schema": name,
                "checked": len(results),
                "valid": n_valid,
                "invalid": len(results) - n_valid,
                "results": results,
            },
        )


def schemas_fingerprint(schemas: dict[str, SchemaDef]) -> bytes:
    return json.dumps({n: s.describe() for n, s in sorted(schemas.items())}, sort_keys=True).encode()
