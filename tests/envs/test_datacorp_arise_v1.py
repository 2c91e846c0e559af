"""Protocol arise_v1 for DataCorp (the ARISE paper's 30 DataCorp tasks): world, API, DCQL, checks, oracle, blob."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.request
from typing import Any

import gymnasium
import httpx
import pytest

import envs  # registers the Gymnasium ids
from envs.access import AccessError, AccessPolicy, WorldAccess
from envs.acmecorp.arise_v1.tools import PAPER_TOOLS, parse_acme_log
from envs.datacorp.arise_v1 import (
    CONSTANT_BLOB,
    DataCorpPaperCheck,
    arise_v1_suite,
    build_arise_v1_world,
    constant_blob,
    parse_dc,
    parse_dcql,
    run_dcql,
    validate_batch,
)
from envs.datacorp.arise_v1 import fixtures as T
from envs.datacorp.arise_v1.constants import (
    CURRENCIES,
    CUSTOMER_EMAILS,
    NOW,
    ORDER_WINDOW,
    STATUSES,
    T_START,
    VALIDATION_CODES,
    VALIDATION_HOST,
    VALIDATION_URL,
)
from envs.datacorp.arise_v1.lenient_dcql import dc_convert
from envs.datacorp.arise_v1.world import DcData, post_validate
from envs.grading import grade_answer
from envs.oracle import run_oracle
from envs.tasks import Suite, TaskInstance
from envs.world import World

SEEDS = (42, 123, 456)
GYM_ID = "arise_gym/DataCorp-v0"


@pytest.fixture(scope="module")
def suite() -> Suite:
    return arise_v1_suite()


@pytest.fixture(scope="module")
def world(suite: Suite) -> World:
    return suite.get_world(42)


def instances(suite: Suite, seed: int) -> dict[str, TaskInstance]:
    return {f.name: suite.instance(seed, "test", f.name) for f in suite.families}


def request(world: World, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    resp = world.http.request(method, f"{VALIDATION_URL}{path}", json_body=body)
    return resp.status_code, dict(resp.headers), resp.json()


def post(world: World, records: list[dict[str, Any]], schema: str = "orders") -> dict[str, Any]:
    status, _, body = request(world, "POST", "/validate", {"records": records, "schema": schema})
    assert status == 200, body
    return dict(body)


def codes_of(result: dict[str, Any]) -> list[list[str]]:
    by_index = {i["index"]: [e["code"] for e in i["errors"]] for i in result["invalid"]}
    return [by_index.get(k, []) for k in range(result["total"])]


ORDER = {
    "order_id": 7,
    "customer": "x@y.io",
    "amount": 10.5,
    "currency": "EUR",
    "status": "pending",
    "timestamp": 1710000000,
}


# =================================================================================
# World
# =================================================================================
def test_world_is_deterministic_and_seed_dependent() -> None:
    a, b = build_arise_v1_world(42, {}), build_arise_v1_world(42, None)
    assert a.world_hash() == b.world_hash() and a.files == b.files
    assert len({build_arise_v1_world(s, {}).world_hash() for s in (*SEEDS, 7)}) == 4
    assert (a.name, a.protocol, a.now, a.options) == ("datacorp", "arise_v1", NOW, {})
    assert sorted(a.files) == ["exports/customers.dc", "exports/orders.dc", "exports/products.dc"]
    assert {"dc-format", "validation-api", "dcql"} <= set(a.docs)
    assert list(a.http.hosts) == [VALIDATION_HOST]
    assert b"DC-007" in a.api_fingerprint
    assert {"orders", "order_id", "USD", "refunded", "alice@corp.com", "DC-008"} <= set(a.entities)


def test_world_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="takes no options"):
        build_arise_v1_world(42, {"n_orders": 500})
    for bad in (-1, 1.5, True, "42"):
        with pytest.raises(ValueError, match="non-negative integer"):
            build_arise_v1_world(bad, {})  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", SEEDS)
def test_export_facts(seed: int) -> None:
    w = build_arise_v1_world(seed, {})
    expected = {
        "orders": (50, "order_id|customer|amount|currency|status|timestamp"),
        "products": (20, "product_id|name|price|currency|category|in_stock"),
        "customers": (16, "customer_id|email|name|country|tier|joined_ts"),
    }
    for schema, (n, columns) in expected.items():
        lines = w.files[f"exports/{schema}.dc"].splitlines()
        assert lines[0] == f"## DataCorp Export v2 | schema={schema} | exported=2024-03-01"
        assert lines[1] == f"## columns: {columns}"
        assert len(lines) == n + 2 and all(ln.count("|") == 5 and not ln.startswith("#") for ln in lines[2:])
        assert w.files[f"exports/{schema}.dc"].endswith("\n")
    orders = parse_dc(w.files["exports/orders.dc"]).rows
    assert [r["order_id"] for r in orders] == list(range(101, 151))
    for r in orders:
        assert r["customer"] in CUSTOMER_EMAILS and r["currency"] in CURRENCIES and r["status"] in STATUSES
        assert 10 <= r["amount"] <= 2000 and isinstance(r["timestamp"], int)
        assert T_START <= r["timestamp"] <= T_START + ORDER_WINDOW
    raw_amounts = [ln.split("|")[2] for ln in w.files["exports/orders.dc"].splitlines()[2:]]
    assert all(re.fullmatch(r"\d+\.\d\d", a) for a in raw_amounts)
    customers = parse_dc(w.files["exports/customers.dc"]).rows
    assert [c["email"] for c in customers] == list(CUSTOMER_EMAILS)  # every order matches a customer
    assert [c["customer_id"] for c in customers] == list(range(301, 317))
    products = parse_dc(w.files["exports/products.dc"]).rows
    assert [p["product_id"] for p in products] == list(range(201, 221))
    # in_stock stays the text "true"/"false", as the reference's parser keeps it
    assert all(p["in_stock"] in ("true", "false") and 5 <= p["price"] <= 500 for p in products)


def test_in_stock_is_text_through_the_whole_chain() -> None:
    """in_stock as the reference keeps it: the text "true"/"false" in the export, in DCQL and in the graders' rows;
    the validation API coerces it (the reference's WHERE in_stock = "true" gives 11 rows on its seed-42 data)."""
    w = build_arise_v1_world(42, {})
    access = WorldAccess(w)
    data = DcData.load(access)
    raw = [ln.split("|")[5] for ln in w.files["exports/products.dc"].splitlines()[2:]]
    in_stock = raw.count("true")
    assert 0 < in_stock < 20 and [p["in_stock"] for p in data.rows("products")] == raw
    assert data.query('SELECT product_id FROM products WHERE in_stock = "true"').row_count == in_stock
    assert data.query('SELECT product_id FROM products WHERE in_stock = "false"').row_count == 20 - in_stock
    assert data.query("SELECT product_id FROM products WHERE in_stock = true").row_count == in_stock
    # the graders' rows go through the API as they are: every product passes, its in_stock coerced to a boolean
    result = post_validate(access, data.rows("products"), "products")
    assert result["valid_count"] == 20 and {type(v["record"]["in_stock"]) for v in result["valid"]} == {bool}
    assert data.rows("products")[0]["in_stock"] in ("true", "false")  # the graders' copy is untouched


def test_order_distributions() -> None:
    rows = [r for s in range(40) for r in parse_dc(build_arise_v1_world(s, {}).files["exports/orders.dc"]).rows]
    n = len(rows)
    for values, key in ((CURRENCIES, "currency"), (STATUSES, "status"), (CUSTOMER_EMAILS, "customer")):
        share = 1 / len(values)
        assert all(abs(sum(r[key] == v for r in rows) / n - share) < 0.05 for v in values), key
    mean = sum(r["amount"] for r in rows) / n
    assert abs(mean - 1005) < 60  # U(10, 2000)


def test_parse_dc_is_strict() -> None:
    table = parse_dc(
        "## DataCorp Export v2 | schema=products | exported=x\n## columns: product_id|in_stock|price\n7|true|1.50\n"
    )
    assert table.metadata == {"version": "DataCorp Export v2", "schema": "products", "exported": "x"}
    assert table.rows == [{"product_id": 7, "in_stock": "true", "price": 1.5}]
    with pytest.raises(ValueError, match="column 'in_stock': expected true or false, got 'yes'"):
        parse_dc("## schema=products\n## columns: product_id|in_stock\n7|yes\n")
    with pytest.raises(ValueError, match="line 3: 2 values for 3 columns"):
        parse_dc("## schema=orders\n## columns: a|b|c\n1|2\n")
    with pytest.raises(ValueError, match="before the '## columns:' line"):
        parse_dc("## schema=orders\n1|2\n")


# =================================================================================
# Validation API
# =================================================================================
def test_schema_endpoints(world: World) -> None:
    assert request(world, "GET", "/schemas")[2] == ["orders", "products", "customers"]
    status, headers, orders = request(world, "GET", "/schemas/orders")
    assert status == 200 and headers["content-type"] == "application/json"
    assert list(orders["fields"]) == ["order_id", "customer", "amount", "currency", "status", "timestamp"]
    assert orders["primary_key"] == "order_id"
    assert orders["constraints"] == [
        {"type": "cross_field", "rule": "if status == 'refunded' then amount > 0", "code": "DC-007"}
    ]
    assert orders["fields"]["currency"]["values"] == list(CURRENCIES)
    status, _, body = request(world, "GET", "/schemas/invoices")
    assert status == 404 and body["code"] == "DC-010" and "invoices" in body["error"]


def test_validate_the_paper_records(world: World) -> None:
    assert post(world, [T.VALID_RECORD])["valid_count"] == 1
    bad = post(world, T.INVALID_RECORDS)
    assert codes_of(bad) == [["DC-001"], ["DC-002"], ["DC-004"], ["DC-004"], ["DC-003", "DC-007"]]
    assert (bad["valid_count"], bad["invalid_count"], bad["total"]) == (0, 5, 5)
    assert bad["error_summary"] == {"DC-001": 1, "DC-002": 1, "DC-004": 2, "DC-003": 1, "DC-007": 1}
    assert codes_of(post(world, T.DUPLICATE_RECORDS)) == [[], ["DC-008"]]
    # numeric text is coerced, not rejected: the paper's "fixable" record 3001 already passes
    fix = post(world, T.FIXABLE_RECORDS)
    assert codes_of(fix) == [[], ["DC-004"]] and fix["valid"][0]["record"]["amount"] == 299.99
    assert codes_of(post(world, T.CROSS_FIELD_RECORDS)) == [[], ["DC-003", "DC-007"], []]


def test_every_code_but_dc009_is_reachable(world: World) -> None:
    cases = {
        "DC-001": {**ORDER, "customer": ""},
        "DC-002": {**ORDER, "customer": "not-an-email"},
        "DC-003": {**ORDER, "amount": 1e7},
        "DC-004": {**ORDER, "status": "shipped"},
        "DC-005": {**ORDER, "customer": "a" * 95 + "@b.com"},
        "DC-006": {**ORDER, "timestamp": "yesterday"},
        "DC-007": {**ORDER, "status": "refunded", "amount": 0},
    }
    for code, record in cases.items():
        expected = ["DC-003", code] if code == "DC-007" else [code]  # amount <= 0 is always below min 0.01 too
        assert codes_of(post(world, [record])) == [expected], code
    assert codes_of(post(world, [ORDER, ORDER])) == [[], ["DC-008"]]
    status, _, body = request(world, "POST", "/validate", {"records": [ORDER], "schema": "invoices"})
    assert (status, body["code"]) == (404, "DC-010")
    with pytest.raises(KeyError):
        validate_batch([ORDER], "invoices")
    # DC-009 (reference integrity) is defined in the paper's table but no rule emits it
    assert "DC-009" in VALIDATION_CODES
    products = post(world, [{"product_id": "5", "name": "x", "price": "2.5", "currency": "EUR",
                             "category": "bundle", "in_stock": "TRUE"}], "products")  # fmt: skip
    assert products["valid_count"] == 1 and products["valid"][0]["record"]["in_stock"] is True


def test_validate_rejects_bad_requests_clearly(world: World) -> None:
    resp = world.http.request("POST", f"{VALIDATION_URL}/validate", headers={"content-type": "application/json"})
    assert resp.status_code == 422 and "records" in resp.json()["error"]
    resp = world.http.transport.handle_request(httpx.Request("POST", f"{VALIDATION_URL}/validate", content=b"{x"))
    resp.read()
    assert resp.status_code == 400 and "not JSON" in resp.json()["error"]
    assert request(world, "POST", "/validate", {"records": [1, 2], "schema": "orders"})[0] == 422
    assert request(world, "POST", "/validate", {"records": [], "schema": 5})[0] == 422
    # the reference's flaw: the agent only has GET, and GET /validate is refused
    status, headers, body = request(world, "GET", "/validate")
    assert status == 405 and headers["allow"] == "POST" and "use POST" in body["error"]


def test_api_over_loopback() -> None:
    w = build_arise_v1_world(42, {})
    try:
        base = w.http.serve(VALIDATION_HOST)
        with urllib.request.urlopen(f"{base}/schemas", timeout=5) as resp:
            assert json.loads(resp.read()) == ["orders", "products", "customers"]
        req = urllib.request.Request(
            f"{base}/validate",
            data=json.dumps({"records": T.DUPLICATE_RECORDS, "schema": "orders"}).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert json.loads(resp.read())["error_summary"] == {"DC-008": 1}
    finally:
        w.http.close()


def test_get_only_agent_cannot_validate(suite: Suite, world: World) -> None:
    access = WorldAccess(world, AccessPolicy(suite.affordances))
    assert access.http_get(f"{VALIDATION_URL}/schemas")["status"] == 200
    with pytest.raises(AccessError, match="http_post is not available"):
        access.http_post(f"{VALIDATION_URL}/validate", json={"records": [], "schema": "orders"})
    assert access.http_get(f"{VALIDATION_URL}/validate")["status"] == 405


# =================================================================================
# DCQL with the paper's semantics
# =================================================================================
_COLS = ("order_id", "customer", "amount", "currency", "status", "timestamp")
TABLE = {
    "orders": [
        dict(zip(_COLS, (1, "a@x.io", 100.0, "EUR", "completed", 10), strict=True)),
        dict(zip(_COLS, (2, "b@x.io", 900.0, "USD", "pending", 90000), strict=True)),
        dict(zip(_COLS, (3, "a@x.io", 50.0, "XXX", "completed", 86500), strict=True)),
        dict(zip(_COLS, (4, "c@x.io", 700.0, "USD", "completed", 5), strict=True)),
    ]
}


def ids(query: str) -> list[Any]:
    return [r.get("order_id") for r in run_dcql(query, TABLE).rows]


def test_dcql_supported_language() -> None:
    assert ids('SELECT order_id FROM orders WHERE status = "completed" AND amount > 60') == [1, 4]
    assert ids("SELECT * FROM orders WHERE amount >= 700 LIMIT 1") == [2]
    assert ids('SELECT order_id, amount FROM orders WHERE currency != "USD" ORDER BY amount DESC') == [1, 3]
    assert ids('SELECT order_id FROM orders WHERE DC_TIMERANGE(timestamp, "1h") AND status = "completed"') == [3]
    assert ids("SELECT order_id FROM orders WHERE order_id = 2.0") == [2]
    grouped = run_dcql("SELECT status, *, customer FROM orders GROUP BY status", TABLE)
    assert grouped.rows == [
        {"status": "completed", "count": 3, "customer": "a@x.io"},
        {"status": "pending", "count": 1, "customer": "b@x.io"},
    ]
    conv = run_dcql('SELECT order_id, DC_CONVERT(amount, "USD") AS usd, DC_HASH(customer) FROM orders', TABLE)
    assert conv.columns == ["order_id", "usd", "dc_hash"]
    assert conv.rows[0] == {"order_id": 1, "usd": 108.0, "dc_hash": hashlib.sha256(b"a@x.io").hexdigest()[:16]}
    assert dc_convert(100, "EUR", "USD") == 92.59 and dc_convert("n/a", "EUR") == 0.0
    assert run_dcql("select order_id from orders limit 2", TABLE).row_count == 2  # keywords in any case


def test_dcql_silently_ignores_what_it_does_not_understand() -> None:
    # OR ends the WHERE clause; everything after it (here also the LIMIT) is dropped without an error
    res = run_dcql('SELECT order_id FROM orders WHERE status = "pending" OR currency = "EUR" LIMIT 1', TABLE)
    assert [r["order_id"] for r in res.rows] == [2] and res.ignored[0] == "OR"
    assert "ignored trailing tokens" in res.notes[0]
    assert ids("SELECT order_id FROM orders HAVING amount > 1000") == [1, 2, 3, 4]
    # ORDER BY a column the projection dropped sorts nothing (the paper's query 10)
    res = run_dcql("SELECT order_id FROM orders ORDER BY amount DESC LIMIT 2", TABLE)
    assert [r["order_id"] for r in res.rows] == [1, 2] and "order unchanged" in res.notes[0]
    # unknown functions give nulls, unknown currencies convert at 1.0, unknown operators match nothing
    res = run_dcql("SELECT DC_UPPER(customer) AS up FROM orders", TABLE)
    assert {r["up"] for r in res.rows} == {None} and "not understood" in res.notes[0]
    assert run_dcql('SELECT DC_CONVERT(amount, "USD") AS u FROM orders WHERE order_id = 3', TABLE).rows == [{"u": 50.0}]
    assert run_dcql("SELECT order_id FROM orders WHERE amount ~ 5", TABLE).rows == []
    # a time range over a column without numbers filters nothing
    res = run_dcql('SELECT order_id FROM orders WHERE DC_TIMERANGE(customer, "1h")', TABLE)
    assert res.row_count == 4 and "nothing filtered" in res.notes[0]


def test_dcql_errors() -> None:
    with pytest.raises(ValueError, match="expected FROM"):
        run_dcql("SELECT COUNT(*) FROM orders", TABLE)  # aggregates are not part of the paper's DCQL
    with pytest.raises(ValueError, match="table 'invoices' not found"):
        run_dcql("SELECT * FROM invoices", TABLE)
    with pytest.raises(ValueError, match="LIMIT needs an integer"):
        run_dcql("SELECT * FROM orders LIMIT five", TABLE)
    with pytest.raises(ValueError, match="invalid DC_TIMERANGE duration"):
        run_dcql('SELECT * FROM orders WHERE DC_TIMERANGE(timestamp, "1 day")', TABLE)
    with pytest.raises(ValueError, match="expected SELECT"):
        parse_dcql("DELETE FROM orders")
    with pytest.raises(ValueError, match="not closed"):
        parse_dcql("SELECT DC_HASH(customer FROM orders")


# =================================================================================
# Suite, prompts and checks
# =================================================================================
def test_thirty_tasks_in_the_paper_order(suite: Suite) -> None:
    assert (suite.world, suite.protocol, suite.affordances) == ("datacorp", "arise_v1", ("http_get",))
    names = [f.name for f in suite.families]
    assert names == [f"v1.{p}.{n:02d}" for p in ("csv", "validation", "query") for n in range(1, 11)]
    assert suite.phases() == ("csv", "validation", "query")
    for f in suite.families:
        n = int(f.name[-2:])
        assert f.difficulty == ("easy" if n <= 4 else "medium" if n <= 8 else "hard")
    # the fixed_tools flaw: DataCorp runs were handed AcmeCorp's seven tools
    assert suite.reference_tools() == PAPER_TOOLS and len(PAPER_TOOLS) == 7
    with pytest.raises(ValueError, match="no ACME log entries"):
        parse_acme_log(suite.get_world(42).files["exports/orders.dc"])


def test_prompts_carry_the_inline_data(suite: Suite, world: World) -> None:
    by = instances(suite, 42)
    orders = world.files["exports/orders.dc"].strip()
    for name, inst in by.items():
        assert "Answer JSON schema" not in inst.prompt and "Grading:" not in inst.prompt
        assert inst.answer_schema == {"type": "string", "description": "free text"}
        assert len(suite.intro) + len(inst.prompt) < suite.max_observation_chars
        json.dumps(inst.to_json())
        shows_orders = orders in inst.prompt
        assert shows_orders == (name.startswith(("v1.csv", "v1.query")) or name == "v1.validation.08"), name
    assert world.files["exports/customers.dc"].strip() in by["v1.csv.06"].prompt
    for n in range(1, 11):
        val, qry = by[f"v1.validation.{n:02d}"].prompt, by[f"v1.query.{n:02d}"].prompt
        assert VALIDATION_URL in val and "POST /validate" in val and "DC-008=duplicate key" in val
        assert qry.startswith("DataCorp Query Language (DCQL)") and T.QUERIES[n] in qry
    assert '"order_id": 2001' in by["v1.validation.07"].prompt
    for n in (5, 6, 7, 9, 10):  # the records the oracle validates are the ones the prompt shows
        inst = by[f"v1.validation.{n:02d}"]
        assert json.dumps(inst.params["records"], indent=2) in inst.prompt
    # tasks 3 and 4 show their one record as an object, not as a one-element list (as the reference does)
    assert json.dumps(by["v1.validation.03"].params["records"][0], indent=2) in by["v1.validation.03"].prompt
    assert "[\n  {" not in by["v1.validation.03"].prompt
    assert json.dumps(T.INVALID_RECORDS[0], indent=2) in by["v1.validation.04"].prompt
    assert by["v1.validation.07"].params["records"] == T.DUPLICATE_RECORDS


# Prompt texts of the reference harness, github.com/abekek/arise at 54de0da2e7ec6896469ce454520deba0e8e85a61,
# benchmarks/tasks/datacorp_tasks.py (csv-01, val-03, qry-07, and the three format hints). Only the validation
# API's base URL is ours (a virtual host, not localhost:<port>).
REF_CSV_HINT = (
    "DataCorp pipe-delimited format: lines starting with ## are header comments. The first ## line contains "
    "metadata (schema, exported date). The second ## line lists column names separated by |. Data rows use | as "
    "delimiter. Timestamps are Unix epoch integers."
)
REF_API_HINT = (
    "The DataCorp Validation API is running at http://validation.datacorp.internal. POST /validate with body "
    '{"records": [...], "schema": "orders"} to validate records. GET /schemas to list schemas. GET /schemas/{name} '
    "for schema details. Error codes: DC-001=missing field, DC-002=wrong type, DC-003=out of range, "
    "DC-004=invalid enum, DC-005=too long, DC-006=bad timestamp, DC-007=cross-field violation, "
    "DC-008=duplicate key."
)
REF_DCQL_HINT = (
    "DataCorp Query Language (DCQL) is similar to SQL with these additions:\n"
    '  DC_CONVERT(amount, "USD") \u2014 convert amount to target currency\n'
    "  DC_HASH(email) \u2014 SHA-256 hash (first 16 hex chars) of a field value\n"
    '  DC_TIMERANGE(ts, "1h") \u2014 filter rows within last N hours/minutes\n'
    "Syntax: SELECT cols FROM table [WHERE cond AND cond] [GROUP BY col] [ORDER BY col] [LIMIT n]"
)


def test_prompts_match_the_reference_harness_verbatim(suite: Suite, world: World) -> None:
    by = instances(suite, 42)
    orders = world.files["exports/orders.dc"].strip()
    assert by["v1.csv.01"].prompt == (
        f"Here is a DataCorp pipe-delimited CSV export. {REF_CSV_HINT}\n\n{orders}\n\n"
        "How many data rows are in this file? (Do not count ## header lines.) Return just the count."
    )
    record = (
        '{\n  "order_id": 999,\n  "customer": "test@example.com",\n  "amount": 150.0,\n  "currency": "USD",\n'
        '  "status": "completed",\n  "timestamp": 1710000000\n}'
    )
    assert by["v1.validation.03"].prompt == (
        f"{REF_API_HINT}\n\nValidate this single record against the 'orders' schema by calling "
        f"POST http://validation.datacorp.internal/validate:\n\n{record}\n\n"
        "Is this record valid? Return 'valid' or 'invalid' and the validation result."
    )
    assert by["v1.query.07"].prompt == (
        f"{REF_DCQL_HINT}\n\nHere is a DataCorp orders CSV export:\n\n{orders}\n\nExecute this DCQL query:\n\n"
        "  SELECT order_id, DC_HASH(customer) AS customer_hash FROM orders LIMIT 3\n\n"
        "DC_HASH computes SHA-256 of the field value and returns the first 16 hex characters. "
        "Return the order_id and customer_hash for each row."
    )


def test_truths_follow_the_world(suite: Suite) -> None:
    for seed in SEEDS:
        by = instances(suite, seed)
        rows = parse_dc(suite.get_world(seed).files["exports/orders.dc"]).rows
        assert by["v1.csv.01"].truth == 50 and by["v1.csv.06"].truth == 50  # every order joins
        assert by["v1.csv.03"].truth == by["v1.query.01"].truth == sum(r["status"] == "completed" for r in rows)
        assert by["v1.query.02"].truth == sum(r["amount"] > 500 for r in rows)
        usd_done = sum(r["status"] == "completed" and r["currency"] == "USD" for r in rows)
        assert by["v1.csv.08"].truth == by["v1.query.04"].truth == usd_done
        assert abs(by["v1.csv.10"].truth - sum(r["amount"] for r in rows) / 50) < 1e-3
        cutoff = max(r["timestamp"] for r in rows) - 86400
        assert by["v1.query.09"].truth == sum(r["status"] == "completed" and r["timestamp"] >= cutoff for r in rows)
        assert by["v1.query.07"].truth == hashlib.sha256(rows[0]["customer"].encode()).hexdigest()[:16]
        # query 10: the paper's interpreter keeps file order (ORDER BY amount was projected away)
        hits = [r["order_id"] for r in rows if r["status"] == "completed" and r["amount"] > 200]
        assert by["v1.query.10"].truth == {"row_count": min(5, len(hits)), "order_ids": hits[:5]}
        # the validation phase is the paper's fixed records: identical truths at every seed
        assert by["v1.validation.08"].truth == {"valid_count": 50, "invalid_count": 0}
        assert by["v1.validation.09"].truth == {"3001": [], "3002": ["DC-004"]}
    val = [{n: i.truth for n, i in instances(suite, s).items() if ".validation." in n} for s in SEEDS]
    assert val[0] == val[1] == val[2]


def test_flawed_checks(suite: Suite) -> None:
    by = instances(suite, 42)

    def ok(name: str, answer: str) -> bool:
        return by[name].grade(answer).success

    assert ok("v1.query.07", "a") and ok("v1.query.07", "no idea, sorry: 9") and not ok("v1.query.07", "xyz")
    assert ok("v1.query.07", "I cannot compute that hash")  # 'c' is a hex digit: almost any sentence passes
    assert not ok("v1.query.07", "Sorry, I won't try.") and ok("v1.query.07", "x" * 30 + by["v1.query.07"].truth)
    assert ok("v1.validation.08", "0") and ok("v1.validation.08", "I validated 50 rows")
    assert ok("v1.validation.03", "INVALID") and not ok("v1.validation.03", "it passes")
    assert ok("v1.validation.04", "DC-005") and not ok("v1.validation.04", "DC-010")
    assert ok("v1.validation.09", "invalid, cannot fix") and not ok("v1.validation.09", "fix")
    assert ok("v1.validation.06", "DC-004") and not ok("v1.validation.06", "DC-008")
    assert ok("v1.validation.07", "DC-008 2001") and not ok("v1.validation.07", "DC-008 only")
    assert ok("v1.validation.10", "DC-007 5002") and not ok("v1.validation.10", "DC-007 5001")
    assert ok("v1.csv.05", " ".join(CURRENCIES)) and not ok("v1.csv.05", " ".join(CURRENCIES[:-1]))
    assert ok("v1.csv.09", "USD completed") and not ok("v1.csv.09", "USD refunded processing")
    assert ok("v1.csv.04", "ORDERS") and ok("v1.csv.07", by["v1.csv.07"].truth[-1]) and not ok("v1.csv.07", "none")
    assert ok("v1.csv.02", "order_id customer amount currency status timestamp")
    assert ok("v1.query.05", "JPY") and ok("v1.query.08", "failed")
    assert ok("v1.query.10", "5") and not ok("v1.query.10", "four")
    mean = by["v1.csv.10"].truth
    assert ok("v1.csv.10", f"about {mean + 0.49:.2f},") and not ok("v1.csv.10", f"{mean + 0.6:.2f}")
    assert not ok("v1.csv.10", f"mean={mean}")  # tokens are split on whitespace and commas only
    assert ok("v1.csv.01", "150 rows") and ok("v1.csv.06", "1500")  # substring numbers
    assert DataCorpPaperCheck("hash_or_hex").compare("a", "")[0] is False  # no hash computed: the paper's check fails
    assert "substring" in DataCorpPaperCheck("contains").describe()
    with pytest.raises(ValueError, match="unknown DataCorp paper check"):
        DataCorpPaperCheck("exact")


def test_free_text_grading_path(suite: Suite) -> None:
    inst = suite.instance(42, "test", "v1.csv.03")
    assert getattr(inst.comparator, "free_text", False) is True
    assert grade_answer({"count": inst.truth}, inst.truth, inst.comparator).success
    assert not grade_answer({"count": "none"}, inst.truth, inst.comparator).success


# =================================================================================
# Oracle and the constant blob
# =================================================================================
@pytest.mark.parametrize("seed", SEEDS)
def test_oracle_scores(suite: Suite, seed: int) -> None:
    failed, by = [], instances(suite, seed)
    for name, inst in by.items():
        answer, calls = run_oracle(suite, inst)
        assert all(c.tool == "http_get" for c in calls), name  # GET only; the AcmeCorp tools are useless here
        assert bool(calls) == name.startswith("v1.validation"), name
        if not inst.grade(answer).success:
            failed.append(name)
    print(f"seed {seed}: oracle {30 - len(failed)}/30, failed {failed}")
    assert failed == []


def test_oracle_cannot_see_what_only_post_shows(suite: Suite) -> None:
    # val 9: a GET-only oracle reads the schema literally and calls 3001's text amount a DC-002;
    # the API coerces it and passes the record. The check cannot tell.
    inst = suite.instance(42, "test", "v1.validation.09")
    answer, _ = run_oracle(suite, inst)
    assert "order_id 3001: invalid - DC-002" in answer and inst.truth["3001"] == []
    assert inst.grade(answer).success
    # query 10: the oracle reads ORDER BY amount DESC as SQL; the paper's interpreter ignored it
    inst = suite.instance(42, "test", "v1.query.10")
    answer, _ = run_oracle(suite, inst)
    shown = [int(x) for x in re.findall(r"order_id (\d+)", answer)]
    assert len(shown) == inst.truth["row_count"] and shown != inst.truth["order_ids"]
    assert inst.grade(answer).success


@pytest.mark.parametrize("seed", SEEDS)
def test_constant_blob_passes_almost_everything(suite: Suite, seed: int) -> None:
    assert CONSTANT_BLOB.startswith("DC-001") and " 999" in CONSTANT_BLOB and " 1000" not in CONSTANT_BLOB
    by = instances(suite, seed)
    fails = [n for n, i in by.items() if not i.grade(CONSTANT_BLOB).success]
    print(f"seed {seed}: constant blob {30 - len(fails)}/30, fails {fails}")
    assert 30 - len(fails) >= 25
    # it misses only the paper's ids 2001/5002 and a mean above 999.5
    assert (
        {"v1.validation.07", "v1.validation.10"}
        <= set(fails)
        <= {
            "v1.validation.07",
            "v1.validation.10",
            "v1.csv.10",
        }
    )
    assert ("v1.csv.10" in fails) == (by["v1.csv.10"].truth >= 999.5)
    # the reference's measurement: a similar blob with integers up to 9999 passes all 30
    wide = constant_blob(9999)
    assert all(i.grade(wide).success for i in by.values())


# =================================================================================
# Gymnasium
# =================================================================================
def _gym_registered() -> bool:
    return envs.__file__ is not None and GYM_ID in gymnasium.registry


@pytest.mark.skipif(not _gym_registered(), reason=f"{GYM_ID} is not registered yet (added by the envs package owner)")
def test_gymnasium_episode(suite: Suite) -> None:
    env = gymnasium.make(GYM_ID, protocol="arise_v1", tools="reference")
    try:
        obs, info = env.reset(seed=42, options={"task": "v1.validation.07"})
        assert "Validation API" in obs and info["task"]["truth"] is None
        tools = [t["name"] for t in info["tools"]]
        assert tools[0] == "http_get" and "http_post" not in tools and "parse_acme_log" in tools
        u: Any = env.unwrapped
        inst = u.instance
        world = u.suite.get_world(inst.world_seed)
        gen = u.suite.family(inst.family).solve(world, inst.params)
        call = next(gen)
        try:
            while True:
                obs, reward, terminated, _, step_info = env.step(json.dumps({"tool": call.tool, "args": call.args}))
                assert step_info["ok"], obs
                call = gen.send(obs)
        except StopIteration as stop:
            answer = stop.value
        obs, reward, terminated, _, step_info = env.step(json.dumps({"answer": answer}))
        assert terminated and reward == 1.0
        env.reset(seed=42, options={"task": "v1.validation.07"})
        obs, *_ = env.step(json.dumps({"tool": "http_post", "args": {"url": f"{VALIDATION_URL}/validate"}}))
        assert obs.startswith("Error: unknown tool 'http_post'")
    finally:
        env.close()


def test_graders_view_reads_through_access(world: World) -> None:
    data = DcData.load(WorldAccess(world))
    assert data.schema_names == ["orders", "products", "customers"]
    assert len(data.rows("orders")) == 50 and len(data.rows("products")) == 20 and len(data.rows("customers")) == 16
    assert DcData.load(WorldAccess(world)) is data  # memoised per world
