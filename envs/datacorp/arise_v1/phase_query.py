"""Phase 3 of the DataCorp paper tasks: query (the paper's ten DCQL queries, its lenient semantics)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from envs.access import WorldAccess
from envs.arise_v1 import ParamsFn, PhaseTable, SolveFn, Truth
from envs.datacorp.arise_v1.analyses import Row, load_data
from envs.datacorp.arise_v1.checks import CHECKS
from envs.datacorp.arise_v1.constants import RATES
from envs.datacorp.arise_v1.fixtures import QUERIES
from envs.datacorp.arise_v1.oracle_reads import inline_rows, no_calls
from envs.datacorp.arise_v1.prompts import DCQL_HINT, inline_export
from envs.world import World

QUERY_TASKS = PhaseTable("query", CHECKS, bands=(4, 4, 2))


_QUERY_ASKS: dict[int, str] = {
    1: "Execute this DCQL query on the orders table and return the result count:\n\n  {q}\n\n"
    "How many rows does this query return?",
    2: "Execute this DCQL query and return how many rows match:\n\n  {q}\n\nReturn just the count.",
    3: "Execute this DCQL query:\n\n  {q}\n\nHow many rows are returned? (Hint: LIMIT caps the result.)",
    4: "Execute this DCQL query:\n\n  {q}\n\nReturn the count of matching rows.",
    5: "Execute this DCQL query:\n\n  {q}\n\nList the distinct currencies returned.",
    6: "Execute this DCQL query:\n\n  {q}\n\nThe DC_CONVERT function converts amounts to USD using exchange rates "
    "(EUR=1.08, GBP=1.27, JPY=0.0067, CAD=0.74, AUD=0.65 relative to USD). How many rows are returned? "
    "List the order_id and converted amount_usd for each.",
    7: "Execute this DCQL query:\n\n  {q}\n\nDC_HASH computes SHA-256 of the field value and returns the first "
    "16 hex characters. Return the order_id and customer_hash for each row.",
    8: "Execute this DCQL query:\n\n  {q}\n\nList the distinct status values returned, in alphabetical order.",
    9: "Execute this DCQL query:\n\n  {q}\n\nDC_TIMERANGE(timestamp, '24h') keeps only rows whose timestamp is "
    "within the last 24 hours relative to the maximum timestamp in the dataset. How many rows are returned?",
    10: "Execute this DCQL query:\n\n  {q}\n\nDC_CONVERT converts amounts to EUR (rate: 1 EUR = 1.08 USD, so USD "
    "amount / 1.08 = EUR). Return the order_id, customer, and eur_amount for each result row. "
    "How many rows are returned?",
}


def _query_q(world: World, params: dict[str, Any]) -> str:
    ask = _QUERY_ASKS[params["number"]].format(q=params["query"])
    return f"{DCQL_HINT}\n\nHere is a DataCorp orders CSV export:\n\n{inline_export(world, 'orders')}\n\n{ask}"


def _query_params(number: int) -> ParamsFn:
    return lambda world: {"number": number, "query": QUERIES[number]}


def _row_count(a: WorldAccess, p: dict[str, Any]) -> int:
    return load_data(a).query(p["query"]).row_count


def _column(name: str) -> Truth:
    return lambda a, p: [r.get(name) for r in load_data(a).query(p["query"]).rows]


def _query_task(number: int, check: str, summary: str, truth: Truth) -> Callable[[SolveFn], SolveFn]:
    return QUERY_TASKS.task(number, check, summary, _query_q, truth, params=_query_params(number))


def _usd(row: Row) -> float:
    return round(row["amount"] * RATES.get(row["currency"], 1.0), 2)


@_query_task(1, "contains", "completed rows", _row_count)
@no_calls
def _qry_01(world: World, params: dict[str, Any]) -> str:
    return str(sum(1 for r in inline_rows(world) if r["status"] == "completed"))


@_query_task(2, "contains", "amount > 500 rows", _row_count)
@no_calls
def _qry_02(world: World, params: dict[str, Any]) -> str:
    return str(sum(1 for r in inline_rows(world) if r["amount"] > 500.0))


@_query_task(3, "contains", "USD rows with LIMIT 5", _row_count)
@no_calls
def _qry_03(world: World, params: dict[str, Any]) -> str:
    usd = [r for r in inline_rows(world) if r["currency"] == "USD"][:5]
    return f"{len(usd)} rows are returned."


@_query_task(4, "contains", "completed USD rows", _row_count)
@no_calls
def _qry_04(world: World, params: dict[str, Any]) -> str:
    return str(sum(1 for r in inline_rows(world) if r["status"] == "completed" and r["currency"] == "USD"))


@_query_task(5, "any_present", "GROUP BY currency (any value)", _column("currency"))
@no_calls
def _qry_05(world: World, params: dict[str, Any]) -> str:
    return ", ".join(sorted({r["currency"] for r in inline_rows(world)}))


@_query_task(6, "contains", "DC_CONVERT to USD, LIMIT 3 (count checked)", _row_count)
@no_calls
def _qry_06(world: World, params: dict[str, Any]) -> str:
    rows = [r for r in inline_rows(world) if r["status"] == "completed"][:3]
    return f"{len(rows)} rows:\n" + "\n".join(f"order_id {r['order_id']}: amount_usd {_usd(r)}" for r in rows)


@_query_task(
    7, "hash_or_hex", "DC_HASH (any hex digit early passes)", lambda a, p: (_column("customer_hash")(a, p) or [""])[0]
)
@no_calls
def _qry_07(world: World, params: dict[str, Any]) -> str:
    rows = inline_rows(world)[:3]
    return "\n".join(
        f"order_id {r['order_id']}: customer_hash {hashlib.sha256(str(r['customer']).encode()).hexdigest()[:16]}"
        for r in rows
    )


@_query_task(8, "any_present", "GROUP BY status ORDER BY status (any value)", _column("status"))
@no_calls
def _qry_08(world: World, params: dict[str, Any]) -> str:
    return ", ".join(sorted({r["status"] for r in inline_rows(world)}))


@_query_task(9, "contains", "DC_TIMERANGE 24h and completed", _row_count)
@no_calls
def _qry_09(world: World, params: dict[str, Any]) -> str:
    rows = inline_rows(world)
    cutoff = max(r["timestamp"] for r in rows) - 24 * 3600
    return str(sum(1 for r in rows if r["timestamp"] >= cutoff and r["status"] == "completed"))


@_query_task(
    10, "count_of", "multi-condition filter, DC_CONVERT, ORDER BY, LIMIT (count checked)",
    lambda a, p: {
        "row_count": load_data(a).query(p["query"]).row_count,
        "order_ids": [r["order_id"] for r in load_data(a).query(p["query"]).rows],
    },
)  # fmt: skip
@no_calls
def _qry_10(world: World, params: dict[str, Any]) -> str:
    # Read as SQL: the five largest amounts. The paper's interpreter kept file order instead
    # (ORDER BY a column the projection dropped), which the count-only check cannot see.
    rows = sorted(
        (r for r in inline_rows(world) if r["status"] == "completed" and r["amount"] > 200),
        key=lambda r: r["amount"],
        reverse=True,
    )[:5]
    lines = [f"order_id {r['order_id']}, {r['customer']}, eur_amount {round(_usd(r) / RATES['EUR'], 2)}" for r in rows]
    return f"{len(rows)} rows are returned:\n" + "\n".join(lines)
