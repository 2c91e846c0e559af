"""Benchmark of the reference DCQL interpreter: ``python -m experiments.bench_dcql``.

Builds a synthetic ``orders`` table (100,000 rows by default, fixed seed) and times
typical queries, above all a GROUP BY with aggregates, which the DataCorp issue
requires to run in <= 1 s; every query is printed against that target. Prints the best of ``--repeat``
runs per query and a closing line with the targets met.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from typing import Any

import numpy as np

from envs.datacorp.dcql import Table, execute, parse
from experiments.targets import Scoreboard, Target

QUERY_TIME = Target(1.0, "s", at_least=False, spec=".3f")  # per query, at the default 100,000 rows

STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
CURRENCIES = ("USD", "EUR", "GBP", "JPY")
RATES = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067}
NOW = 1_717_200_000

QUERIES = {
    "group_by_aggregates": (
        "SELECT status, COUNT(*) AS n, SUM(amount) AS total, AVG(quantity) AS avg_qty, MAX(amount) "
        "FROM orders GROUP BY status ORDER BY n DESC"
    ),
    "group_by_convert": (
        "SELECT customer_id, SUM(DC_CONVERT(amount, 'EUR')) AS eur FROM orders "
        "GROUP BY customer_id ORDER BY eur DESC LIMIT 10"
    ),
    "filter_count": (
        "SELECT COUNT(*) FROM orders WHERE (status IN ('paid', 'shipped') OR quantity >= 8) "
        "AND NOT currency = 'JPY' AND DC_TIMERANGE(created_at, '7d')"
    ),
    "order_limit": "SELECT order_id, amount FROM orders WHERE amount > 100 ORDER BY amount DESC, order_id LIMIT 20",
    "hash_lookup": "SELECT order_id FROM orders WHERE DC_HASH(order_id, 6) = 'abcdef'",
}


def make_orders(n: int, seed: int = 0, decimals: bool = False) -> Table:
    """Synthetic orders; ``decimals`` stores amounts as ``Decimal`` like the .dc reader does."""
    rng = np.random.default_rng(seed)
    cust = rng.integers(1, 2001, n).tolist()
    qty = rng.integers(1, 11, n).tolist()
    amount: list[Any] = np.round(rng.uniform(1, 500, n), 2).tolist()
    if decimals:
        amount = [Decimal(f"{a:.2f}") for a in amount]
    cur = rng.integers(0, len(CURRENCIES), n).tolist()
    st = rng.integers(0, len(STATUSES), n).tolist()
    ts = rng.integers(NOW - 30 * 86400, NOW, n).tolist()
    rows = [
        (
            f"O{i:07d}",
            cust[i],
            f"SKU-{qty[i] * 7 % 50:03d}",
            qty[i],
            amount[i],
            CURRENCIES[cur[i]],
            STATUSES[st[i]],
            ts[i],
        )
        for i in range(n)
    ]
    columns = [
        ("order_id", "str"),
        ("customer_id", "int"),
        ("sku", "str"),
        ("quantity", "int"),
        ("amount", "decimal"),
        ("currency", "str"),
        ("status", f"enum({','.join(STATUSES)})"),
        ("created_at", "ts"),
    ]
    return Table(columns, rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.bench_dcql", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000, help="rows of the synthetic orders table")
    ap.add_argument("--repeat", type=int, default=3, help="runs per query (the best is printed)")
    args = ap.parse_args(argv)
    board = Scoreboard()
    print(f"DCQL reference interpreter, orders table with {args.rows:,} rows (best of {args.repeat})")
    for label, decimals in (("float amounts", False), ("Decimal amounts, as read from .dc", True)):
        tables = {"orders": make_orders(args.rows, decimals=decimals)}
        print(f" {label}:")
        for name, text in QUERIES.items():
            query = parse(text)
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                result = execute(query, tables, rates=RATES, now=NOW)
                best = min(best, time.perf_counter() - t0)
            verdict = board.check(f"{name} ({label})", QUERY_TIME, best)
            print(f"  {name:22s} {verdict}  ({len(result.rows)} result rows)")
    print(board.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
