"""The paper's validation rules and its validation API (GET /schemas, GET /schemas/{name}, POST /validate)."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx

from envs.datacorp.arise_v1.constants import SCHEMAS, VALIDATION_HOST
from envs.http import WorldHttp, error_response, json_response


# =================================================================================
# Validation (the paper's rules; POST /validate)
# =================================================================================
def _is_email(value: str) -> bool:
    _local, at, domain = value.partition("@")
    return bool(at) and "." in domain


def _err(field_name: str, code: str, message: str) -> dict[str, str]:
    return {"field": field_name, "code": code, "message": message}


def validate_record(record: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, str]]:
    """Errors of one record (``record`` is updated with coerced values, as the paper's API did).

    Rules in field order: DC-001 missing or empty; DC-002 wrong type (numeric strings
    are coerced, not rejected); DC-006 a timestamp that is not an integer; DC-003
    below ``min`` / above ``max``; DC-004 not in ``values``; DC-005 longer than
    ``max_length``; then the orders cross-field rule DC-007 (refunded needs amount > 0).
    """
    errors: list[dict[str, str]] = []
    for name, spec in schema["fields"].items():
        value = record.get(name)
        if spec.get("required") and (value is None or value == ""):
            errors.append(_err(name, "DC-001", f"Missing required field '{name}'"))
            continue
        if value is None:
            continue
        ftype = spec["type"]
        if ftype in ("integer", "unix_timestamp") and (isinstance(value, bool) or not isinstance(value, int)):
            try:
                value = int(value)
            except (TypeError, ValueError):
                code = "DC-006" if ftype == "unix_timestamp" else "DC-002"
                what = "a unix timestamp (integer)" if ftype == "unix_timestamp" else "an integer"
                errors.append(_err(name, code, f"Field '{name}' must be {what}, got {type(value).__name__}"))
                continue
            record[name] = value
        elif ftype == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            try:
                value = float(value)
            except (TypeError, ValueError):
                errors.append(_err(name, "DC-002", f"Field '{name}' must be a number, got {type(value).__name__}"))
                continue
            record[name] = value
        elif ftype == "email" and not _is_email(str(value)):
            errors.append(_err(name, "DC-002", f"Field '{name}' must be a valid email"))
            continue
        elif ftype == "boolean":
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
                record[name] = value
            elif not isinstance(value, bool):
                errors.append(_err(name, "DC-002", f"Field '{name}' must be a boolean (true/false)"))
                continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "min" in spec and value < spec["min"]:
                errors.append(_err(name, "DC-003", f"Field '{name}' value {value} below minimum {spec['min']}"))
            if "max" in spec and value > spec["max"]:
                errors.append(_err(name, "DC-003", f"Field '{name}' value {value} exceeds maximum {spec['max']}"))
        if ftype == "enum" and str(value) not in spec.get("values", []):
            errors.append(
                _err(name, "DC-004", f"Field '{name}' value '{value}' not in allowed values: {spec['values']}")
            )
        if "max_length" in spec and isinstance(value, str) and len(value) > spec["max_length"]:
            errors.append(_err(name, "DC-005", f"Field '{name}' length {len(value)} exceeds max {spec['max_length']}"))
    if schema["name"] == "orders":
        amount = record.get("amount")
        if (
            record.get("status") == "refunded"
            and isinstance(amount, (int, float))
            and not isinstance(amount, bool)
            and amount <= 0
        ):
            errors.append(_err("amount", "DC-007", "Refunded orders must have amount > 0"))
    return errors


class UnknownSchema(KeyError):
    """DC-010: the named schema does not exist."""


def validate_batch(records: list[dict[str, Any]], schema_name: str) -> dict[str, Any]:
    """The body of a successful ``POST /validate``: per-record results and a code histogram.

    DC-008 is checked on the raw primary-key value before coercion, first occurrence wins.
    """
    if schema_name not in SCHEMAS:
        raise UnknownSchema(schema_name)
    schema = SCHEMAS[schema_name]
    pk = schema["primary_key"]
    seen: list[Any] = []
    valid: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    summary: dict[str, int] = {}
    for index, original in enumerate(records):
        record = copy.deepcopy(original)
        errors: list[dict[str, str]] = []
        if pk in record:
            if record[pk] in seen:
                errors.append(_err(pk, "DC-008", f"Duplicate primary key value '{record[pk]}' for field '{pk}'"))
            else:
                seen.append(record[pk])
        errors += validate_record(record, schema)
        if errors:
            invalid.append({"index": index, "record": record, "errors": errors})
            for e in errors:
                summary[e["code"]] = summary.get(e["code"], 0) + 1
        else:
            valid.append({"index": index, "record": record})
    return {
        "schema": schema_name,
        "total": len(records),
        "valid_count": len(valid),
        "invalid_count": len(invalid),
        "valid": valid,
        "invalid": invalid,
        "error_summary": summary,
    }


def _ordered_json(status: int, payload: Any) -> httpx.Response:
    """Compact JSON keeping the schema's field order (``json_response`` sorts keys); still stable bytes."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return httpx.Response(status, content=body, headers={"content-type": "application/json"})


def serve_validation_api(http: WorldHttp) -> None:
    vh = http.add_host(VALIDATION_HOST)
    names = list(SCHEMAS)

    def list_schemas(request: httpx.Request) -> httpx.Response:
        return json_response(200, names)

    def get_schema(request: httpx.Request, name: str) -> httpx.Response:
        if name not in SCHEMAS:
            return error_response(404, f"Schema '{name}' not found", code="DC-010", schemas=names)
        return _ordered_json(200, SCHEMAS[name])

    def validate(request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content or b"null")
        except json.JSONDecodeError as exc:
            return error_response(400, f"request body is not JSON: {exc.msg}")
        usage = 'expected a JSON object {"records": [{...}, ...], "schema": "<name>"}'
        if not isinstance(body, dict):
            return error_response(422, usage)
        records, schema = body.get("records"), body.get("schema")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            return error_response(422, f"'records' must be a list of objects; {usage}")
        if not isinstance(schema, str):
            return error_response(422, f"'schema' must be a schema name; {usage}")
        try:
            return _ordered_json(200, validate_batch(records, schema))
        except UnknownSchema:
            return error_response(404, f"Schema '{schema}' not found", code="DC-010", schemas=names)

    def wrong_method(request: httpx.Request) -> httpx.Response:
        # FastAPI answered 405 here in the paper: the agent, with GET only, could never validate.
        message = (
            f"Method {request.method} not allowed on /validate; use POST with a JSON body "
            '{"records": [...], "schema": "<name>"}'
        )
        return json_response(405, {"error": message, "allow": "POST"}, headers={"allow": "POST"})

    vh.route("GET", path="/schemas").mock(side_effect=list_schemas)
    vh.route("GET", path_regex=r"^/schemas/(?P<name>[^/]+)$").mock(side_effect=get_schema)
    vh.route("POST", path="/validate").mock(side_effect=validate)
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        vh.route(method, path="/validate").mock(side_effect=wrong_method)
