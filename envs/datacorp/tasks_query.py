"""Phase 3 (Query): task families that give a DCQL query and ask for its result.

Every family builds a concrete DCQL query from sampled parameters (the generator's
tables in ``world.facts`` are used only to pick realistic literals) and asks for the
result over the exports. Ground truth runs the reference interpreter on the tables
read through ``WorldAccess`` (the exports, ``reference/fx.json`` and the export clock),
exactly what an agent can reach. Results are graded by ``ResultRows``: per-column
comparators (numbers with stated tolerances), rows in order when the query has ORDER
BY, otherwise in any order. ``query.error_or_result`` mixes valid queries with queries
that DCQL must reject, so an interpreter that ignores what it does not understand fails.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

from envs import seeding
from envs.access import WorldAccess
from envs.datacorp import dcql
from envs.datacorp.dcql_tools import run_query
from envs.grading import Comparator, ExactBool, ExactInt, ExactStr, Nullable, Tolerance
from envs.tasks import Call, DegenerateTask, Solver, TaskFamily
from envs.world import World

DAY = 86_400
MAX_ANSWER_ROWS = 40

# -- comparators -------------------------------------------------------------------------


def _cell_comparator(kind: str) -> Comparator:
    """``int`` / ``str`` / ``bool`` / ``num:<abs tol>`` -> comparator (NULL allowed where the truth is NULL)."""
    if kind == "int":
        return Nullable(ExactInt())
    if kind == "str":
        return Nullable(ExactStr())
    if kind == "bool":
        return Nullable(ExactBool())
    if kind.startswith("num:"):
        return Nullable(Tolerance(abs_tol=float(kind[4:])))
    raise ValueError(f"unknown cell kind {kind!r}")


@dataclass(frozen=True)
class ResultRows(Comparator):
    """A DCQL result as a list of rows (arrays of values in SELECT order).

    ``ordered`` rows must come in the truth's order; otherwise rows are matched as a
    multiset. Each cell is compared with its column's comparator. A ``{"rows": [...]}``
    object (e.g. the tool's output) is accepted in place of the bare list.
    """

    columns: tuple[tuple[str, str], ...]
    ordered: bool

    def _cells(self) -> list[Comparator]:
        return [_cell_comparator(k) for _, k in self.columns]

    def _row_ok(self, pred: Any, truth: list[Any], cells: list[Comparator]) -> bool:
        if not isinstance(pred, list) or len(pred) != len(truth):
            return False
        return all(c.compare(p, t)[0] for c, p, t in zip(cells, pred, truth, strict=True))

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        if isinstance(pred, dict) and "rows" in pred:
            pred = pred["rows"]
        if not isinstance(pred, list):
            return False, f"expected a list of rows, got {type(pred).__name__}"
        if len(pred) != len(truth):
            return False, f"expected {len(truth)} rows, got {len(pred)}"
        cells = self._cells()
        if self.ordered:
            for i, (p, t) in enumerate(zip(pred, truth, strict=True)):
                if not self._row_ok(p, t, cells):
                    return False, f"row {i} differs"
            return True, ""
        remaining = list(pred)
        for t in truth:
            for i, p in enumerate(remaining):
                if self._row_ok(p, t, cells):
                    remaining.pop(i)
                    break
            else:
                return False, f"missing row {t!r}"
        return True, ""

    def describe(self) -> str:
        cols = ", ".join(f"{name} ({_cell_comparator(kind).describe()})" for name, kind in self.columns)
        order = "rows in exactly this order" if self.ordered else "rows in any order"
        return f"list of rows, {order}; each row [{cols}]"


@dataclass(frozen=True)
class ErrorOrRows(Comparator):
    """``{"error": code}`` when DCQL rejects the query, else ``{"rows": [...]}`` graded by ``rows``."""

    rows: ResultRows

    def compare(self, pred: Any, truth: Any) -> tuple[bool, str]:
        if not isinstance(pred, dict):
            return False, f"expected a JSON object, got {type(pred).__name__}"
        has_error = pred.get("error") is not None
        has_rows = pred.get("rows") is not None
        if has_error == has_rows:
            return False, "give exactly one of 'error' and 'rows'"
        if "error" in truth:
            if not has_error:
                return False, "the query is rejected by DCQL"
            ok = isinstance(pred["error"], str) and pred["error"].strip().upper() == truth["error"]
            return ok, "" if ok else "wrong error code"
        if has_error:
            return False, "the query is valid DCQL"
        return self.rows.compare(pred["rows"], truth["rows"])

    def describe(self) -> str:
        return (
            'object: {"error": "<DCQL error code>"} (exact code) when DCQL rejects the query, otherwise '
            f'{{"rows": ...}} graded as {self.rows.describe()}'
        )


# -- shared helpers ----------------------------------------------------------------------------


def run(access: WorldAccess, query: str) -> dcql.Result:
    """Run a query over the exports reachable through ``access`` (raises DcqlError)."""
    result, _ = run_query(query, access.list_files, access.read_file)
    return result


def rows_of(result: dcql.Result) -> list[list[Any]]:
    return dcql.result_to_json(result)["rows"]


def lit(value: Any) -> str:
    """A DCQL literal for a Python value."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return f"{float(value):.2f}"


def _facts_table(world: World, name: str) -> tuple[tuple[Any, ...], list[list[Any]]]:
    t = world.facts["tables"][name]
    return t["columns"], t["rows"]


def _column(world: World, table: str, name: str) -> list[Any]:
    cols, rows = _facts_table(world, table)
    i = [c.name for c in cols].index(name)
    return [r[i] for r in rows]


def _enum_values(world: World, table: str, name: str) -> list[str]:
    """Enum values of a column that occur in the data, in the header's order."""
    cols, _ = _facts_table(world, table)
    col = next(c for c in cols if c.name == name)
    present = set(_column(world, table, name))
    return [v for v in col.values if v in present]


def _quantile(world: World, table: str, name: str, rng: Any, lo: float = 0.2, hi: float = 0.8) -> Any:
    vals = sorted(v for v in _column(world, table, name) if v is not None)
    return vals[int(len(vals) * float(rng.uniform(lo, hi)))]


def _pick(rng: Any, seq: Any) -> Any:
    seq = list(seq)
    return seq[int(rng.integers(len(seq)))]


def _subset(rng: Any, seq: list[Any], lo: int, hi: int) -> list[Any]:
    k = int(rng.integers(lo, min(hi, len(seq)) + 1))
    idx = sorted(int(i) for i in rng.choice(len(seq), size=k, replace=False))
    return [seq[i] for i in idx]


# Filterable columns per table: (enum, numeric, ts, bool, nullable text).
FILTERS: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {"enum": ("status", "currency"), "num": ("quantity", "amount", "unit_price"), "ts": ("created_at",)},
    "customers": {"enum": ("region", "tier"), "ts": ("created_at",), "null": ("email",)},
    "products": {"enum": ("category", "currency"), "num": ("price", "stock"), "bool": ("active",)},
    "shipments": {"enum": ("carrier",), "ts": ("shipped_at",), "null": ("delivered_at",)},
    "refunds": {"enum": ("reason", "currency"), "num": ("amount",), "ts": ("created_at",), "null": ("note",)},
}


def simple_condition(world: World, rng: Any, table: str, exclude: tuple[str, ...] = ()) -> tuple[str, str]:
    """(column, condition text) over one column of ``table``."""
    spec = FILTERS[table]
    kinds = [k for k, cols in spec.items() if any(c not in exclude for c in cols)]
    kind = _pick(rng, kinds)
    col = _pick(rng, [c for c in spec[kind] if c not in exclude])
    if kind == "enum":
        values = _enum_values(world, table, col)
        form = int(rng.integers(4))
        if form == 0 or len(values) < 3:
            return col, f"{col} = {lit(_pick(rng, values))}"
        if form == 1:
            return col, f"{col} != {lit(_pick(rng, values))}"
        chosen = _subset(rng, values, 2, max(2, len(values) - 1))
        neg = "NOT " if form == 3 else ""
        return col, f"{col} {neg}IN ({', '.join(lit(v) for v in chosen)})"
    if kind == "num":
        op = _pick(rng, (">=", "<", ">", "<="))
        return col, f"{col} {op} {lit(_quantile(world, table, col, rng))}"
    if kind == "ts":
        days = int(rng.integers(2, 120))
        op = _pick(rng, (">=", "<"))
        return col, f"{col} {op} {world.now - days * DAY - int(rng.integers(0, DAY))}"
    if kind == "bool":
        return col, f"{col} = {lit(bool(rng.integers(2)))}"
    return col, f"{col} {'=' if rng.integers(2) else '!='} NULL"


def ask(query: str, answer: str) -> str:
    return f"Run this DCQL query over the DataCorp exports:\n\n    {query}\n\n{answer}"


ROWS_ANSWER = (
    "Answer with the result rows as a JSON array with one array per row, values in SELECT order "
    "(columns: {cols}); {order}."
)


def rows_answer(columns: list[list[str]], ordered: bool) -> str:
    return ROWS_ANSWER.format(
        cols=", ".join(c for c, _ in columns),
        order="keep the query's row order" if ordered else "row order does not matter",
    )


def _solve_rows(query: str) -> Solver:
    out = yield Call("dcql_query", {"query": query})
    data = json.loads(out)
    if "error" in data:
        raise RuntimeError(f"dcql_query rejected the query: {data['message']}")
    return data["rows"]


def _solve_scalar(query: str) -> Solver:
    rows = yield from _solve_rows(query)
    return rows[0][0]


ROWS_SCHEMA: dict[str, Any] = {"type": "array", "items": {"type": "array"}}


class _RowsFamily(TaskFamily):
    """A family whose answer is the result rows; params carry ``query``, ``columns``, ``ordered``."""

    answer_schema = ROWS_SCHEMA

    def question(self, world: World, p: dict[str, Any]) -> str:
        return ask(p["query"], rows_answer(p["columns"], p["ordered"]))

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ResultRows(tuple((c, k) for c, k in p["columns"]), p["ordered"])

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[list[Any]]:
        rows = rows_of(run(access, p["query"]))
        if not rows:
            raise DegenerateTask("empty result")
        if len(rows) > MAX_ANSWER_ROWS:
            raise DegenerateTask("result too long for an answer")
        return rows

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        return _solve_rows(p["query"])


# -- families ------------------------------------------------------------------------------------


class CountWhere(TaskFamily):
    """COUNT(*) with one or two simple conditions joined by AND."""

    name, phase, difficulty = "query.count_where", "query", "easy"
    answer_schema = {"type": "integer"}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        table = _pick(rng, FILTERS)
        col, cond = simple_condition(world, rng, table)
        if rng.random() < 0.7:
            _, cond2 = simple_condition(world, rng, table, exclude=(col,))
            cond = f"{cond} AND {cond2}"
        return {"table": table, "query": f"SELECT COUNT(*) FROM {table} WHERE {cond}"}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return ask(p["query"], "Answer with the count it returns (an integer).")

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        n = int(rows_of(run(access, p["query"]))[0][0])
        total = int(rows_of(run(access, f"SELECT COUNT(*) FROM {p['table']}"))[0][0])
        if n < 2 or n == total:
            raise DegenerateTask("filter selects nothing or everything")
        return n

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        return _solve_scalar(p["query"])


class BooleanFilter(TaskFamily):
    """(A OR B) AND NOT C: a multi-condition filter whose answer depends on precedence and NOT."""

    name, phase, difficulty = "query.boolean_filter", "query", "medium"
    answer_schema = {"type": "integer"}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        table = _pick(rng, ("orders", "orders", "customers", "products", "refunds"))
        a_col, a = simple_condition(world, rng, table)
        b_col, b = simple_condition(world, rng, table, exclude=(a_col,))
        _, c = simple_condition(world, rng, table, exclude=(a_col, b_col))
        return {
            "table": table,
            "query": f"SELECT COUNT(*) FROM {table} WHERE ({a} OR {b}) AND NOT {c}",
            # What a parser that gets precedence or NOT wrong would compute.
            "wrong": [
                f"SELECT COUNT(*) FROM {table} WHERE {a} OR ({b} AND NOT {c})",
                f"SELECT COUNT(*) FROM {table} WHERE ({a} OR {b}) AND {c}",
                f"SELECT COUNT(*) FROM {table} WHERE ({a} OR {b})",
            ],
        }

    def question(self, world: World, p: dict[str, Any]) -> str:
        return ask(p["query"], "Answer with the count it returns (an integer).")

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        n = int(rows_of(run(access, p["query"]))[0][0])
        if n < 2 or any(int(rows_of(run(access, q))[0][0]) == n for q in p["wrong"]):
            raise DegenerateTask("precedence or NOT does not change the count")
        return n

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        return _solve_scalar(p["query"])


GROUP_COLUMNS = {
    "orders": ("status", "currency"),
    "customers": ("region", "tier"),
    "products": ("category", "currency"),
    "shipments": ("carrier",),
    "refunds": ("reason", "currency"),
}


class GroupCount(_RowsFamily):
    """COUNT(*) per value of an enum column, with a filter."""

    name, phase, difficulty = "query.group_count", "query", "medium"

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        table = _pick(rng, GROUP_COLUMNS)
        key = _pick(rng, GROUP_COLUMNS[table])
        _, cond = simple_condition(world, rng, table, exclude=(key,))
        query = f"SELECT {key}, COUNT(*) AS n FROM {table} WHERE {cond} GROUP BY {key}"
        return {"query": query, "columns": [[key, "str"], ["n", "int"]], "ordered": False}

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[list[Any]]:
        rows = super().truth(access, p)
        if len(rows) < 2:
            raise DegenerateTask("a single group")
        return rows


# (table, key, [(aggregate expression, alias, kind)])
GROUP_AGGREGATES = (
    (
        "orders",
        ("status", "currency"),
        [
            ("SUM(quantity)", "units", "int"),
            ("AVG(amount)", "avg_amount", "num:0.001"),
            ("MAX(unit_price)", "max_price", "num:0.001"),
            ("MIN(amount)", "min_amount", "num:0.001"),
            ("AVG(quantity)", "avg_qty", "num:0.001"),
        ],
    ),
    (
        "products",
        ("category", "currency"),
        [
            ("SUM(stock)", "stock", "int"),
            ("AVG(price)", "avg_price", "num:0.001"),
            ("MAX(price)", "max_price", "num:0.001"),
            ("COUNT(*)", "n", "int"),
        ],
    ),
    (
        "refunds",
        ("reason", "currency"),
        [("COUNT(*)", "n", "int"), ("SUM(amount)", "total", "num:0.001"), ("MAX(amount)", "largest", "num:0.001")],
    ),
    (
        "customers",
        ("region", "tier"),
        [("COUNT(*)", "n", "int"), ("COUNT(email)", "with_email", "int"), ("MIN(created_at)", "first", "int")],
    ),
)


class GroupAggregates(_RowsFamily):
    """Several aggregates (SUM, AVG, MIN, MAX, COUNT(col)) per group, with a filter."""

    name, phase, difficulty = "query.group_aggregates", "query", "medium"

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        table, keys, aggs = GROUP_AGGREGATES[int(rng.integers(len(GROUP_AGGREGATES)))]
        key = _pick(rng, keys)
        chosen = _subset(rng, aggs, 2, 3)
        _, cond = simple_condition(world, rng, table, exclude=(key,))
        select = ", ".join([key] + [f"{expr} AS {alias}" for expr, alias, _ in chosen])
        query = f"SELECT {select} FROM {table} WHERE {cond} GROUP BY {key}"
        columns = [[key, "str"]] + [[alias, kind] for _, alias, kind in chosen]
        return {"query": query, "columns": columns, "ordered": False}

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[list[Any]]:
        rows = super().truth(access, p)
        if len(rows) < 2:
            raise DegenerateTask("a single group")
        return rows


def _strictly_distinct(values: list[Any], gap: float = 0.0) -> bool:
    return all(a is not None and b is not None and abs(a - b) > gap for a, b in itertools.pairwise(values))


# (table, id column, sort expression, alias or None, extra filter, kind of the sort value)
TOP_SPECS = (
    ("orders", "order_id", "amount", None, "", "num:0.001"),
    ("orders", "order_id", "unit_price", None, "", "num:0.001"),
    ("orders", "order_id", "amount / quantity", "avg_unit", "", "num:0.001"),
    ("products", "sku", "price", None, "", "num:0.001"),
    ("products", "sku", "stock", None, "", "int"),
    ("refunds", "refund_id", "amount", None, "", "num:0.001"),
    ("customers", "id", "created_at", None, "", "int"),
    ("shipments", "shipment_id", "delivered_at - shipped_at", "transit_s", "delivered_at != NULL", "int"),
)


class TopN(_RowsFamily):
    """ORDER BY a column or expression (ASC or DESC) with LIMIT, no ties at the boundary."""

    name, phase, difficulty = "query.top_n", "query", "medium"

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        table, ident, expr, alias, extra, kind = TOP_SPECS[int(rng.integers(len(TOP_SPECS)))]
        _, cond = simple_condition(world, rng, table)
        where = f"{cond} AND {extra}" if extra else cond
        k = int(rng.integers(3, 8))
        direction = _pick(rng, ("DESC", "ASC"))
        item = f"{expr} AS {alias}" if alias else expr
        key = alias or expr
        base = f"SELECT {ident}, {item} FROM {table} WHERE {where} ORDER BY {key} {direction} LIMIT "
        return {
            "query": base + str(k),
            "probe": base + str(k + 1),
            "k": k,
            "columns": [[ident, "str" if ident == "sku" else "int"], [key, kind]],
            "ordered": True,
        }

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[list[Any]]:
        probe = rows_of(run(access, p["probe"]))
        if len(probe) <= p["k"] or not _strictly_distinct([r[1] for r in probe], 0.005):
            raise DegenerateTask("fewer rows than the limit or a tie in the top rows")
        return probe[: p["k"]]


class ConvertTotal(TaskFamily):
    """SUM(DC_CONVERT(amount, 'CUR')) over rows in several currencies."""

    name, phase, difficulty = "query.convert_total", "query", "hard"
    answer_schema = {"type": "number"}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        table, col = _pick(
            rng, (("orders", "amount"), ("orders", "amount"), ("refunds", "amount"), ("products", "price"))
        )
        target = _pick(rng, world.facts["fx"]["rates"])
        _, cond = simple_condition(world, rng, table, exclude=("currency",))
        query = f"SELECT SUM(DC_CONVERT({col}, {lit(target)})) AS total FROM {table} WHERE {cond}"
        check = f"SELECT currency, COUNT(*) FROM {table} WHERE {cond} GROUP BY currency"
        return {"query": query, "check": check}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return ask(p["query"], "Answer with the total it returns (a number).")

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> float:
        if len(rows_of(run(access, p["check"]))) < 2:
            raise DegenerateTask("the rows are in a single currency")
        value = rows_of(run(access, p["query"]))[0][0]
        if value is None:
            raise DegenerateTask("no rows")
        return float(value)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return Tolerance(abs_tol=0.05, rel_tol=1e-6)

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        return _solve_scalar(p["query"])


class ConvertRanking(_RowsFamily):
    """Per-group converted totals, ranked with ORDER BY ... DESC LIMIT k."""

    name, phase, difficulty = "query.convert_ranking", "query", "hard"

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        target = _pick(rng, world.facts["fx"]["rates"])
        table, key = _pick(rng, (("orders", "customer_id"), ("orders", "sku"), ("refunds", "order_id")))
        statuses = _subset(rng, _enum_values(world, "orders", "status"), 2, 4)
        cond = f"status IN ({', '.join(lit(s) for s in statuses)})" if table == "orders" else "amount > 0"
        k = int(rng.integers(3, 7))
        direction = _pick(rng, ("DESC", "DESC", "ASC"))
        base = (
            f"SELECT {key}, SUM(DC_CONVERT(amount, {lit(target)})) AS value FROM {table} WHERE {cond} "
            f"GROUP BY {key} ORDER BY value {direction} LIMIT "
        )
        return {
            "query": base + str(k),
            "probe": base + str(k + 1),
            "k": k,
            "columns": [[key, "str" if key == "sku" else "int"], ["value", "num:0.05"]],
            "ordered": True,
        }

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[list[Any]]:
        probe = rows_of(run(access, p["probe"]))
        if len(probe) <= p["k"] or not _strictly_distinct([r[1] for r in probe], 0.2):
            raise DegenerateTask("a near tie in the ranking")
        return probe[: p["k"]]


class GroupOrderLimit(_RowsFamily):
    """GROUP BY with aggregates, ORDER BY an aggregate and a key, LIMIT (no tie at the boundary)."""

    name, phase, difficulty = "query.group_order_limit", "query", "hard"

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        table, key, agg, alias, kind = _pick(
            rng,
            (
                ("orders", "sku", "SUM(quantity)", "units", "int"),
                ("orders", "customer_id", "COUNT(*)", "n", "int"),
                ("orders", "sku", "COUNT(*)", "n", "int"),
                ("shipments", "carrier", "AVG(delivered_at - shipped_at)", "avg_transit", "num:0.01"),
                ("refunds", "order_id", "COUNT(*)", "n", "int"),
                ("customers", "region", "COUNT(email)", "with_email", "int"),
            ),
        )
        _, cond = simple_condition(world, rng, table, exclude=(key,))
        k = int(rng.integers(2, 6))
        direction = _pick(rng, ("DESC", "ASC"))
        second = "MAX(created_at)" if table in ("orders", "customers", "refunds") else "COUNT(*)"
        base = (
            f"SELECT {key}, {agg} AS {alias}, {second} AS extra FROM {table} WHERE {cond} "
            f"GROUP BY {key} ORDER BY {alias} {direction}, {key} LIMIT "
        )
        return {
            "query": base + str(k),
            "probe": base + str(k + 1),
            "k": k,
            "columns": [
                [key, "str" if key in ("sku", "carrier", "region") else "int"],
                [alias, kind],
                ["extra", "int"],
            ],
            "ordered": True,
        }

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[list[Any]]:
        probe = rows_of(run(access, p["probe"]))
        k = p["k"]
        if len(probe) <= k or probe[k - 1][1] is None or probe[k - 1][1] == probe[k][1]:
            raise DegenerateTask("a tie at the LIMIT boundary")
        if len({r[1] for r in probe[:k]}) == 1 and k > 2:
            raise DegenerateTask("every shown group has the same value")
        return probe[:k]


def canonical_hash(value: Any, n: int) -> str:
    text = dcql.canonical_text(value)
    assert text is not None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


class HashLookup(_RowsFamily):
    """Find rows by DC_HASH of a value (int, str, nullable str or decimal), or report hashes."""

    name, phase, difficulty = "query.hash_lookup", "query", "medium"

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        n = int(rng.integers(6, 13))
        variant = int(rng.integers(5))
        if variant == 0:
            ids = _subset(rng, _column(world, "orders", "order_id"), 1, 3)
            hashes = ", ".join(lit(canonical_hash(i, n)) for i in ids)
            query = f"SELECT order_id, customer_id, status FROM orders WHERE DC_HASH(order_id, {n}) IN ({hashes})"
            columns = [["order_id", "int"], ["customer_id", "int"], ["status", "str"]]
        elif variant == 1:
            emails = [e for e in _column(world, "customers", "email") if e]
            email = _pick(rng, emails)
            query = (
                f"SELECT id, region, tier FROM customers WHERE DC_HASH(email, {n}) = {lit(canonical_hash(email, n))}"
            )
            columns = [["id", "int"], ["region", "str"], ["tier", "str"]]
        elif variant == 2:
            # Amounts whose 2-place text has a trailing zero, so the canonical text matters.
            amounts = [a for a in _column(world, "orders", "amount") if str(a).endswith("0")]
            amount = _pick(rng, amounts)
            query = (
                f"SELECT order_id, amount, currency FROM orders WHERE DC_HASH(amount, {n}) = "
                f"{lit(canonical_hash(float(amount), n))}"
            )
            columns = [["order_id", "int"], ["amount", "num:0.001"], ["currency", "str"]]
        elif variant == 3:
            skus = _subset(rng, _column(world, "products", "sku"), 1, 2)
            hashes = ", ".join(lit(canonical_hash(s, n)) for s in skus)
            query = f"SELECT sku, category, price FROM products WHERE DC_HASH(sku, {n}) IN ({hashes})"
            columns = [["sku", "str"], ["category", "str"], ["price", "num:0.001"]]
        else:
            ids = _subset(rng, _column(world, "customers", "id"), 2, 3)
            query = (
                f"SELECT id, DC_HASH(name, {n}) AS name_hash FROM customers "
                f"WHERE id IN ({', '.join(str(i) for i in ids)})"
            )
            columns = [["id", "int"], ["name_hash", "str"]]
        return {"query": query, "columns": columns, "ordered": False}

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[list[Any]]:
        rows = super().truth(access, p)
        if len(rows) > 12:
            raise DegenerateTask("too many matches")
        return rows


TIMERANGE_SPECS = (
    ("orders", "created_at", "status"),
    ("orders", "created_at", "currency"),
    ("shipments", "shipped_at", "carrier"),
    ("refunds", "created_at", "reason"),
    ("customers", "created_at", "tier"),
    ("customers", "created_at", "region"),
)
DURATIONS = ("36h", "48h", "72h", "5d", "7d", "10d", "14d", "2880m", "129600s", "30d", "45d")


class TimeRange(_RowsFamily):
    """Counts per group inside a DC_TIMERANGE window relative to the export clock."""

    name, phase, difficulty = "query.timerange", "query", "medium"

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        table, ts, key = TIMERANGE_SPECS[int(rng.integers(len(TIMERANGE_SPECS)))]
        dur = _pick(rng, DURATIONS if table != "customers" else ("30d", "45d", "60d", "90d", "2160h"))
        cond = f"DC_TIMERANGE({ts}, {lit(dur)})"
        if rng.random() < 0.4:
            cond = (
                f"NOT {cond}"
                if rng.random() < 0.3
                else f"{cond} AND {simple_condition(world, rng, table, (key, ts))[1]}"
            )
        query = f"SELECT {key}, COUNT(*) AS n FROM {table} WHERE {cond} GROUP BY {key}"
        return {"query": query, "columns": [[key, "str"], ["n", "int"]], "ordered": False}


# -- errors ------------------------------------------------------------------------------------


ERROR_KINDS = tuple(f"DCQL-E00{i}" for i in range(1, 9))
TS_COLUMN = {"orders": "created_at", "customers": "created_at", "refunds": "created_at", "shipments": "shipped_at"}


def _inject_error(world: World, rng: Any, code: str, table: str, key: str, cond_col: str, value: str) -> str:
    """A query over ``table`` with exactly one mistake of kind ``code`` (checked by the family)."""
    singular = table[:-1]
    good = f"SELECT {key}, COUNT(*) AS n FROM {table} WHERE {cond_col} != {lit(value)} GROUP BY {key}"
    if code == "DCQL-E001":
        form = _pick(rng, ("&&", "<>", "dq", "hash", "=="))
        if form == "&&":
            return good.replace(" GROUP BY", f" && {key} != NULL GROUP BY")
        if form == "<>":
            return good.replace(" != ", " <> ", 1)
        if form == "dq":
            return good.replace(lit(value), f'"{value}"')
        if form == "==":
            return good.replace(" != ", " == ", 1)
        return good + " # by group"
    if code == "DCQL-E002":
        form = _pick(rng, ("having", "offset", "alias", "is", "distinct"))
        if form == "having":
            return good + " HAVING COUNT(*) > 1"
        if form == "offset":
            return good + " LIMIT 3 OFFSET 1"
        if form == "alias":
            return good.replace("COUNT(*) AS n", "COUNT(*) n")
        if form == "is":
            return good.replace(f"{cond_col} != {lit(value)}", f"{cond_col} IS NOT NULL")
        return good.replace("SELECT ", "SELECT DISTINCT ", 1)
    if code == "DCQL-E003":
        # ("order" alone would be the keyword ORDER, a syntax error)
        wrong = _pick(rng, (singular + "_list", table.capitalize(), table + "_export", "dc_" + table))
        return good.replace(f"FROM {table}", f"FROM {wrong}")
    if code == "DCQL-E004":
        wrong = _pick(rng, (cond_col.capitalize(), cond_col + "s", cond_col[:-1], cond_col.replace("_", "")))
        if wrong == cond_col:
            wrong = cond_col + "_x"
        return good.replace(f"WHERE {cond_col} ", f"WHERE {wrong} ")
    if code == "DCQL-E005":
        fn = _pick(rng, ("COUNTIF(*)", "DC_COUNT(*)", "TOTAL(*)", "COUNT_ALL(*)", "DC_CONVRT(1, 'USD')"))
        return good.replace("COUNT(*) AS n", f"{fn} AS n")
    if code == "DCQL-E006":
        form = _pick(rng, ("hash", "range", "sum_star", "count2") if table in TS_COLUMN else ("hash", "sum_star"))
        if form == "hash":
            return good.replace("COUNT(*) AS n", f"COUNT(*) AS n, DC_HASH({key}) AS h")
        if form == "range":
            dur = _pick(rng, ("1w", "1h30m", "24 h", "0d"))
            return good.replace("WHERE ", f"WHERE DC_TIMERANGE({TS_COLUMN[table]}, '{dur}') AND ")
        if form == "sum_star":
            return good.replace("COUNT(*) AS n", "SUM(*) AS n")
        return good.replace("COUNT(*) AS n", f"COUNT({key}, {cond_col}) AS n")
    if code == "DCQL-E007":
        form = _pick(rng, ("enum", "number", "sum"))
        if form == "enum":
            return good.replace(lit(value), lit(_misspell(rng, value)))
        if form == "number":
            return good.replace(lit(value), str(int(rng.integers(1, 9))))
        return good.replace("COUNT(*) AS n", f"SUM({key}) AS n")
    # DCQL-E008
    form = _pick(rng, ("no_group", "extra_col", "star"))
    if form == "no_group":
        return good.replace(f" GROUP BY {key}", "")
    if form == "extra_col":
        return good.replace(f"SELECT {key}, ", f"SELECT {key}, {cond_col}, ")
    return good.replace(f"SELECT {key}, COUNT(*) AS n", "SELECT *")


def _misspell(rng: Any, value: str) -> str:
    forms = [value.upper(), value.capitalize(), value + "s", value[:-1], value.replace("e", "ee", 1)]
    return _pick(rng, [f for f in forms if f != value] or [value + "_x"])


ERROR_SHARE = 0.25  # share of worlds whose error_or_result instance is an error case
ERROR_SPECS = (
    ("orders", "status", "currency"),
    ("orders", "currency", "status"),
    ("customers", "region", "tier"),
    ("refunds", "reason", "currency"),
    ("shipments", "carrier", "carrier"),
    ("products", "category", "currency"),
)


class ErrorOrResult(TaskFamily):
    """Half the queries are valid (answer the rows), half carry one mistake (answer the error code)."""

    name, phase, difficulty = "query.error_or_result", "query", "hard"
    answer_schema = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "rows": {"type": "array", "items": {"type": "array"}}},
        "additionalProperties": False,
    }

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        table, key, cond_col = ERROR_SPECS[int(rng.integers(len(ERROR_SPECS)))]
        value = _pick(rng, _enum_values(world, table, cond_col))
        # Whether this world's instance is an error case is drawn once per world, so rejection
        # sampling cannot skew the mix (a parser alone answers error cases: keep them a minority).
        wants_error = seeding.rng(world.seed, "query.error_or_result.kind").random() < ERROR_SHARE
        code = _pick(rng, ERROR_KINDS) if wants_error else None
        good = f"SELECT {key}, COUNT(*) AS n FROM {table} WHERE {cond_col} != {lit(value)} GROUP BY {key}"
        if code is None and rng.random() < 0.5:
            # Valid queries that look unusual, so "looks odd" is no shortcut to an error.
            good = _pick(
                rng,
                (
                    good.replace("SELECT ", "select ", 1).replace(" FROM ", " from ").replace(" WHERE ", " where "),
                    good.replace(f"{cond_col} != {lit(value)}", f"NOT ({cond_col} = {lit(value)})"),
                    good + f" ORDER BY n DESC, {key};",
                    good.replace(" GROUP BY", "\n  GROUP BY"),
                ),
            )
        query = good if code is None else _inject_error(world, rng, code, table, key, cond_col, value)
        return {
            "query": query,
            "expect": code,
            # The query without its mistake: what an interpreter that skips mistakes would run.
            "valid_twin": good,
            "columns": [[key, "str"], ["n", "int"]],
            "ordered": "ORDER BY" in query,
        }

    def question(self, world: World, p: dict[str, Any]) -> str:
        return ask(
            p["query"],
            'If DCQL rejects this query, answer {"error": "<its DCQL error code>"} (e.g. "DCQL-E002"). '
            'Otherwise answer {"rows": [...]} with the result rows, one array per row, values in SELECT order '
            f"(columns: {', '.join(c for c, _ in p['columns'])}); "
            + ("keep the query's row order." if p["ordered"] else "row order does not matter."),
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        try:
            rows = rows_of(run(access, p["query"]))
        except dcql.DcqlError as exc:
            if exc.code != p["expect"]:
                raise DegenerateTask(f"injected {p['expect']} but DCQL reports {exc.code}") from None
            return {"error": exc.code}
        if p["expect"] is not None:
            raise DegenerateTask(f"injected {p['expect']} but the query runs")
        if len(rows) < 2:
            raise DegenerateTask("a single group")
        return {"rows": rows}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ErrorOrRows(ResultRows(tuple((c, k) for c, k in p["columns"]), p["ordered"]))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("dcql_query", {"query": p["query"]})
        data = json.loads(out)
        if "error" in data:
            return {"error": data["error"]}
        return {"rows": data["rows"]}


QUERY_FAMILIES: list[TaskFamily] = [
    CountWhere(),
    BooleanFilter(),
    GroupCount(),
    GroupAggregates(),
    TopN(),
    HashLookup(),
    TimeRange(),
    ConvertTotal(),
    ConvertRanking(),
    GroupOrderLimit(),
    ErrorOrResult(),
]
