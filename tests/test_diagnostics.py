"""Tool-Genesis diagnostics (experiments.diagnostics): L1 compliance, L2 Schema-F1, L3 UT-soft/UT-hard, funnel."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.sim.bugs import mutate
from evolution.differential import Expected
from evolution.sandbox import Sandbox
from evolution.sandbox.runner import CallOutcome
from experiments.diagnostics import (
    EvolvedTool,
    diagnose_library,
    diagnose_reference,
    diagnose_tools,
    field_fraction,
    reference_as_evolved,
    score_case,
)

WORLD, PROTOCOL, SEED = "acmecorp", "rigorous", 3


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture(scope="module")
def refs() -> dict[str, EvolvedTool]:
    return {t.name: t for t in reference_as_evolved(WORLD, PROTOCOL)}


def run(tools: list[EvolvedTool], sandbox: Sandbox, scope: list[str] | None) -> dict[str, Any]:
    return diagnose_tools(tools, world=WORLD, protocol=PROTOCOL, seed=SEED, sandbox=sandbox, reference_tools=scope)


def test_comparators_score_fields_and_failures() -> None:
    assert field_fraction({"a": 1, "b": 2}, {"a": 1, "b": 3}) == 0.5
    assert field_fraction({"a": 1}, {"a": 1, "extra": 0}) == 0.5  # extra keys count against
    assert field_fraction([1, 2, 3, 4], [1, 2, 3]) == 0.75
    assert field_fraction(1, 1.0) == 1.0 and field_fraction(True, 1) == 0.0  # typed: bool is not a number
    assert score_case(Expected(True, {"a": 1, "b": 2}), CallOutcome(True, {"a": 1, "b": 0})) == (0.5, 0.0)
    assert score_case(Expected(False, error="E"), CallOutcome(False, error="ValueError")) == (1.0, 1.0)
    assert score_case(Expected(False, error="E"), CallOutcome(False, reason="timeout")) == (0.0, 0.0)
    assert score_case(Expected(False, error="E"), CallOutcome(True, 0)) == (0.0, 0.0)
    assert score_case(Expected(True, 1), None) == (0.0, 0.0)


def test_reference_against_itself_scores_one_everywhere(sandbox: Sandbox) -> None:
    r = diagnose_reference(WORLD, PROTOCOL, SEED, sandbox=sandbox)
    assert len(r["tools"]) == len(r["reference_scope"]) == 18
    assert all(v == 1.0 for v in r["l1"].values()), r["l1"]
    for name, info in r["tools"].items():
        assert info["compliance"] and info["exec"] and info["matched"] == name, (name, info)
    l2 = r["l2"]
    assert l2["tool_f1"] == l2["arg_f1"] == l2["type_agreement"] == l2["required_agreement"] == 1.0
    assert r["l3"]["library"]["ut_soft"] == r["l3"]["library"]["ut_hard"] == 1.0
    assert r["l3"]["library"]["n_reference_unmeasured"] == 0
    kinds = {k for e in r["l3"]["per_reference"].values() for k in e["by_kind"]}
    assert kinds == {"nominal", "boundary", "negative"}  # all three case kinds were exercised
    assert [s["share"] for s in r["funnel"]] == [1.0] * 5
    json.dumps(r)


def test_wrong_schema_fails_arg_agreement_but_passes_behaviour(sandbox: Sandbox, refs: dict[str, EvolvedTool]) -> None:
    good = refs["metrics_get"]
    assert good.parameters["required"] == ["service"]
    no_required = EvolvedTool(good.name, good.code, {**good.parameters, "required": []})
    r = run([no_required], sandbox, ["metrics_get"])
    info = r["tools"]["metrics_get"]
    assert info["schema"] and info["policy"] and not info["signature"] and not info["compliance"]
    assert r["l2"]["required_agreement"] < 1.0 and r["l2"]["tool_f1"] == 1.0
    assert r["l3"]["per_reference"]["metrics_get"]["ut_hard"] == 1.0  # behaviour on the matched args is right
    assert r["funnel"][1]["count"] == 0  # non-compliant: out of the funnel at the first stage

    params = copy.deepcopy(good.parameters)
    params["properties"]["win"] = params["properties"].pop("window")  # renamed in the schema only
    renamed = EvolvedTool(good.name, good.code, params)
    r2 = run([renamed], sandbox, ["metrics_get"])
    assert not r2["tools"]["metrics_get"]["signature"]
    assert r2["l2"]["arg_f1"] < 1.0 and r2["l2"]["arg_precision"] == r2["l2"]["arg_recall"] == 2 / 3


def test_boundary_bug_is_partly_right(sandbox: Sandbox, refs: dict[str, EvolvedTool]) -> None:
    name = "metrics_series_stats"
    good = refs[name]
    buggy_code = mutate(good.code, name, "off_by_one", np.random.default_rng(0))
    assert buggy_code is not None and buggy_code != good.code
    clean = run([good], sandbox, [name])["l3"]["per_reference"][name]
    buggy = run([EvolvedTool(name, buggy_code, good.parameters)], sandbox, [name])["l3"]["per_reference"][name]
    assert clean["ut_soft"] == clean["ut_hard"] == 1.0
    assert 0.0 < buggy["ut_hard"] < 1.0
    assert buggy["ut_hard"] < buggy["ut_soft"] < 1.0  # soft credit for the fields still right


def test_unmatched_reference_tools_count_as_failures(sandbox: Sandbox, refs: dict[str, EvolvedTool]) -> None:
    r = run([refs["log_malformed"]], sandbox, None)  # scope: every reference tool of the world
    n = len(r["reference_scope"])
    assert n == 18
    assert r["l3"]["library"]["ut_hard"] == pytest.approx(1 / n)
    assert r["l3"]["library"]["ut_soft"] == pytest.approx(1 / n)
    others = [e for k, e in r["l3"]["per_reference"].items() if k != "log_malformed"]
    assert all(e["n_cases"] > 0 and e["ut_hard"] == 0.0 and e["matched"] is None for e in others)
    assert r["l2"]["tool_precision"] == 1.0 and r["l2"]["tool_recall"] == pytest.approx(1 / n)


def test_static_policy_failure_fails_compliance_and_leaves_the_funnel(
    sandbox: Sandbox, refs: dict[str, EvolvedTool]
) -> None:
    good = refs["log_malformed"]
    bad_code = mutate(good.code, good.name, "forbidden_import", np.random.default_rng(0))
    assert bad_code is not None and "import os" in bad_code
    tools = [EvolvedTool(good.name, bad_code, good.parameters), refs["metrics_services"]]
    r = run(tools, sandbox, ["log_malformed", "metrics_services"])
    bad = r["tools"]["log_malformed"]
    assert bad["parse"] and bad["schema"] and bad["signature"] and not bad["policy"]
    assert not bad["compliance"] and not bad["exec"] and bad["matched"] is None and bad["smoke"] is None
    assert "log_malformed" not in r["matching"]
    assert r["l3"]["per_reference"]["log_malformed"]["ut_hard"] == 0.0
    assert r["l3"]["per_reference"]["metrics_services"]["ut_hard"] == 1.0
    assert [s["count"] for s in r["funnel"]] == [2, 1, 1, 1, 1]
    assert r["funnel"][1]["share"] == 0.5


def test_renamed_tool_is_matched_by_behaviour(sandbox: Sandbox, refs: dict[str, EvolvedTool]) -> None:
    good = refs["metrics_get"]
    assert good.code.count("def metrics_get(") == 1
    renamed = EvolvedTool("fetch_metrics", good.code.replace("def metrics_get(", "def fetch_metrics("), good.parameters)
    r = run([renamed], sandbox, None)
    match = r["matching"]["fetch_metrics"]
    assert match["reference"] == "metrics_get" and match["how"] == "hungarian"
    assert match["behaviour"] == 1.0 and match["args"] == 1.0
    assert r["l3"]["per_reference"]["metrics_get"]["ut_hard"] == 1.0
    assert r["tools"]["fetch_metrics"]["compliance"] and r["tools"]["fetch_metrics"]["exec"]


def _scores(node: Any, key: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _scores(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _scores(v, key)
    elif isinstance(node, (float, bool)):
        yield key, float(node)


def test_diagnose_a_real_arise_job(tmp_path: Path, sandbox: Sandbox) -> None:
    from experiments.config import compose_run_config
    from experiments.run import run_job

    job = tmp_path / "job"
    overrides = ["condition=arise", f"world={WORLD}", f"protocol={PROTOCOL}", f"seed={SEED}", "progress=false"]
    run_job(compose_run_config(overrides), job)
    before = sorted(p.name for p in job.iterdir())
    r = diagnose_library(job, world=WORLD, protocol=PROTOCOL, seed=SEED, sandbox=sandbox)
    assert sorted(p.name for p in job.iterdir()) == before  # read-only: no WAL or shm files appear
    json.loads(json.dumps(r))
    active = {p.stem for p in (job / "library").glob("*.py") if p.stem != "__init__"}
    assert active and set(r["tools"]) == active
    assert r["held_out_seed"] not in {SEED}
    for key, value in _scores(r):
        if key not in ("behaviour_weight", "threshold"):
            assert 0.0 <= value <= 1.0, (key, value)
    shares = [s["share"] for s in r["funnel"]]
    assert shares[0] == 1.0 and all(a >= b for a, b in itertools.pairwise(shares))
    assert r["l2"]["n_evolved"] == len(active)
    assert r["l3"]["library"]["n_reference_measured"] == 18
    with pytest.raises(ValueError, match="seed"):
        diagnose_library(job, world=WORLD, protocol=PROTOCOL, seed=SEED + 1, sandbox=sandbox)
