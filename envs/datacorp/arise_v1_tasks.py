"""The ARISE paper's 30 DataCorp tasks (protocol ``arise_v1``), flaws included.

Three phases of 10 (csv, validation, query; 4 easy, 4 medium, 2 hard each, in the
paper's order). The exports are pasted inline into the prompts; validation prompts
give the API's URL and its error-code table; query prompts give the DCQL summary and
the query. Answers are free text graded by the paper's substring-style checks
(``DcCheck``), reproduced with their known flaws (see ``docs/arise_v1_datacorp.md``):
e.g. the DC_HASH check passes on any hex character, validating the 50 rows passes on
"50" or "0", the validation records are the paper's fixed constants.

Each task's ``truth`` is recomputed from the world through ``WorldAccess``: the
exports (``DcData``), ``GET /schemas`` and ``POST /validate`` (which the graders may
use and the paper's GET-only agent could not), and DCQL run with the paper's lenient
semantics (``run_dcql``). Each oracle ``solve`` works only from what its prompt shows
plus ``http_get``: it reads the inline data itself and, for validation, checks the
records against ``GET /schemas/{name}`` instead of POSTing them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

from envs.access import WorldAccess
from envs.datacorp import PHASES
from envs.datacorp.arise_v1_world import (
    COLUMNS,
    CURRENCIES,
    CUSTOMER_EMAILS,
    ERROR_CODES,
    RATES,
    SCHEMA_NAMES,
    STATUSES,
    VALIDATION_URL,
    DcData,
    export_path,
    post_validate,
    schema_of,
)
from envs.grading import FreeTextCheck
from envs.oracle import OracleError
from envs.oracle import http_json as _http_json
from envs.tasks import Call, Solver, TaskFamily
from envs.world import World

TASKS_PER_PHASE = 10

CSV_HINT = (
    "DataCorp pipe-delimited format: lines starting with ## are header comments. The first ## line holds "
    "metadata (schema, exported date). The second ## line lists the column names separated by |. "
    "Data rows use | as the delimiter. Timestamps are Unix epoch integers."
)
API_HINT = (
    f"The DataCorp Validation API is running at {VALIDATION_URL}. "
    'POST /validate with body {"records": [...], "schema": "orders"} to validate records. '
    "GET /schemas lists the schemas. GET /schemas/{name} gives a schema's details. "
    "Error codes: DC-001=missing field, DC-002=wrong type, DC-003=out of range, DC-004=invalid enum, "
    "DC-005=too long, DC-006=bad timestamp, DC-007=cross-field violation, DC-008=duplicate key."
)
DCQL_HINT = (
    "DataCorp Query Language (DCQL) is similar to SQL with these additions:\n"
    '  DC_CONVERT(amount, "USD") - convert amount to the target currency\n'
    "  DC_HASH(email) - SHA-256 hash (first 16 hex chars) of a field value\n"
    '  DC_TIMERANGE(ts, "1h") - keep rows within the last N hours/minutes\n'
    "Syntax: SELECT cols FROM table [WHERE cond AND cond] [GROUP BY col] [ORDER BY col] [LIMIT n]"
)
PIVOT_STATUSES: tuple[str, ...] = ("completed", "pending", "failed")  # the paper's check looks for these only
HEX_DIGITS = "0123456789abcdef"

# -- the paper's fixed validation records (identical at every seed) ----------------
VALID_RECORD: dict[str, Any] = {
    "order_id": 999, "customer": "test@example.com", "amount": 150.0,
    "currency": "USD", "status": "completed", "timestamp": 1710000000,
}  # fmt: skip
INVALID_RECORDS: list[dict[str, Any]] = [
    # no timestamp (DC-001)
    {"order_id": 1001, "customer": "a@b.com", "amount": 50.0, "currency": "USD", "status": "completed"},
    # amount is not a number (DC-002)
    {"order_id": 1002, "customer": "c@d.com", "amount": "not-a-number", "currency": "EUR", "status": "pending",
     "timestamp": 1710000000},
    # unknown currency (DC-004)
    {"order_id": 1003, "customer": "e@f.com", "amount": 75.0, "currency": "XYZ", "status": "pending",
     "timestamp": 1710000000},
    # unknown status (DC-004)
    {"order_id": 1004, "customer": "g@h.com", "amount": 200.0, "currency": "USD", "status": "shipped",
     "timestamp": 1710000000},
    # negative amount (DC-003) on a refunded order (DC-007)
    {"order_id": 1005, "customer": "i@j.com", "amount": -10.0, "currency": "GBP", "status": "refunded",
     "timestamp": 1710000000},
]  # fmt: skip
DUPLICATE_RECORDS: list[dict[str, Any]] = [
    {"order_id": 2001, "customer": "alice@test.com", "amount": 100.0, "currency": "USD", "status": "completed",
     "timestamp": 1710000000},
    {"order_id": 2001, "customer": "bob@test.com", "amount": 200.0, "currency": "EUR", "status": "pending",
     "timestamp": 1710003600},
]  # fmt: skip
FIXABLE_RECORDS: list[dict[str, Any]] = [
    # amount as text: the API coerces it, so this record actually passes
    {"order_id": 3001, "customer": "fix@test.com", "amount": "299.99", "currency": "USD", "status": "completed",
     "timestamp": 1710000000},
    # lower-case currency (DC-004)
    {"order_id": 3002, "customer": "fix2@test.com", "amount": 49.99, "currency": "usd", "status": "pending",
     "timestamp": 1710003600},
]  # fmt: skip
CROSS_FIELD_RECORDS: list[dict[str, Any]] = [
    {"order_id": 5001, "customer": "ok@test.com", "amount": 50.0, "currency": "USD", "status": "refunded",
     "timestamp": 1710000000},
    {"order_id": 5002, "customer": "bad@test.com", "amount": -5.0, "currency": "USD", "status": "refunded",
     "timestamp": 1710000000},
    {"order_id": 5003, "customer": "fine@test.com", "amount": 200.0, "currency": "EUR", "status": "completed",
     "timestamp": 1710007200},
]  # fmt: skip

# -- the paper's ten DCQL queries ---------------------------------------------------
QUERIES: dict[int, str] = {
    1: 'SELECT order_id, customer, amount FROM orders WHERE status = "completed"',
    2: "SELECT order_id, customer, amount, currency FROM orders WHERE amount > 500.0",
    3: 'SELECT * FROM orders WHERE currency = "USD" LIMIT 5',
    4: 'SELECT order_id, amount FROM orders WHERE status = "completed" AND currency = "USD"',
    5: "SELECT currency FROM orders GROUP BY currency",
    6: 'SELECT order_id, DC_CONVERT(amount, "USD") AS amount_usd FROM orders WHERE status = "completed" LIMIT 3',
    7: "SELECT order_id, DC_HASH(customer) AS customer_hash FROM orders LIMIT 3",
    8: "SELECT status FROM orders GROUP BY status ORDER BY status ASC",
    9: 'SELECT order_id, customer, amount FROM orders WHERE DC_TIMERANGE(timestamp, "24h") AND status = "completed"',
    10: (
        'SELECT order_id, customer, DC_CONVERT(amount, "EUR") AS eur_amount FROM orders '
        'WHERE status = "completed" AND amount > 200 ORDER BY amount DESC LIMIT 5'
    ),
}


# =================================================================================
# The paper's checks
# =================================================================================
def _present(text: str, items: Iterable[Any]) -> tuple[bool, str]:
    missing = [str(x) for x in items if str(x) not in text]
    return not missing, "" if not missing else f"missing: {', '.join(missing[:6])}"


def _c_contains(text: str, truth: Any) -> tuple[bool, str]:
    ok = str(truth) in text
    return ok, "" if ok else f"{str(truth)!r} not in the answer"


def _c_contains_ci(text: str, truth: Any) -> tuple[bool, str]:
    ok = str(truth).lower() in text.lower()
    return ok, "" if ok else f"{str(truth)!r} not in the answer (case-insensitive)"


def _c_all_present(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, truth)


def _c_empty_or_any(text: str, truth: Any) -> tuple[bool, str]:
    if not truth:
        return True, "expected list is empty: passes"
    ok = any(str(x) in text for x in truth)
    return ok, "" if ok else "none of the expected values in the answer"


def _c_any_present(text: str, truth: Any) -> tuple[bool, str]:
    ok = any(str(x) in text for x in truth if x)
    return ok, "" if ok else "none of the expected values in the answer"


def _c_pivot(text: str, truth: Any) -> tuple[bool, str]:
    if not any(c in text for c in truth):
        return False, "no currency of the pivot in the answer"
    ok = any(s in text for s in PIVOT_STATUSES)
    return ok, "" if ok else f"none of {', '.join(PIVOT_STATUSES)} in the answer"


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _c_float_near(text: str, truth: Any) -> tuple[bool, str]:
    # Paper: any whitespace token (commas count as spaces) parsing as a float within 0.5.
    target = float(truth)
    ok = any(abs(float(tok) - target) < 0.5 for tok in text.replace(",", " ").split() if _is_float(tok))
    return ok, "" if ok else f"no number within 0.5 of {target}"


def _c_mentions_valid(text: str, truth: Any) -> tuple[bool, str]:
    ok = "valid" in text.lower()
    return ok, "" if ok else "'valid' not in the answer (case-insensitive)"


def _c_dc00(text: str, truth: Any) -> tuple[bool, str]:
    first = str(truth[0]) if truth else "DC-001"
    ok = first in text or "DC-00" in text
    return ok, "" if ok else f"neither {first!r} nor 'DC-00' in the answer"


def _c_both_counts(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, [truth["valid_count"], truth["invalid_count"]])


def _c_either_count(text: str, truth: Any) -> tuple[bool, str]:
    ok = str(truth["valid_count"]) in text or str(truth["invalid_count"]) in text
    return ok, "" if ok else "neither count in the answer"


def _c_any_key(text: str, truth: Any) -> tuple[bool, str]:
    ok = any(str(k) in text for k in truth)
    return ok, "" if ok else f"none of {list(truth)} in the answer"


def _c_code_and_ids(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, [truth["code"], *truth["ids"]])


def _c_valid_and_fix(text: str, truth: Any) -> tuple[bool, str]:
    low = text.lower()
    if "valid" not in low:
        return False, "'valid' not in the answer"
    ok = "fix" in low or any(str(k) in text for k in truth)
    return ok, "" if ok else "neither 'fix' nor a record id in the answer"


def _c_hash_or_hex(text: str, truth: Any) -> tuple[bool, str]:
    # Paper: len(h) > 0 and (h in output or any hex digit among the first 20 characters).
    if not truth:
        return False, "no expected hash (the paper's check fails)"
    if truth in text:
        return True, ""
    ok = any(c in HEX_DIGITS for c in text[:20])
    return ok, "hash absent; passed on a hex digit in the first 20 characters" if ok else "no hex digit early on"


def _c_count_of(text: str, truth: Any) -> tuple[bool, str]:
    return _c_contains(text, truth["row_count"])


CHECKS: dict[str, tuple[Callable[[str, Any], tuple[bool, str]], str]] = {
    "contains": (_c_contains, "passes if str(expected) is a substring of the answer"),
    "contains_ci": (_c_contains_ci, "the expected text is a substring, case-insensitive"),
    "all_present": (_c_all_present, "every expected name is a substring"),
    "all_keys": (_c_all_present, "every currency code of the expected totals is a substring (totals unchecked)"),
    "empty_or_any": (_c_empty_or_any, "any one expected value is a substring; an empty expectation passes"),
    "any_present": (_c_any_present, "any one of the expected values is a substring"),
    "pivot": (_c_pivot, "any currency of the pivot and any of completed/pending/failed are substrings"),
    "float_near": (_c_float_near, "any whitespace/comma-separated token is a number within 0.5 of the expected"),
    "mentions_valid": (_c_mentions_valid, "'valid' is a substring, case-insensitive (so is 'invalid')"),
    "dc00": (_c_dc00, "the expected code or 'DC-00' is a substring (any of DC-001..DC-009 passes)"),
    "both_counts": (_c_both_counts, "the valid count and the invalid count are substrings (independently)"),
    "either_count": (_c_either_count, "the valid count or the invalid count is a substring"),
    "any_key": (_c_any_key, "any one of the expected error codes is a substring"),
    "code_and_ids": (_c_code_and_ids, "the expected error code and every affected id are substrings"),
    "valid_and_fix": (_c_valid_and_fix, "'valid' and ('fix' or a record id) are substrings, case-insensitive"),
    "hash_or_hex": (_c_hash_or_hex, "the first hash is a substring, or any hex digit is among the first 20 chars"),
    "count_of": (_c_count_of, "the row count is a substring (the rows are unchecked)"),
}


class DcCheck(FreeTextCheck):
    """One of the paper's free-text DataCorp checks (``kind`` selects it from ``CHECKS``)."""

    checks = CHECKS
    label = "DataCorp paper"


# =================================================================================
# Analyses shared by truths (typed rows from DcData) and oracles (rows read from the prompt)
# =================================================================================
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


# =================================================================================
# Inline data: what the prompts show
# =================================================================================
def inline_export(world: World, schema: str) -> str:
    return world.files[export_path(schema)].strip()


def records_json(records: Any) -> str:
    return json.dumps(records, indent=2)


# =================================================================================
# Oracle helpers (the oracle reads the prompt's data itself and may only GET)
# =================================================================================
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


def _orders_schema() -> Generator[Call, str, dict[str, Any]]:
    schema = yield from _http_json(f"{VALIDATION_URL}/schemas/orders")
    return dict(schema)


def _report(records: list[Row], results: list[list[tuple[str, str]]]) -> str:
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


# =================================================================================
# Task specs
# =================================================================================
Question = Callable[[World, dict[str, Any]], str]
Truth = Callable[[WorldAccess, dict[str, Any]], Any]
SolveFn = Callable[[World, dict[str, Any]], Solver]
ParamsFn = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class DcSpec:
    phase: str
    number: int
    check: str
    summary: str
    question: Question
    truth: Truth
    solve: SolveFn
    params: ParamsFn | None = None

    @property
    def difficulty(self) -> str:
        return "easy" if self.number <= 4 else "medium" if self.number <= 8 else "hard"

    @property
    def name(self) -> str:
        return f"v1.{self.phase}.{self.number:02d}"


SPECS: list[DcSpec] = []


def task(
    phase: str,
    number: int,
    check: str,
    summary: str,
    question: Question,
    truth: Truth,
    params: ParamsFn | None = None,
) -> Callable[[SolveFn], SolveFn]:
    """Register a task; the decorated generator function is its oracle."""

    def deco(solve: SolveFn) -> SolveFn:
        if check not in CHECKS:
            raise ValueError(f"unknown check {check!r}")
        SPECS.append(DcSpec(phase, number, check, summary, question, truth, solve, params))
        return solve

    return deco


def _no_calls(fn: Callable[[World, dict[str, Any]], str]) -> SolveFn:
    """An oracle that needs no call: everything it reads is in the prompt."""

    def solve(world: World, params: dict[str, Any]) -> Solver:
        yield from ()
        return fn(world, params)

    solve.__name__ = fn.__name__
    return solve


def _data(access: WorldAccess) -> DcData:
    return DcData.load(access)


def _orders(access: WorldAccess) -> list[Row]:
    return _data(access).rows("orders")


# -- phase 1: csv --------------------------------------------------------------------
def _csv_q(ask: str) -> Question:
    def q(world: World, params: dict[str, Any]) -> str:
        return f"Here is a DataCorp pipe-delimited CSV export. {CSV_HINT}\n\n{inline_export(world, 'orders')}\n\n{ask}"

    return q


@task(
    "csv", 1, "contains", "row count",
    _csv_q("How many data rows are in this file? (Do not count ## header lines.) Return just the count."),
    lambda a, p: len(_orders(a)),
)  # fmt: skip
@_no_calls
def _csv_01(world: World, params: dict[str, Any]) -> str:
    return str(len(inline_rows(world)))


@task(
    "csv", 2, "all_present", "column names",
    _csv_q("What are the column names in this file? List all column names."),
    lambda a, p: list(_data(a).tables["orders"].columns),
)  # fmt: skip
@_no_calls
def _csv_02(world: World, params: dict[str, Any]) -> str:
    _, columns, _ = read_inline_dc(inline_export(world, "orders"))
    return ", ".join(columns)


@task(
    "csv", 3, "contains", "completed count",
    _csv_q("How many orders have status = 'completed'? Return just the count."),
    lambda a, p: count_where(_orders(a), status="completed"),
)  # fmt: skip
@_no_calls
def _csv_03(world: World, params: dict[str, Any]) -> str:
    return str(sum(1 for r in inline_rows(world) if r["status"] == "completed"))


@task(
    "csv", 4, "contains_ci", "schema name",
    _csv_q("What schema name is declared in the ## header of this file? Return just the schema name."),
    lambda a, p: _data(a).tables["orders"].metadata["schema"],
)  # fmt: skip
@_no_calls
def _csv_04(world: World, params: dict[str, Any]) -> str:
    meta, _, _ = read_inline_dc(inline_export(world, "orders"))
    return meta["schema"]


@task(
    "csv", 5, "all_keys", "amount by currency (codes checked only)",
    _csv_q("Sum the 'amount' field grouped by 'currency'. Return each currency and its total amount."),
    lambda a, p: sum_by(_orders(a), "amount", "currency"),
)  # fmt: skip
@_no_calls
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


@task(
    "csv", 6, "contains", "orders-customers join count (always 50)", _join_q,
    lambda a, p: join_count(_orders(a), _data(a).rows("customers")),
)  # fmt: skip
@_no_calls
def _csv_06(world: World, params: dict[str, Any]) -> str:
    emails = {r["email"] for r in inline_rows(world, "customers")}
    return str(sum(1 for r in inline_rows(world) if r["customer"] in emails))


@task(
    "csv", 7, "empty_or_any", "customers with more than one order (any one)",
    _csv_q(
        "Which customer email addresses appear more than once in this file (i.e., have placed multiple orders)? "
        "List the duplicate customer emails."
    ),
    lambda a, p: duplicates(_orders(a), "customer"),
)  # fmt: skip
@_no_calls
def _csv_07(world: World, params: dict[str, Any]) -> str:
    seen: dict[str, int] = {}
    for r in inline_rows(world):
        seen[r["customer"]] = seen.get(r["customer"], 0) + 1
    dups = [c for c, n in seen.items() if n > 1]
    return ", ".join(dups) if dups else "No customer appears more than once."


@task(
    "csv", 8, "contains", "USD and completed count",
    _csv_q("How many orders are both in USD currency AND have status 'completed'? Return just the count."),
    lambda a, p: count_where(_orders(a), currency="USD", status="completed"),
)  # fmt: skip
@_no_calls
def _csv_08(world: World, params: dict[str, Any]) -> str:
    return str(sum(1 for r in inline_rows(world) if r["currency"] == "USD" and r["status"] == "completed"))


@task(
    "csv", 9, "pivot", "currency x status pivot (any code + any status)",
    _csv_q(
        "Create a pivot table showing the count of orders for each (currency, status) combination. "
        "Return the result as a table or structured list showing currency, status, and count."
    ),
    lambda a, p: pivot(_orders(a)),
)  # fmt: skip
@_no_calls
def _csv_09(world: World, params: dict[str, Any]) -> str:
    cells: dict[tuple[str, str], int] = {}
    for r in inline_rows(world):
        cells[(r["currency"], r["status"])] = cells.get((r["currency"], r["status"]), 0) + 1
    return "currency | status | count\n" + "\n".join(f"{c} | {s} | {n}" for (c, s), n in sorted(cells.items()))


@task(
    "csv", 10, "float_near", "final running mean of amount (any number within 0.5)",
    _csv_q(
        "Compute the running average of the 'amount' field across all rows (in the order they appear). "
        "What is the final running average (i.e., the overall mean of all amounts)? Round to 4 decimal places."
    ),
    lambda a, p: final_running_average(_orders(a)),
)  # fmt: skip
@_no_calls
def _csv_10(world: World, params: dict[str, Any]) -> str:
    amounts = [r["amount"] for r in inline_rows(world)]
    return f"The final running average is {sum(amounts) / len(amounts):.4f}"


# -- phase 2: validation ---------------------------------------------------------------
def _records(records: Any) -> ParamsFn:
    def params(world: World) -> dict[str, Any]:
        return {"schema": "orders", "records": copy.deepcopy(records)}

    return params


def _val_q(ask: str) -> Question:
    def q(world: World, params: dict[str, Any]) -> str:
        return f"{API_HINT}\n\n{ask.format(url=VALIDATION_URL, records=records_json(params.get('records')))}"

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


@task(
    "validation", 1, "all_present", "schema names",
    _val_q("Call GET {url}/schemas to list all available schemas. Return the list of schema names."),
    lambda a, p: list(_data(a).schema_names),
)  # fmt: skip
def _val_01(world: World, params: dict[str, Any]) -> Solver:
    names = yield from _http_json(f"{VALIDATION_URL}/schemas")
    return ", ".join(names)


@task(
    "validation", 2, "all_present", "orders fields",
    _val_q(
        "Call GET {url}/schemas/orders to retrieve the 'orders' schema definition. "
        "List all field names defined in this schema."
    ),
    lambda a, p: list(schema_of(a, "orders")["fields"]),
)  # fmt: skip
def _val_02(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from _orders_schema()
    return ", ".join(schema["fields"])


def _verdict(a: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
    result = post_validate(a, p["records"], p["schema"])
    return {"valid_count": result["valid_count"], "invalid_count": result["invalid_count"]}


@task(
    "validation", 3, "mentions_valid", "validate a good record ('valid', so 'invalid' too)",
    _val_q(
        "Validate this single record against the 'orders' schema by calling POST {url}/validate:\n\n{records}\n\n"
        "Is this record valid? Return 'valid' or 'invalid' and the validation result."
    ),
    _verdict,
    params=lambda w: {"schema": "orders", "records": [copy.deepcopy(VALID_RECORD)]},
)  # fmt: skip
def _val_03(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from _orders_schema()
    results = check_against_schema(params["records"], schema)
    verdict = "valid" if not results[0] else "invalid"
    return f"The record is {verdict}.\n{_report(params['records'], results)}\n{GET_ONLY_NOTE}"


def _val04_q(world: World, params: dict[str, Any]) -> str:
    return (
        f"{API_HINT}\n\nValidate this record against the 'orders' schema by calling POST {VALIDATION_URL}/validate:"
        f"\n\n{json.dumps(params['records'][0], indent=2)}\n\n"
        "This record has at least one validation error. What error code(s) does the API return?"
    )


@task(
    "validation", 4, "dc00", "codes of a record missing a field ('DC-00' passes)", _val04_q,
    lambda a, p: _codes(post_validate(a, p["records"], p["schema"]), 0),
    params=lambda w: {"schema": "orders", "records": [copy.deepcopy(INVALID_RECORDS[0])]},
)  # fmt: skip
def _val_04(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from _orders_schema()
    errs = check_against_schema(params["records"], schema)[0]
    codes = ", ".join(f"{c} ({why})" for c, why in errs) or "none"
    return f"Error code(s): {codes}. {GET_ONLY_NOTE}"


@task(
    "validation", 5, "both_counts", "valid/invalid counts of a bad batch",
    _val_q(
        "Validate this batch of records against the 'orders' schema:\n\n{records}\n\n"
        "How many records are valid and how many are invalid? Return the valid count and invalid count."
    ),
    _verdict,
    params=_records(INVALID_RECORDS),
)  # fmt: skip
def _val_05(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from _orders_schema()
    results = check_against_schema(params["records"], schema)
    bad = sum(1 for r in results if r)
    return f"valid: {len(results) - bad}, invalid: {bad}\n{_report(params['records'], results)}\n{GET_ONLY_NOTE}"


@task(
    "validation", 6, "any_key", "error-code histogram (any listed code)",
    _val_q(
        "Validate this batch of records against the 'orders' schema:\n\n{records}\n\n"
        "Categorize the validation errors by error code (DC-001, DC-002, etc.). "
        "Return each error code and how many times it appears."
    ),
    lambda a, p: post_validate(a, p["records"], p["schema"])["error_summary"],
    params=_records(INVALID_RECORDS),
)  # fmt: skip
def _val_06(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from _orders_schema()
    hist: dict[str, int] = {}
    for errs in check_against_schema(params["records"], schema):
        for code, _ in errs:
            hist[code] = hist.get(code, 0) + 1
    return "\n".join(f"{c} ({ERROR_CODES.get(c, '?')}): {n}" for c, n in sorted(hist.items())) + f"\n{GET_ONLY_NOTE}"


def _code_ids(code: str) -> Truth:
    def truth(a: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        return {"code": code, "ids": _ids_with(post_validate(a, p["records"], p["schema"]), code)}

    return truth


@task(
    "validation", 7, "code_and_ids", "duplicate key ('DC-008' and the id)",
    _val_q(
        "Validate this batch of records against the 'orders' schema:\n\n{records}\n\n"
        "These records contain a duplicate primary key. What error code does the API return for duplicate keys? "
        "Which order_id is duplicated?"
    ),
    _code_ids("DC-008"),
    params=_records(DUPLICATE_RECORDS),
)  # fmt: skip
def _val_07(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from _orders_schema()
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
    result = post_validate(a, [dict(r) for r in _orders(a)], "orders")
    return {"valid_count": result["valid_count"], "invalid_count": result["invalid_count"]}


@task("validation", 8, "either_count", "validate the 50 rows ('50' or '0')", _val08_q, _val08_truth)
def _val_08(world: World, params: dict[str, Any]) -> Solver:
    schema = yield from _orders_schema()
    rows = inline_rows(world)
    results = check_against_schema(rows, schema)
    bad = sum(1 for r in results if r)
    return f"{len(rows) - bad} records pass validation and {bad} fail. {GET_ONLY_NOTE}"


def _fix(record: Row, schema: dict[str, Any]) -> tuple[Row, list[str]]:
    """The oracle's repairs: numeric text to numbers, enum values matched case-insensitively."""
    fixed, notes = dict(record), []
    for name, spec in schema["fields"].items():
        v = fixed.get(name)
        if spec["type"] == "float" and isinstance(v, str) and _is_float(v):
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


@task(
    "validation", 9, "valid_and_fix", "fix records ('valid' and 'fix' or an id)",
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
    schema = yield from _orders_schema()
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
        f"Errors found:\n{_report(records, before)}\nFixes:\n" + "\n".join(lines)
        + f"\nFixed records:\n{json.dumps(fixed)}\nRe-validation: {status}.\n{GET_ONLY_NOTE}"
    )  # fmt: skip


@task(
    "validation", 10, "code_and_ids", "cross-field rule ('DC-007' and the id)",
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
    schema = yield from _orders_schema()
    results = check_against_schema(params["records"], schema)
    return f"{_report(params['records'], results)}\n{GET_ONLY_NOTE}"


# -- phase 3: query -----------------------------------------------------------------
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
    return _data(a).query(p["query"]).row_count


def _column(name: str) -> Truth:
    return lambda a, p: [r.get(name) for r in _data(a).query(p["query"]).rows]


def _query_task(number: int, check: str, summary: str, truth: Truth) -> Callable[[SolveFn], SolveFn]:
    return task("query", number, check, summary, _query_q, truth, params=_query_params(number))


def _usd(row: Row) -> float:
    return round(row["amount"] * RATES.get(row["currency"], 1.0), 2)


@_query_task(1, "contains", "completed rows", _row_count)
@_no_calls
def _qry_01(world: World, params: dict[str, Any]) -> str:
    return str(sum(1 for r in inline_rows(world) if r["status"] == "completed"))


@_query_task(2, "contains", "amount > 500 rows", _row_count)
@_no_calls
def _qry_02(world: World, params: dict[str, Any]) -> str:
    return str(sum(1 for r in inline_rows(world) if r["amount"] > 500.0))


@_query_task(3, "contains", "USD rows with LIMIT 5", _row_count)
@_no_calls
def _qry_03(world: World, params: dict[str, Any]) -> str:
    usd = [r for r in inline_rows(world) if r["currency"] == "USD"][:5]
    return f"{len(usd)} rows are returned."


@_query_task(4, "contains", "completed USD rows", _row_count)
@_no_calls
def _qry_04(world: World, params: dict[str, Any]) -> str:
    return str(sum(1 for r in inline_rows(world) if r["status"] == "completed" and r["currency"] == "USD"))


@_query_task(5, "any_present", "GROUP BY currency (any value)", _column("currency"))
@_no_calls
def _qry_05(world: World, params: dict[str, Any]) -> str:
    return ", ".join(sorted({r["currency"] for r in inline_rows(world)}))


@_query_task(6, "contains", "DC_CONVERT to USD, LIMIT 3 (count checked)", _row_count)
@_no_calls
def _qry_06(world: World, params: dict[str, Any]) -> str:
    rows = [r for r in inline_rows(world) if r["status"] == "completed"][:3]
    return f"{len(rows)} rows:\n" + "\n".join(f"order_id {r['order_id']}: amount_usd {_usd(r)}" for r in rows)


@_query_task(
    7, "hash_or_hex", "DC_HASH (any hex digit early passes)", lambda a, p: (_column("customer_hash")(a, p) or [""])[0]
)
@_no_calls
def _qry_07(world: World, params: dict[str, Any]) -> str:
    rows = inline_rows(world)[:3]
    return "\n".join(
        f"order_id {r['order_id']}: customer_hash {hashlib.sha256(str(r['customer']).encode()).hexdigest()[:16]}"
        for r in rows
    )


@_query_task(8, "any_present", "GROUP BY status ORDER BY status (any value)", _column("status"))
@_no_calls
def _qry_08(world: World, params: dict[str, Any]) -> str:
    return ", ".join(sorted({r["status"] for r in inline_rows(world)}))


@_query_task(9, "contains", "DC_TIMERANGE 24h and completed", _row_count)
@_no_calls
def _qry_09(world: World, params: dict[str, Any]) -> str:
    rows = inline_rows(world)
    cutoff = max(r["timestamp"] for r in rows) - 24 * 3600
    return str(sum(1 for r in rows if r["timestamp"] >= cutoff and r["status"] == "completed"))


@_query_task(
    10, "count_of", "multi-condition filter, DC_CONVERT, ORDER BY, LIMIT (count checked)",
    lambda a, p: {
        "row_count": _data(a).query(p["query"]).row_count,
        "order_ids": [r["order_id"] for r in _data(a).query(p["query"]).rows],
    },
)  # fmt: skip
@_no_calls
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


# =================================================================================
# Families
# =================================================================================
class DcV1Task(TaskFamily):
    """One of the paper's 30 DataCorp tasks."""

    answer_schema = {"type": "string", "description": "free text"}  # the paper graded free text

    def __init__(self, spec: DcSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.phase = spec.phase
        self.difficulty = spec.difficulty

    def __repr__(self) -> str:
        return f"DcV1Task({self.name!r}: {self.spec.summary})"

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return self.spec.params(world) if self.spec.params else {}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return self.spec.question(world, params)

    def prompt(self, world: World, params: dict[str, Any]) -> str:
        # The paper graded free text: no schema, no grading recipe.
        return self.question(world, params)

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        return self.spec.truth(access, params)

    def comparator(self, params: dict[str, Any]) -> DcCheck:
        return DcCheck(self.spec.check)

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        return self.spec.solve(world, params)


def _ordered_specs() -> list[DcSpec]:
    specs = sorted(SPECS, key=lambda s: (PHASES.index(s.phase), s.number))
    names = [s.name for s in specs]
    expected = [f"v1.{p}.{n:02d}" for p in PHASES for n in range(1, TASKS_PER_PHASE + 1)]
    if names != expected:
        raise RuntimeError(
            f"DataCorp arise_v1 task table is incomplete or duplicated: {sorted(set(expected) ^ set(names))}"
        )
    return specs


def families() -> list[DcV1Task]:
    """The 30 tasks in the paper's order (phase, then number)."""
    return [DcV1Task(s) for s in _ordered_specs()]


# =================================================================================
# The constant blob
# =================================================================================
BLOB_KEYWORDS: tuple[str, ...] = ("valid", "invalid", "fix", "fixed", "duplicate", "error", "none", "count", "rows")
BLOB_NAMES: tuple[str, ...] = (
    *SCHEMA_NAMES,
    *dict.fromkeys(c for cols in COLUMNS.values() for c in cols),
    *CURRENCIES,
    *STATUSES,
    *CUSTOMER_EMAILS,
)


def constant_blob(max_int: int = 999) -> str:
    """Codes first (so the DC_HASH check's first 20 characters hold hex digits), names, keywords, 0..max_int."""
    return " ".join([*ERROR_CODES, *BLOB_NAMES, *BLOB_KEYWORDS, *(str(i) for i in range(max_int + 1))])


CONSTANT_BLOB: str = constant_blob()
"""An input-independent answer: DC-001..DC-010, schema and column names, currency and
status codes, the customer emails, a few keywords, and the integers 0..999.

The paper's checks accept it on almost every task (see docs/arise_v1_datacorp.md); it
is the null baseline that shows how much of a score this protocol hands out for free.
"""

__all__ = [
    "CHECKS",
    "CONSTANT_BLOB",
    "CROSS_FIELD_RECORDS",
    "DUPLICATE_RECORDS",
    "FIXABLE_RECORDS",
    "INVALID_RECORDS",
    "PHASES",
    "QUERIES",
    "SPECS",
    "VALID_RECORD",
    "DcCheck",
    "DcSpec",
    "DcV1Task",
    "OracleError",
    "check_against_schema",
    "constant_blob",
    "families",
    "read_inline_dc",
]
