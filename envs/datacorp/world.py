"""Assemble a rigorous DataCorp world from a seed.

Order is fixed and every part draws from its own named seed stream: clock and
limits -> customers -> products -> exchange rates -> orders -> shipments and refunds
-> data-quality defects (rows that are well-formed but fail validation) -> rendering
to ``.dc`` exports with injected malformed records -> incoming validation batches ->
handbook.

World layout::

    exports/customers.dc              one file per table ...
    exports/products.dc
    exports/orders/part-001.dc ...    ... or parts when a table has more than rows_per_part rows
    exports/shipments/part-001.dc ...
    exports/refunds.dc
    reference/fx.json                 exchange rates for DC_CONVERT (value of one unit in USD)
    incoming/batch-001.json ...       record batches waiting for validation
    http://api.datacorp.internal      the validation API

The *database* behind the validation API (which customers, products and orders
exist) is the generated data before the export damaged some records, so a malformed
export line never hides a key from the API.

The parts live in their own modules: ``vocabulary`` (names and texts), ``datagen`` (the
tables and their defects), ``exports`` (rendering with malformed records), ``batches``
(incoming batches); this module holds the options, the handbook and the assembly.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from envs.datacorp.batches import generate_batches
from envs.datacorp.datagen import (
    TABLES,
    apply_quality_defects,
    gen_clock,
    gen_customers,
    gen_fulfilment,
    gen_fx,
    gen_orders,
    gen_products,
    table_columns,
)
from envs.datacorp.exports import render_exports
from envs.datacorp.validation_api import (
    CARRIERS,
    CATEGORIES,
    CODES,
    CURRENCIES,
    PRIMARY_KEYS,
    REFUND_REASONS,
    REGIONS,
    STATUSES,
    TIERS,
    Database,
    ValidationApi,
    build_schemas,
    schemas_fingerprint,
)
from envs.http import WorldHttp
from envs.world import World

DEFAULT_OPTIONS: dict[str, Any] = {
    "customers": 800,  # approximate volumes (each world jitters them by volume_jitter)
    "products": 200,
    "orders": 5000,
    "volume_jitter": 0.15,
    "days": 180,  # orders span the last `days` days before the export clock
    "rows_per_part": 2000,  # larger tables are split into exports/<table>/part-NNN.dc
    "malformed_rate": 0.005,  # share of damaged records per export file (at least one per file when > 0)
    "quality_defect_rate": 0.01,  # share of well-formed rows that fail validation
    "hard_case_rate": 0.04,  # share of text values with delimiters, quotes, line breaks or a leading '#'
    "batches": 8,
    "batch_min_records": 30,
    "batch_max_records": 120,
}
_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "customers": (20, 200_000),
    "products": (10, 50_000),
    "orders": (50, 2_000_000),
    "days": (7, 3650),
    "rows_per_part": (100, 10_000_000),
    "batches": (1, 99),
    "batch_min_records": (5, 1000),
    "batch_max_records": (5, 1000),
}
_RATE_BOUNDS: dict[str, tuple[float, float]] = {
    "volume_jitter": (0.0, 0.5),
    "malformed_rate": (0.0, 0.2),
    "quality_defect_rate": (0.0, 0.2),
    "hard_case_rate": (0.0, 0.5),
}

FX_PATH = "reference/fx.json"
HANDBOOK_DIR = "handbook"


def handbook() -> dict[str, str]:
    """Every page of ``envs/datacorp/handbook/*.md`` (keyed by file stem)."""
    pkg = resources.files("envs.datacorp") / HANDBOOK_DIR
    pages = {}
    for entry in pkg.iterdir():
        if entry.name.endswith(".md"):
            pages[entry.name[: -len(".md")]] = entry.read_text(encoding="utf-8")
    return dict(sorted(pages.items()))


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Merge with the defaults and validate, naming the accepted options on error."""
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ValueError(f"unknown DataCorp world option(s) {unknown}; accepted: {sorted(DEFAULT_OPTIONS)}")
    opts = {**DEFAULT_OPTIONS, **options}
    for key, (lo, hi) in _INT_BOUNDS.items():
        v = opts[key]
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ValueError(f"option {key} must be an integer in [{lo}, {hi}], got {v!r}")
    for key, (flo, fhi) in _RATE_BOUNDS.items():
        v = opts[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not flo <= v <= fhi:
            raise ValueError(f"option {key} must be a number in [{flo}, {fhi}], got {v!r}")
    if opts["batch_min_records"] > opts["batch_max_records"]:
        raise ValueError(
            f"batch_min_records ({opts['batch_min_records']}) must be <= "
            f"batch_max_records ({opts['batch_max_records']})"
        )
    return opts


# -- assembly --------------------------------------------------------------------------------


def build_world(seed: int, options: dict[str, Any] | None = None) -> World:
    opts = check_options(dict(options or {}))
    now, limits = gen_clock(seed)
    schemas = build_schemas(limits, now)
    cols = table_columns(schemas)
    customers, deleted = gen_customers(seed, opts, cols["customers"], now)
    products = gen_products(seed, opts, cols["products"], limits)
    fx = gen_fx(seed, now)
    orders = gen_orders(seed, opts, cols["orders"], now, limits, customers, products, fx)
    shipments, refunds = gen_fulfilment(seed, opts, cols["shipments"], cols["refunds"], now, customers, orders)
    tables = {t.name: t for t in (customers, products, orders, shipments, refunds)}
    quality = apply_quality_defects(seed, opts, tables, limits, deleted)

    db = Database(
        customer_region={row[0]: row[3] for row in customers.rows},
        product_skus=frozenset(row[0] for row in products.rows),
        order_currency={row[0]: row[6] for row in orders.rows},
    )
    files, damaged = render_exports(seed, opts, tables, now)
    files[FX_PATH] = json.dumps(fx, indent=2, sort_keys=True) + "\n"
    batch_files, batches = generate_batches(seed, opts, tables, schemas, now, limits, deleted, fx)
    files.update(batch_files)

    http = WorldHttp()
    ValidationApi(http, schemas, db)

    entities = sorted(
        set(TABLES)
        | {c.name for cs in cols.values() for c in cs}
        | set(CODES)
        | set(REGIONS)
        | set(CURRENCIES)
        | set(TIERS)
        | set(CATEGORIES)
        | set(STATUSES)
        | set(CARRIERS)
        | set(REFUND_REASONS)
        | {b["batch_id"] for b in batches}
        | {b["path"] for b in batches}
        | set(files)
    )
    facts = {
        "now": now,
        "limits": limits,
        "fx": fx,
        "tables": {name: {"columns": t.columns, "rows": t.rows} for name, t in tables.items()},
        "primary_keys": dict(PRIMARY_KEYS),
        "deleted_customers": deleted,
        "damaged": damaged,  # table -> primary keys (as str) of rows whose export record is malformed
        "quality": quality,  # table -> {primary key (str): defect}
        "batches": batches,
    }
    return World(
        name="datacorp",
        protocol="rigorous",
        seed=seed,
        now=now,
        files=files,
        docs=handbook(),
        http=http,
        facts=facts,
        api_fingerprint=schemas_fingerprint(schemas) + db.fingerprint(),
        entities=entities,
        options=opts,
    )
