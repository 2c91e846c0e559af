"""What the DataCorp paper prompts show: the hints and the inline exports."""

from __future__ import annotations

import json
from typing import Any

from envs.datacorp.arise_v1.constants import VALIDATION_URL
from envs.datacorp.arise_v1.dc_exports import export_path
from envs.world import World

# The hints are the reference harness's, byte for byte (github.com/abekek/arise at
# 54de0da2e7ec6896469ce454520deba0e8e85a61, benchmarks/tasks/datacorp_tasks.py: _CSV_FORMAT_HINT,
# _API_FORMAT_HINT, _DCQL_FORMAT_HINT), em dashes included; only the API's base URL is ours.
CSV_HINT = (
    "DataCorp pipe-delimited format: lines starting with ## are header comments. "
    "The first ## line contains metadata (schema, exported date). "
    "The second ## line lists column names separated by |. "
    "Data rows use | as delimiter. Timestamps are Unix epoch integers."
)
API_HINT = (
    f"The DataCorp Validation API is running at {VALIDATION_URL}. "
    'POST /validate with body {"records": [...], "schema": "orders"} to validate records. '
    "GET /schemas to list schemas. GET /schemas/{name} for schema details. "
    "Error codes: DC-001=missing field, DC-002=wrong type, DC-003=out of range, "
    "DC-004=invalid enum, DC-005=too long, DC-006=bad timestamp, "
    "DC-007=cross-field violation, DC-008=duplicate key."
)
DCQL_HINT = (
    "DataCorp Query Language (DCQL) is similar to SQL with these additions:\n"
    '  DC_CONVERT(amount, "USD") \u2014 convert amount to target currency\n'
    "  DC_HASH(email) \u2014 SHA-256 hash (first 16 hex chars) of a field value\n"
    '  DC_TIMERANGE(ts, "1h") \u2014 filter rows within last N hours/minutes\n'
    "Syntax: SELECT cols FROM table [WHERE cond AND cond] [GROUP BY col] [ORDER BY col] [LIMIT n]"
)


def inline_export(world: World, schema: str) -> str:
    return world.files[export_path(schema)].strip()


def records_json(records: Any) -> str:
    return json.dumps(records, indent=2)
