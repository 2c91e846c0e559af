"""Orchard's hand-written reference tools (the fixed_tools condition, the oracle, the sim's knowledge).

Like any tool they reach the world only through ``envs.toolkit`` and return compact JSON values.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from envs.toolkit import http_get, list_files, read_file
from tests.worlds.orchard.formats import MARKET, TREES_PATH, harvest_path, parse_csv


def _trees() -> list[dict[str, Any]]:
    return [{**row, "planted": int(row["planted"])} for row in parse_csv(read_file(TREES_PATH))]


def _picks(month: str) -> list[dict[str, Any]]:
    path = harvest_path(month)
    if path not in list_files("harvest/"):
        raise ValueError(f"no harvest log for month {month!r} (expected YYYY-MM)")
    return [{**row, "kg": float(row["kg"])} for row in parse_csv(read_file(path))]


def count_trees(block: str = "", variety: str = "", planted_before: int = 0) -> int:
    """Count trees in the register, optionally filtered.

    Args:
        block: Only trees of this block (e.g. 'A'); '' for every block.
        variety: Only trees of this variety (e.g. 'gala'); '' for every variety.
        planted_before: Only trees planted before this year; 0 for no limit.

    Returns:
        The number of matching trees.
    """
    return sum(
        1
        for t in _trees()
        if (not block or t["block"] == block)
        and (not variety or t["variety"] == variety)
        and (not planted_before or t["planted"] < planted_before)
    )


def oldest_trees(block: str, n: int = 3) -> list[str]:
    """The ids of the n earliest-planted trees of a block (ties by tree id).

    Args:
        block: The block (e.g. 'A').
        n: How many trees.

    Returns:
        Tree ids, earliest planted first.
    """
    rows = sorted((t["planted"], t["tree_id"]) for t in _trees() if t["block"] == block)
    return [tree_id for _, tree_id in rows[: max(n, 0)]]


def harvest_kg(month: str, variety: str = "", block: str = "") -> float:
    """Total kg picked in a month, optionally for one variety or block.

    Args:
        month: The month, 'YYYY-MM'.
        variety: Only trees of this variety; '' for all.
        block: Only trees of this block; '' for all.

    Returns:
        The total in kg, rounded to one decimal.
    """
    trees = {t["tree_id"]: t for t in _trees()}
    total = 0.0
    for pick in _picks(month):
        tree = trees.get(pick["tree_id"])
        if tree is None or (variety and tree["variety"] != variety) or (block and tree["block"] != block):
            continue
        total += pick["kg"]
    return round(total, 1)


def top_tree(month: str) -> dict[str, Any]:
    """The tree that yielded the most kg in a month.

    Args:
        month: The month, 'YYYY-MM'.

    Returns:
        {"tree_id": id, "kg": its total}, or {} for a month without picks.
    """
    per_tree: dict[str, float] = {}
    for pick in _picks(month):
        per_tree[pick["tree_id"]] = per_tree.get(pick["tree_id"], 0.0) + pick["kg"]
    if not per_tree:
        return {}
    best = max(sorted(per_tree), key=lambda t: per_tree[t])
    return {"tree_id": best, "kg": round(per_tree[best], 1)}


def block_revenue(block: str) -> float:
    """Season revenue of a block: each pick's kg times its variety's price in the pick's month.

    Args:
        block: The block (e.g. 'A').

    Returns:
        Revenue in EUR, rounded to cents.
    """
    trees = {t["tree_id"]: t for t in _trees() if t["block"] == block}
    prices: dict[str, dict[str, float]] = {}
    total = 0.0
    for path in list_files("harvest/"):
        month = path.rsplit("/", 1)[-1].removesuffix(".csv")
        for pick in _picks(month):
            tree = trees.get(pick["tree_id"])
            if tree is None:
                continue
            variety = tree["variety"]
            if variety not in prices:
                resp = http_get(f"{MARKET}/v1/prices/{variety}")
                if resp["status"] != 200:
                    raise ValueError(f"price of {variety}: HTTP {resp['status']}")
                prices[variety] = json.loads(resp["body"])["per_kg"]
            total += pick["kg"] * prices[variety][month]
    return round(total, 2)


def reference_tools() -> list[Callable[..., Any]]:
    return [count_trees, oldest_trees, harvest_kg, top_tree, block_revenue]
