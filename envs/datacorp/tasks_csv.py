"""Phase 1 (CSV): task families over the ``.dc`` table exports.

Every truth parses the exports with the strict reader (``reach.table``): only
well-formed rows count, joins follow foreign keys to well-formed rows of the
referenced export, and malformed records are counted exactly as the dialect page
defines them.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from decimal import Decimal
from typing import Any

from envs.access import WorldAccess
from envs.datacorp import reach
from envs.datacorp.validation_api import CARRIERS, CATEGORIES, CURRENCIES, REGIONS, STATUSES
from envs.grading import Comparator, DictOf, ExactInt, ExactStr, Tolerance
from envs.tasks import Call, DegenerateTask, Solver, TaskFamily
from envs.world import World

INT = {"type": "integer"}
NUM = {"type": "number"}
STR = {"type": "string"}
DAY = 86_400
PAID = ["paid", "shipped", "delivered"]


def obj(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def pick_window(world: World, rng: Any, min_days: int, max_days: int) -> tuple[int, int]:
    days = int(world.options.get("days", 180))
    span = int(rng.integers(min_days, max(min_days, min(max_days, days - 1)) + 1)) * DAY
    t0 = world.now - days * DAY
    start = t0 + int(rng.integers(0, max(1, days * DAY - span)))
    return start, start + span


def window_text(a: int, b: int) -> str:
    return f"created_at in [{a}, {b}) (unix seconds, start inclusive, end exclusive)"


def in_window(row: dict[str, Any], p: dict[str, Any], column: str = "created_at") -> bool:
    return bool(p["start"] <= row[column] < p["end"])


def money_total(values: list[Decimal]) -> float:
    return float(sum(values, Decimal(0)))


class ValidRows(TaskFamily):
    name, phase, difficulty = "csv.valid_rows", "csv", "easy"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"table": str(rng.choice(["customers", "products", "orders", "shipments", "refunds"]))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"How many well-formed rows does the {p['table']} table have in its exports "
            "(all of its export files together; malformed records are not rows)?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        return len(reach.rows(access, p["table"]))

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("dc_tables", {})
        return json.loads(out)[p["table"]]["rows"]


class MalformedRecords(TaskFamily):
    name, phase, difficulty = "csv.malformed_records", "csv", "medium"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"table": str(rng.choice(["orders", "shipments", "customers", "all"]))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        where = "in all export files under exports/" if p["table"] == "all" else f"in the exports of {p['table']}"
        return (
            f"How many malformed records are there {where}? "
            "A malformed record counts once, however many lines it spans."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        tables = ["customers", "products", "orders", "shipments", "refunds"] if p["table"] == "all" else [p["table"]]
        n = sum(len(reach.table(access, t).malformed) for t in tables)
        if n == 0:
            raise DegenerateTask("no malformed records")
        return n

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("dc_malformed", {"table": "" if p["table"] == "all" else p["table"]})
        return json.loads(out)["total"]


class StatusWindow(TaskFamily):
    name, phase, difficulty = "csv.status_window", "csv", "easy"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        a, b = pick_window(world, rng, 5, 60)
        return {
            "status": str(rng.choice(["paid", "shipped", "delivered", "cancelled", "refunded"])),
            "start": a,
            "end": b,
        }

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"How many orders (well-formed rows of the orders export) have status {p['status']} and "
            f"{window_text(p['start'], p['end'])}?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        n = sum(r["status"] == p["status"] and in_window(r, p) for r in reach.rows(access, "orders"))
        if n < 2:
            raise DegenerateTask("too few orders")
        return n

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "dc_aggregate",
            {
                "table": "orders",
                "where": {"status": p["status"]},
                "time_column": "created_at",
                "start": p["start"],
                "end": p["end"],
            },
        )
        return json.loads(out)


class RevenueByCurrency(TaskFamily):
    name, phase, difficulty = "csv.revenue_by_currency", "csv", "medium"
    answer_schema = obj({c: NUM for c in CURRENCIES})

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        a, b = pick_window(world, rng, 10, 90)
        return {"start": a, "end": b}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"What is the total amount of the orders (well-formed rows) with status paid, shipped or delivered and "
            f"{window_text(p['start'], p['end'])}, per currency (each in its own currency, no conversion)? "
            f"Give every currency of {', '.join(CURRENCIES)}, 0 when there is none."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, float]:
        sums: dict[str, list[Decimal]] = {c: [] for c in CURRENCIES}
        for r in reach.rows(access, "orders"):
            if r["status"] in PAID and in_window(r, p):
                sums[r["currency"]].append(r["amount"])
        if sum(len(v) for v in sums.values()) < 5:
            raise DegenerateTask("too few orders")
        return {c: money_total(v) for c, v in sums.items()}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf(tuple((c, Tolerance(abs_tol=0.01)) for c in CURRENCIES))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "dc_aggregate",
            {
                "table": "orders",
                "agg": "sum",
                "column": "amount",
                "group_by": "currency",
                "where": {"status": PAID},
                "time_column": "created_at",
                "start": p["start"],
                "end": p["end"],
            },
        )
        got = json.loads(out)
        return {c: got.get(c, 0) for c in CURRENCIES}


class TopCustomer(TaskFamily):
    name, phase, difficulty = "csv.top_customer", "csv", "hard"
    answer_schema = obj({"customer_id": INT, "name": STR, "total": NUM})

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"currency": str(rng.choice(list(CURRENCIES)))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"Among the orders (well-formed rows) in currency {p['currency']} with status paid, shipped or delivered, "
            "which customer "
            "has the highest total amount? Give the customer_id, the customer's name exactly as in the customers "
            "export, and that total."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        totals: dict[int, Decimal] = {}
        for r in reach.rows(access, "orders"):
            if r["currency"] == p["currency"] and r["status"] in PAID:
                totals[r["customer_id"]] = totals.get(r["customer_id"], Decimal(0)) + r["amount"]
        top = reach.unique_argmax(totals, gap=0.01)
        if top is None:
            raise DegenerateTask("tie for the top customer")
        cust = reach.keyed(access, "customers").get(top)
        if cust is None:
            raise DegenerateTask("the top customer has no well-formed customers row")
        return {"customer_id": top, "name": cust["name"], "total": float(totals[top])}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf((("customer_id", ExactInt()), ("name", ExactStr()), ("total", Tolerance(abs_tol=0.01))))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "dc_aggregate",
            {
                "table": "orders",
                "agg": "sum",
                "column": "amount",
                "group_by": "customer_id",
                "where": {"currency": p["currency"], "status": PAID},
                "top": 1,
            },
        )
        cid, total = next(iter(json.loads(out).items()))
        row = json.loads((yield Call("dc_row", {"table": "customers", "key": cid})))
        return {"customer_id": int(cid), "name": row["name"], "total": total}


class RegionOrders(TaskFamily):
    name, phase, difficulty = "csv.region_orders", "csv", "medium"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"region": str(rng.choice(list(REGIONS))), "status": str(rng.choice(["delivered", "cancelled", "any"]))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        status = "" if p["status"] == "any" else f" with status {p['status']}"
        return (
            f"How many orders{status} were placed by customers whose region is {p['region']} according to the "
            "customers export? Orders whose customer has no well-formed row in the customers export do not count."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        cust = reach.keyed(access, "customers")
        n = 0
        for r in reach.rows(access, "orders"):
            c = cust.get(r["customer_id"])
            if c is not None and c["region"] == p["region"] and p["status"] in ("any", r["status"]):
                n += 1
        if n < 2:
            raise DegenerateTask("too few orders")
        return n

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        where: dict[str, Any] = {"customers.region": p["region"]}
        if p["status"] != "any":
            where["status"] = p["status"]
        out = yield Call("dc_aggregate", {"table": "orders", "where": where})
        return json.loads(out)


class DistinctSkus(TaskFamily):
    name, phase, difficulty = "csv.distinct_skus", "csv", "medium"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        a, b = pick_window(world, rng, 3, 30)
        return {"category": str(rng.choice(list(CATEGORIES))), "start": a, "end": b}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"How many distinct SKUs of category {p['category']} (per the products export) appear in the orders "
            f"with {window_text(p['start'], p['end'])}? Orders whose SKU has no well-formed products row do not count."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        prods = reach.keyed(access, "products")
        skus = {
            r["sku"]
            for r in reach.rows(access, "orders")
            if in_window(r, p) and r["sku"] in prods and prods[r["sku"]]["category"] == p["category"]
        }
        if len(skus) < 2:
            raise DegenerateTask("too few SKUs")
        return len(skus)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "dc_aggregate",
            {
                "table": "orders",
                "agg": "count_distinct",
                "column": "sku",
                "where": {"products.category": p["category"]},
                "time_column": "created_at",
                "start": p["start"],
                "end": p["end"],
            },
        )
        return json.loads(out)


class AvgOrderValue(TaskFamily):
    name, phase, difficulty = "csv.avg_order_value", "csv", "hard"
    answer_schema = NUM

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"category": str(rng.choice(list(CATEGORIES))), "currency": str(rng.choice(["USD", "EUR", "GBP"]))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"What is the average amount of the orders in currency {p['currency']} whose product is in category "
            f"{p['category']} (per the products export), excluding cancelled orders? Orders whose SKU has no "
            "well-formed products row do not count."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> float:
        prods = reach.keyed(access, "products")
        vals = [
            r["amount"]
            for r in reach.rows(access, "orders")
            if r["currency"] == p["currency"]
            and r["status"] != "cancelled"
            and r["sku"] in prods
            and prods[r["sku"]]["category"] == p["category"]
        ]
        if len(vals) < 3:
            raise DegenerateTask("too few orders")
        return round(money_total(vals) / len(vals), 6)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return Tolerance(abs_tol=0.01)

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        statuses = [s for s in STATUSES if s != "cancelled"]
        out = yield Call(
            "dc_aggregate",
            {
                "table": "orders",
                "agg": "avg",
                "column": "amount",
                "where": {"currency": p["currency"], "products.category": p["category"], "status": statuses},
            },
        )
        return json.loads(out)


class RefundRate(TaskFamily):
    name, phase, difficulty = "csv.refund_rate", "csv", "hard"
    answer_schema = NUM

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"category": str(rng.choice(list(CATEGORIES)))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"Consider the well-formed orders whose product is in category {p['category']} (per the products "
            "export). What fraction of them have at least one row in the refunds export? Answer as a number "
            "between 0 and 1."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> float:
        prods = reach.keyed(access, "products")
        ids = {
            r["order_id"]
            for r in reach.rows(access, "orders")
            if r["sku"] in prods and prods[r["sku"]]["category"] == p["category"]
        }
        refunded = {r["order_id"] for r in reach.rows(access, "refunds")} & ids
        if len(ids) < 20 or not refunded:
            raise DegenerateTask("too few orders or refunds")
        return round(len(refunded) / len(ids), 6)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return Tolerance(abs_tol=1e-4)

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        n = json.loads((yield Call("dc_aggregate", {"table": "orders", "where": {"products.category": p["category"]}})))
        k = json.loads(
            (
                yield Call(
                    "dc_aggregate",
                    {
                        "table": "refunds",
                        "agg": "count_distinct",
                        "column": "order_id",
                        "where": {"products.category": p["category"]},
                    },
                )
            )
        )
        return round(k / n, 6)


class DeliveryHours(TaskFamily):
    name, phase, difficulty = "csv.delivery_hours", "csv", "hard"
    answer_schema = NUM

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"carrier": str(rng.choice(list(CARRIERS)))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"What is the median delivery time in hours, (delivered_at - shipped_at) / 3600, of the shipments by "
            f"carrier {p['carrier']} that have a delivered_at (take every such well-formed row as it is)?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> float:
        hours = [
            (r["delivered_at"] - r["shipped_at"]) / 3600
            for r in reach.rows(access, "shipments")
            if r["carrier"] == p["carrier"] and r["delivered_at"] is not None
        ]
        if len(hours) < 5:
            raise DegenerateTask("too few deliveries")
        return round(statistics.median(hours), 6)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return Tolerance(abs_tol=0.01)

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "dc_durations",
            {
                "table": "shipments",
                "start_column": "shipped_at",
                "end_column": "delivered_at",
                "where": {"carrier": p["carrier"]},
            },
        )
        return json.loads(out)["median_hours"]


class NullVsEmpty(TaskFamily):
    name, phase, difficulty = "csv.null_vs_empty", "csv", "medium"
    answer_schema = obj({"null": INT, "empty": INT})

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"tier": str(rng.choice(["free", "pro", "any"]))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        who = "customers" if p["tier"] == "any" else f"customers of tier {p['tier']}"
        return (
            f"In the customers export, how many {who} have a null email, and how many have an email that is the "
            "empty string? (Null and empty are different things in the .dc dialect.)"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, int]:
        c = Counter(
            "null" if r["email"] is None else "empty" if r["email"] == "" else "set"
            for r in reach.rows(access, "customers")
            if p["tier"] in ("any", r["tier"])
        )
        if c["null"] == 0:
            raise DegenerateTask("no null emails")
        return {"null": c["null"], "empty": c["empty"]}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf((("null", ExactInt()), ("empty", ExactInt())))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        base = {} if p["tier"] == "any" else {"tier": p["tier"]}
        n_null = yield Call("dc_aggregate", {"table": "customers", "where": {**base, "email": None}})
        n_empty = yield Call("dc_aggregate", {"table": "customers", "where": {**base, "email": ""}})
        return {"null": json.loads(n_null), "empty": json.loads(n_empty)}


class OrphanRows(TaskFamily):
    name, phase, difficulty = "csv.orphan_rows", "csv", "hard"
    answer_schema = INT
    CHOICES = (
        ("orders", "customer_id", "customers"),
        ("shipments", "order_id", "orders"),
        ("refunds", "order_id", "orders"),
    )

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        table, column, ref = self.CHOICES[int(rng.integers(len(self.CHOICES)))]
        return {"table": table, "column": column, "ref": ref}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"How many well-formed rows of {p['table']} have a {p['column']} that matches no well-formed row of the "
            f"{p['ref']} export?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        known = reach.keyed(access, p["ref"])
        n = sum(r[p["column"]] not in known for r in reach.rows(access, p["table"]))
        if n == 0:
            raise DegenerateTask("no orphans")
        return n

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("dc_fk_check", {"table": p["table"], "column": p["column"]})
        return json.loads(out)["orphans"]


CSV_FAMILIES: list[TaskFamily] = [
    ValidRows(),
    StatusWindow(),
    MalformedRecords(),
    RevenueByCurrency(),
    RegionOrders(),
    DistinctSkus(),
    NullVsEmpty(),
    TopCustomer(),
    AvgOrderValue(),
    RefundRate(),
    DeliveryHours(),
    OrphanRows(),
]
