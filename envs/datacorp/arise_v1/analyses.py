"""Analyses shared by the DataCorp paper tasks' truths (rows from ``DcData``) and oracles (rows read from prompts)."""

from __future__ import annotations

from typing import Any

from envs.access import WorldAccess
from envs.datacorp.arise_v1.world import DcData

Row = dict[str, Any]


def count_where(rows: list[Row], **equals: Any) -> int:
    return sum(1 for r in rows if all(r.get(k) == v for k, v in equals.items()))


def sum_by(rows: list[Row], value: str, group: str) -> dict[str, float]:
    """Totals of ``value`` per ``group`` in order of first appearance (rounded to 4 dp at each step)."""
    out: dict[str, float] = {}
    for r in rows:
        if isinstance(r.get(value), (int, float)):
            key = str(r.get(group, ""))
            out[key] = round(out.get(key, 0.0) + r[value], 4)
    return out


def duplicates(rows: list[Row], key: str) -> list[str]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r.get(key))] = counts.get(str(r.get(key)), 0) + 1
    return sorted(k for k, n in counts.items() if n > 1)


def pivot(rows: list[Row]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        cell = out.setdefault(str(r.get("currency", "")), {})
        cell[str(r.get("status", ""))] = cell.get(str(r.get("status", "")), 0) + 1
    return out


def final_running_average(rows: list[Row], value: str = "amount") -> float:
    """The last value of the running mean, rounded to 4 dp as the paper's truth was."""
    total, last = 0.0, 0.0
    for i, r in enumerate(rows, 1):
        if isinstance(r.get(value), (int, float)):
            total += r[value]
            last = round(total / i, 4)
    return last


def join_count(orders: list[Row], customers: list[Row]) -> int:
    emails = {r.get("email") for r in customers}
    return sum(1 for r in orders if r.get("customer") in emails)


def load_data(access: WorldAccess) -> DcData:
    return DcData.load(access)


def order_rows(access: WorldAccess) -> list[Row]:
    return load_data(access).rows("orders")
