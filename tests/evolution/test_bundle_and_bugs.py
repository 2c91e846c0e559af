"""The sim author's raw material: bundled reference tools and the bug model."""

from __future__ import annotations

import ast
from collections.abc import Iterator

import numpy as np
import pytest

from agents.sim.author import clean_source
from agents.sim.bugs import BUG_KINDS, bug_sites, mutate, restore
from envs.bundle import BundleError, bundle_tool
from envs.reference_cases import edge_cases, nominal_cases
from envs.registry import WORLDS
from envs.tasks import available, get_suite
from envs.tools import tool_spec
from evolution.sandbox.runner import Limits, Sandbox
from evolution.static_policy import check_source
from experiments.differential import differential

SUITES = available()  # every registered world and protocol (tests/conftest.py imports the plugin world too)
PROJECT = ("envs", *(entry.package for entry in WORLDS.values()))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.mark.parametrize(("world", "protocol"), SUITES)
def test_every_reference_tool_bundles_into_policy_clean_self_contained_source(world: str, protocol: str):
    for fn in get_suite(world, protocol).reference_tools():
        src = bundle_tool(fn)
        report = check_source(src)
        assert report.ok, f"{fn.__name__}: {report.summary()}"
        tree = ast.parse(src)
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        project = {m for m in imported if m and any(m == p or m.startswith(p + ".") for p in PROJECT)}
        assert project <= {"envs.toolkit"}, fn.__name__
        assert any(isinstance(n, ast.FunctionDef) and n.name == fn.__name__ for n in tree.body)


def test_bundling_refuses_code_that_needs_a_third_party_package():
    from envs.acmecorp import world as acme_world

    with pytest.raises(BundleError, match=r"numpy|httpx|not in the standard library"):
        bundle_tool(acme_world.build_world)


@pytest.mark.parametrize(("world", "names"), [("acmecorp", ["log_group_count", "metrics_series_stats",
                                                           "acmeconf_effective"]),
                                              ("datacorp", ["dc_aggregate", "dcql_query", "val_batch"])])  # fmt: skip
def test_bundled_tools_behave_exactly_like_the_reference_in_the_sandbox(sandbox: Sandbox, world: str, names: list):
    suite = get_suite(world, "rigorous")
    nominal = nominal_cases(suite, 3)
    cases = nominal + edge_cases([tool_spec(f) for f in suite.reference_tools()], nominal, 3)
    for name in names:
        result = differential(sandbox, suite, name, clean_source(world, "rigorous", name), cases)
        assert result.n >= 2, name
        assert result.all_passed, (name, result.failures)


@pytest.mark.parametrize("kind", BUG_KINDS)
def test_each_bug_kind_edits_the_code_and_a_repair_restores_it(kind: str):
    mutated = None
    for name in ("log_count", "metrics_get", "log_charges"):  # the first with a site for this kind
        clean = clean_source("acmecorp", "rigorous", name)
        mutated = mutate(clean, name, kind, np.random.default_rng(0))
        if mutated is not None:
            break
    assert mutated is not None
    sites = bug_sites(mutated, clean)
    assert sites, kind
    assert bug_sites(restore(mutated, clean, set(sites)), clean) == []
    if kind == "forbidden_import":
        assert not check_source(mutated).ok
    else:
        assert check_source(mutated).ok


def test_a_bug_changes_behaviour_where_the_data_exercises_it():
    """The retry-loop bug: fine on valid input, a runaway on input the reference rejects."""
    with Sandbox(Limits(wall_s=1.5, cpu_s=1.5)) as sandbox:  # short limits: the runaway cases end sooner
        _check_retry_bug(sandbox)


def _check_retry_bug(sandbox: Sandbox) -> None:
    suite = get_suite("acmecorp", "rigorous")
    clean = clean_source("acmecorp", "rigorous", "log_count")
    buggy = mutate(clean, "log_count", "unbounded_loop", np.random.default_rng(0))
    assert buggy is not None
    access = suite.access(suite.get_world(3))
    good = sandbox.call(buggy, "log_count", {"service": "payments"}, access)
    assert good.ok and isinstance(good.value, int)
    bad = sandbox.call(buggy, "log_count", {"severity": "LOUD"}, access)  # the reference raises ValueError
    assert not bad.ok and bad.reason in ("rpc_limit", "timeout", "cpu_limit")  # whichever limit it hits first
    nominal = nominal_cases(suite, 3)
    edges = [
        c for c in edge_cases([tool_spec(f) for f in suite.reference_tools()], nominal, 3) if c.tool == "log_count"
    ]
    assert any(c.args.get("severity") == "no-such-name" for c in edges)
    result = differential(sandbox, suite, "log_count", buggy, [c for c in nominal if c.tool == "log_count"] + edges)
    assert not result.all_passed  # a hang where the reference raises is a disagreement
    assert differential(
        sandbox, suite, "log_count", clean, [c for c in nominal if c.tool == "log_count"] + edges
    ).all_passed


def test_unknown_bug_kind_is_refused_with_the_accepted_kinds():
    with pytest.raises(ValueError, match="off_by_one"):
        mutate("def f():\n    return 1\n", "f", "typo", np.random.default_rng(0))


def _author_answer(overrides: dict, meta: dict, prompt: str = "") -> str:
    from agents.sim.author import respond
    from agents.sim.profiles import get_profile
    from evolution.prompts import SYSTEM

    base = {"world": "acmecorp", "protocol": "rigorous", "evolution": 0, "attempt": 0, "round": 1}
    # The sim reads the whole request: the system message documents the API its code calls.
    return respond(get_profile("sim-4o-mini-like", overrides), {**base, **meta}, SYSTEM + "\n" + prompt, seed=1)


def test_the_sim_author_repairs_what_the_verdict_implicates_at_its_stated_rate():
    from evolution.parsing import Gap, parse_tool
    from evolution.prompts import repair_prompt

    clean = clean_source("acmecorp", "rigorous", "log_count")
    buggy = mutate(clean, "log_count", "forbidden_import", np.random.default_rng(0))
    assert buggy is not None
    prompt = repair_prompt(Gap("log_count", "count"), buggy, "def test_x():\n    pass\n", "static policy: import os")
    meta = {"step": "repair", "gap": {"name": "log_count"}, "feedback": ["static_policy"]}
    fixed = parse_tool(_author_answer({"p_repair": 1.0, "p_repair_regress": 0.0}, meta, prompt)).value
    kept = parse_tool(_author_answer({"p_repair": 0.0, "p_repair_regress": 0.0}, meta, prompt)).value
    assert fixed is not None and kept is not None
    assert bug_sites(fixed.code, clean) == [] and check_source(fixed.code).ok
    assert bug_sites(kept.code, clean) and not check_source(kept.code).ok
    assert fixed.tests == "def test_x():\n    pass\n"  # its tests travel with the repaired code


def test_the_sim_author_diagnoses_gaps_from_its_failed_plans_with_a_misdiagnosis_rate():
    import json

    failures = [{"family": "f", "missing": [{"tool": "log_count", "args": {}}], "used": []}] * 3
    meta = {"step": "gaps", "failures": failures, "library": [], "max_gaps": 1}
    right = json.loads(_author_answer({"p_misdiagnose": 0.0}, meta).split("```json\n")[1].split("```")[0])
    wrong = json.loads(_author_answer({"p_misdiagnose": 1.0}, meta).split("```json\n")[1].split("```")[0])
    assert [g["name"] for g in right["gaps"]] == ["log_count"]
    (gap,) = wrong["gaps"]
    assert gap["name"] != "log_count" and gap["name"] in {f.__name__ for f in get_suite("acmecorp").reference_tools()}
