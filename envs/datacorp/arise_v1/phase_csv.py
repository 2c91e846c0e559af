"""Phase 1 of the DataCorp paper tasks: csv (10 tasks over inline .dc exports; the oracles need no call)."""

from __future__ import annotations

from typing import Any

from envs.arise_v1 import PhaseTable, Question
from envs.datacorp.arise_v1.analyses import (
    count_where,
    duplicates,
    final_running_average,
    join_count,
    load_data,
    order_rows,
    pivot,
    sum_by,
)
from envs.datacorp.arise_v1.checks import CHECKS
from envs.datacorp.arise_v1.oracle_reads import inline_rows, no_calls, read_inline_dc
from envs.datacorp.arise_v1.prompts import CSV_HINT, inline_export
from envs.world import World

CSV_TASKS = PhaseTable("csv", CHECKS, bands=(4, 4, 2))


def _csv_q(ask: str) -> Question:
    def q(world: World, params: dict[str, Any]) -> str:
        return f"Here is a DataCorp pipe-delimited CSV export. {CSV_HINT}\n\n{inline_export(world, 'orders')}\n\n{ask}"

    return q


@CSV_TASKS.task(
    1, "contains", "row count",
    _csv_q("How many data rows are in this file? (Do not count ## header lines.) Return just the count."),
    lambda a, p: len(order_rows(a)),
)  # fmt: skip
@no_calls
def _csv_01(world: World, params: dict[str, Any]) -> str:
    return str(len(inline_rows(world)))


@CSV_TASKS.task(
    2, "all_present", "column names",
    _csv_q("What are the column names in this file? List all column names."),
    lambda a, p: list(load_data(a).tables["orders"].columns),
)  # fmt: skip
@no_calls
def _csv_02(world: World, params: dict[str, Any]) -> str:
    _, columns, _ = read_inline_dc(inline_export(world, "orders"))
    return ", ".join(columns)


@CSV_TASKS.task(
    3, "contains", "completed count",
    _csv_q("How many orders have status = 'completed'? Return just the count."),
    lambda a, p: count_where(order_rows(a), status="completed"),
)  # fmt: skip
@no_calls
def _csv_03(world: World, params: dict[str, Any]) -> str:
    return str(sum(1 for r in inline_rows(world) if r["status"] == "completed"))


@CSV_TASKS.task(
    4, "contains_ci", "schema name",
    _csv_q("What schema name is declared in the ## header of this file? Return just the schema name."),
    lambda a, p: load_data(a).tables["orders"].metadata["schema"],
)  # fmt: skip
@no_calls
def _csv_04(world: World, params: dict[str, Any]) -> str:
    meta, _, _ = read_inline_dc(inline_export(world, "orders"))
    return meta["schema"]


@CSV_TASKS.task(
    5, "all_keys", "amount by currency (codes checked only)",
    _csv_q("Sum the 'amount' field grouped by 'currency'. Return each currency and its total amount."),
    lambda a, p: sum_by(order_rows(a), "amount", "currency"),
)  # fmt: skip
@no_calls
def _csv_05(world: World, params: dict[str, Any]) -> str:
    totals: dict[str, float] = {}
    for r in inline_rows(world):
        totals[r["currency"]] = totals.get(r["currency"], 0.0) + r["amount"]
    return "\n".join(f"{c}: {t:.2f}" for c, t in sorted(totals.items()))


def _join_q(world: World, params: dict[str, Any]) -> str:
    return (
        f"Here is a DataCorp orders export. {CSV_HINT}\n\n{inline_export(world, 'orders')}\n\n"
        f"Here is a DataCorp customers export.\n\n{inline_export(world, 'customers')}\n\n"
        "Join the two files on orders.customer = customers.email. How many orders can be matched to a customer "
        "record? Return just the count."
    )


@CSV_TASKS.task(
    6, "contains", "orders-customers join count (always 50)", _join_q,
    lambda a, p: join_count(order_rows(a), load_data(a).rows("customers")),
)  # fmt: skip
@no_calls
def _csv_06(world: World, params: dict[str, Any]) -> str:
    emails = {r["email"] for r in inline_rows(world, "customers")}
    return str(sum(1 for r in inline_rows(world) if r["customer"] in emails))


@CSV_TASKS.task(
    7, "empty_or_any", "customers with more than one order (any one)",
    _csv_q(
        "Which customer email addresses appear more than once in this file (i.e., have placed multiple orders)? "
        "List the duplicate customer emails."
    ),
    lambda a, p: duplicates(order_rows(a), "customer"),
)  # fmt: skip
@no_calls
def _csv_07(world: World, params: dict[str, Any]) -> str:
    seen: dict[str, int] = {}
    for r in inline_rows(world):
        seen[r["customer"]] = seen.get(r["customer"], 0) + 1
    dups = [c for c, n in seen.items() if n > 1]
    return ", ".join(dups) if dups else "No customer appears more than once."


@CSV_TASKS.task(
    8, "contains", "USD and completed count",
    _csv_q("How many orders are both in USD currency AND have status 'completed'? Return just the count."),
    lambda a, p: count_where(order_rows(a), currency="USD", status="completed"),
)  # fmt: skip
@no_calls
def _csv_08(world: World, params: dict[str, Any]) -> str:
    return str(sum(1 for r in inline_rows(world) if r["currency"] == "USD" and r["status"] == "completed"))


@CSV_TASKS.task(
    9, "pivot", "currency x status pivot (any code + any status)",
    _csv_q(
        "Create a pivot table showing the count of orders for each (currency, status) combination. "
        "Return the result as a table or structured list showing currency, status, and count."
    ),
    lambda a, p: pivot(order_rows(a)),
)  # fmt: skip
@no_calls
def _csv_09(world: World, params: dict[str, Any]) -> str:
    cells: dict[tuple[str, str], int] = {}
    for r in inline_rows(world):
        cells[(r["currency"], r["status"])] = cells.get((r["currency"], r["status"]), 0) + 1
    return "currency | status | count\n" + "\n".join(f"{c} | {s} | {n}" for (c, s), n in sorted(cells.items()))


@CSV_TASKS.task(
    10, "float_near", "final running mean of amount (any number within 0.5)",
    _csv_q(
        "Compute the running average of the 'amount' field across all rows (in the order they appear). "
        "What is the final running average (i.e., the overall mean of all amounts)? Round to 4 decimal places."
    ),
    lambda a, p: final_running_average(order_rows(a)),
)  # fmt: skip
@no_calls
def _csv_10(world: World, params: dict[str, Any]) -> str:
    amounts = [r["amount"] for r in inline_rows(world)]
    return f"The final running average is {sum(amounts) / len(amounts):.4f}"
