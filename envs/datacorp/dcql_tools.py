"""The DCQL reference tool: run a DCQL query over the DataCorp exports.

Like every tool it reaches the world only through ``envs.toolkit``: it lists the
exports, reads the ``.dc`` files of the queried table (all parts, in order) with the
dialect reader (malformed records are skipped, as the dialect handbook says), reads
the exchange rates from ``reference/fx.json`` and takes the clock from the exports'
``## exported:`` header, then runs the reference interpreter (``envs.datacorp.dcql``).

``load_tables`` is shared with the query task families, which compute ground truth
from the same reachable files through ``WorldAccess``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from envs.datacorp import dcql, dialect
from envs.toolkit import list_files, read_file

FX_PATH = "reference/fx.json"  # documented in the DataCorp handbook (value of one unit in USD)
MAX_ROWS = 200  # rows shown by the tool; the total is always reported

ListFiles = Callable[[str], list[str]]
ReadFile = Callable[[str], str]

# Parsed tables keyed by the identity of their files: ((path, length, hash), ...).
_TABLE_CACHE: OrderedDict[tuple[tuple[str, int, int], ...], tuple[dcql.Table, int, int]] = OrderedDict()
_CACHE_SIZE = 32


class ExportError(RuntimeError):
    """The exports cannot be read (unknown layout, inconsistent parts, missing rates)."""


def _dcql_type(col: dialect.Column) -> str:
    return f"enum({','.join(col.values)})" if col.type == "enum" else col.type


def _plain(value: Any) -> Any:
    # DCQL computes decimals in binary floating point (see the DCQL handbook).
    return float(value) if isinstance(value, Decimal) else value


def _parse_table(name: str, texts: list[tuple[str, str]]) -> tuple[dcql.Table, int, int]:
    """(table, clock, malformed records skipped) from the table's export files in order."""
    columns: tuple[dialect.Column, ...] | None = None
    rows: list[tuple[Any, ...]] = []
    clock = None
    skipped = 0
    for path, text in texts:
        dc = dialect.read_dc(text)
        if dc.schema != name:
            raise ExportError(f"{path}: schema header says {dc.schema!r}, expected {name!r}")
        if columns is None:
            columns = dc.columns
        elif dc.columns != columns:
            raise ExportError(f"{path}: columns differ from the first part of table {name}")
        clock = dc.exported if clock is None else max(clock, dc.exported)
        skipped += len(dc.malformed)
        dec = [i for i, c in enumerate(dc.columns) if c.type == "decimal"]
        if dec:
            for row in dc.rows:
                rows.append(tuple(_plain(v) for v in row))
        else:
            rows.extend(dc.rows)
    assert columns is not None and clock is not None
    return dcql.Table([(c.name, _dcql_type(c)) for c in columns], rows), clock, skipped


def load_table(name: str, paths: list[str], read: ReadFile) -> tuple[dcql.Table, int, int] | None:
    """The export of table ``name`` (None when it has no files), memoised by file identity."""
    files = dialect.table_files(paths, name)
    if not files:
        return None
    texts = [(p, read(p)) for p in files]
    key = tuple((p, len(t), hash(t)) for p, t in texts)
    hit = _TABLE_CACHE.get(key)
    if hit is None:
        hit = _parse_table(name, texts)
        _TABLE_CACHE[key] = hit
        while len(_TABLE_CACHE) > _CACHE_SIZE:
            _TABLE_CACHE.popitem(last=False)
    else:
        _TABLE_CACHE.move_to_end(key)
    return hit


class ExportTables(Mapping[str, dcql.Table]):
    """The exported tables as a lazy mapping: a table is read only when a query uses it."""

    def __init__(self, list_fn: ListFiles, read_fn: ReadFile) -> None:
        self._read = read_fn
        self._paths = list_fn(dialect.EXPORT_DIR + "/")
        self._names = dialect.export_tables(self._paths)
        self._loaded: dict[str, tuple[dcql.Table, int, int]] = {}

    def _load(self, name: str) -> tuple[dcql.Table, int, int]:
        if name not in self._loaded:
            hit = load_table(name, self._paths, self._read)
            if hit is None:
                raise KeyError(name)
            self._loaded[name] = hit
        return self._loaded[name]

    def __getitem__(self, name: str) -> dcql.Table:
        if name not in self._names:
            raise KeyError(name)
        return self._load(name)[0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def clock(self, name: str) -> int:
        """The ``## exported:`` clock of a table's export."""
        return self._load(name)[1]

    def skipped(self, name: str) -> int:
        return self._load(name)[2]


def load_rates(read_fn: ReadFile) -> dict[str, float]:
    """``rates[C]`` = value of one unit of currency C in the base currency, from reference/fx.json."""
    data = json.loads(read_fn(FX_PATH))
    rates = data.get("rates") if isinstance(data, dict) else None
    if not isinstance(rates, dict) or not rates:
        raise ExportError(f"{FX_PATH} has no 'rates' object")
    return {str(k): float(v) for k, v in rates.items()}


def run_query(query: str, list_fn: ListFiles, read_fn: ReadFile) -> tuple[dcql.Result, int]:
    """Parse and execute ``query`` over the exports; (result, malformed records skipped).

    Raises ``dcql.DcqlError`` for a query DCQL rejects.
    """
    q = dcql.parse(query)
    tables = ExportTables(list_fn, read_fn)
    if q.table not in tables:
        # Let the interpreter report the unknown table (with the list of tables).
        return dcql.execute(q, tables, rates={}, now=0), 0
    now = tables.clock(q.table)
    result = dcql.execute(q, tables, rates=load_rates(read_fn), now=now)
    return result, tables.skipped(q.table)


def dcql_query(query: str) -> dict[str, Any]:
    """Run a DCQL query over the DataCorp exports (all parts of the table, malformed records skipped).

    Args:
        query: One DCQL statement, e.g. "SELECT status, COUNT(*) FROM orders GROUP BY status".

    Returns:
        {columns, rows, row_count} with at most 200 rows shown (truncated: true when more), or
        {error, message} with the DCQL error code (DCQL-E001..E009) when DCQL rejects the query.
    """
    try:
        result, _skipped = run_query(query, list_files, read_file)
    except dcql.DcqlError as exc:
        return {"error": exc.code, "message": str(exc)}
    out = dcql.result_to_json(result)
    n = len(out["rows"])
    shown: dict[str, Any] = {"columns": out["columns"], "rows": out["rows"][:MAX_ROWS], "row_count": n}
    if n > MAX_ROWS:
        shown["truncated"] = True
        shown["note"] = f"showing the first {MAX_ROWS} of {n} rows; aggregate or add LIMIT to see the rest"
    return shown


DCQL_TOOLS = [dcql_query]
