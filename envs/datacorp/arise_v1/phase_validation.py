"""Phase 2 of the DataCorp paper tasks: validation (10 tasks; truths POST, oracles only GET)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from envs.access import WorldAccess
from envs.arise_v1 import ParamsFn, PhaseTable, Question, Truth
from envs.datacorp.arise_v1.analyses import Row, load_data, order_rows
from envs.datacorp.arise_v1.checks import CHECKS, is_float
from envs.datacorp.arise_v1.constants import VALIDATION_CODES, VALIDATION_URL
from envs.datacorp.arise_v1.fixtures import (
    CROSS_FIELD_RECORDS,
    DUPLICATE_RECORDS,
    FIXABLE_RECORDS,
    INVALID_RECORDS,
    VALID_RECORD,
)
from envs.datacorp.arise_v1.oracle_reads import (
    GET_ONLY_NOTE,
    check_against_schema,
    inline_rows,
    orders_schema,
    validation_report,
)
from envs.datacorp.arise_v1.prompts import API_HINT, inline_export, records_json
from envs.datacorp.arise_v1.world import post_validate, schema_of
from envs.oracle import http_json
from envs.tasks import Solver
from envs.world import World

VALIDATION_TASKS = PhaseTable("validation", CHECKS, bands=(4, 4, 2))


def _records(records: Any) -> ParamsFn:
    def params(world: World) -> dict[str, Any]:
        return {"schema": "orders", "records": copy.deepcopy(records)}

    return params


def _val_q(ask: str) -> Question:
    """``ask`` after the API hint; ``{records}`` is the batch as JSON, ``{record}`` its only record (tasks 3-4)."""

    def q(world: World, params: dict[str, Any]) -> str:
        records = params.get("records")
        record = records_json(records[0]) if records and len(records) == 1 else None
        return f"{API_HINT}\n\n{ask.format(url=VALIDATION_URL, records=records_json(records), record=record)}"

    return q


def _codes(result: dict[str, Any], index: int) -> list[str]:
    for item in result["invalid"]:
        if item["index"] == index:
            return [e["code"] for e in item["errors"]]
    return []


def _codes_by_id(result: dict[str, Any], records: list[Row]) -> dict[str, list[str]]:
    """order_id -> the codes the API returned for that record ([] when it passed)."""
    return {str(r.get("order_id")): _codes(result, i) for i, r in enumerate(records)}


def _ids_with(result: dict[str, Any], code: str, pk: str = "order_id") -> list[Any]:
    return [item["record"].get(pk) for item in result["invalid"] if any(e["code"] == code for e in item["errors"])]


@VALIDATION_TASKS.task(
    1, "all_present", "schema names",
    _val_q("Call GET {url}/schemas to list all available schemas. Return the list of schema names."),
    lambda a, p: list(load_data(a).schema_names),
)  # fmt: skip
def _val_01(world: World, params: dict[str, Any]) -> Solver:
    names = yield from http_json(f"{VALIDATION_URL}/schemas")
    return ", ".join(names)


@VALIDATION_TASKS.task(
    2, "all_present", "orders fields",
    _val_q(
        "Call GET {url}/schemas/orders to retrieve the 'orders' schema definition. "
        "List all field names defined in this schema."
    ),
    lambda a, p: list(schema_of(a, "orders")["fields"]),
)  # fmt: skip
def _val_02(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from orders_schema()
    return ", ".join(schema["fields"])


def _verdict(a: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
    result = post_validate(a, p["records"], p["schema"])
    return {"valid_count": result["valid_count"], "invalid_count": result["invalid_count"]}


@VALIDATION_TASKS.task(
    3, "mentions_valid", "validate a good record ('valid', so 'invalid' too)",
    _val_q(
        "Validate this single record against the 'orders' schema by calling POST {url}/validate:\n\n{record}\n\n"
        "Is this record valid? Return 'valid' or 'invalid' and the validation result."
    ),
    _verdict,
    params=lambda w: {"schema": "orders", "records": [copy.deepcopy(VALID_RECORD)]},
)  # fmt: skip
def _val_03(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from orders_schema()
    results = check_against_schema(params["records"], schema)
    verdict = "valid" if not results[0] else "invalid"
    return f"The record is {verdict}.\n{validation_report(params['records'], results)}\n{GET_ONLY_NOTE}"


@VALIDATION_TASKS.task(
    4, "dc00", "codes of a record missing a field ('DC-00' passes)",
    _val_q(
        "Validate this record against the 'orders' schema by calling POST {url}/validate:\n\n{record}\n\n"
        "This record has at least one validation error. What error code(s) does the API return?"
    ),
    lambda a, p: _codes(post_validate(a, p["records"], p["schema"]), 0),
    params=lambda w: {"schema": "orders", "records": [copy.deepcopy(INVALID_RECORDS[0])]},
)  # fmt: skip
def _val_04(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from orders_schema()
    errs = check_against_schema(params["records"], schema)[0]
    codes = ", ".join(f"{c} ({why})" for c, why in errs) or "none"
    return f"Error code(s): {codes}. {GET_ONLY_NOTE}"


@VALIDATION_TASKS.task(
    5, "both_counts", "valid/invalid counts of a bad batch",
    _val_q(
        "Validate this batch of records against the 'orders' schema:\n\n{records}\n\n"
        "How many records are valid and how many are invalid? Return the valid count and invalid count."
    ),
    _verdict,
    params=_records(INVALID_RECORDS),
)  # fmt: skip
def _val_05(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from orders_schema()
    results = check_against_schema(params["records"], schema)
    bad = sum(1 for r in results if r)
    return (
        f"valid: {len(results) - bad}, invalid: {bad}\n{validation_report(params['records'], results)}\n{GET_ONLY_NOTE}"
    )


@VALIDATION_TASKS.task(
    6, "any_key", "error-code histogram (any listed code)",
    _val_q(
        "Validate this batch of records against the 'orders' schema:\n\n{records}\n\n"
        "Categorize the validation errors by error code (DC-001, DC-002, etc.). "
        "Return each error code and how many times it appears."
    ),
    lambda a, p: post_validate(a, p["records"], p["schema"])["error_summary"],
    params=_records(INVALID_RECORDS),
)  # fmt: skip
def _val_06(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from orders_schema()
    hist: dict[str, int] = {}
    for errs in check_against_schema(params["records"], schema):
        for code, _ in errs:
            hist[code] = hist.get(code, 0) + 1
    return (
        "\n".join(f"{c} ({VALIDATION_CODES.get(c, '?')}): {n}" for c, n in sorted(hist.items())) + f"\n{GET_ONLY_NOTE}"
    )


def _code_ids(code: str) -> Truth:
    def truth(a: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        return {"code": code, "ids": _ids_with(post_validate(a, p["records"], p["schema"]), code)}

    return truth


@VALIDATION_TASKS.task(
    7, "code_and_ids", "duplicate key ('DC-008' and the id)",
    _val_q(
        "Validate this batch of records against the 'orders' schema:\n\n{records}\n\n"
        "These records contain a duplicate primary key. What error code does the API return for duplicate keys? "
        "Which order_id is duplicated?"
    ),
    _code_ids("DC-008"),
    params=_records(DUPLICATE_RECORDS),
)  # fmt: skip
def _val_07(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from orders_schema()
    results = check_against_schema(params["records"], schema)
    dup = [
        rec["order_id"]
        for rec, errs in zip(params["records"], results, strict=True)
        if any(c == "DC-008" for c, _ in errs)
    ]
    return f"Duplicate keys get DC-008; duplicated order_id: {', '.join(map(str, dup)) or 'none'}."


def _val08_q(world: World, params: dict[str, Any]) -> str:
    return (
        f"{API_HINT}\n\nHere is a DataCorp orders CSV export:\n\n{inline_export(world, 'orders')}\n\n"
        f"Parse all data rows and validate them as a batch against the 'orders' schema at {VALIDATION_URL}/validate. "
        "How many records pass validation and how many fail?"
    )


def _val08_truth(a: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
    result = post_validate(a, [dict(r) for r in order_rows(a)], "orders")
    return {"valid_count": result["valid_count"], "invalid_count": result["invalid_count"]}


@VALIDATION_TASKS.task(8, "either_count", "validate the 50 rows ('50' or '0')", _val08_q, _val08_truth)
def _val_08(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from orders_schema()
    rows = inline_rows(world)
    results = check_against_schema(rows, schema)
    bad = sum(1 for r in results if r)
    return f"{len(rows) - bad} records pass validation and {bad} fail. {GET_ONLY_NOTE}"


def _fix(record: Row, schema: dict[str, Any]) -> tuple[Row, list[str]]:
    """The oracle's repairs: numeric text to numbers, enum values matched case-insensitively."""
    fixed, notes = dict(record), []
    for name, spec in schema["fields"].items():
        v = fixed.get(name)
        if spec["type"] == "float" and isinstance(v, str) and is_float(v):
            fixed[name] = float(v)
            notes.append(f"cast {name} {v!r} to {float(v)}")
        elif spec["type"] in ("integer", "unix_timestamp") and isinstance(v, str) and re.fullmatch(r"-?\d+", v):
            fixed[name] = int(v)
            notes.append(f"cast {name} {v!r} to {int(v)}")
        elif spec["type"] == "enum" and isinstance(v, str) and v not in spec["values"]:
            match = [x for x in spec["values"] if str(x).lower() == v.lower()]
            if match:
                fixed[name] = match[0]
                notes.append(f"set {name} {v!r} to {match[0]!r}")
    return fixed, notes


@VALIDATION_TASKS.task(
    9, "valid_and_fix", "fix records ('valid' and 'fix' or an id)",
    _val_q(
        "These records fail validation against the 'orders' schema:\n\n{records}\n\n"
        "First call POST {url}/validate to identify the errors. Then fix each record to make it pass validation "
        "(e.g., cast types, correct enum values). Re-validate the fixed records and confirm they pass. "
        "Return the fixed records and validation status."
    ),
    lambda a, p: _codes_by_id(post_validate(a, p["records"], p["schema"]), p["records"]),
    params=_records(FIXABLE_RECORDS),
)  # fmt: skip
def _val_09(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from orders_schema()
    records = params["records"]
    before = check_against_schema(records, schema)
    fixed, lines = [], []
    for rec in records:
        new, notes = _fix(rec, schema)
        fixed.append(new)
        lines.append(f"order_id {rec['order_id']}: {'; '.join(notes) or 'no fix needed'}")
    after = check_against_schema(fixed, schema)
    status = "all fixed records are valid" if not any(after) else "some records are still invalid"
    return (
        f"Errors found:\n{validation_report(records, before)}\nFixes:\n" + "\n".join(lines)
        + f"\nFixed records:\n{json.dumps(fixed)}\nRe-validation: {status}.\n{GET_ONLY_NOTE}"
    )  # fmt: skip


@VALIDATION_TASKS.task(
    10, "code_and_ids", "cross-field rule ('DC-007' and the id)",
    _val_q(
        "Validate these records against the 'orders' schema. They test cross-field constraints (DC-007: refunded "
        "orders must have amount > 0):\n\n{records}\n\n"
        "Identify which records violate cross-field constraints and explain why. "
        "Return the error codes and which order_id(s) are affected."
    ),
    _code_ids("DC-007"),
    params=_records(CROSS_FIELD_RECORDS),
)  # fmt: skip
def _val_10(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from orders_schema()
    results = check_against_schema(params["records"], schema)
    return f"{validation_report(params['records'], results)}\n{GET_ONLY_NOTE}"
