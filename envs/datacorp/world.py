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
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

import numpy as np

from envs import seeding
from envs.datacorp import dialect
from envs.datacorp.dialect import Column, header_lines
from envs.datacorp.validation_api import (
    CARRIERS,
    CATEGORIES,
    CODES,
    CURRENCIES,
    FOREIGN_KEYS,
    PRIMARY_KEYS,
    REFUND_REASONS,
    REGION_CURRENCY,
    REGIONS,
    STATUSES,
    TIERS,
    TS_MIN,
    Database,
    SchemaDef,
    ValidationApi,
    ValidationLimits,
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

TABLES = ("customers", "products", "orders", "shipments", "refunds")
FX_PATH = "reference/fx.json"
INCOMING_DIR = "incoming"
HANDBOOK_DIR = "handbook"
CLOCK_BASE = 1_714_521_600  # 2024-05-01T00:00:00Z; each world's clock lies up to ~200 days later
DAY = 86_400


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


# -- table definitions (the export columns mirror the validation schemas) ----------------


def table_columns(schemas: dict[str, SchemaDef]) -> dict[str, tuple[Column, ...]]:
    """Export columns of every table: same names, types and enums as the schemas; optional = nullable."""
    out = {}
    for name in TABLES:
        out[name] = tuple(Column(f.name, f.type, f.values, not f.required) for f in schemas[name].fields)
    return out


@dataclass
class Table:
    name: str
    columns: tuple[Column, ...]
    rows: list[list[Any]]

    def col(self, name: str) -> int:
        return [c.name for c in self.columns].index(name)


CENT = Decimal("0.01")


def money(x: float | Decimal) -> Decimal:
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_UP)


# -- names and texts ---------------------------------------------------------------------

FIRST = (
    "Anna",
    "Ben",
    "Chloé",
    "Dmitri",
    "Élodie",
    "Farid",
    "Greta",
    "Hiroshi",
    "Inés",
    "Jonas",
    "Kateřina",
    "Lars",
    "María",
    "Noël",
    "Oğuz",
    "Paulina",
    "Quentin",
    "Rafał",
    "Siobhán",
    "Tomás",
    "Ursula",
    "Václav",
    "Wen",
    "Xavier",
    "Yusuf",
    "Zofia",
    "Björn",
    "Chiara",
    "Dagný",
    "Emeka",
    "Fatima",
    "Giulia",
    "Håkon",
    "Ingrid",
    "João",
    "Kwame",
    "Leïla",
    "Malte",
    "Nuno",
    "Olga",
    "Priya",
    "Ren",
    "Sven",
    "Thandiwe",
)
LAST = (
    "Müller",
    "Smith",
    "Nowak",
    "García",
    "Rossi",
    "Dubois",
    "Jensen",
    "Kowalski",
    "Novák",
    "O'Connor",
    "Silva",
    "Yamamoto",
    "Søndergaard",
    "Ólafsson",
    "Brontë",
    "Çelik",
    "Łukaszewicz",
    "Papadopoulos",
    "Nguyen",
    "Schäfer",
    "Andersson",
    "Fernández",
    "van der Berg",
    "Kim",
    "Okafor",
    "Ivanova",
    "Lefèvre",
    "Horváth",
    "Dvořák",
    "Zhang",
    "田中",
    "Kovačević",
    "Byrne",
    "Haddad",
)
COMPANIES = (
    "Nordlicht GmbH",
    "Acme Trading",
    "Sól Imports",
    "Fjord & Co",
    "Café Noir Ltd",
    "Kiwi Logistics",
    "Zürich Supply AG",
    "Blue Heron LLC",
    "Mäkelä Oy",
    "Delta Parts",
)
NICKS = ("Bo", "Jay", "Mack", "Lulu", "Kiki", "Tex", "Rocky", "Bean")
DOMAINS = ("example.com", "mail.test", "datacorp.example", "post.example.org", "inbox.test")
ADJECTIVES = (
    "Compact",
    "Deluxe",
    "Eco",
    "Smart",
    "Classic",
    "Ultra",
    "Mini",
    "Pro",
    "Rustic",
    "Nordic",
    "Crème",
    "Señor",
    "Zen",
    "Turbo",
    "Vintage",
    "Modular",
)
NOUNS: dict[str, tuple[str, ...]] = {
    "electronics": ("Headphones", "Charger", "Cable", "Speaker", "Monitor", "Keyboard", "Router", "Webcam"),
    "books": ("Cookbook", "Atlas", "Novel", "Guide", "Notebook", "Anthology", "Almanac"),
    "home": ("Lamp", "Kettle", "Blanket", "Vase", "Mug set", "Clock", "Rug"),
    "garden": ("Hose", "Planter", "Shears", "Birdhouse", "Seed kit", "Lantern"),
    "toys": ("Puzzle", "Robot", "Kite", "Board game", "Plush bear", "Train set"),
    "sports": ("Yoga mat", "Racket", "Bottle", "Helmet", "Dumbbell", "Jump rope"),
    "grocery": ("Coffee beans", "Tea tin", "Olive oil", "Chocolate", "Spice box", "Honey"),
    "apparel": ("Scarf", "Beanie", "Jacket", "Socks", "T-shirt", "Raincoat"),
}
NOTES = (
    "Customer called twice.",
    "Box arrived crushed.",
    "Refund approved by support.",
    "Goodwill gesture.",
    "Item returned in original packaging.",
    "Wrong colour shipped.",
    "Partial refund agreed.",
    "Courier lost the parcel.",
)
HARD_NOTES = (
    'Customer wrote: "never again" | escalated',
    "Box damaged.\nPhotos attached to ticket.",
    'Said the item was "like new"',
    "Refund | partial | agreed by phone",
    "#urgent: refund before Friday",
    "\\N",  # the two characters backslash-N, not a null
)
UNKNOWN_FIELDS = ("discount_code", "Email", "notes", "legacy_id", "source_system", "priority", "createdAt")
CARRIER_PREFIX = {"dhl": "DH", "ups": "UP", "fedex": "FX", "postnl": "PN", "royalmail": "RM"}
REGION_COUNTRY = {
    "na-east": "US",
    "na-west": "US",
    "eu-central": "DE",
    "eu-south": "IT",
    "uk": "GB",
    "ch": "CH",
    "apac": "SG",
}
REGION_CARRIERS = {
    "na-east": ("ups", "fedex"),
    "na-west": ("ups", "fedex"),
    "eu-central": ("dhl", "postnl", "ups"),
    "eu-south": ("dhl", "ups"),
    "uk": ("royalmail", "dhl"),
    "ch": ("dhl", "postnl"),
    "apac": ("fedex", "dhl"),
}
CARRIER_MEDIAN_H = {"dhl": 36.0, "ups": 30.0, "fedex": 24.0, "postnl": 48.0, "royalmail": 60.0}


def _pick(rng: np.random.Generator, seq: tuple[str, ...] | list[str]) -> str:
    return str(seq[int(rng.integers(len(seq)))])


def _ascii_slug(text: str) -> str:
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out = "".join(ch if ch.isalnum() else "." for ch in norm)
    while ".." in out:
        out = out.replace("..", ".")
    return out.strip(".") or "user"


def _customer_name(rng: np.random.Generator, hard_rate: float) -> str:
    first, last = _pick(rng, FIRST), _pick(rng, LAST)
    if rng.random() < 0.06:
        base = _pick(rng, COMPANIES)
    else:
        base = f"{first} {last}"
    if rng.random() < hard_rate:
        kind = int(rng.integers(4))
        if kind == 0:
            return f'{first} "{_pick(rng, NICKS)}" {last}'
        if kind == 1:
            return f"{last} | {_pick(rng, COMPANIES)}"
        if kind == 2:
            return f"{first} {last}\nc/o {_pick(rng, COMPANIES)}"
        return f"#{int(rng.integers(1, 100))} {_pick(rng, COMPANIES)}"
    return base


def _product_name(rng: np.random.Generator, category: str, hard_rate: float) -> str:
    name = f"{_pick(rng, ADJECTIVES)} {_pick(rng, NOUNS[category])}"
    if rng.random() < hard_rate:
        kind = int(rng.integers(3))
        if kind == 0:
            return f'{name} {int(rng.integers(2, 30))}" | {_pick(rng, ("braided", "matte", "XL", "2-pack"))}'
        if kind == 1:
            return f'{name} "{_pick(rng, ("Night Sky", "Aurora", "Señorita", "Blå"))}" edition'
        return f"{name}\n({int(rng.integers(2, 6))} pieces)"
    if rng.random() < 0.3:
        name += f" {_pick(rng, ('S', 'M', 'L', 'XL', '500 g', '1 l', 'v2', 'Ø 20 cm'))}"
    return name


# -- generation ----------------------------------------------------------------------------


def _jitter(rng: np.random.Generator, n: int, jitter: float, lo: int) -> int:
    return max(lo, round(n * (1.0 + float(rng.uniform(-jitter, jitter)))))


def _gen_clock(seed: int) -> tuple[int, ValidationLimits]:
    r = seeding.rng(seed, "clock")
    now = CLOCK_BASE + int(r.integers(0, 200)) * DAY + int(r.integers(0, DAY))
    limits = ValidationLimits(
        quantity_max=int(r.integers(4, 21)) * 5,  # 20..100
        price_max=int(r.integers(4, 41)) * 125,  # 500..5000
        stock_max=int(r.integers(2, 21)) * 500,  # 1000..10000
    )
    return now, limits


def _gen_customers(seed: int, opts: dict[str, Any], cols: tuple[Column, ...], now: int) -> tuple[Table, list[int]]:
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
        name = _customer_name(r, opts["hard_case_rate"])
        tier = TIERS[int(tiers[k])]
        email: str | None = f"{_ascii_slug(name.split(chr(10))[0])}.{cid}@{_pick(r, DOMAINS)}"
        if tier != "enterprise" and r.random() < 0.06:
            email = None
        rows.append([cid, name, email, REGIONS[int(regions[k])], tier, int(created[k])])
    return Table("customers", cols, rows), deleted


def _gen_products(seed: int, opts: dict[str, Any], cols: tuple[Column, ...], limits: ValidationLimits) -> Table:
    r = seeding.rng(seed, "products")
    n = _jitter(r, opts["products"], opts["volume_jitter"], 3)
    skus = r.choice(np.arange(10_000, 100_000), size=n, replace=False)
    rows: list[list[Any]] = []
    for k in range(n):
        cat = _pick(r, CATEGORIES)
        price = money(min(float(np.exp(r.normal(3.4, 0.9))), limits.price_max * 0.9) + 0.99)
        cur = CURRENCIES[int(r.choice(4, p=[0.5, 0.25, 0.15, 0.1]))]
        active = bool(r.random() < 0.9)
        stock = int(r.integers(0, min(500, limits.stock_max) + 1)) if active else 0
        rows.append(
            [f"SKU-{int(skus[k]):05d}", _product_name(r, cat, opts["hard_case_rate"]), cat, price, cur, active, stock]
        )
    rows.sort(key=lambda row: row[0])
    return Table("products", cols, rows)


def _gen_fx(seed: int, now: int) -> dict[str, Any]:
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


def _gen_orders(
    seed: int,
    opts: dict[str, Any],
    cols: tuple[Column, ...],
    now: int,
    limits: ValidationLimits,
    customers: Table,
    products: Table,
    fx: dict[str, Any],
) -> Table:
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
    return Table("orders", cols, rows)


def _gen_fulfilment(
    seed: int,
    opts: dict[str, Any],
    cols_s: tuple[Column, ...],
    cols_r: tuple[Column, ...],
    now: int,
    customers: Table,
    orders: Table,
) -> tuple[Table, Table]:
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
                note = _pick(r, HARD_NOTES) if r.random() < hard * 3 else _pick(r, NOTES)
            refunds.append([rid, oid, value, cur, reason, note, ts])
            rid += 1
    return Table("shipments", cols_s, shipments), Table("refunds", cols_r, refunds)


def _apply_quality_defects(
    seed: int, opts: dict[str, Any], tables: dict[str, Table], limits: ValidationLimits, deleted: list[int]
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
            kind = _pick(r, kinds[name])
            if name == "customers":
                if kind == "bad_email":
                    row[2] = f"{_ascii_slug(row[1].split(chr(10))[0])}.{row[0]} at {_pick(r, DOMAINS)}"
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
                    row[6] = _pick(r, [c for c in CURRENCIES if c != row[6]])
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
                    row[3] = _pick(r, [c for c in CURRENCIES if c != row[3]])
                else:
                    row[4], row[5] = "other", None
            out[name][str(row[0])] = kind
    return out


# -- rendering with injected malformed records -------------------------------------------

MALFORMED_KINDS = ("missing_field", "extra_field", "bad_type", "null_required", "stray_quote", "text_after_quote")
_BAD_TEXT = {
    "int": ("12a", "1,200", "12.0", "", "0x1F"),
    "ts": ("2024-05-01T10:00:00Z", "-5", "17e8", "yesterday"),
    "decimal": ("12.5", "12,50", "$12.50", "1.234", "NaN"),
    "bool": ("yes", "TRUE", "1", "Y"),
}


def _corrupt(r: np.random.Generator, cols: tuple[Column, ...], fields: list[str], kind: str) -> str | None:
    """One damaged record line, or None when this row cannot take this kind of damage."""
    f = list(fields)
    if kind == "missing_field":
        del f[int(r.integers(len(f)))]
        return "|".join(f)
    if kind == "extra_field":
        f.insert(int(r.integers(len(f) + 1)), _pick(r, ("x", "", "0", "N/A")))
        return "|".join(f)
    if kind == "bad_type":
        k = int(r.integers(len(cols)))
        c = cols[k]
        if c.type == "str":
            return None
        if c.type == "enum":
            v = fields[k] if fields[k] in c.values else c.values[0]
            bad = v.upper() if v.upper() != v else v.lower() + "_x"
        else:
            bad = _pick(r, _BAD_TEXT[c.type])
        f[k] = bad
        return "|".join(f)
    if kind == "null_required":
        req = [i for i, c in enumerate(cols) if not c.nullable]
        f[req[int(r.integers(len(req)))]] = dialect.NULL
        return "|".join(f)
    strs = [i for i, c in enumerate(cols) if c.type == "str" and fields[i] != dialect.NULL and '"' not in fields[i]]
    if not strs:
        return None
    k = strs[int(r.integers(len(strs)))]
    text = fields[k] or "x"
    if kind == "stray_quote":
        cut = int(r.integers(1, len(text) + 1))
        f[k] = text[:cut] + '"' + text[cut:]
    elif kind == "text_after_quote":
        f[k] = f'"{text}"{_pick(r, ("x", " ", "jr", "!"))}'
    else:  # unterminated: only ever used on a file's last record
        f[k] = '"' + text
    return "|".join(f)


def _render_file(
    r: np.random.Generator,
    schema: str,
    cols: tuple[Column, ...],
    rows: list[list[Any]],
    now: int,
    rate: float,
    meta: dict[str, str],
) -> tuple[str, list[str]]:
    """(file text, keys of the damaged rows)."""
    encoders = [dialect.column_encoder(c) for c in cols]
    encoded = [[enc(v) for enc, v in zip(encoders, row, strict=True)] for row in rows]
    lines = ["|".join(f) for f in encoded]
    damaged: list[str] = []
    if rate > 0 and rows:
        single = [i for i, ln in enumerate(lines) if "\n" not in ln]
        k = min(len(single) // 3, int(r.poisson(rate * len(rows))) + 1)
        picks = sorted(int(x) for x in r.choice(single, size=k, replace=False)) if k else []
        for i in picks:
            for _ in range(8):
                text = _corrupt(r, cols, encoded[i], _pick(r, MALFORMED_KINDS))
                if text is not None:
                    lines[i] = text
                    damaged.append(str(rows[i][0]))
                    break
        last = len(lines) - 1
        if last not in picks and "\n" not in lines[last] and r.random() < 0.35:
            text = _corrupt(r, cols, encoded[last], "unterminated")
            if text is not None:
                lines[last] = text
                damaged.append(str(rows[last][0]))
    head = header_lines(schema, cols, now, meta)
    return "\n".join(head + lines) + "\n", damaged


def render_exports(
    seed: int, opts: dict[str, Any], tables: dict[str, Table], now: int
) -> tuple[dict[str, str], dict[str, list[str]]]:
    r = seeding.rng(seed, "malformed")
    files: dict[str, str] = {}
    damaged: dict[str, list[str]] = {}
    per = opts["rows_per_part"]
    for name in TABLES:
        t = tables[name]
        damaged[name] = []
        if len(t.rows) <= per:
            text, bad = _render_file(r, name, t.columns, t.rows, now, opts["malformed_rate"], {})
            files[f"{dialect.EXPORT_DIR}/{name}.dc"] = text
            damaged[name].extend(bad)
            continue
        n_parts = -(-len(t.rows) // per)
        for p in range(n_parts):
            chunk = t.rows[p * per : (p + 1) * per]
            meta = {"part": f"{p + 1}/{n_parts}"}
            text, bad = _render_file(r, name, t.columns, chunk, now, opts["malformed_rate"], meta)
            files[f"{dialect.EXPORT_DIR}/{name}/part-{p + 1:03d}.dc"] = text
            damaged[name].extend(bad)
    return files, damaged


# -- incoming batches -------------------------------------------------------------------------

BATCH_SCHEMAS = ("orders", "customers", "products", "shipments", "refunds")
BATCH_SCHEMA_WEIGHTS = (0.34, 0.2, 0.14, 0.16, 0.16)


def applicable_codes(schema: SchemaDef) -> list[str]:
    codes = ["DC-001", "DC-002", "DC-003", "DC-004", "DC-005"]
    if any(f.pattern for f in schema.fields):
        codes.append("DC-006")
    if schema.rules:
        codes.append("DC-007")
    codes.append("DC-008")
    if FOREIGN_KEYS[schema.name]:
        codes.append("DC-009")
    if schema.currency_rule:
        codes.append("DC-010")
    return codes


class _BatchMaker:
    """Valid new records for each schema and one mutation per DC code."""

    def __init__(
        self,
        r: np.random.Generator,
        tables: dict[str, Table],
        schemas: dict[str, SchemaDef],
        now: int,
        limits: ValidationLimits,
        deleted: list[int],
        fx: dict[str, Any],
        hard_rate: float,
    ) -> None:
        self.r, self.tables, self.schemas, self.now, self.limits = r, tables, schemas, now, limits
        self.hard_rate, self.fx = hard_rate, fx
        self.deleted = deleted
        self.customers = {row[0]: row for row in tables["customers"].rows}
        self.products = {row[0]: row for row in tables["products"].rows}
        self.orders = {row[0]: row for row in tables["orders"].rows}
        self.keys = {"customers": list(self.customers), "products": list(self.products), "orders": list(self.orders)}
        self.next_id = {
            "customers": max(self.customers) + len(deleted) + 10,
            "orders": max(self.orders) + 100,
            "shipments": max((row[0] for row in tables["shipments"].rows), default=700_000) + 100,
            "refunds": max((row[0] for row in tables["refunds"].rows), default=900_000) + 100,
        }
        self.used_skus = set(self.products)

    def _new_id(self, table: str) -> int:
        self.next_id[table] += int(self.r.integers(1, 4))
        return self.next_id[table]

    def _new_sku(self) -> str:
        while True:
            sku = f"SKU-{int(self.r.integers(10_000, 100_000)):05d}"
            if sku not in self.used_skus:
                self.used_skus.add(sku)
                return sku

    def _recent_ts(self) -> int:
        return self.now - int(self.r.integers(60, 3 * DAY))

    def valid(self, schema: str) -> dict[str, Any]:
        r = self.r
        if schema == "customers":
            cid = self._new_id("customers")
            name = _customer_name(r, self.hard_rate)
            tier = TIERS[int(r.choice(3, p=[0.6, 0.3, 0.1]))]
            rec: dict[str, Any] = {
                "id": cid,
                "name": name,
                "region": _pick(r, REGIONS),
                "tier": tier,
                "created_at": self._recent_ts(),
            }
            if tier == "enterprise" or r.random() < 0.9:
                rec["email"] = f"{_ascii_slug(name.split(chr(10))[0])}.{cid}@{_pick(r, DOMAINS)}"
            return rec
        if schema == "products":
            cat = _pick(r, CATEGORIES)
            active = bool(r.random() < 0.85)
            price = money(min(float(np.exp(r.normal(3.4, 0.9))), self.limits.price_max * 0.9) + 0.99)
            return {
                "sku": self._new_sku(),
                "name": _product_name(r, cat, self.hard_rate),
                "category": cat,
                "price": float(price),
                "currency": _pick(r, CURRENCIES),
                "active": active,
                "stock": int(r.integers(1, 400)) if active else 0,
            }
        if schema == "orders":
            cust = self.customers[_pick_key(r, self.keys["customers"])]
            prod = self.products[_pick_key(r, self.keys["products"])]
            cur = REGION_CURRENCY[cust[3]]
            rates = self.fx["rates"]
            unit = max(CENT, money(Decimal(prod[3]) * Decimal(str(rates[prod[4]])) / Decimal(str(rates[cur]))))
            q = int(min(r.geometric(0.45), self.limits.quantity_max))
            return {
                "order_id": self._new_id("orders"),
                "customer_id": cust[0],
                "sku": prod[0],
                "quantity": q,
                "unit_price": float(unit),
                "amount": float(unit * q),
                "currency": cur,
                "status": _pick(r, ("pending", "paid")),
                "created_at": self._recent_ts(),
            }
        order = self.orders[_pick_key(r, self.keys["orders"])]
        if schema == "shipments":
            carrier = _pick(r, CARRIERS)
            shipped = self._recent_ts()
            rec = {
                "shipment_id": self._new_id("shipments"),
                "order_id": order[0],
                "carrier": carrier,
                "tracking": f"{CARRIER_PREFIX[carrier]}{int(r.integers(0, 10**9)):09d}{_pick(r, ('US', 'DE', 'GB'))}",
                "shipped_at": shipped,
            }
            if r.random() < 0.5:
                rec["delivered_at"] = min(self.now, shipped + int(r.integers(3600, 3 * DAY)))
            return rec
        reason = _pick(r, REFUND_REASONS)
        rec = {
            "refund_id": self._new_id("refunds"),
            "order_id": order[0],
            "amount": float(max(CENT, money(order[5] * Decimal("0.5")))),
            "currency": order[6],
            "reason": reason,
            "created_at": self._recent_ts(),
        }
        if reason == "other" or r.random() < 0.3:
            rec["note"] = _pick(r, NOTES)
        return rec

    def mutate(self, schema: SchemaDef, rec: dict[str, Any], code: str, earlier: list[dict[str, Any]]) -> None:
        r = self.r
        name = schema.name
        if code == "DC-001":
            req = [f.name for f in schema.fields if f.required]
            fld = _pick(r, req)
            if r.random() < 0.3:
                rec[fld] = None
            else:
                rec.pop(fld, None)
        elif code == "DC-002":
            rec[_pick(r, UNKNOWN_FIELDS)] = _pick(r, ("x", "SPRING24", "legacy", "1"))
        elif code == "DC-003":
            fd = schema.fields[int(r.integers(len(schema.fields)))]
            v = rec.get(fd.name)
            num = _as_decimal(v)
            if fd.type in ("int", "ts"):
                base = int(num) if num is not None else 7
                rec[fd.name] = str(base) if r.random() < 0.6 else float(base) + 0.5
            elif fd.type == "decimal":
                base_d = num if num is not None else Decimal("9.99")
                rec[fd.name] = str(base_d) if r.random() < 0.5 else float(base_d) + 0.001
            elif fd.type == "bool":
                rec[fd.name] = _pick(r, ("true", "false", "yes")) if r.random() < 0.7 else 1
            else:
                rec[fd.name] = int(r.integers(1, 99_999)) if r.random() < 0.7 else [v]
        elif code == "DC-004":
            choices = {
                "customers": ("created_at",),
                "products": ("price", "stock"),
                "orders": ("quantity", "created_at"),
                "shipments": ("shipped_at",),
                "refunds": ("amount", "created_at"),
            }[name]
            fld = _pick(r, choices)
            if fld in ("created_at", "shipped_at"):
                rec[fld] = (
                    self.now + int(r.integers(3600, 30 * DAY))
                    if r.random() < 0.7
                    else TS_MIN - int(r.integers(1, 10**8))
                )
                if fld == "shipped_at" and rec.get("delivered_at") is not None:
                    rec.pop("delivered_at")
            elif fld == "quantity":
                q = self.limits.quantity_max + int(r.integers(1, 50))
                rec["quantity"] = q
                unit = _as_decimal(rec.get("unit_price"))
                if unit is not None:
                    rec["amount"] = float(unit * q)
            elif fld == "price":
                rec["price"] = (
                    float(money(self.limits.price_max + float(r.uniform(1, 900)))) if r.random() < 0.6 else 0.0
                )
            elif fld == "stock":
                rec["stock"] = (
                    -int(r.integers(1, 50)) if r.random() < 0.5 else self.limits.stock_max + int(r.integers(1, 999))
                )
                rec["active"] = True
            else:
                rec["amount"] = 0.0 if r.random() < 0.5 else -float(r.integers(1, 100))
        elif code == "DC-005":
            enums = [f for f in schema.fields if f.type == "enum"]
            fd = enums[int(r.integers(len(enums)))]
            bad = {
                "currency": ("JPY", "usd", "EURO"),
                "status": ("complete", "PAID", "canceled"),
                "region": ("emea", "EU", "latam"),
                "tier": ("gold", "Pro", "basic"),
                "category": ("Electronics", "food", "misc"),
                "carrier": ("courier", "DHL", "usps"),
                "reason": ("refund", "Damaged", "broken"),
            }.get(fd.name, ("INVALID",))
            rec[fd.name] = _pick(r, bad)
        elif code == "DC-006":
            pats = [f for f in schema.fields if f.pattern]
            fd = pats[int(r.integers(len(pats)))]
            if fd.name == "email":
                rec["email"] = _pick(r, ("bob(at)example.com", "no-email", "jane@localhost", "a b@mail.test"))
            elif fd.name == "sku":
                rec["sku"] = _pick(r, ("sku-01234", "SKU-1234", "SKU-12A45", "SKU 55555"))
            else:
                rec["tracking"] = _pick(r, ("dh123456789de", "UP12345GB", "FX-123456789-US"))
        elif code == "DC-007":
            if name == "customers":
                rec["tier"] = "enterprise"
                rec.pop("email", None)
            elif name == "products":
                rec["active"] = False
                rec["stock"] = int(r.integers(1, 200))
            elif name == "orders":
                amount = _as_decimal(rec.get("amount")) or Decimal("1.00")
                rec["amount"] = float(money(amount + money(float(r.integers(1, 999)) / 100)))
            elif name == "shipments":
                shipped = rec.get("shipped_at")
                if not isinstance(shipped, int):
                    shipped = rec["shipped_at"] = self._recent_ts()
                rec["delivered_at"] = shipped - int(r.integers(600, 2 * DAY))
            else:
                rec["reason"] = "other"
                rec.pop("note", None)
        elif code == "DC-008":
            pk = schema.primary_key
            donors = [e for e in earlier if e.get(pk) is not None]
            if donors:
                rec[pk] = donors[int(r.integers(len(donors)))][pk]
        elif code == "DC-009":
            if name == "orders":
                if r.random() < 0.5 and self.deleted:
                    rec["customer_id"] = int(self.deleted[int(r.integers(len(self.deleted)))])
                else:
                    rec["sku"] = self._new_sku()
            else:
                rec["order_id"] = max(self.orders) + int(r.integers(1_000, 50_000))
        elif code == "DC-010":
            rec["currency"] = _pick(r, [c for c in CURRENCIES if c != rec.get("currency")])


def _as_decimal(v: Any) -> Decimal | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return Decimal(repr(v)) if isinstance(v, float) else Decimal(v)


def _pick_key(r: np.random.Generator, keys: list[Any]) -> Any:
    return keys[int(r.integers(len(keys)))]


def render_batch(batch_id: str, schema: str, received_at: int, source: str, records: list[dict[str, Any]]) -> str:
    """A batch file: JSON with one record per line (so it pages well)."""
    head = json.dumps(
        {"batch_id": batch_id, "schema": schema, "source": source, "received_at": received_at}, ensure_ascii=False
    )
    body = ",\n".join("  " + json.dumps(rec, ensure_ascii=False) for rec in records)
    return head[:-1] + ', "records": [\n' + body + "\n]}\n"


def generate_batches(
    seed: int,
    opts: dict[str, Any],
    tables: dict[str, Table],
    schemas: dict[str, SchemaDef],
    now: int,
    limits: ValidationLimits,
    deleted: list[int],
    fx: dict[str, Any],
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    r = seeding.rng(seed, "batches")
    maker = _BatchMaker(r, tables, schemas, now, limits, deleted, fx, opts["hard_case_rate"])
    files: dict[str, str] = {}
    meta: list[dict[str, Any]] = []
    w = np.array(BATCH_SCHEMA_WEIGHTS)
    n = opts["batches"]
    plan = [schemas[BATCH_SCHEMAS[int(r.choice(len(BATCH_SCHEMAS), p=w / w.sum()))]] for _ in range(n)]
    if all(s.name != "orders" for s in plan):  # orders batches can show every code
        plan[int(r.integers(n))] = schemas["orders"]
    picks: list[list[str]] = []
    for schema in plan:
        codes = applicable_codes(schema)
        k = int(r.integers(2, min(6, len(codes)) + 1))
        picks.append(sorted(str(c) for c in r.choice(codes, size=k, replace=False)))
    for code in CODES:  # every DC code occurs in at least one batch
        if not any(code in p for p in picks):
            able = [i for i, s in enumerate(plan) if code in applicable_codes(s)]
            target = able[int(r.integers(len(able)))]
            picks[target] = sorted([*picks[target], code])
    for b in range(n):
        schema, chosen = plan[b], picks[b]
        size = int(r.integers(opts["batch_min_records"], opts["batch_max_records"] + 1))
        n_invalid = min(size - 1, max(len(chosen), round(size * float(r.uniform(0.15, 0.5)))))
        records = [maker.valid(schema.name) for _ in range(size)]
        bad_idx = sorted(int(i) for i in r.choice(np.arange(1, size), size=n_invalid, replace=False))
        for j, i in enumerate(bad_idx):
            mine = [chosen[j]] if j < len(chosen) else [_pick(r, chosen)]
            if r.random() < 0.2 and len(chosen) > 1:
                mine.append(_pick(r, [c for c in chosen if c != mine[0]]))
            for code in mine:
                maker.mutate(schema, records[i], code, records[:i])
        batch_id = f"batch-{b + 1:03d}"
        received = now - int(r.integers(60, 2 * DAY))
        source = _pick(r, ("partner-feed", "web-signup", "erp-sync", "warehouse-scan", "manual-upload"))
        path = f"{INCOMING_DIR}/{batch_id}.json"
        files[path] = render_batch(batch_id, schema.name, received, source, records)
        meta.append({"path": path, "batch_id": batch_id, "schema": schema.name, "size": size, "codes": chosen})
    return files, meta


# -- assembly --------------------------------------------------------------------------------


def build_world(seed: int, options: dict[str, Any] | None = None) -> World:
    opts = check_options(dict(options or {}))
    now, limits = _gen_clock(seed)
    schemas = build_schemas(limits, now)
    cols = table_columns(schemas)
    customers, deleted = _gen_customers(seed, opts, cols["customers"], now)
    products = _gen_products(seed, opts, cols["products"], limits)
    fx = _gen_fx(seed, now)
    orders = _gen_orders(seed, opts, cols["orders"], now, limits, customers, products, fx)
    shipments, refunds = _gen_fulfilment(seed, opts, cols["shipments"], cols["refunds"], now, customers, orders)
    tables = {t.name: t for t in (customers, products, orders, shipments, refunds)}
    quality = _apply_quality_defects(seed, opts, tables, limits, deleted)

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
