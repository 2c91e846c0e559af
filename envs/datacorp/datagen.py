"""DataCorp's data generation: clock and limits, customers, products, exchange rates, orders,
shipments and refunds, then the data-quality defects (rows well-formed but failing validation).

Each part draws from its own named seed stream, in a fixed order (``build_world`` in ``envs.datacorp.world``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from envs import seeding
from envs.datacorp.dialect import Column
from envs.datacorp.validation_api import (
    CATEGORIES,
    CURRENCIES,
    REFUND_REASONS,
    REGION_CURRENCY,
    REGIONS,
    TIERS,
    SchemaDef,
    ValidationLimits,
)
from envs.datacorp.vocabulary import (
    CARRIER_MEDIAN_H,
    CARRIER_PREFIX,
    DOMAINS,
    HARD_NOTES,
    NOTES,
    REGION_CARRIERS,
    REGION_COUNTRY,
    ascii_slug,
    customer_name,
    pick,
    product_name,
)

TABLES = ("customers", "products", "orders", "shipments", "refunds")
CLOCK_BASE = 1_714_521_600  # 2024-05-01T00:00:00Z; each world's clock lies up to ~200 days later
DAY = 86_400


# -- table definitions (the export columns mirror the validation schemas) ----------------


def table_columns(schemas: dict[str, SchemaDef]) -> dict[str, tuple[Column, ...]]:
    """Export columns of every table: same names, types and enums as the schemas; optional = nullable."""
    out = {}
    for name in TABLES:
        out[name] = tuple(Column(f.name, f.type, f.values, not f.required) for f in schemas[name].fields)
    return out


@dataclass
class GeneratedTable:
    name: str
    columns: tuple[Column, ...]
    rows: list[list[Any]]

    def col(self, name: str) -> int:
        return [c.name for c in self.columns].index(name)


CENT = Decimal("0.01")


def money(x: float | Decimal) -> Decimal:
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_UP)


# -- generation ----------------------------------------------------------------------------


def _jitter(rng: np.random.Generator, n: int, jitter: float, lo: int) -> int:
    return max(lo, round(n * (1.0 + float(rng.uniform(-jitter, jitter)))))


def gen_clock(seed: int) -> tuple[int, ValidationLimits]:
    r = seeding.rng(seed, "clock")
    now = CLOCK_BASE + int(r.integers(0, 200)) * DAY + int(r.integers(0, DAY))
    limits = ValidationLimits(
        quantity_max=int(r.integers(4, 21)) * 5,  # 20..100
        price_max=int(r.integers(4, 41)) * 125,  # 500..5000
        stock_max=int(r.integers(2, 21)) * 500,  # 1000..10000
    )
    return now, limits


def gen_customers(
    seed: int, opts: dict[str, Any], cols: tuple[Column, ...], now: int
) -> tuple[GeneratedTable, list[int]]:
    r = seeding.rng(seed, "customers")
    n = _jitter(r, opts["customers"], opts["volume_jitter"], 5)
    span = int(n * 1.06) + 2
    ids = np.sort(r.choice(np.arange(1, span + 1), size=n, replace=False))
    deleted = sorted(set(range(1, span + 1)) - {int(i) for i in ids})
    region_w = np.array([0.2, 0.14, 0.18, 0.1, 0.16, 0.07, 0.15])
    regions = r.choice(len(REGIONS), size=n, p=region_w / region_w.sum())
    tiers = r.choice(len(TIERS), size=n, p=[0.6, 0.3, 0.1])
    created = now - r.integers(30 * DAY, 730 * DAY, size=n)
    rows: list[list[Any]] = []
    for k in range(n):
        cid = int(ids[k])
        name = customer_name(r, opts["hard_case_rate"])
        tier = TIERS[int(tiers[k])]
        email: str | None = f"{ascii_slug(name.split(chr(10))[0])}.{cid}@{pick(r, DOMAINS)}"
        if tier != "enterprise" and r.random() < 0.06:
            email = None
        rows.append([cid, name, email, REGIONS[int(regions[k])], tier, int(created[k])])
    return GeneratedTable("customers", cols, rows), deleted


def gen_products(seed: int, opts: dict[str, Any], cols: tuple[Column, ...], limits: ValidationLimits) -> GeneratedTable:
    r = seeding.rng(seed, "products")
    n = _jitter(r, opts["products"], opts["volume_jitter"], 3)
    skus = r.choice(np.arange(10_000, 100_000), size=n, replace=False)
    rows: list[list[Any]] = []
    for k in range(n):
        cat = pick(r, CATEGORIES)
        price = money(min(float(np.exp(r.normal(3.4, 0.9))), limits.price_max * 0.9) + 0.99)
        cur = CURRENCIES[int(r.choice(4, p=[0.5, 0.25, 0.15, 0.1]))]
        active = bool(r.random() < 0.9)
        stock = int(r.integers(0, min(500, limits.stock_max) + 1)) if active else 0
        rows.append(
            [f"SKU-{int(skus[k]):05d}", product_name(r, cat, opts["hard_case_rate"]), cat, price, cur, active, stock]
        )
    rows.sort(key=lambda row: row[0])
    return GeneratedTable("products", cols, rows)


def gen_fx(seed: int, now: int) -> dict[str, Any]:
    r = seeding.rng(seed, "fx")
    base = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "CHF": 1.12}
    rates = {c: (1.0 if c == "USD" else round(v * float(r.uniform(0.95, 1.05)), 4)) for c, v in base.items()}
    return {
        "base": "USD",
        "as_of": now,
        "rates": rates,
        "meaning": "rates[C] is the value of one unit of currency C in USD",
    }


_STATUS_BY_AGE = (  # (max age in seconds, statuses, probabilities)
    (DAY, ("pending", "paid", "cancelled"), (0.6, 0.35, 0.05)),
    (4 * DAY, ("paid", "shipped", "cancelled"), (0.3, 0.6, 0.1)),
    (None, ("delivered", "cancelled", "refunded", "shipped"), (0.78, 0.08, 0.09, 0.05)),
)


def _statuses_for_ages(r: np.random.Generator, ages: np.ndarray) -> list[str]:
    """Recent orders are pending or paid, older ones mostly delivered (vectorised)."""
    u = r.random(len(ages))
    out = np.empty(len(ages), dtype=object)
    lower = 0
    for limit, names, probs in _STATUS_BY_AGE:
        mask = (ages >= lower) if limit is None else (ages >= lower) & (ages < limit)
        edges = np.cumsum(probs)
        picks = np.minimum(np.searchsorted(edges, u[mask], side="right"), len(names) - 1)
        out[mask] = np.array(names, dtype=object)[picks]
        lower = limit if limit is not None else lower
    return [str(x) for x in out]


def gen_orders(
    seed: int,
    opts: dict[str, Any],
    cols: tuple[Column, ...],
    now: int,
    limits: ValidationLimits,
    customers: GeneratedTable,
    products: GeneratedTable,
    fx: dict[str, Any],
) -> GeneratedTable:
    r = seeding.rng(seed, "orders")
    n = _jitter(r, opts["orders"], opts["volume_jitter"], 10)
    t0 = now - opts["days"] * DAY
    cust_w = r.gamma(0.6, size=len(customers.rows))
    cust_idx = r.choice(len(customers.rows), size=n, p=cust_w / cust_w.sum())
    prod_w = r.gamma(0.8, size=len(products.rows))
    prod_idx = r.choice(len(products.rows), size=n, p=prod_w / prod_w.sum())
    c_created = np.array([customers.rows[int(i)][5] for i in cust_idx])
    lo = np.maximum(c_created, t0)
    created = (lo + r.random(n) * (now - 60 - lo)).astype(np.int64)
    qty = np.minimum(r.geometric(0.45, size=n), limits.quantity_max)
    order = np.argsort(created, kind="stable")
    ids = 100_001 + np.cumsum(r.choice([1, 1, 1, 2, 3], size=n)) - 1
    rates = {c: Decimal(str(v)) for c, v in fx["rates"].items()}
    statuses = _statuses_for_ages(r, now - created[order])
    units: dict[tuple[str, str], Decimal] = {}
    rows: list[list[Any]] = []
    for pos, k in enumerate(order.tolist()):
        cust = customers.rows[int(cust_idx[k])]
        prod = products.rows[int(prod_idx[k])]
        cur = REGION_CURRENCY[cust[3]]
        unit = units.get((prod[0], cur))
        if unit is None:
            unit = units[(prod[0], cur)] = max(CENT, money(prod[3] * rates[prod[4]] / rates[cur]))
        q = int(qty[k])
        rows.append([int(ids[pos]), cust[0], prod[0], q, unit, unit * q, cur, statuses[pos], int(created[k])])
    return GeneratedTable("orders", cols, rows)


def gen_fulfilment(
    seed: int,
    opts: dict[str, Any],
    cols_s: tuple[Column, ...],
    cols_r: tuple[Column, ...],
    now: int,
    customers: GeneratedTable,
    orders: GeneratedTable,
) -> tuple[GeneratedTable, GeneratedTable]:
    r = seeding.rng(seed, "fulfilment")
    region_of = {row[0]: row[3] for row in customers.rows}
    shipments: list[list[Any]] = []
    refunds: list[list[Any]] = []
    sid, rid = 700_001, 900_001
    hard = opts["hard_case_rate"]
    n = len(orders.rows)
    # Per-order draws up front (vectorised); refunds are rare and drawn in the loop.
    u_ship, u_carrier, u_refund = r.random(n), r.random(n), r.random(n)
    delay = r.integers(3600, 48 * 3600, size=n)
    z = r.normal(0.0, 0.45, size=n)
    tracking_no = r.integers(0, 10**9, size=n)
    steps = r.integers(1, 3, size=n)
    for i, o in enumerate(orders.rows):
        oid, cid, status, created, amount, cur = o[0], o[1], o[7], o[8], o[5], o[6]
        region = region_of.get(cid, "na-east")
        delivered_at = None
        shipped = status in ("shipped", "delivered") or (status == "refunded" and u_ship[i] < 0.85)
        if shipped:
            options = REGION_CARRIERS[region]
            carrier = options[int(u_carrier[i] * len(options))]
            shipped_at = min(now - 120, created + int(delay[i]))
            if status != "shipped":
                hours = CARRIER_MEDIAN_H[carrier] * float(np.exp(z[i]))
                delivered_at = min(now - 60, shipped_at + int(hours * 3600))
            tracking = f"{CARRIER_PREFIX[carrier]}{int(tracking_no[i]):09d}{REGION_COUNTRY[region]}"
            shipments.append([sid, oid, carrier, tracking, shipped_at, delivered_at])
            sid += int(steps[i])
        n_refunds = 0
        if status == "refunded":
            n_refunds = 2 if u_refund[i] < 0.12 else 1
        elif status == "delivered" and u_refund[i] < 0.025:
            n_refunds = 1
        for j in range(n_refunds):
            if status == "refunded" and n_refunds == 1:
                value = amount
            else:
                value = max(CENT, money(amount * Decimal(str(round(float(r.uniform(0.1, 0.5)), 3)))))
            base_ts = delivered_at if delivered_at is not None else created
            ts = min(now - 30, base_ts + int(r.integers(3600, 10 * DAY)) + j * 3600)
            reason = REFUND_REASONS[int(r.choice(5, p=[0.3, 0.2, 0.2, 0.15, 0.15]))]
            note: str | None = None
            if reason == "other" or r.random() < 0.4:
                note = pick(r, HARD_NOTES) if r.random() < hard * 3 else pick(r, NOTES)
            refunds.append([rid, oid, value, cur, reason, note, ts])
            rid += 1
    return GeneratedTable("shipments", cols_s, shipments), GeneratedTable("refunds", cols_r, refunds)


def apply_quality_defects(
    seed: int, opts: dict[str, Any], tables: dict[str, GeneratedTable], limits: ValidationLimits, deleted: list[int]
) -> dict[str, dict[str, str]]:
    """Make some well-formed rows fail validation; returns {table: {key: defect}}."""
    r = seeding.rng(seed, "quality")
    rate = opts["quality_defect_rate"]
    out: dict[str, dict[str, str]] = {t: {} for t in TABLES}
    if rate <= 0:
        return out
    kinds = {
        "customers": ("bad_email", "empty_email", "enterprise_no_email"),
        "products": ("inactive_stock", "price_over_max"),
        "orders": ("orphan_customer", "currency_mismatch", "amount_mismatch", "quantity_over_max"),
        "shipments": ("delivered_before_shipped", "bad_tracking"),
        "refunds": ("currency_mismatch", "other_without_note"),
    }
    for name in TABLES:
        t = tables[name]
        k = min(len(t.rows) // 4, int(r.poisson(rate * len(t.rows))) + 1)
        for i in sorted(int(x) for x in r.choice(len(t.rows), size=k, replace=False)):
            row = t.rows[i]
            kind = pick(r, kinds[name])
            if name == "customers":
                if kind == "bad_email":
                    row[2] = f"{ascii_slug(row[1].split(chr(10))[0])}.{row[0]} at {pick(r, DOMAINS)}"
                elif kind == "empty_email":
                    row[2] = ""
                else:
                    row[4], row[2] = "enterprise", None
            elif name == "products":
                if kind == "inactive_stock":
                    row[5], row[6] = False, int(r.integers(1, 300))
                else:
                    row[3] = money(limits.price_max + float(r.uniform(1, 500)))
            elif name == "orders":
                if kind == "orphan_customer" and deleted:
                    row[1] = int(deleted[int(r.integers(len(deleted)))])
                elif kind == "currency_mismatch":
                    row[6] = pick(r, [c for c in CURRENCIES if c != row[6]])
                elif kind == "quantity_over_max":
                    row[3] = limits.quantity_max + int(r.integers(1, 20))
                    row[5] = row[4] * row[3]
                else:
                    kind = "amount_mismatch"
                    row[5] = row[5] + money(float(r.integers(1, 500)) / 100)
            elif name == "shipments":
                if kind == "delivered_before_shipped" and row[5] is not None:
                    row[5] = row[4] - int(r.integers(3600, 3 * DAY))
                else:
                    kind = "bad_tracking"
                    row[3] = row[3].lower()
            elif name == "refunds":
                if kind == "currency_mismatch":
                    row[3] = pick(r, [c for c in CURRENCIES if c != row[3]])
                else:
                    row[4], row[5] = "other", None
            out[name][str(row[0])] = kind
    return out
