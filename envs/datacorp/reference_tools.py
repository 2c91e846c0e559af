"""Hand-written reference tools for DataCorp (exports and validation).

They serve the ``fixed_tools`` condition and the oracle. Like any tool they reach the
world only through ``envs.toolkit`` and take table names, paths and parameters, never
pasted data; outputs are compact JSON that fits an observation. The DCQL tool lives
in ``envs.datacorp.dcql_tools``; ``reference_tools()`` returns the full set.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from envs.datacorp.dialect import DcFile, json_value, malformed_kind, read_dc, table_files, to_record
from envs.datacorp.validation_api import BASE_URL, FOREIGN_KEYS, MAX_RECORDS, PRIMARY_KEYS
from envs.toolkit import http_get, http_post, list_files, read_file

_PARSE_CACHE: dict[tuple[str, int, int], DcFile] = {}
_MISSING = object()
AGGREGATES = ("count", "sum", "avg", "min", "max", "median", "count_distinct")


# -- reading exports ----------------------------------------------------------------------


def _parse(path: str) -> DcFile:
    text = read_file(path)
    key = (path, len(text), hash(text))
    parsed = _PARSE_CACHE.get(key)
    if parsed is None:
        parsed = read_dc(text)
        if len(_PARSE_CACHE) > 64:
            _PARSE_CACHE.clear()
        _PARSE_CACHE[key] = parsed
    return parsed


def _files(table: str) -> list[str]:
    paths = list_files("exports/")
    files = table_files(paths, table)
    if not files:
        known = sorted({p.split("/")[1].removesuffix(".dc") for p in paths if p.endswith(".dc")})
        raise ValueError(f"no export for table {table!r}; tables: {known}")
    return files


def _rows(table: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in _files(table):
        out.extend(_parse(p).records())
    return out


class _Joiner:
    """Resolves ``table.column`` names through foreign keys (``orders`` -> ``customers.region``)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._index: dict[tuple[str, str], dict[Any, dict[str, Any]]] = {}
        self._paths: dict[str, list[tuple[str, str, str]]] = {}

    def _path(self, target: str) -> list[tuple[str, str, str]]:
        if target not in self._paths:
            frontier: list[tuple[str, list[tuple[str, str, str]]]] = [(self.base, [])]
            seen = {self.base}
            found = None
            while frontier and found is None:
                nxt = []
                for table, path in frontier:
                    for fk in FOREIGN_KEYS.get(table, []):
                        hop = [*path, fk]
                        if fk[1] == target:
                            found = hop
                            break
                        if fk[1] not in seen:
                            seen.add(fk[1])
                            nxt.append((fk[1], hop))
                    if found is not None:
                        break
                frontier = nxt
            if found is None:
                raise ValueError(f"table {target!r} is not reachable from {self.base} through foreign keys")
            self._paths[target] = found
        return self._paths[target]

    def _lookup(self, table: str, column: str) -> dict[Any, dict[str, Any]]:
        key = (table, column)
        if key not in self._index:
            idx: dict[Any, dict[str, Any]] = {}
            for r in _rows(table):
                idx.setdefault(r[column], r)
            self._index[key] = idx
        return self._index[key]

    def getter(self, name: str, columns: list[str]) -> Callable[[dict[str, Any]], Any]:
        if "." not in name:
            if name not in columns:
                raise ValueError(f"unknown column {name!r} of {self.base}; columns: {columns}")
            return lambda row: row[name]
        table, column = name.split(".", 1)
        hops = self._path(table)
        lookups = [(field, self._lookup(ref_table, ref_field)) for field, ref_table, ref_field in hops]

        def get(row: dict[str, Any]) -> Any:
            cur: dict[str, Any] | None = row
            for field, idx in lookups:
                cur = idx.get(cur[field]) if cur is not None else None
                if cur is None:
                    return _MISSING
            assert cur is not None
            if column not in cur:
                raise ValueError(f"unknown column {column!r} of {table}; columns: {sorted(cur)}")
            return cur[column]

        return get


def _select(
    table: str, where: dict[str, Any] | None, time_column: str, start: int, end: int
) -> tuple[list[dict[str, Any]], _Joiner, list[str]]:
    rows = _rows(table)
    columns = list(rows[0]) if rows else []
    joiner = _Joiner(table)
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for name, wanted in (where or {}).items():
        get = joiner.getter(name, columns)
        allowed = {_match_key(w) for w in wanted} if isinstance(wanted, list) else {_match_key(wanted)}
        tests.append(_member_test(get, allowed))
    if time_column:
        tget = joiner.getter(time_column, columns)
        if start:
            tests.append(lambda r: (v := tget(r)) is not _MISSING and v is not None and v >= start)
        if end:
            tests.append(lambda r: (v := tget(r)) is not _MISSING and v is not None and v < end)
    return [r for r in rows if all(t(r) for t in tests)], joiner, columns


def _member_test(
    get: Callable[[dict[str, Any]], Any], allowed: set[tuple[int, Any]]
) -> Callable[[dict[str, Any]], bool]:
    def test(row: dict[str, Any]) -> bool:
        v = get(row)
        return v is not _MISSING and _match_key(v) in allowed

    return test


def _match_key(value: Any) -> tuple[int, Any]:
    """Equality key for filters: null, booleans, numbers (19.9 == 19.90) and text never mix."""
    if value is None:
        return (0, None)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float, Decimal)):
        return (2, float(value))
    if isinstance(value, str):
        return (3, value)
    raise ValueError(f"filter values must be null, booleans, numbers, text or lists of those; got {value!r}")


def _aggregate(values: list[Any], agg: str) -> Any:
    if agg == "count":
        return len(values)
    vals = [v for v in values if v is not None]
    if agg == "count_distinct":
        return len({json.dumps(json_value(v)) for v in vals})
    if not vals:
        return None
    if agg == "min":
        return json_value(min(vals))
    if agg == "max":
        return json_value(max(vals))
    nums = [Decimal(v) if isinstance(v, int) else v for v in vals]
    if agg == "sum":
        return json_value(sum(nums, Decimal(0)))
    if agg == "avg":
        return round(float(sum(nums, Decimal(0)) / len(nums)), 6)
    return round(float(statistics.median(nums)), 6)


def _group_key(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(json_value(value))


def dc_tables() -> dict[str, Any]:
    """Every exported table with its files, column spec, well-formed row count and malformed record count.

    Returns:
        {table: {files, columns, rows, malformed, exported}}.
    """
    paths = list_files("exports/")
    names = sorted({p.split("/")[1].removesuffix(".dc") for p in paths if p.endswith(".dc")})
    out: dict[str, Any] = {}
    for name in names:
        files = table_files(paths, name)
        parsed = [_parse(p) for p in files]
        out[name] = {
            "files": files,
            "columns": "|".join(c.spec() for c in parsed[0].columns),
            "rows": sum(len(f.rows) for f in parsed),
            "malformed": sum(len(f.malformed) for f in parsed),
            "exported": parsed[0].exported,
        }
    return out


def dc_malformed(table: str = "") -> dict[str, Any]:
    """Malformed records of one table's export files, or of every export ('' = all tables).

    Args:
        table: Table name such as 'orders' ('' = every table).

    Returns:
        {total, by_file: {path: n}, by_kind: {kind: n}, first: up to 10 [path, line, reason]}.
    """
    paths = list_files("exports/")
    if table:
        files = _files(table)
    else:
        files = sorted(p for p in paths if p.endswith(".dc"))
    by_file: dict[str, int] = {}
    kinds: Counter[str] = Counter()
    first: list[list[Any]] = []
    for p in files:
        bad = _parse(p).malformed
        by_file[p] = len(bad)
        for line, reason in bad:
            kinds[malformed_kind(reason)] += 1
            if len(first) < 10:
                first.append([p, line, reason[:120]])
    return {"total": sum(by_file.values()), "by_file": by_file, "by_kind": dict(kinds), "first": first}


def dc_aggregate(
    table: str,
    agg: str = "count",
    column: str = "",
    group_by: str = "",
    where: dict[str, Any] | None = None,
    time_column: str = "",
    start: int = 0,
    end: int = 0,
    top: int = 0,
) -> Any:
    """Aggregate the well-formed rows of an exported table, optionally filtered, joined and grouped.

    Column names may be 'table.column' to follow foreign keys (e.g. on orders,
    'customers.region' or 'products.category'; on refunds, 'products.category' goes
    through orders). Rows whose foreign key has no well-formed row in the referenced
    export are dropped whenever such a column is used.

    Args:
        table: Table to read, e.g. 'orders'.
        agg: One of count, sum, avg, min, max, median, count_distinct.
        column: Column to aggregate (not needed for count).
        group_by: Column to group by ('' = no grouping).
        where: Equality filters {column: value}; a list value means 'any of', null means 'is null'.
        time_column: Timestamp column for start/end (e.g. 'created_at').
        start: Keep rows with time_column >= start (0 = no bound).
        end: Keep rows with time_column < end (0 = no bound).
        top: With group_by, return only the top N groups by value (0 = all groups).

    Returns:
        The value, or {group: value} sorted by value descending. Sums and averages of decimals are numbers.
    """
    if agg not in AGGREGATES:
        raise ValueError(f"unknown agg {agg!r}; accepted: {', '.join(AGGREGATES)}")
    if agg != "count" and not column:
        raise ValueError(f"agg {agg!r} needs a column")
    if (start or end) and not time_column:
        raise ValueError("start/end need time_column (e.g. 'created_at')")
    rows, joiner, columns = _select(table, where, time_column, start, end)
    value_of = joiner.getter(column, columns) if column else (lambda r: 1)
    if not group_by:
        vals = [v for v in (value_of(r) for r in rows) if v is not _MISSING]
        return _aggregate(vals, agg)
    key_of = joiner.getter(group_by, columns)
    groups: dict[str, list[Any]] = {}
    for r in rows:
        k, v = key_of(r), value_of(r)
        if k is _MISSING or v is _MISSING:
            continue
        groups.setdefault(_group_key(k), []).append(v)
    result = {k: _aggregate(v, agg) for k, v in groups.items()}
    if all(isinstance(v, (int, float)) for v in result.values()):
        ranked = sorted(result.items(), key=lambda kv: (-kv[1], kv[0]))
    else:
        ranked = sorted(result.items())
    if top > 0:
        ranked = ranked[:top]
    out = dict(ranked)
    if len(json.dumps(out)) > 10_000:
        raise ValueError(f"{len(out)} groups is too many to show; use top=N")
    return out


def dc_row(table: str, key: str) -> dict[str, Any]:
    """One well-formed row of an exported table, by primary key, as a JSON record.

    Args:
        table: Table name, e.g. 'customers'.
        key: The primary key value as text, e.g. '123' or 'SKU-01234'.
    """
    pk = PRIMARY_KEYS.get(table)
    if pk is None:
        raise ValueError(f"unknown table {table!r}; tables: {sorted(PRIMARY_KEYS)}")
    for p in _files(table):
        f = _parse(p)
        i = f.index(pk)
        for row in f.rows:
            if str(row[i]) == str(key):
                return to_record(f.columns, row)
    raise ValueError(f"no well-formed row of {table} has {pk} = {key!r}")


def dc_fk_check(table: str, column: str) -> dict[str, Any]:
    """Find orphans: well-formed rows whose foreign key has no well-formed row in the referenced export.

    Args:
        table: Table name, e.g. 'orders'.
        column: A foreign-key column of that table, e.g. 'customer_id'.

    Returns:
        {checked, orphans, references, examples: up to 10 orphan key values}.
    """
    fks = {f: (t, k) for f, t, k in FOREIGN_KEYS.get(table, [])}
    if column not in fks:
        raise ValueError(f"{table}.{column} is not a foreign key; foreign keys of {table}: {sorted(fks) or 'none'}")
    ref_table, ref_col = fks[column]
    known = {r[ref_col] for r in _rows(ref_table)}
    rows = _rows(table)
    orphans = [r[column] for r in rows if r[column] not in known]
    return {
        "checked": len(rows),
        "orphans": len(orphans),
        "references": f"{ref_table}.{ref_col}",
        "examples": [json_value(v) for v in orphans[:10]],
    }


def dc_durations(table: str, start_column: str, end_column: str, where: dict[str, Any] | None = None) -> dict[str, Any]:
    """Statistics of end_column - start_column in hours over rows where both are set.

    Args:
        table: Table name, e.g. 'shipments'.
        start_column: Timestamp column where the interval starts, e.g. 'shipped_at'.
        end_column: Timestamp column where it ends, e.g. 'delivered_at'.
        where: Equality filters {column: value} as in dc_aggregate.

    Returns:
        {count, mean_hours, median_hours, min_hours, max_hours, negative} (hours rounded to 6 decimals).
    """
    rows, joiner, columns = _select(table, where, "", 0, 0)
    a, b = joiner.getter(start_column, columns), joiner.getter(end_column, columns)
    hours = []
    for r in rows:
        x, y = a(r), b(r)
        if x is None or y is None or x is _MISSING or y is _MISSING:
            continue
        hours.append((y - x) / 3600)
    if not hours:
        return {"count": 0}
    return {
        "count": len(hours),
        "mean_hours": round(sum(hours) / len(hours), 6),
        "median_hours": round(statistics.median(hours), 6),
        "min_hours": round(min(hours), 6),
        "max_hours": round(max(hours), 6),
        "negative": sum(h < 0 for h in hours),
    }


# -- validation API ----------------------------------------------------------------------


def _post_validate(schema: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for lo in range(0, max(len(records), 1), MAX_RECORDS):
        chunk = records[lo : lo + MAX_RECORDS]
        resp = http_post(f"{BASE_URL}/validate", json={"schema": schema, "records": chunk})
        if resp["status"] != 200:
            raise RuntimeError(f"POST /validate -> HTTP {resp['status']}: {resp['body'][:300]}")
        results.extend({**r, "index": r["index"] + lo} for r in json.loads(resp["body"])["results"])
    return results


def _summary(results: list[dict[str, Any]], with_indexes: bool) -> dict[str, Any]:
    codes: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    by_code: dict[str, list[int]] = {}
    for r in results:
        for e in r["errors"]:
            codes[e["code"]] += 1
            fields[e["field"]] += 1
        for c in sorted({e["code"] for e in r["errors"]}):
            by_code.setdefault(c, []).append(r["index"])
    invalid = [r for r in results if not r["valid"]]
    out: dict[str, Any] = {
        "checked": len(results),
        "valid": len(results) - len(invalid),
        "invalid": len(invalid),
        "errors_by_code": dict(sorted(codes.items())),
        "records_by_code": {c: len(ix) for c, ix in sorted(by_code.items())},
        "errors_by_field": dict(sorted(fields.items(), key=lambda kv: (-kv[1], kv[0]))),
    }
    if with_indexes:
        out["indexes_by_code"] = dict(sorted(by_code.items()))
    return out


def val_schema(name: str = "") -> Any:
    """Fetch the list of schema names, or one schema (fields, keys, rules) from the validation API.

    Args:
        name: Schema name such as 'orders' ('' = list the schema names).
    """
    resp = http_get(f"{BASE_URL}/schemas" + (f"/{name}" if name else ""))
    if resp["status"] != 200:
        raise RuntimeError(f"GET /schemas/{name} -> HTTP {resp['status']}: {resp['body'][:300]}")
    return json.loads(resp["body"])


def _load_batch(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(read_file(path))
    if not isinstance(data, dict) or "schema" not in data or "records" not in data:
        raise ValueError(f"{path} is not a batch file with 'schema' and 'records'")
    return data


def val_batch(path: str) -> dict[str, Any]:
    """Validate an incoming batch file with POST /validate and summarise the result.

    Args:
        path: Batch file path, e.g. 'incoming/batch-001.json'.

    Returns:
        {batch_id, schema, checked, valid, invalid, errors_by_code, records_by_code, errors_by_field,
        indexes_by_code: {code: [0-based record indexes]}}.
    """
    b = _load_batch(path)
    out = {"batch_id": b.get("batch_id"), "schema": b["schema"]}
    out.update(_summary(_post_validate(b["schema"], b["records"]), with_indexes=True))
    return out


def val_batches(prefix: str = "incoming/") -> dict[str, Any]:
    """Validate every batch file under a directory and summarise each.

    Args:
        prefix: Directory holding the batch files.

    Returns:
        {path: {schema, checked, invalid, errors_by_code, records_by_code}}.
    """
    out: dict[str, Any] = {}
    for path in sorted(p for p in list_files(prefix) if p.endswith(".json")):
        b = _load_batch(path)
        s = _summary(_post_validate(b["schema"], b["records"]), with_indexes=False)
        out[path] = {k: s[k] for k in ("checked", "invalid", "errors_by_code", "records_by_code")} | {
            "schema": b["schema"]
        }
    return out


def val_export(table: str) -> dict[str, Any]:
    """Send every well-formed row of a table's export to POST /validate (as JSON records, in chunks of 1000).

    Args:
        table: Table name, which is also the schema name, e.g. 'customers'.

    Returns:
        {checked, valid, invalid, errors_by_code, records_by_code, errors_by_field, first_invalid_keys}.
    """
    records: list[dict[str, Any]] = []
    for p in _files(table):
        f = _parse(p)
        records.extend(to_record(f.columns, row) for row in f.rows)
    results = _post_validate(table, records)
    out = _summary(results, with_indexes=False)
    out["first_invalid_keys"] = [r["key"] for r in results if not r["valid"]][:20]
    return out


def val_row_change(
    table: str, key: str, changes: dict[str, Any] | None = None, remove: list[str] | None = None
) -> dict[str, Any]:
    """Take one well-formed export row as a JSON record, change it, and validate it with POST /validate.

    Args:
        table: Table name (= schema name), e.g. 'orders'.
        key: The row's primary key as text.
        changes: Fields to set {field: new JSON value} (added when not a column).
        remove: Fields to delete from the record.

    Returns:
        {valid, codes (sorted), errors, record}.
    """
    record = dc_row(table, key)
    record.update(changes or {})
    for name in remove or []:
        record.pop(name, None)
    result = _post_validate(table, [record])[0]
    return {
        "valid": result["valid"],
        "codes": sorted({e["code"] for e in result["errors"]}),
        "errors": result["errors"],
        "record": record,
    }


EXPORT_TOOLS: list[Callable[..., Any]] = [dc_tables, dc_malformed, dc_aggregate, dc_row, dc_fk_check, dc_durations]
VALIDATION_TOOLS: list[Callable[..., Any]] = [val_schema, val_batch, val_batches, val_export, val_row_change]


def reference_tools() -> list[Any]:
    """Every DataCorp reference tool (exports, validation, DCQL)."""
    from envs.datacorp.dcql_tools import DCQL_TOOLS

    return [*EXPORT_TOOLS, *VALIDATION_TOOLS, *DCQL_TOOLS]
