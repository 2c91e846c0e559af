"""How the DataCorp paper oracles work: from the prompt's inline data and ``http_get`` only (no POST)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator
from typing import Any

from envs.arise_v1 import SolveFn
from envs.datacorp.arise_v1.analyses import Row
from envs.datacorp.arise_v1.constants import VALIDATION_URL
from envs.datacorp.arise_v1.prompts import inline_export
from envs.oracle import http_json
from envs.tasks import Call, Solver
from envs.world import World


def read_inline_dc(text: str) -> tuple[dict[str, str], list[str], list[Row]]:
    """The oracle's reading of an inline export: (metadata, columns, rows typed by value shape)."""
    meta: dict[str, str] = {}
    columns: list[str] = []
    rows: list[Row] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("## columns:"):
            columns = line.split(":", 1)[1].strip().split("|")
        elif line.startswith("##"):
            for part in line[2:].split("|"):
                key, eq, value = part.partition("=")
                if eq:
                    meta[key.strip()] = value.strip()
        elif line:
            rows.append(dict(zip(columns, (_shape(v) for v in line.split("|")), strict=True)))
    return meta, columns, rows


def _shape(value: str) -> Any:
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value


def inline_rows(world: World, schema: str = "orders") -> list[Row]:
    return read_inline_dc(inline_export(world, schema))[2]


_RULE = re.compile(r"^if (\w+) == '([^']*)' then (\w+) (>=|<=|>|<) (-?\d+(?:\.\d+)?)$")


def check_against_schema(records: list[Row], schema: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """Per record, the (code, reason) pairs a strict reading of a GET /schemas/{name} answer gives.

    Types are taken literally (a number written as text is a DC-002), which is all a
    GET-only agent can know: the API's coercion of numeric text is not documented.
    """
    out: list[list[tuple[str, str]]] = []
    seen: set[str] = set()
    pk = schema.get("primary_key")
    for rec in records:
        errs: list[tuple[str, str]] = []
        if pk and pk in rec:
            key = json.dumps(rec[pk])
            if key in seen:
                errs.append(("DC-008", f"duplicate {pk} {rec[pk]}"))
            seen.add(key)
        for name, spec in schema["fields"].items():
            v = rec.get(name)
            if v is None or v == "":
                if spec.get("required"):
                    errs.append(("DC-001", f"missing required field '{name}'"))
                continue
            kind = spec["type"]
            number = isinstance(v, (int, float)) and not isinstance(v, bool)
            if (kind == "integer" and not (number and isinstance(v, int))) or (kind == "float" and not number):
                errs.append(("DC-002", f"'{name}' must be a {kind}, got {v!r}"))
                continue
            if kind == "unix_timestamp" and not (number and isinstance(v, int)):
                errs.append(("DC-006", f"'{name}' must be a unix timestamp, got {v!r}"))
                continue
            if kind == "email" and not (isinstance(v, str) and "@" in v and "." in v.split("@", 1)[1]):
                errs.append(("DC-002", f"'{name}' must be an email, got {v!r}"))
                continue
            if kind == "boolean" and not isinstance(v, bool):
                errs.append(("DC-002", f"'{name}' must be true/false, got {v!r}"))
                continue
            if number and "min" in spec and v < spec["min"]:
                errs.append(("DC-003", f"'{name}' = {v} is below the minimum {spec['min']}"))
            if number and "max" in spec and v > spec["max"]:
                errs.append(("DC-003", f"'{name}' = {v} is above the maximum {spec['max']}"))
            if kind == "enum" and v not in spec.get("values", []):
                errs.append(("DC-004", f"'{name}' = {v!r} is not one of {', '.join(map(str, spec['values']))}"))
            if isinstance(v, str) and "max_length" in spec and len(v) > spec["max_length"]:
                errs.append(("DC-005", f"'{name}' is longer than {spec['max_length']} characters"))
        for c in schema.get("constraints", []):
            m = _RULE.match(str(c.get("rule", "")))
            if m is None:
                continue
            when, equals, target, op, bound = m.groups()
            v = rec.get(target)
            if rec.get(when) == equals and isinstance(v, (int, float)):
                holds = {">": v > float(bound), ">=": v >= float(bound), "<": v < float(bound), "<=": v <= float(bound)}
                if not holds[op]:
                    errs.append((str(c.get("code", "DC-007")), f"{c['rule']} is violated ({target} = {v})"))
        out.append(errs)
    return out


def orders_schema() -> Generator[Call, str, dict[str, Any]]:
    schema = yield from http_json(f"{VALIDATION_URL}/schemas/orders")
    return dict(schema)


def validation_report(records: list[Row], results: list[list[tuple[str, str]]]) -> str:
    lines = []
    for rec, errs in zip(records, results, strict=True):
        rid = rec.get("order_id", "?")
        if errs:
            lines.append(f"order_id {rid}: invalid - " + "; ".join(f"{c} ({why})" for c, why in errs))
        else:
            lines.append(f"order_id {rid}: valid")
    return "\n".join(lines)


GET_ONLY_NOTE = (
    "(POST /validate is not reachable with GET only, so the records were checked against "
    "GET /schemas/orders and the error-code table.)"
)


def no_calls(fn: Callable[[World, dict[str, Any]], str]) -> SolveFn:
    """An oracle that needs no call: everything it reads is in the prompt."""

    def solve(world: World, params: dict[str, Any]) -> Solver:
        yield from ()
        return fn(world, params)

    solve.__name__ = fn.__name__
    return solve
