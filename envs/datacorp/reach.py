"""Ground-truth helpers that read a DataCorp world the way an agent can (through ``WorldAccess``).

Graders never use generator internals: table truths parse the rendered ``.dc``
exports with the strict reader, validation truths call ``POST /validate``. Parsed
views are memoised on the world (``world.cache``) because many tasks share them.
This module is deliberately independent of the reference tools, so an oracle run
cross-checks the two implementations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from envs.access import WorldAccess
from envs.datacorp.dialect import Column, read_dc, table_files, to_record
from envs.datacorp.validation_api import BASE_URL, MAX_RECORDS, PRIMARY_KEYS
from envs.datacorp.world import FX_PATH
from envs.world import World


@dataclass
class LoadedTable:
    """A table as an agent can reach it: well-formed rows of every file, and the malformed records."""

    name: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]  # typed values, Decimal for decimals
    malformed: list[tuple[str, int, str]]  # (path, line, reason)
    files: list[str]
    exported: int


def table(access: WorldAccess, name: str) -> LoadedTable:
    key = ("dc_table", name)
    cache = access.world.cache
    if key not in cache:
        paths = table_files(access.list_files("exports/"), name)
        if not paths:
            raise KeyError(f"no export files for table {name!r}")
        rows: list[dict[str, Any]] = []
        bad: list[tuple[str, int, str]] = []
        columns: tuple[Column, ...] = ()
        exported = 0
        for p in paths:
            f = read_dc(access.read_file(p))
            columns, exported = f.columns, f.exported
            rows.extend(f.records())
            bad.extend((p, line, reason) for line, reason in f.malformed)
        cache[key] = LoadedTable(name, columns, rows, bad, paths, exported)
    loaded: LoadedTable = cache[key]
    return loaded


def rows(access: WorldAccess, name: str) -> list[dict[str, Any]]:
    return table(access, name).rows


def keyed(access: WorldAccess, name: str, column: str = "") -> dict[Any, dict[str, Any]]:
    """Well-formed rows of ``name`` by ``column`` (default: the primary key); first row wins."""
    column = column or PRIMARY_KEYS[name]
    key = ("dc_keyed", name, column)
    cache = access.world.cache
    if key not in cache:
        out: dict[Any, dict[str, Any]] = {}
        for r in rows(access, name):
            out.setdefault(r[column], r)
        cache[key] = out
    index: dict[Any, dict[str, Any]] = cache[key]
    return index


def export_now(access: WorldAccess) -> int:
    return table(access, "orders").exported


def fx(access: WorldAccess) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(access.read_file(FX_PATH))
    return data


# -- validation API ----------------------------------------------------------------------


def schema(access: WorldAccess, name: str) -> dict[str, Any]:
    resp = access.http_get(f"{BASE_URL}/schemas/{name}")
    if resp["status"] != 200:
        raise RuntimeError(f"GET /schemas/{name} -> {resp['status']}: {resp['body'][:200]}")
    data: dict[str, Any] = json.loads(resp["body"])
    return data


def validate(access: WorldAccess, schema_name: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-record results; lists longer than the API limit are sent in consecutive chunks."""
    results: list[dict[str, Any]] = []
    for lo in range(0, max(len(records), 1), MAX_RECORDS):
        chunk = records[lo : lo + MAX_RECORDS]
        resp = access.http_post(f"{BASE_URL}/validate", json={"schema": schema_name, "records": chunk})
        if resp["status"] != 200:
            raise RuntimeError(f"POST /validate -> {resp['status']}: {resp['body'][:200]}")
        for r in json.loads(resp["body"])["results"]:
            results.append({**r, "index": r["index"] + lo})
    return results


def batch_paths(access: WorldAccess) -> list[str]:
    return [p for p in access.list_files("incoming/") if p.endswith(".json")]


def batch(access: WorldAccess, path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(access.read_file(path))
    return data


def batch_results(access: WorldAccess, path: str) -> list[dict[str, Any]]:
    key = ("dc_batch_results", path)
    cache = access.world.cache
    if key not in cache:
        b = batch(access, path)
        resp = access.http_post(f"{BASE_URL}/validate", json={"schema": b["schema"], "records": b["records"]})
        if resp["status"] != 200:
            raise RuntimeError(f"POST /validate for {path} -> {resp['status']}: {resp['body'][:200]}")
        cache[key] = json.loads(resp["body"])["results"]
    res: list[dict[str, Any]] = cache[key]
    return res


def export_results(access: WorldAccess, name: str) -> list[dict[str, Any]]:
    """Validation results of every well-formed row of an export, sent as records."""
    key = ("dc_export_results", name)
    cache = access.world.cache
    if key not in cache:
        t = table(access, name)
        records = [to_record(t.columns, tuple(r.values())) for r in t.rows]
        cache[key] = validate(access, name, records)
    res: list[dict[str, Any]] = cache[key]
    return res


def codes_of(result: dict[str, Any]) -> list[str]:
    return sorted({e["code"] for e in result["errors"]})


# -- sampling helpers (generator side: only for choosing parameters) ------------------------


def facts_rows(world: World, name: str) -> list[list[Any]]:
    rows_: list[list[Any]] = world.facts["tables"][name]["rows"]
    return rows_


def unique_argmax(values: dict[Any, Any], gap: float = 0.0) -> Any:
    """The key with the strictly largest value (by more than ``gap``), else None."""
    if not values:
        return None
    ranked = sorted(values.items(), key=lambda kv: kv[1], reverse=True)
    if len(ranked) > 1 and float(ranked[0][1]) - float(ranked[1][1]) <= gap:
        return None
    return ranked[0][0]
