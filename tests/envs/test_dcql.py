"""DCQL reference interpreter: grammar, semantics, every function, ordering and errors."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from envs.datacorp.dcql import (
    ERROR_CODES,
    DcqlError,
    Result,
    Table,
    canonical_text,
    execute,
    parse,
    parse_duration,
    parse_type,
    result_to_json,
    tokenize,
)

NOW = 1_000_000
RATES = {"USD": 1.0, "EUR": 1.1, "GBP": 1.25}
STATUS = "enum(paid,pending,refunded)"

ORDERS = Table(
    [
        ("order_id", "str"),
        ("customer_id", "int"),
        ("quantity", "int"),
        ("amount", "decimal"),
        ("currency", "str"),
        ("status", STATUS),
        ("created_at", "ts"),
        ("gift", "bool"),
        ("note", "str"),
    ],
    [
        ("O1", 1, 2, 10.0, "USD", "paid", NOW - 100, False, "a"),
        ("O2", 2, 1, 20.5, "EUR", "pending", NOW - 3600, True, None),
        ("O3", 1, 5, None, "USD", "refunded", NOW - 86400, None, "it's"),
        ("O4", 3, 3, 7.25, "GBP", "paid", NOW - 50, False, "b"),
        ("O5", 2, 4, 100.0, "USD", "paid", NOW + 10, True, "a"),
        ("O6", 3, 1, 1.01, "EUR", None, NOW - 7200, False, None),
    ],
)
CUSTOMERS = Table([("customer_id", "int"), ("name", "str")], [(1, "Ann"), (2, "Bo"), (3, "Cy")])
TABLES = {"orders": ORDERS, "customers": CUSTOMERS}


def run(q: str) -> Result:
    return execute(q, TABLES, rates=RATES, now=NOW)


def rows(q: str) -> list[list]:
    return result_to_json(run(q))["rows"]


def col(q: str) -> list:
    return [r[0] for r in rows(q)]


def err(q: str) -> DcqlError:
    with pytest.raises(DcqlError) as info:
        run(q)
    return info.value


# -- lexing and parsing ------------------------------------------------------------------


def test_tokens_keywords_strings_numbers():
    toks = tokenize("select 'it''s', 12, 3.50 FROM t;")
    assert [(t.kind, t.value) for t in toks] == [
        ("kw", "SELECT"),
        ("str", "it's"),
        ("op", ","),
        ("int", "12"),
        ("op", ","),
        ("dec", "3.50"),
        ("kw", "FROM"),
        ("ident", "t"),
        ("op", ";"),
        ("eof", ""),
    ]
    assert tokenize("x <= y != z")[1].value == "<="


def test_keywords_and_functions_are_case_insensitive_names_are_not():
    assert rows("select count(*) from orders where STATUS = 'paid'".replace("STATUS", "status")) == [[3]]
    assert err("SELECT Amount FROM orders").code == "DCQL-E004"
    assert err("SELECT amount FROM Orders").code == "DCQL-E003"


def test_parse_builds_a_query():
    q = parse("SELECT a, b AS c FROM t WHERE a > 1 GROUP BY a, b ORDER BY c DESC, a LIMIT 3;")
    assert q.table == "t" and q.limit == 3
    assert [i.alias for i in q.select] == [None, "c"]
    assert [o.desc for o in q.order_by] == [True, False]
    assert len(q.group_by) == 2


def test_string_literals_keep_whitespace_and_newlines():
    assert rows("SELECT 'a  b\nc' AS s FROM customers LIMIT 1") == [["a  b\nc"]]


def test_trailing_semicolon_and_whitespace():
    assert rows("  SELECT COUNT(*)\n\tFROM orders ;  \n") == [[6]]


# -- select, where, literals ---------------------------------------------------------------


def test_select_star_and_output_names():
    res = run("SELECT *, quantity * 2 AS q2, DC_HASH(order_id, 4) FROM orders LIMIT 1")
    assert res.columns == [c for c, _ in ORDERS.columns] + ["q2", "DC_HASH(order_id, 4)"]
    assert res.rows[0][-2] == 4
    assert run("SELECT sum( quantity ) FROM orders").columns == ["sum( quantity )"]
    assert run("SELECT (quantity) FROM orders").columns == ["(quantity)"]


def test_where_and_or_not_parentheses_in():
    assert col("SELECT order_id FROM orders WHERE status = 'paid' AND quantity >= 3") == ["O4", "O5"]
    assert col("SELECT order_id FROM orders WHERE status = 'pending' OR quantity = 5") == ["O2", "O3"]
    assert col("SELECT order_id FROM orders WHERE NOT (status = 'paid' OR currency = 'EUR')") == ["O3"]
    # AND binds tighter than OR
    assert col("SELECT order_id FROM orders WHERE status = 'paid' OR currency = 'EUR' AND quantity < 2") == [
        "O1",
        "O2",
        "O4",
        "O5",
        "O6",
    ]
    assert col("SELECT order_id FROM orders WHERE (status = 'paid' OR currency = 'EUR') AND quantity < 2") == [
        "O2",
        "O6",
    ]
    assert col("SELECT order_id FROM orders WHERE currency IN ('EUR', 'GBP')") == ["O2", "O4", "O6"]
    assert col("SELECT order_id FROM orders WHERE quantity NOT IN (1, 2, 3)") == ["O3", "O5"]
    assert col("SELECT order_id FROM orders WHERE amount IN (10, 7.25)") == ["O1", "O4"]


def test_precedence_of_arithmetic_and_unary_minus():
    assert rows("SELECT 2 + 3 * 4, (2 + 3) * 4, -quantity - 1, 10 - 4 - 3 FROM orders LIMIT 1") == [[14, 20, -3, 3]]


def test_number_semantics_and_rounding():
    r = rows("SELECT 1 / 3, 7 / 2, 0.1 + 0.2, amount * 3, quantity / 0 FROM orders LIMIT 1")
    assert r == [[0.333333, 3.5, 0.3, 30.0, None]]
    assert rows("SELECT SUM(amount), AVG(amount), AVG(quantity), SUM(quantity) FROM orders") == [
        [138.76, 27.752, 2.666667, 16]
    ]
    assert run("SELECT SUM(quantity), SUM(amount), AVG(quantity) FROM orders").types == ["int", "decimal", "decimal"]
    assert col("SELECT order_id FROM orders WHERE amount = 10") == ["O1"]


def test_decimal_values_may_be_Decimal():
    t = Table([("amount", "decimal"), ("currency", "str")], [(Decimal("19.90"), "USD"), (Decimal("0.10"), "EUR")])
    res = execute(
        "SELECT SUM(amount), MAX(amount), SUM(DC_CONVERT(amount, 'USD')) FROM t", {"t": t}, rates=RATES, now=0
    )
    assert res.rows == [(20.0, 19.9, 20.01)]
    assert all(type(v) is float for v in res.rows[0])


# -- NULL: two-valued logic -----------------------------------------------------------------


def test_null_comparisons_are_two_valued():
    assert col("SELECT order_id FROM orders WHERE note = NULL") == ["O2", "O6"]
    assert col("SELECT order_id FROM orders WHERE note != NULL") == ["O1", "O3", "O4", "O5"]
    assert col("SELECT order_id FROM orders WHERE amount < 8") == ["O4", "O6"]  # NULL amount never <
    assert col("SELECT order_id FROM orders WHERE NOT amount < 8") == ["O1", "O2", "O3", "O5"]
    assert col("SELECT order_id FROM orders WHERE NOT gift") == ["O1", "O3", "O4", "O6"]  # NULL counts as false
    assert col("SELECT order_id FROM orders WHERE status IN ('paid', NULL)") == ["O1", "O4", "O5", "O6"]
    assert col("SELECT order_id FROM orders WHERE status NOT IN ('paid')") == ["O2", "O3", "O6"]
    assert col("SELECT amount + 1 FROM orders WHERE order_id = 'O3'") == [None]


# -- aggregates and grouping --------------------------------------------------------------------


def test_aggregates_skip_nulls():
    assert rows("SELECT COUNT(*), COUNT(amount), COUNT(note), MIN(amount), MAX(note), MIN(gift) FROM orders") == [
        [6, 5, 4, 1.01, "it's", False]
    ]


def test_aggregate_over_no_rows():
    assert rows("SELECT COUNT(*), SUM(amount), AVG(amount), MIN(note) FROM orders WHERE quantity > 99") == [
        [0, None, None, None]
    ]
    assert rows("SELECT status, COUNT(*) FROM orders WHERE quantity > 99 GROUP BY status") == []


def test_group_by_first_appearance_order_and_null_group():
    assert rows("SELECT status, COUNT(*) AS n, SUM(quantity) FROM orders GROUP BY status") == [
        ["paid", 3, 9],
        ["pending", 1, 1],
        ["refunded", 1, 5],
        [None, 1, 1],
    ]


def test_group_by_several_keys_and_expressions():
    assert rows("SELECT customer_id, currency, COUNT(*) FROM orders GROUP BY customer_id, currency") == [
        [1, "USD", 2],
        [2, "EUR", 1],
        [3, "GBP", 1],
        [2, "USD", 1],
        [3, "EUR", 1],
    ]
    assert rows("SELECT quantity > 2 AS big, COUNT(*) FROM orders GROUP BY quantity > 2 ORDER BY big DESC") == [
        [True, 3],
        [False, 3],
    ]
    assert rows("SELECT DC_HASH(currency, 2), COUNT(*) FROM orders GROUP BY DC_HASH(currency, 2) LIMIT 1") == [
        [hashlib.sha256(b"USD").hexdigest()[:2], 3]
    ]


def test_group_key_expressions_combine_with_aggregates():
    assert rows("SELECT customer_id * 10 + COUNT(*) AS x FROM orders GROUP BY customer_id ORDER BY x") == [
        [12],
        [22],
        [32],
    ]
    assert rows("SELECT MAX(amount) - MIN(amount) AS spread FROM orders GROUP BY customer_id") == [
        [0.0],
        [79.5],
        [6.24],
    ]


def test_order_by_aggregate_not_selected():
    assert col("SELECT customer_id FROM orders GROUP BY customer_id ORDER BY SUM(quantity) DESC, customer_id") == [
        1,
        2,
        3,
    ]


# -- ordering and limit ------------------------------------------------------------------------------


def test_order_by_is_stable_and_multi_key():
    assert col("SELECT order_id FROM orders ORDER BY customer_id") == ["O1", "O3", "O2", "O5", "O4", "O6"]
    assert col("SELECT order_id FROM orders ORDER BY customer_id DESC") == ["O4", "O6", "O2", "O5", "O1", "O3"]
    assert col("SELECT order_id FROM orders ORDER BY customer_id DESC, quantity ASC") == [
        "O6",
        "O4",
        "O2",
        "O5",
        "O1",
        "O3",
    ]


def test_nulls_sort_first_ascending_and_last_descending():
    assert col("SELECT order_id FROM orders ORDER BY amount") == ["O3", "O6", "O4", "O1", "O2", "O5"]
    assert col("SELECT order_id FROM orders ORDER BY amount DESC") == ["O5", "O2", "O1", "O4", "O6", "O3"]
    assert col("SELECT status FROM orders ORDER BY status DESC LIMIT 2") == ["refunded", "pending"]


def test_order_by_alias_unselected_column_and_expression():
    assert col("SELECT order_id, quantity * 2 AS q FROM orders ORDER BY q DESC LIMIT 2") == ["O3", "O5"]
    assert col("SELECT order_id FROM orders ORDER BY created_at LIMIT 2") == ["O3", "O6"]
    assert col("SELECT order_id FROM orders ORDER BY -quantity, order_id LIMIT 3") == ["O3", "O5", "O4"]
    # an alias wins over a column of the same name
    assert col("SELECT order_id, -quantity AS quantity FROM orders ORDER BY quantity LIMIT 1") == ["O3"]


def test_text_orders_by_code_point():
    t = Table([("s", "str")], [("b",), ("B",), ("a",), ("item10",), ("item9",)])
    res = execute("SELECT s FROM t ORDER BY s", {"t": t}, rates={}, now=0)
    assert [r[0] for r in res.rows] == ["B", "a", "b", "item10", "item9"]


def test_limit():
    assert col("SELECT order_id FROM orders LIMIT 2") == ["O1", "O2"]
    assert col("SELECT order_id FROM orders LIMIT 0") == []
    assert len(rows("SELECT order_id FROM orders LIMIT 100")) == 6
    assert col("SELECT order_id FROM orders ORDER BY order_id DESC LIMIT 1") == ["O6"]


# -- DCQL functions -------------------------------------------------------------------------


def test_dc_convert_uses_the_rows_own_currency():
    r = rows("SELECT order_id, DC_CONVERT(amount, 'EUR'), DC_CONVERT(amount, 'USD') FROM orders")
    assert r[0] == ["O1", round(10.0 / 1.1, 2), 10.0]
    assert r[1] == ["O2", 20.5, round(20.5 * 1.1, 2)]
    assert r[2] == ["O3", None, None]
    assert r[3] == ["O4", round(7.25 * 1.25 / 1.1, 2), round(7.25 * 1.25, 2)]
    total = rows("SELECT SUM(DC_CONVERT(amount, 'EUR')) FROM orders")[0][0]
    assert total == round(sum(x for x in (round(a * RATES[c] / 1.1, 2) for _, _, _, a, c, *_ in ORDERS.rows if a)), 6)


def test_dc_convert_grouped_by_currency_and_unknown_row_currency():
    assert rows("SELECT currency, DC_CONVERT(SUM(amount), 'USD') FROM orders GROUP BY currency") == [
        ["USD", 110.0],
        ["EUR", round(21.51 * 1.1, 2)],
        ["GBP", round(7.25 * 1.25, 2)],
    ]
    e = execute_err("SELECT DC_CONVERT(amount, 'USD') FROM orders", rates={"USD": 1.0, "EUR": 1.1})
    assert e.code == "DCQL-E009" and "'GBP'" in str(e)


def execute_err(q: str, **kw) -> DcqlError:
    with pytest.raises(DcqlError) as info:
        execute(q, TABLES, **{"rates": RATES, "now": NOW, **kw})
    return info.value


def test_dc_hash_canonical_text():
    h = lambda s, n=8: hashlib.sha256(s.encode()).hexdigest()[:n]  # noqa: E731
    r = rows(
        "SELECT DC_HASH(order_id, 8), DC_HASH(customer_id, 64), DC_HASH(amount, 5), DC_HASH(gift, 3), "
        "DC_HASH(status, 1), DC_HASH(created_at, 10), DC_HASH(note, 4) FROM orders WHERE order_id = 'O2'"
    )
    assert r == [[h("O2"), h("2", 64), h("20.5", 5), h("true", 3), h("pending", 1), h(str(NOW - 3600), 10), None]]
    assert rows("SELECT DC_HASH('abc', 8) FROM customers LIMIT 1") == [["ba7816bf"]]
    assert col("SELECT order_id FROM orders WHERE DC_HASH(order_id, 6) = '" + h("O4", 6) + "'") == ["O4"]


@pytest.mark.parametrize(
    "value,text",
    [
        (12.0, "12"),
        (19.9, "19.9"),
        (0.05, "0.05"),
        (-3.1, "-3.1"),
        (-0.0, "0"),
        (1e-07, "0.0000001"),
        (123456789.125, "123456789.125"),
        (Decimal("19.90"), "19.9"),
        (7, "7"),
        (-7, "-7"),
        (True, "true"),
        ("x y", "x y"),
        (None, None),
    ],
)
def test_canonical_text(value, text):
    assert canonical_text(value) == text


def test_dc_timerange_is_half_open_and_relative_to_now():
    assert col("SELECT order_id FROM orders WHERE DC_TIMERANGE(created_at, '1h')") == ["O1", "O2", "O4"]
    assert col("SELECT order_id FROM orders WHERE DC_TIMERANGE(created_at, '3599s')") == ["O1", "O4"]
    assert col("SELECT order_id FROM orders WHERE DC_TIMERANGE(created_at, '1d')") == ["O1", "O2", "O3", "O4", "O6"]
    assert col("SELECT order_id FROM orders WHERE NOT DC_TIMERANGE(created_at, '120m')") == ["O3", "O5"]
    assert parse_duration("90s") == 90 and parse_duration("7d") == 7 * 86400
    t = Table([("ts", "ts")], [(None,), (5,)])
    assert execute("SELECT DC_TIMERANGE(ts, '10s') FROM t", {"t": t}, rates={}, now=10).rows == [(False,), (True,)]


def test_types_and_helpers():
    assert str(parse_type("enum(a, b|c)")) == "enum(a,b,c)"
    with pytest.raises(ValueError, match="unknown column type"):
        parse_type("float")
    assert run("SELECT status, gift, created_at FROM orders").types == [STATUS, "bool", "ts"]
    assert result_to_json(run("SELECT customer_id, name FROM customers WHERE customer_id = 2")) == {
        "columns": ["customer_id", "name"],
        "rows": [[2, "Bo"]],
    }
    assert set(ERROR_CODES) == {f"DCQL-E00{i}" for i in range(1, 10)}


# -- errors ---------------------------------------------------------------------------------


ERRORS = [
    # lexical
    ("SELECT * FROM orders WHERE quantity > 1 && status = 'paid'", "DCQL-E001", "unexpected character '&'"),
    ("SELECT * FROM orders WHERE quantity <> 1", "DCQL-E001", "!="),
    ("SELECT * FROM orders WHERE quantity == 1", "DCQL-E001", "single ="),
    ('SELECT * FROM orders WHERE status = "paid"', "DCQL-E001", "single quotes"),
    ("SELECT * FROM orders WHERE note = 'abc", "DCQL-E001", "unterminated string"),
    ("SELECT 12abc FROM orders", "DCQL-E001", "malformed number '12abc'"),
    ("SELECT 1.2.3 FROM orders", "DCQL-E001", "malformed number"),
    ("SELECT 5. FROM orders", "DCQL-E001", "malformed number"),
    ("SELECT * FROM orders -- comment", "DCQL-E002", "found '-'"),
    ("SELECT * FROM orders # comment", "DCQL-E001", "'#'"),
    ("SELECT * FROM orders WHERE note = 'x' ! 1", "DCQL-E001", "'!'"),
    ("SELECT * FROM orders WHERE status = 'paid' | 1", "DCQL-E001", "'|'"),
    ("SELECT * FROM ordérs", "DCQL-E001", "unexpected character 'é'"),
    # syntax
    ("", "DCQL-E002", "empty query"),
    ("FROM orders SELECT *", "DCQL-E002", "a query starts with SELECT"),
    ("SELECT * orders", "DCQL-E002", "expected an operator, ',' or FROM"),
    ("SELECT order_id total FROM orders", "DCQL-E002", "alias needs AS"),
    ("SELECT * FROM", "DCQL-E002", "found the end of the query; expected a table name"),
    ("SELECT * FROM orders WHERE", "DCQL-E002", "expected an expression"),
    ("SELECT * FROM orders WHERE quantity > 1 AND", "DCQL-E002", "expected an expression"),
    ("SELECT * FROM orders ORDER BY quantity WHERE quantity > 1", "DCQL-E002", "clauses come in the order"),
    ("SELECT * FROM orders LIMIT 2 LIMIT 3", "DCQL-E002", "found keyword LIMIT"),
    ("SELECT * FROM orders LIMIT -1", "DCQL-E002", "non-negative integer after LIMIT"),
    ("SELECT * FROM orders LIMIT 2.5", "DCQL-E002", "non-negative integer after LIMIT"),
    ("SELECT * FROM orders LIMIT 5 OFFSET 2", "DCQL-E002", "OFFSET, which is not part of DCQL"),
    ("SELECT DISTINCT status FROM orders", "DCQL-E002", "DISTINCT, which is not part of DCQL"),
    ("SELECT * FROM orders WHERE note IS NULL", "DCQL-E002", "IS, which is not part of DCQL"),
    ("SELECT * FROM orders WHERE note LIKE 'a%'", "DCQL-E002", "LIKE, which is not part of DCQL"),
    ("SELECT * FROM orders WHERE quantity BETWEEN 1 AND 3", "DCQL-E002", "BETWEEN"),
    ("SELECT status FROM orders GROUP BY status HAVING COUNT(*) > 1", "DCQL-E002", "HAVING"),
    ("SELECT * FROM orders JOIN customers", "DCQL-E002", "JOIN"),
    ("SELECT * FROM orders WHERE 1 < quantity < 3", "DCQL-E002", "cannot be chained"),
    ("SELECT * FROM orders ORDER BY 2", "DCQL-E002", "does not order by position"),
    ("SELECT * FROM orders; SELECT * FROM orders", "DCQL-E002", "one statement per query"),
    ("SELECT * FROM orders WHERE status IN ()", "DCQL-E002", "a literal in the IN list"),
    ("SELECT * FROM orders WHERE status IN (note)", "DCQL-E002", "a literal in the IN list"),
    ("SELECT * FROM orders WHERE status IN 'paid'", "DCQL-E002", "'(' after IN"),
    ("SELECT COUNT(* FROM orders", "DCQL-E002", "')' after COUNT(*"),
    ("SELECT (quantity FROM orders", "DCQL-E002", "')'"),
    ("SELECT quantity AS FROM orders", "DCQL-E002", "an alias name after AS"),
    ("SELECT * FROM orders WHERE status = 'paid' extra", "DCQL-E002", "identifier 'extra'"),
    # unknown table / column / function
    ("SELECT * FROM order_lines", "DCQL-E003", "unknown table 'order_lines'"),
    ("SELECT * FROM orderz", "DCQL-E003", "did you mean 'orders'"),
    ("SELECT amout FROM orders", "DCQL-E004", "did you mean 'amount'"),
    ("SELECT * FROM orders WHERE Status = 'paid'", "DCQL-E004", "unknown column 'Status'"),
    ("SELECT DC_CONVERT(customer_id, 'EUR') FROM customers", "DCQL-E004", "has none"),
    ("SELECT quantity AS q, amount AS q FROM orders ORDER BY q", "DCQL-E004", "ambiguous"),
    ("SELECT quantity * 2 AS q FROM orders ORDER BY q + 1", "DCQL-E004", "aliases can only be used alone"),
    ("SELECT * FROM orders WHERE q > 1", "DCQL-E004", "unknown column 'q'"),
    ("SELECT DC_CONVRT(amount, 'EUR') FROM orders", "DCQL-E005", "did you mean DC_CONVERT"),
    ("SELECT ROUND(amount) FROM orders", "DCQL-E005", "unknown function ROUND"),
    # arguments
    ("SELECT DC_HASH(order_id) FROM orders", "DCQL-E006", "DC_HASH takes 2 arguments"),
    ("SELECT DC_HASH(order_id, 0) FROM orders", "DCQL-E006", "from 1 to 64"),
    ("SELECT DC_HASH(order_id, 65) FROM orders", "DCQL-E006", "from 1 to 64"),
    ("SELECT DC_HASH(order_id, quantity) FROM orders", "DCQL-E006", "integer literal"),
    ("SELECT DC_CONVERT(amount) FROM orders", "DCQL-E006", "DC_CONVERT takes 2 arguments"),
    ("SELECT DC_CONVERT(amount, 'JPY') FROM orders", "DCQL-E006", "unknown currency 'JPY'"),
    ("SELECT DC_CONVERT(amount, currency) FROM orders", "DCQL-E006", "string literal"),
    ("SELECT * FROM orders WHERE DC_TIMERANGE(created_at, '1w')", "DCQL-E006", "not a duration"),
    ("SELECT * FROM orders WHERE DC_TIMERANGE(created_at, '1h30m')", "DCQL-E006", "not a duration"),
    ("SELECT * FROM orders WHERE DC_TIMERANGE(created_at)", "DCQL-E006", "takes 2 arguments"),
    ("SELECT SUM(*) FROM orders", "DCQL-E006", "only accepted in COUNT(*)"),
    ("SELECT COUNT() FROM orders", "DCQL-E006", "COUNT takes 1 argument"),
    ("SELECT SUM(quantity, amount) FROM orders", "DCQL-E006", "SUM takes 1 argument"),
    # types
    ("SELECT * FROM orders WHERE status = 5", "DCQL-E007", "cannot compare enum"),
    ("SELECT * FROM orders WHERE status = 'shipped'", "DCQL-E007", "'shipped' is not a value of the enum"),
    ("SELECT * FROM orders WHERE status IN ('paid', 'shiped')", "DCQL-E007", "'shiped' is not a value"),
    ("SELECT * FROM orders WHERE created_at > '2024-01-01'", "DCQL-E007", "unix seconds"),
    ("SELECT * FROM orders WHERE gift < TRUE", "DCQL-E007", "booleans only support = and !="),
    ("SELECT * FROM orders WHERE gift = 1", "DCQL-E007", "cannot compare bool with int"),
    ("SELECT * FROM orders WHERE amount < NULL", "DCQL-E007", "NULL can only be compared"),
    ("SELECT * FROM orders WHERE amount", "DCQL-E007", "WHERE needs a boolean condition"),
    ("SELECT * FROM orders WHERE quantity AND gift", "DCQL-E007", "AND needs a boolean operand"),
    ("SELECT * FROM orders WHERE NOT quantity", "DCQL-E007", "NOT needs a boolean operand"),
    ("SELECT SUM(status) FROM orders", "DCQL-E007", "SUM needs numbers"),
    ("SELECT AVG(note) FROM orders", "DCQL-E007", "AVG needs numbers"),
    ("SELECT note + 1 FROM orders", "DCQL-E007", "operator '+' needs numbers"),
    ("SELECT -note FROM orders", "DCQL-E007", "unary '-' needs a number"),
    ("SELECT DC_CONVERT(note, 'EUR') FROM orders", "DCQL-E007", "numeric amount"),
    ("SELECT * FROM orders WHERE DC_TIMERANGE(note, '1h')", "DCQL-E007", "needs a ts"),
    ("SELECT * FROM orders WHERE customer_id IN ('1')", "DCQL-E007", "cannot compare int with str"),
    # grouping
    ("SELECT status, COUNT(*) FROM orders", "DCQL-E008", "'status' in SELECT must appear in GROUP BY"),
    ("SELECT status, quantity FROM orders GROUP BY status", "DCQL-E008", "'quantity'"),
    ("SELECT * FROM orders GROUP BY status", "DCQL-E008", "SELECT * cannot be used"),
    ("SELECT * FROM orders WHERE COUNT(*) > 1", "DCQL-E008", "not allowed in WHERE"),
    ("SELECT SUM(COUNT(*)) FROM orders", "DCQL-E008", "inside another aggregate"),
    ("SELECT COUNT(*) FROM orders GROUP BY COUNT(*)", "DCQL-E008", "not allowed in GROUP BY"),
    ("SELECT order_id FROM orders ORDER BY COUNT(*)", "DCQL-E008", "not allowed in ORDER BY"),
    ("SELECT status FROM orders GROUP BY status ORDER BY quantity", "DCQL-E008", "'quantity' in ORDER BY"),
    ("SELECT COUNT(*) FROM orders GROUP BY 1", "DCQL-E008", "does not depend on any column"),
    ("SELECT customer_id, DC_CONVERT(amount, 'EUR') FROM orders GROUP BY customer_id", "DCQL-E008", "amount"),
    ("SELECT amount, DC_CONVERT(amount, 'EUR') FROM orders GROUP BY amount", "DCQL-E008", "currency in GROUP BY"),
]


@pytest.mark.parametrize("query,code,fragment", ERRORS)
def test_invalid_queries_are_rejected_with_clear_errors(query, code, fragment):
    e = err(query)
    assert e.code == code, str(e)
    assert fragment in str(e), str(e)
    assert str(e).startswith(code)


def test_error_positions_are_line_and_column():
    e = err("SELECT order_id\nFROM orders\nWHERE amout > 5")
    assert (e.line, e.column, e.position) == (3, 7, 34)
    assert "at line 3, column 7" in str(e)
    e = err("SELECT * FROM orders WHERE quantity > 1 && x")
    assert (e.line, e.column) == (1, 41)


def test_first_error_in_clause_order():
    # SELECT is checked before WHERE; operands left to right.
    assert "'bad1'" in str(err("SELECT bad1 FROM orders WHERE bad2 > 1"))
    assert "'bad1'" in str(err("SELECT bad1 + bad2 FROM orders"))
    # lexical errors win over syntax errors anywhere in the text
    assert err("SELECT FROM orders WHERE x # 1").code == "DCQL-E001"
    # unknown table before unknown columns
    assert err("SELECT nope FROM nowhere").code == "DCQL-E003"


def test_error_messages_say_what_is_accepted():
    assert "columns: order_id, customer_id" in str(err("SELECT nope FROM orders"))
    assert "functions: COUNT, SUM, AVG, MIN, MAX, DC_CONVERT, DC_HASH, DC_TIMERANGE" in str(
        err("SELECT F(1) FROM orders")
    )
    assert "tables: customers, orders" in str(err("SELECT * FROM t"))
    assert "currencies with a rate: EUR, GBP, USD" in str(err("SELECT DC_CONVERT(amount, 'CHF') FROM orders"))


def test_nothing_is_silently_ignored():
    """Every extra or unknown token makes the query fail instead of being skipped."""
    base = "SELECT COUNT(*) FROM orders WHERE status = 'paid'"
    assert rows(base) == [[3]]
    for suffix in (" garbage", " AND", " WITH x", " ORDER", " GROUP status", " LIMIT", " ;;", " )", " @", " `x`"):
        with pytest.raises(DcqlError):
            run(base + suffix)
