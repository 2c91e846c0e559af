"""The Orchard generator: ``build_world(seed, options) -> World`` (trees, harvest logs, price API)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np

from envs import seeding
from envs.http import WorldHttp, error_response, json_response
from envs.world import World
from tests.worlds.orchard.formats import MARKET, TREES_PATH, harvest_path

MARKET_HOST = MARKET.removeprefix("http://")

VARIETIES = ("gala", "fuji", "honeycrisp", "braeburn", "pink_lady", "granny_smith", "jonagold", "cox")
MONTHS = ("08", "09", "10")  # the picking season

DEFAULT_OPTIONS: dict[str, Any] = {
    "blocks": 5,  # orchard blocks A, B, ... (2-8)
    "varieties": 5,  # varieties grown (2-8)
    "trees": 120,  # trees in the register (20-2000)
    "picks": 600,  # harvest log entries over the season (50-20000)
}
LIMITS = {"blocks": (2, 8), "varieties": (2, 8), "trees": (20, 2000), "picks": (50, 20000)}

HANDBOOK = {
    "overview": (
        "# Orchard\n\nA fruit farm. The tree register is `registry/trees.csv` (columns tree_id, block, variety, "
        "planted: the planting year). Harvest logs are monthly files `harvest/<YYYY-MM>.csv` (columns date, "
        "tree_id, kg: one picking of one tree; kg has one decimal). Prices: see the 'market' page.\n"
    ),
    "market": (
        "# Market API\n\n`GET http://market.orchard.internal/v1/varieties` lists the varieties. "
        "`GET http://market.orchard.internal/v1/prices/<variety>` returns "
        '`{"variety": ..., "currency": "EUR", "per_kg": {"YYYY-MM": price}}`: the price per kg of that '
        "month's harvest. Unknown varieties give 404.\n"
    ),
}


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ValueError(f"unknown Orchard world option(s) {unknown}; accepted: {sorted(DEFAULT_OPTIONS)}")
    opts = {**DEFAULT_OPTIONS, **options}
    for key, (lo, hi) in LIMITS.items():
        value = opts[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"Orchard option {key} must be an integer in [{lo}, {hi}], got {value!r}")
    return opts


def _market(http: WorldHttp, prices: dict[str, dict[str, float]]) -> None:
    def varieties(request: httpx.Request) -> httpx.Response:
        return json_response(200, sorted(prices))

    def price(request: httpx.Request, variety: str) -> httpx.Response:
        if variety not in prices:
            return error_response(404, f"unknown variety {variety!r}", known=sorted(prices))
        return json_response(200, {"variety": variety, "currency": "EUR", "per_kg": prices[variety]})

    host = http.add_host(MARKET_HOST)
    host.route("GET", path="/v1/varieties").mock(side_effect=varieties)
    host.route("GET", path_regex=r"^/v1/prices/(?P<variety>[^/]+)$").mock(side_effect=price)


def build_world(seed: int, options: dict[str, Any] | None = None) -> World:
    opts = check_options(dict(options or {}))
    rng = seeding.rng(seed, "orchard")
    year = 2018 + int(rng.integers(0, 8))
    months = [f"{year}-{m}" for m in MONTHS]
    blocks = [chr(ord("A") + i) for i in range(opts["blocks"])]
    grown = sorted(str(v) for v in rng.choice(VARIETIES, size=opts["varieties"], replace=False))
    ids = sorted(int(i) for i in rng.choice(np.arange(1000, 10000), size=opts["trees"], replace=False))
    trees = [
        {
            "tree_id": f"T{i}",
            "block": blocks[int(rng.integers(len(blocks)))],
            "variety": grown[int(rng.integers(len(grown)))],
            "planted": int(rng.integers(year - 30, year - 2)),
        }
        for i in ids
    ]
    register = "tree_id,block,variety,planted\n" + "".join(
        f"{t['tree_id']},{t['block']},{t['variety']},{t['planted']}\n" for t in trees
    )
    files = {TREES_PATH: register}
    picks: dict[str, list[str]] = {m: [] for m in months}
    for _ in range(opts["picks"]):
        tree = trees[int(rng.integers(len(trees)))]
        month = months[int(rng.integers(len(months)))]
        day = int(rng.integers(1, 31 if month.endswith(("09",)) else 32))
        kg = int(rng.integers(5, 400)) / 10
        picks[month].append(f"{month}-{day:02d},{tree['tree_id']},{kg:.1f}")
    for month, rows in picks.items():
        files[harvest_path(month)] = "date,tree_id,kg\n" + "".join(f"{r}\n" for r in sorted(rows))
    prices = {v: {m: round(float(rng.uniform(0.6, 2.4)), 2) for m in months} for v in grown}  # EUR/kg per month
    http = WorldHttp()
    _market(http, prices)
    return World(
        name="orchard",
        protocol="rigorous",
        seed=seed,
        now=int(year),
        files=files,
        docs=dict(HANDBOOK),
        http=http,
        facts={"year": year, "months": months, "blocks": blocks, "varieties": grown, "trees": trees},
        api_fingerprint=json.dumps(prices, sort_keys=True).encode(),
        entities=[*blocks, *grown, *months, *(t["tree_id"] for t in trees), *files],
        options=opts,
    )
