"""DataCorp world: the .dc dialect, the generator, and the validation API."""

from __future__ import annotations

import functools
import json
from decimal import Decimal

import httpx
import numpy as np
import pytest

from envs.access import WorldAccess
from envs.datacorp import dialect
from envs.datacorp.dialect import Column, DcFormatError, parse_columns, read_dc, table_files, to_record, write_dc
from envs.datacorp.validation_api import BASE_URL, CODES, HOST, MAX_RECORDS, REGION_CURRENCY
from envs.datacorp.world import DEFAULT_OPTIONS, TABLES, build_world, check_options
from envs.world import World


@functools.cache
def world(seed: int = 11) -> World:
    return build_world(seed, {})


# -- dialect --------------------------------------------------------------------------------

COLS = parse_columns(
    "id:int|name:str|note:str?|price:decimal|ok:bool|at:ts|status:enum(paid,shipped)|score:int?|when:ts?"
)
HARD_TEXTS = [
    "plain",
    "",
    "pipe | inside",
    'quote " inside',
    '""',
    "line\nbreak",
    "two\n\nblank lines",
    "trailing newline\n",
    "\\N",
    "#starts with hash",
    "## looks like a header",
    " spaces kept ",
    "crlf\r\nhere",
    'all |" \n mixed ""|',
    "Łukasz Müller 田中",
    '"quoted"',
    "|",
    '"',
]


def test_columns_spec_round_trip_and_errors():
    assert dialect.format_columns(COLS) == (
        "id:int|name:str|note:str?|price:decimal|ok:bool|at:ts|status:enum(paid,shipped)|score:int?|when:ts?"
    )
    assert COLS[2] == Column("note", "str", (), True)
    assert COLS[6].values == ("paid", "shipped")
    for bad in ("id:integer", "id", "Id:int", "a:int|a:str", "s:enum()", "s:enum(a,a)", "s:enum(a b)", ""):
        with pytest.raises(DcFormatError):
            parse_columns(bad)


def test_round_trip_of_hard_values():
    rows = []
    for i, text in enumerate(HARD_TEXTS):
        rows.append(
            (
                i,
                text,
                None if i % 3 == 0 else text,
                Decimal("-3.10") if i % 2 else Decimal("19.90"),
                bool(i % 2),
                1_718_000_000 + i,
                "paid" if i % 2 else "shipped",
                None if i % 4 == 0 else -i,
                None if i % 5 == 0 else 0,
            )
        )
    text = write_dc("things", COLS, rows, exported=1_718_000_000, meta={"part": "1/1"})
    f = read_dc(text)
    assert f.malformed == []
    assert f.rows == rows
    assert f.schema == "things" and f.exported == 1_718_000_000 and f.meta["part"] == "1/1"
    assert f.columns == COLS
    # the literal text \N is quoted, null is not; the empty string is an empty unquoted field
    assert '|"\\N"|' in text and "|\\N|" in text and "\n1|||-3.10|" in text
    # a field that starts with '#' is quoted, so no record can look like a header line
    assert '|"## looks like a header"|' in text


def test_round_trip_random_texts():
    rng = np.random.default_rng(7)
    alphabet = [*'ab |"\n\r#\\N é田', "\\N", '""', "||"]
    cols = parse_columns("a:str|b:str?|c:int")
    rows = []
    for i in range(400):
        a = "".join(alphabet[int(k)] for k in rng.integers(0, len(alphabet), size=int(rng.integers(0, 8))))
        b = None if rng.random() < 0.2 else "".join(alphabet[int(k)] for k in rng.integers(0, len(alphabet), size=3))
        rows.append((a, b, i))
    f = read_dc(write_dc("r", cols, rows, 0))
    assert f.malformed == [] and f.rows == rows


def test_single_column_empty_string_is_not_a_blank_line():
    cols = parse_columns("s:str")
    text = write_dc("one", cols, [("",), ("x",)], 5)
    assert read_dc(text).rows == [("",), ("x",)]


def test_writer_rejects_values_that_do_not_fit():
    bad = [
        (Column("a", "int"), "1"),
        (Column("a", "int"), True),
        (Column("a", "ts"), -1),
        (Column("a", "decimal"), Decimal("1.234")),
        (Column("a", "decimal"), "1.00"),
        (Column("a", "bool"), 1),
        (Column("a", "enum", ("x",)), "y"),
        (Column("a", "str"), None),
        (Column("a", "str"), 5),
    ]
    for col, value in bad:
        with pytest.raises(ValueError):
            dialect.encode_value(col, value)
    assert dialect.encode_value(Column("a", "decimal"), 5) == "5.00"
    assert dialect.encode_value(Column("a", "decimal"), 19.9) == "19.90"


MALFORMED_LINES = [
    "## dc-version: 1",
    "## schema: t",
    "## exported: 100",
    "## columns: id:int|name:str|amount:decimal|flag:bool|state:enum(a,b)|note:str?",
    r"1|ok|1.00|true|a|\N",  # line 5
    "2|too few|1.00|true|a",
    "3|too|many|1.00|true|a|x",
    "4|bad decimal|1.0|true|a|x",
    "x5|bad id|1.00|true|a|x",
    "6|bad bool|1.00|yes|a|x",  # line 10
    "7|bad enum|1.00|true|A|x",
    r"8|\N|1.00|true|a|x",
    '9|O"Neil|1.00|true|a|x',
    '10|"closed"x|1.00|true|b|x',
    "",  # line 15: blank lines are skipped
    '11|"multi',
    'line | name"|2.50|false|b|"note with ""quotes"""',
    r'12|"\N"|0.00|false|a|',
    r"13|-|-1.00|true|b|\N",
    '14|"unterminated|1.00|true|a|x',  # line 20: runs to the end of the file
    "15|never|1.00|true|a|x",
]
MALFORMED_FILE = "\n".join(MALFORMED_LINES) + "\n"


def test_malformed_records_are_reported_never_accepted():
    f = read_dc(MALFORMED_FILE)
    kinds = [(line, dialect.malformed_kind(reason)) for line, reason in f.malformed]
    assert kinds == [
        (6, "field_count"),
        (7, "field_count"),
        (8, "type"),
        (9, "type"),
        (10, "type"),
        (11, "type"),
        (12, "null"),
        (13, "quote"),
        (14, "quote"),
        (20, "unterminated_quote"),
    ]
    assert [r[0] for r in f.rows] == [1, 11, 12, 13]
    assert f.row_lines == [5, 16, 18, 19]
    by_id = {r[0]: r for r in f.rows}
    assert by_id[11][1] == "multi\nline | name" and by_id[11][5] == 'note with "quotes"'
    assert by_id[12][1] == "\\N" and by_id[12][5] == ""
    assert by_id[1][5] is None and by_id[13][2] == Decimal("-1.00")
    # the reasons say what is wrong
    reasons = dict(f.malformed)
    assert "expected 6 fields, got 5" in reasons[6]
    assert "amount" in reasons[8] and "'1.0'" in reasons[8]
    assert "name is not nullable" in reasons[12]


def test_error_recovery_resumes_on_the_next_line():
    text = "## dc-version: 1\n## schema: t\n## exported: 1\n## columns: a:int|b:str\n" + '1|"x"y\n2|fine\n'
    f = read_dc(text)
    assert f.rows == [(2, "fine")] and [k for k, _ in f.malformed] == [5]
    # a runaway quote is a quote error at the line where it shows, then reading resumes
    text = "## dc-version: 1\n## schema: t\n## exported: 1\n## columns: a:int|b:str\n" + '1|"open\n2|"b"\n3|c\n'
    f = read_dc(text)
    assert [r[0] for r in f.rows] == [3] and f.malformed[0][0] == 5


@pytest.mark.parametrize(
    "header, message",
    [
        ("## schema: t\n## exported: 1\n## columns: a:int\n", "missing metadata"),
        ("## dc-version: 2\n## schema: t\n## exported: 1\n## columns: a:int\n", "unsupported dc-version"),
        ("## dc-version: 1\n## schema: t\n## exported: soon\n## columns: a:int\n", "exported must be unix seconds"),
        ("## dc-version: 1\n## schema: t\n## schema: u\n## exported: 1\n## columns: a:int\n", "duplicate metadata"),
        ("## dc-version: 1\n## schema t\n## exported: 1\n## columns: a:int\n", "key: value"),
        ("## dc-version: 1\n## schema: t\n## exported: 1\n## columns: a:float\n", "bad column spec"),
    ],
)
def test_unreadable_headers_raise_clear_errors(header, message):
    with pytest.raises(DcFormatError, match=message):
        read_dc(header + "1\n")


def test_table_files_layout():
    paths = ["exports/a.dc", "exports/b/part-002.dc", "exports/b/part-001.dc", "exports/bb.dc", "incoming/x.json"]
    assert table_files(paths, "a") == ["exports/a.dc"]
    assert table_files(paths, "b") == ["exports/b/part-001.dc", "exports/b/part-002.dc"]
    assert table_files(paths, "c") == []
    assert dialect.export_tables(paths) == ["a", "b", "bb"]


# -- world generator ------------------------------------------------------------------------


def test_world_is_deterministic_and_seed_dependent():
    a, b = build_world(11), build_world(11)
    assert a.world_hash() == b.world_hash() == world(11).world_hash()
    assert a.files == b.files and a.now == b.now
    assert build_world(12).world_hash() != a.world_hash()
    assert a.name == "datacorp" and a.protocol == "rigorous"


def test_option_validation_names_the_accepted_options():
    with pytest.raises(ValueError, match=r"unknown DataCorp world option.*'ordrs'.*accepted: .*orders"):
        check_options({"ordrs": 10})
    for bad in ({"orders": -1}, {"orders": "many"}, {"malformed_rate": 0.9}, {"batches": 0}, {"hard_case_rate": True}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            check_options(bad)
    with pytest.raises(ValueError, match="batch_min_records"):
        check_options({"batch_min_records": 50, "batch_max_records": 40})
    assert check_options({}) == DEFAULT_OPTIONS


def test_knobs_change_the_world():
    w = build_world(3, {"malformed_rate": 0.0, "rows_per_part": 500, "orders": 800, "batches": 3})
    assert all(not read_dc(t).malformed for p, t in w.files.items() if p.endswith(".dc"))
    assert len(table_files(w.files, "orders")) >= 2
    assert len([p for p in w.files if p.startswith("incoming/")]) == 3
    n_orders = sum(len(read_dc(w.files[p]).rows) for p in table_files(w.files, "orders"))
    assert 600 <= n_orders <= 1000


def test_exports_parse_back_to_the_generated_rows():
    w = world()
    for table in TABLES:
        files = table_files(w.files, table)
        assert files, table
        parsed = [read_dc(w.files[p]) for p in files]
        rows = [r for f in parsed for r in f.rows]
        malformed = sum(len(f.malformed) for f in parsed)
        generated = w.facts["tables"][table]["rows"]
        damaged = set(w.facts["damaged"][table])
        assert malformed == len(damaged) > 0, table
        assert rows == [tuple(g) for g in generated if str(g[0]) not in damaged], table
        assert {f.exported for f in parsed} == {w.now}


def test_exports_contain_the_hard_cases():
    w = world()
    text = "".join(t for p, t in w.files.items() if p.endswith(".dc"))
    rows = [r for t in TABLES for p in table_files(w.files, t) for r in read_dc(w.files[p]).rows]
    strings = [v for r in rows for v in r if isinstance(v, str)]
    assert any("\n" in s for s in strings)
    assert any("|" in s for s in strings)
    assert any('"' in s for s in strings)
    assert any(s.startswith("#") for s in strings)
    assert any(not s.isascii() for s in strings)
    assert '""' in text
    customers = [r for p in table_files(w.files, "customers") for r in read_dc(w.files[p]).rows]
    emails = [r[2] for r in customers]
    assert None in emails and "" in emails


def test_world_surface():
    w = world()
    assert {"overview", "dialect", "validation-api"} <= set(w.docs)
    assert set(CODES) <= set(w.entities) and "orders" in w.entities
    fx = json.loads(w.files["reference/fx.json"])
    assert fx["base"] == "USD" and fx["rates"]["USD"] == 1.0 and set(fx["rates"]) == {"USD", "EUR", "GBP", "CHF"}
    assert HOST in w.http.hosts
    for p in [p for p in w.files if p.startswith("incoming/")]:
        batch = json.loads(w.files[p])
        assert set(batch) == {"batch_id", "schema", "source", "received_at", "records"}


# -- validation API ---------------------------------------------------------------------------


def post(access: WorldAccess, schema: str, records: list) -> dict:
    resp = access.http_post(f"{BASE_URL}/validate", json={"schema": schema, "records": records})
    assert resp["status"] == 200, resp
    return json.loads(resp["body"])


def export_record(w: World, table: str, index: int = 0) -> dict:
    """A clean, well-formed export row as a JSON record."""
    files = table_files(w.files, table)
    bad = set(w.facts["damaged"][table]) | set(w.facts["quality"][table])
    for p in files:
        f = read_dc(w.files[p])
        rows = [r for r in f.rows if str(r[0]) not in bad]
        if rows:
            return to_record(f.columns, rows[index])
    raise AssertionError("no clean row")


def test_clean_export_rows_are_valid():
    w = world()
    acc = WorldAccess(w)
    for table in TABLES:
        out = post(acc, table, [export_record(w, table, i) for i in range(5)])
        assert out["invalid"] == 0, (table, out["results"])


def test_every_dc_code_is_reachable():
    w = world()
    acc = WorldAccess(w)
    o = export_record(w, "orders")
    c = export_record(w, "customers")
    p = export_record(w, "products")
    s = export_record(w, "shipments")
    r = export_record(w, "refunds")
    limits = w.facts["limits"]
    wrong_cur = next(x for x in ("USD", "EUR", "GBP", "CHF") if x != o["currency"])
    cases = {
        "DC-001": ("orders", [{k: v for k, v in o.items() if k != "sku"}]),
        "DC-002": ("customers", [{**c, "nickname": "x"}]),
        "DC-003": ("orders", [{**o, "quantity": "2"}]),
        "DC-004": ("orders", [{**o, "quantity": limits.quantity_max + 1}]),
        "DC-005": ("orders", [{**o, "status": "PAID"}]),
        "DC-006": ("products", [{**p, "sku": "sku-1"}]),
        "DC-007": ("shipments", [{**s, "delivered_at": s["shipped_at"] - 1}]),
        "DC-008": ("customers", [c, {**c}]),
        "DC-009": ("refunds", [{**r, "order_id": 10**9}]),
        "DC-010": ("orders", [{**o, "currency": wrong_cur}]),
    }
    assert set(cases) == set(CODES)
    for code, (schema, records) in cases.items():
        out = post(acc, schema, records)
        last = out["results"][-1]
        assert [e["code"] for e in last["errors"]] == [code], (code, last)
        assert all(e["field"] and e["message"] for e in last["errors"])
    # the first occurrence of a duplicate key is not flagged
    dup = post(acc, "customers", [c, c])["results"]
    assert dup[0]["valid"] and not dup[1]["valid"]


def test_check_order_and_semantics():
    w = world()
    acc = WorldAccess(w)
    o = export_record(w, "orders")
    # absent and null are the same; an optional field may be absent
    res = post(acc, "orders", [{**o, "sku": None}])["results"][0]
    assert [(e["code"], e["field"]) for e in res["errors"]] == [("DC-001", "sku")] and res["key"] == o["order_id"]
    c = export_record(w, "customers")
    c_free = {**c, "tier": "free"}
    c_free.pop("email")
    assert post(acc, "customers", [c_free])["valid"] == 1
    # a rule is skipped when a field it involves failed its own check
    res = post(acc, "orders", [{**o, "quantity": 0}])["results"][0]
    assert [e["code"] for e in res["errors"]] == ["DC-004"]
    res = post(acc, "orders", [{**o, "quantity": o["quantity"] + 1}])["results"][0]
    assert [e["code"] for e in res["errors"]] == ["DC-007"]
    # decimals: at most two places, numbers only
    assert post(acc, "orders", [{**o, "unit_price": 1.005}])["results"][0]["errors"][0]["code"] == "DC-003"
    assert post(acc, "orders", [{**o, "amount": str(o["amount"])}])["results"][0]["errors"][0]["code"] == "DC-003"
    # multiple errors are sorted by code, then field; the key is null when the pk failed
    res = post(acc, "orders", [{**o, "order_id": "x", "status": "nope", "zz": 1, "aa": 2}])["results"][0]
    assert [(e["code"], e["field"]) for e in res["errors"]] == [
        ("DC-002", "aa"),
        ("DC-002", "zz"),
        ("DC-003", "order_id"),
        ("DC-005", "status"),
    ]
    assert res["key"] is None
    # timestamps after the export clock are out of range
    res = post(acc, "orders", [{**o, "created_at": w.now + 1}])["results"][0]
    assert [e["code"] for e in res["errors"]] == ["DC-004"]


def test_foreign_keys_use_the_database_not_the_damaged_exports():
    w = world()
    acc = WorldAccess(w)
    damaged = w.facts["damaged"]["customers"]
    cust = next(row for row in w.facts["tables"]["customers"]["rows"] if str(row[0]) in damaged)
    o = export_record(w, "orders")
    rec = {**o, "customer_id": cust[0], "currency": REGION_CURRENCY[cust[3]]}
    assert post(acc, "orders", [rec])["valid"] == 1
    deleted = w.facts["deleted_customers"][0]
    res = post(acc, "orders", [{**o, "customer_id": deleted}])["results"][0]
    assert [e["code"] for e in res["errors"]] == ["DC-009"]


@pytest.mark.parametrize(
    "body, status, needle",
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"schema": "orders"}', 400, "missing key"),
        (b'{"schema": "orders", "records": [], "strict": true}', 400, "unknown key"),
        (b'{"schema": "orders", "records": {}}', 400, "records must be a JSON list"),
        (b'{"schema": "orders", "records": [1]}', 400, "records[0]"),
        (b'{"schema": "order", "records": []}', 404, "unknown schema"),
    ],
)
def test_bad_requests_get_clear_errors(body, status, needle):
    w = world()
    req = httpx.Request("POST", f"{BASE_URL}/validate", content=body, headers={"content-type": "application/json"})
    resp = w.http.transport.handle_request(req)
    resp.read()
    assert resp.status_code == status
    payload = json.loads(resp.content)
    assert needle in payload["error"]
    assert "accepted_keys" in payload or "schemas" in payload or "index" in payload


def test_other_http_errors():
    w = world()
    acc = WorldAccess(w)
    resp = acc.http_get(f"{BASE_URL}/schemas/nope")
    assert resp["status"] == 404 and "orders" in json.loads(resp["body"])["schemas"]
    resp = acc.http_get(f"{BASE_URL}/validate")
    assert resp["status"] == 405 and resp["headers"]["allow"] == "POST"
    resp = acc.http_post(f"{BASE_URL}/schemas", json={})
    assert resp["status"] == 405
    resp = acc.http_post(f"{BASE_URL}/validate", json={"schema": "orders", "records": [{}] * (MAX_RECORDS + 1)})
    assert resp["status"] == 413
    assert json.loads(acc.http_get(f"{BASE_URL}/schemas")["body"]) == sorted(TABLES)
    assert json.loads(acc.http_get(f"{BASE_URL}/codes")["body"]) == CODES
    schema = json.loads(acc.http_get(f"{BASE_URL}/schemas/orders")["body"])
    qty = next(f for f in schema["fields"] if f["name"] == "quantity")
    assert qty["max"] == w.facts["limits"].quantity_max and schema["primary_key"] == "order_id"


def test_loopback_serves_the_same_bytes():
    w = world()
    o = export_record(w, "orders")
    body = json.dumps({"schema": "orders", "records": [o, {**o, "status": "x"}, {"a": 1}]}).encode()
    base = w.http.serve(HOST)
    try:
        with httpx.Client(timeout=10) as client:
            for method, path, content in (
                ("POST", "/validate", body),
                ("GET", "/schemas/orders", None),
                ("GET", "/schemas/nope", None),
                ("POST", "/validate", b"nope"),
            ):
                hdrs = {"content-type": "application/json"} if content else {}
                remote = client.request(method, base + path, content=content, headers=hdrs)
                local = w.http.transport.handle_request(
                    httpx.Request(method, BASE_URL + path, content=content, headers=hdrs)
                )
                local.read()
                assert remote.status_code == local.status_code
                assert remote.content == local.content
    finally:
        w.http.close()


def test_incoming_batches_show_every_code():
    w = world()
    acc = WorldAccess(w)
    seen = set()
    for p in sorted(x for x in w.files if x.startswith("incoming/")):
        b = json.loads(w.files[p])
        out = post(acc, b["schema"], b["records"])
        assert 0 < out["invalid"] < out["checked"]
        seen |= {e["code"] for r in out["results"] for e in r["errors"]}
    assert seen == set(CODES)
