"""Orchard's task families. Truths parse the files and call the price API through ``WorldAccess``
(what an agent can reach), independently of the reference tools; oracles solve with the tools."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from envs.access import WorldAccess
from envs.grading import Comparator, ExactInt, ExactStr, OrderedList, Tolerance
from envs.tasks import Call, DegenerateTask, Solver, TaskFamily
from envs.world import World

INT = {"type": "integer"}
NUM = {"type": "number"}
STR = {"type": "string"}


def _table(access: WorldAccess, path: str) -> list[list[str]]:
    return [line.split(",") for line in access.read_file(path).splitlines()[1:] if line]


def _trees(access: WorldAccess) -> dict[str, tuple[str, str, int]]:
    """tree_id -> (block, variety, planted)."""
    return {r[0]: (r[1], r[2], int(r[3])) for r in _table(access, "registry/trees.csv")}


def _picks(access: WorldAccess, month: str) -> list[tuple[str, float]]:
    return [(r[1], float(r[2])) for r in _table(access, f"harvest/{month}.csv")]


class BlockTrees(TaskFamily):
    name, phase, difficulty = "inventory.block_trees", "inventory", "easy"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"block": str(rng.choice(world.facts["blocks"]))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return f"How many trees grow in block {p['block']} of the orchard?"

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        return sum(1 for block, _, _ in _trees(access).values() if block == p["block"])

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        return int((yield Call("count_trees", {"block": p["block"]})))


class PlantedBefore(TaskFamily):
    name, phase, difficulty = "inventory.planted_before", "inventory", "medium"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        year = int(world.facts["year"])
        return {"variety": str(rng.choice(world.facts["varieties"])), "year": int(rng.integers(year - 25, year - 5))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return f"How many {p['variety']} trees were planted before {p['year']} (planting year < {p['year']})?"

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        n = sum(1 for _, v, y in _trees(access).values() if v == p["variety"] and y < p["year"])
        if n == 0:
            raise DegenerateTask("no such tree")
        return n

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("count_trees", {"variety": p["variety"], "planted_before": p["year"]})
        return int(out)


class OldestTrees(TaskFamily):
    name, phase, difficulty = "inventory.oldest_trees", "inventory", "hard"
    answer_schema = {"type": "array", "items": STR, "minItems": 3, "maxItems": 3}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"block": str(rng.choice(world.facts["blocks"]))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"Which three trees of block {p['block']} were planted earliest? List their tree ids, earliest "
            "first (trees planted the same year in tree id order)."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[str]:
        rows = sorted((y, t) for t, (b, _, y) in _trees(access).items() if b == p["block"])
        if len(rows) < 3:
            raise DegenerateTask("fewer than three trees")
        return [t for _, t in rows[:3]]

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return OrderedList()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        return json.loads((yield Call("oldest_trees", {"block": p["block"], "n": 3})))


class HarvestKg(TaskFamily):
    name, phase, difficulty = "sales.harvest_kg", "sales", "easy"
    answer_schema = NUM

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"variety": str(rng.choice(world.facts["varieties"])), "month": str(rng.choice(world.facts["months"]))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return f"How many kg of {p['variety']} were picked in {p['month']} (all blocks)?"

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> float:
        trees = _trees(access)
        total = sum(kg for t, kg in _picks(access, p["month"]) if t in trees and trees[t][1] == p["variety"])
        if total == 0:
            raise DegenerateTask("nothing picked")
        return round(total, 1)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return Tolerance(abs_tol=0.05)

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        return float((yield Call("harvest_kg", {"month": p["month"], "variety": p["variety"]})))


class TopTree(TaskFamily):
    name, phase, difficulty = "sales.top_tree", "sales", "medium"
    answer_schema = STR

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"month": str(rng.choice(world.facts["months"]))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return f"Which tree (its tree id) yielded the most kg in {p['month']}?"

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> str:
        per_tree: Counter[str] = Counter()
        for t, kg in _picks(access, p["month"]):
            per_tree[t] += round(kg * 10)  # tenths of a kg: exact sums
        (best, a), *rest = per_tree.most_common(2)
        if rest and rest[0][1] == a:
            raise DegenerateTask("tie")
        return best

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactStr()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        return json.loads((yield Call("top_tree", {"month": p["month"]})))["tree_id"]


class BlockRevenue(TaskFamily):
    name, phase, difficulty = "sales.block_revenue", "sales", "hard"
    answer_schema = NUM

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"block": str(rng.choice(world.facts["blocks"]))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"What was block {p['block']}'s revenue over the season in EUR: every pick's kg times the market price "
            "per kg of its tree's variety in the month of the pick?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> float:
        trees = _trees(access)
        total = 0.0
        for path in access.list_files("harvest/"):
            month = path.rsplit("/", 1)[-1].removesuffix(".csv")
            for t, kg in _picks(access, month):
                if t in trees and trees[t][0] == p["block"]:
                    resp = access.http_get(f"http://market.orchard.internal/v1/prices/{trees[t][1]}")
                    total += kg * json.loads(resp["body"])["per_kg"][month]
        if total == 0:
            raise DegenerateTask("no picks")
        return round(total, 2)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return Tolerance(abs_tol=0.01, rel_tol=1e-6)

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        return float((yield Call("block_revenue", {"block": p["block"]})))


FAMILIES: list[TaskFamily] = [BlockTrees(), PlantedBefore(), OldestTrees(), HarvestKg(), TopTree(), BlockRevenue()]
