"""DataCorp query phase: the DCQL tool over real exports, and the sanity gates per family.

Instances are drawn exactly like ``Suite.instance`` does (same seed streams and
re-sampling), without needing the DataCorp suite to be registered: 20 test worlds for
the oracle and the null answers, 3 train worlds for the majority baseline.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest

from agents.scripted import random_like
from envs import seeding
from envs.access import WorldAccess
from envs.datacorp import dcql
from envs.datacorp.dcql_tools import DCQL_TOOLS, MAX_ROWS, ExportTables, load_rates
from envs.datacorp.tasks_query import QUERY_FAMILIES, ErrorOrRows, ResultRows, rows_of, run
from envs.datacorp.world import build_world
from envs.grading import ExactInt, grade_answer
from envs.oracle import tool_executor, trace_solver
from envs.tasks import DegenerateTask, TaskFamily
from envs.tools import InProcessRunner
from envs.world import World

TEST_SEEDS = range(1, 21)
TRAIN_SEEDS = [seeding.derive_seed(7, "world", "train", k) for k in range(3)]
RUNNER = InProcessRunner.of(DCQL_TOOLS)


@functools.cache
def world(seed: int) -> World:
    return build_world(seed, {})


def instance(w: World, fam: TaskFamily, index: int = 0) -> tuple[dict[str, Any], Any]:
    access = WorldAccess(w)
    for attempt in range(200):
        rng = seeding.rng(w.seed, "task", fam.name, index, attempt)
        try:
            params = fam.sample(w, rng)
            return params, fam.truth(access, params)
        except DegenerateTask:
            continue
    raise AssertionError(f"{fam.name}: no instance on seed {w.seed}")


def oracle(w: World, fam: TaskFamily, params: dict[str, Any]) -> Any:
    trace = trace_solver(fam.solve(w, params), tool_executor(RUNNER, WorldAccess(w)), fam.name)
    failed = [s.observation for s in trace.steps if s.output is None]
    assert not failed, failed[0]
    return trace.answer


@pytest.fixture(scope="module")
def instances() -> dict[str, list[tuple[World, dict[str, Any], Any]]]:
    out: dict[str, list[tuple[World, dict[str, Any], Any]]] = defaultdict(list)
    for seed in TEST_SEEDS:
        w = world(seed)
        for fam in QUERY_FAMILIES:
            params, truth = instance(w, fam)
            out[fam.name].append((w, params, truth))
    return out


@pytest.fixture(scope="module")
def majority() -> dict[str, Any]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for seed in TRAIN_SEEDS:
        w = world(seed)
        for fam in QUERY_FAMILIES:
            counts[fam.name][json.dumps(instance(w, fam)[1], sort_keys=True)] += 1
    return {name: json.loads(c.most_common(1)[0][0]) for name, c in counts.items()}


# -- the families --------------------------------------------------------------------------


def test_query_families_cover_difficulties_and_have_schemas():
    assert len(QUERY_FAMILIES) >= 8
    assert len({f.name for f in QUERY_FAMILIES}) == len(QUERY_FAMILIES)
    assert {f.difficulty for f in QUERY_FAMILIES} == {"easy", "medium", "hard"}
    for fam in QUERY_FAMILIES:
        assert fam.phase == "query" and fam.name.startswith("query.") and fam.answer_schema


def test_oracle_scores_100_percent_on_every_family(instances):
    for name, items in instances.items():
        fam = next(f for f in QUERY_FAMILIES if f.name == name)
        for w, params, truth in items:
            answer = oracle(w, fam, params)
            grade = grade_answer(json.dumps(answer), truth, fam.comparator(params))
            assert grade.success, (name, w.seed, params["query"], grade.detail)


def _null_answers(w: World, fam: TaskFamily, params: dict[str, Any], seed: int, majority: dict[str, Any]):
    rng = seeding.rng(seed, "null_random", fam.name)
    return {
        "empty": "",
        "names": list(w.entities),
        "numbers": list(range(1000)),
        "random": random_like(fam.answer_schema, rng, list(w.entities)),
        "majority": majority[fam.name],
        "echo": fam.prompt(w, params),
    }


def test_null_answers_fail_on_at_least_75_percent_per_family(instances, majority):
    wins: dict[tuple[str, str], int] = Counter()
    for name, items in instances.items():
        fam = next(f for f in QUERY_FAMILIES if f.name == name)
        for w, params, truth in items:
            comp = fam.comparator(params)
            for null, answer in _null_answers(w, fam, params, w.seed, majority).items():
                raw = answer if isinstance(answer, str) else json.dumps(answer)
                wins[(null, name)] += grade_answer(raw, truth, comp).success
    for (null, name), n in wins.items():
        assert n / len(TEST_SEEDS) <= 0.25, (null, name, n)
    overall = sum(wins.values()) / (len(TEST_SEEDS) * len(QUERY_FAMILIES) * 6)
    assert overall <= 0.10, overall


def test_truth_varies_across_seeds(instances):
    for name, items in instances.items():
        truths = {json.dumps(t, sort_keys=True) for _, _, t in items}
        assert len(truths) > len(items) // 2, (name, len(truths))


def test_error_family_mixes_valid_and_rejected_queries(instances):
    items = instances["query.error_or_result"]
    errors = Counter(t["error"] for _, _, t in items if "error" in t)
    assert 0 < sum(errors.values()) < len(items)
    assert len(errors) >= 3, errors


def test_silently_ignoring_unknown_tokens_fails_the_error_family(instances):
    """An interpreter that skips what it does not understand answers the rows of the query
    without its mistake; that answer is graded wrong."""
    fam = next(f for f in QUERY_FAMILIES if f.name == "query.error_or_result")
    rejected = 0
    for w, params, truth in instances["query.error_or_result"]:
        if "error" not in truth:
            continue
        rejected += 1
        access = WorldAccess(w)
        lenient = {"rows": rows_of(run(access, params["valid_twin"]))}
        assert not grade_answer(json.dumps(lenient), truth, fam.comparator(params)).success
        assert not grade_answer(json.dumps({"error": "DCQL-E000"}), truth, fam.comparator(params)).success
    assert rejected >= 5


def test_prompts_state_the_query_and_the_grading():
    w = world(1)
    for fam in QUERY_FAMILIES:
        params, _ = instance(w, fam)
        prompt = fam.prompt(w, params)
        assert params["query"] in prompt and "Answer JSON schema" in prompt and "Grading:" in prompt


# -- the tool and the loader ----------------------------------------------------------------


def test_export_loader_matches_the_generated_tables_minus_malformed_records():
    w = world(3)
    access = WorldAccess(w)
    tables = ExportTables(access.list_files, access.read_file)
    assert sorted(tables) == sorted(w.facts["tables"])
    for name, gen in w.facts["tables"].items():
        damaged = set(w.facts["damaged"][name])
        expected = [
            tuple(float(v) if isinstance(v, Decimal) else v for v in row)
            for row in gen["rows"]
            if str(row[0]) not in damaged
        ]
        assert tables[name].rows == expected, name
        assert [c for c, _ in tables[name].columns] == [c.name for c in gen["columns"]]
        assert tables.clock(name) == w.now
    assert load_rates(access.read_file) == w.facts["fx"]["rates"]


def test_tool_runs_queries_and_reports_errors():
    w = world(2)
    access = WorldAccess(w)

    def call(q: str) -> dict[str, Any]:
        res = RUNNER.call("dcql_query", {"query": q}, access)
        assert res.ok, res.error
        return json.loads(res.output)

    out = call("SELECT COUNT(*) AS n FROM orders")
    assert out == {"columns": ["n"], "rows": [[len(ExportTables(access.list_files, access.read_file)["orders"].rows)]],
                   "row_count": 1}  # fmt: skip
    big = call("SELECT order_id FROM orders")
    assert len(big["rows"]) == MAX_ROWS and big["truncated"] and big["row_count"] > MAX_ROWS
    err = call("SELECT * FROM order_lines")
    assert err["error"] == "DCQL-E003" and "customers, orders, products, refunds, shipments" in err["message"]
    err = call("SELECT COUNT(*) FROM orders WHERE status = 'paid' AND foo > 1")
    assert err["error"] == "DCQL-E004" and "columns: order_id" in err["message"]
    err = call("SELECT DC_CONVERT(amount, 'JPY') FROM orders")
    assert err["error"] == "DCQL-E006" and "CHF, EUR, GBP, USD" in err["message"]
    spec = RUNNER.specs()[0].to_json()
    assert spec["name"] == "dcql_query" and spec["parameters"]["required"] == ["query"]


def test_dc_convert_and_timerange_use_the_world_rates_and_clock():
    w = world(4)
    access = WorldAccess(w)
    tables = ExportTables(access.list_files, access.read_file)
    rates = w.facts["fx"]["rates"]
    orders = tables["orders"]
    idx = {c: i for i, (c, _) in enumerate(orders.columns)}
    expected = round(sum(round(r[idx["amount"]] * rates[r[idx["currency"]]] / rates["EUR"], 2) for r in orders.rows), 6)
    res = dcql.execute("SELECT SUM(DC_CONVERT(amount, 'EUR')) FROM orders", tables, rates=rates, now=w.now)
    assert res.rows[0][0] == pytest.approx(expected, abs=1e-6)
    recent = sum(w.now - 86400 <= r[idx["created_at"]] < w.now for r in orders.rows)
    res = dcql.execute(
        "SELECT COUNT(*) FROM orders WHERE DC_TIMERANGE(created_at, '24h')", tables, rates=rates, now=w.now
    )
    assert res.rows[0][0] == recent


def test_handbook_page_is_in_the_world_and_its_examples_hold():
    w = world(1)
    page = w.docs["dcql"]
    for code in dcql.ERROR_CODES:
        assert code in page
    for fn in dcql.FUNCTIONS:
        assert fn in page
    access = WorldAccess(w)
    tables = ExportTables(access.list_files, access.read_file)
    rates = load_rates(access.read_file)
    blocks = re.findall(r"```sql\n(.*?)```", page, re.S)
    assert blocks
    checked = 0
    for block in blocks:
        for stmt in re.split(r"\n\s*\n|\n(?=SELECT )", block):
            lines = [ln for ln in stmt.strip().splitlines() if not ln.lstrip().startswith("--")]
            if not lines:
                continue
            text = "\n".join(lines)
            expect = re.search(r"--\s*(DCQL-E\d{3})", text)
            query = re.sub(r"\s+--.*$", "", text, flags=re.M)
            if expect:
                with pytest.raises(dcql.DcqlError) as info:
                    dcql.execute(query, tables, rates=rates, now=w.now)
                assert info.value.code == expect.group(1), query
            else:
                dcql.execute(query, tables, rates=rates, now=w.now)
            checked += 1
    assert checked >= 10


def test_result_rows_comparator():
    comp = ResultRows((("k", "str"), ("v", "num:0.01")), ordered=False)
    truth = [["a", 1.0], ["b", None]]
    assert comp.grade([["b", None], ["a", 1.004]], truth).success
    assert comp.grade({"columns": ["k", "v"], "rows": [["a", 1.0], ["b", None]]}, truth).success
    assert not comp.grade([["a", 1.0], ["b", 0]], truth).success
    assert not comp.grade([["a", 1.0]], truth).success
    assert (
        not ResultRows((("k", "str"), ("v", "num:0.01")), ordered=True).grade([["b", None], ["a", 1.0]], truth).success
    )
    eor = ErrorOrRows(ResultRows((("n", "int"),), ordered=False))
    assert eor.grade({"error": "dcql-e002"}, {"error": "DCQL-E002"}).success
    assert not eor.grade({"error": "DCQL-E002", "rows": [[1]]}, {"error": "DCQL-E002"}).success
    assert eor.grade({"rows": [[1]]}, {"rows": [[1]]}).success
    assert "any order" in comp.describe() and ExactInt().describe() in eor.describe()
