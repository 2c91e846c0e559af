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

Modules: ``constants`` (the fixture's facts), ``dc_exports`` (the ``.dc`` dialect),
``validation`` (rules and API), ``lenient_dcql`` (the paper's query semantics); this module
holds the handbook, the world's assembly and the graders' view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.access import WorldAccess
from envs.datacorp.arise_v1.constants import (
    COLUMNS,
    CURRENCIES,
    CUSTOMER_EMAILS,
    NOW,
    RATES,
    SCHEMA_NAMES,
    SCHEMAS,
    STATUSES,
    VALIDATION_CODES,
    VALIDATION_HOST,
    VALIDATION_URL,
)
from envs.datacorp.arise_v1.dc_exports import (
    DcTable,
    export_path,
    format_dc,
    generate_customers,
    generate_orders,
    generate_products,
    parse_dc,
)
from envs.datacorp.arise_v1.lenient_dcql import DcqlResult, run_dcql
from envs.datacorp.arise_v1.validation import serve_validation_api
from envs.http import WorldHttp
from envs.world import World

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
    serve_validation_api(http)
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
