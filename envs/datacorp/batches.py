"""DataCorp's incoming validation batches (``incoming/batch-NNN.json``): records to validate, with planted errors."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import numpy as np

from envs import seeding
from envs.datacorp.datagen import CENT, DAY, GeneratedTable, money
from envs.datacorp.validation_api import (
    CARRIERS,
    CATEGORIES,
    CODES,
    CURRENCIES,
    FOREIGN_KEYS,
    REFUND_REASONS,
    REGION_CURRENCY,
    REGIONS,
    TIERS,
    TS_MIN,
    SchemaDef,
    ValidationLimits,
)
from envs.datacorp.vocabulary import (
    CARRIER_PREFIX,
    DOMAINS,
    NOTES,
    UNKNOWN_FIELDS,
    ascii_slug,
    customer_name,
    pick,
    product_name,
)

INCOMING_DIR = "incoming"


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
        tables: dict[str, GeneratedTable],
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
            name = customer_name(r, self.hard_rate)
            tier = TIERS[int(r.choice(3, p=[0.6, 0.3, 0.1]))]
            rec: dict[str, Any] = {
                "id": cid,
                "name": name,
                "region": pick(r, REGIONS),
                "tier": tier,
                "created_at": self._recent_ts(),
            }
            if tier == "enterprise" or r.random() < 0.9:
                rec["email"] = f"{ascii_slug(name.split(chr(10))[0])}.{cid}@{pick(r, DOMAINS)}"
            return rec
        if schema == "products":
            cat = pick(r, CATEGORIES)
            active = bool(r.random() < 0.85)
            price = money(min(float(np.exp(r.normal(3.4, 0.9))), self.limits.price_max * 0.9) + 0.99)
            return {
                "sku": self._new_sku(),
                "name": product_name(r, cat, self.hard_rate),
                "category": cat,
                "price": float(price),
                "currency": pick(r, CURRENCIES),
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
                "status": pick(r, ("pending", "paid")),
                "created_at": self._recent_ts(),
            }
        order = self.orders[_pick_key(r, self.keys["orders"])]
        if schema == "shipments":
            carrier = pick(r, CARRIERS)
            shipped = self._recent_ts()
            rec = {
                "shipment_id": self._new_id("shipments"),
                "order_id": order[0],
                "carrier": carrier,
                "tracking": f"{CARRIER_PREFIX[carrier]}{int(r.integers(0, 10**9)):09d}{pick(r, ('US', 'DE', 'GB'))}",
                "shipped_at": shipped,
            }
            if r.random() < 0.5:
                rec["delivered_at"] = min(self.now, shipped + int(r.integers(3600, 3 * DAY)))
            return rec
        reason = pick(r, REFUND_REASONS)
        rec = {
            "refund_id": self._new_id("refunds"),
            "order_id": order[0],
            "amount": float(max(CENT, money(order[5] * Decimal("0.5")))),
            "currency": order[6],
            "reason": reason,
            "created_at": self._recent_ts(),
        }
        if reason == "other" or r.random() < 0.3:
            rec["note"] = pick(r, NOTES)
        return rec

    def mutate(self, schema: SchemaDef, rec: dict[str, Any], code: str, earlier: list[dict[str, Any]]) -> None:
        r = self.r
        name = schema.name
        if code == "DC-001":
            req = [f.name for f in schema.fields if f.required]
            fld = pick(r, req)
            if r.random() < 0.3:
                rec[fld] = None
            else:
                rec.pop(fld, None)
        elif code == "DC-002":
            rec[pick(r, UNKNOWN_FIELDS)] = pick(r, ("x", "SPRING24", "legacy", "1"))
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
                rec[fd.name] = pick(r, ("true", "false", "yes")) if r.random() < 0.7 else 1
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
            fld = pick(r, choices)
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
            rec[fd.name] = pick(r, bad)
        elif code == "DC-006":
            pats = [f for f in schema.fields if f.pattern]
            fd = pats[int(r.integers(len(pats)))]
            if fd.name == "email":
                rec["email"] = pick(r, ("bob(at)example.com", "no-email", "jane@localhost", "a b@mail.test"))
            elif fd.name == "sku":
                rec["sku"] = pick(r, ("sku-01234", "SKU-1234", "SKU-12A45", "SKU 55555"))
            else:
                rec["tracking"] = pick(r, ("dh123456789de", "UP12345GB", "FX-123456789-US"))
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
            rec["currency"] = pick(r, [c for c in CURRENCIES if c != rec.get("currency")])


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
    tables: dict[str, GeneratedTable],
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
            mine = [chosen[j]] if j < len(chosen) else [pick(r, chosen)]
            if r.random() < 0.2 and len(chosen) > 1:
                mine.append(pick(r, [c for c in chosen if c != mine[0]]))
            for code in mine:
                maker.mutate(schema, records[i], code, records[:i])
        batch_id = f"batch-{b + 1:03d}"
        received = now - int(r.integers(60, 2 * DAY))
        source = pick(r, ("partner-feed", "web-signup", "erp-sync", "warehouse-scan", "manual-upload"))
        path = f"{INCOMING_DIR}/{batch_id}.json"
        files[path] = render_batch(batch_id, schema.name, received, source, records)
        meta.append({"path": path, "batch_id": batch_id, "schema": schema.name, "size": size, "codes": chosen})
    return files, meta
