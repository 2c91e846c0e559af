"""Tool-Genesis diagnostics (experiments.diagnostics): L1 compliance, L2 Schema-F1, L3 UT-soft/UT-hard, funnel."""

from __future__ import annotations

import ast
import copy
import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from omegaconf import OmegaConf

from agents.llm import make_backend
from agents.react import ReActAgent
from agents.sim.bugs import mutate
from envs import ENV_IDS
from envs.reference_cases import Expected
from envs.tasks import get_suite
from evolution.library import Library
from evolution.sandbox import Sandbox
from evolution.sandbox.runner import CallOutcome
from experiments.config import compose_run_config
from experiments.diagnostics import (
    EvolvedTool,
    diagnose_candidates,
    diagnose_library,
    diagnose_reference,
    diagnose_tools,
    field_fraction,
    reference_as_evolved,
    score_case,
)
from experiments.downstream import diagnose_job, oracle_normalised, summarise_l4
from experiments.run import ConfigError, run_job

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


FAMILIES = (
    "[logs.severity_count,logs.errors_in_window,logs.top_error_service,metrics.current_value,"
    "metrics.window_value,config.effective_replicas]"
)
JOB = ["condition=arise", f"world={WORLD}", f"protocol={PROTOCOL}", f"seed={SEED}", f"families={FAMILIES}",
       "per_family=2", "progress=false", "evolution.failure_threshold=2", "evolution.per_episodes=2"]  # fmt: skip


def run_arise(out: Path, *extra: str) -> dict[str, Any]:
    return run_job(compose_run_config([*JOB, *extra]), out)


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("diag") / "arise"
    return out, run_arise(out)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_diagnose_a_real_arise_job(job: tuple[Path, dict[str, Any]], sandbox: Sandbox) -> None:
    out, result = job
    before = sorted(p.name for p in out.iterdir())
    r = diagnose_library(out, world=WORLD, protocol=PROTOCOL, seed=SEED, sandbox=sandbox)
    assert sorted(p.name for p in out.iterdir()) == before  # read-only: no WAL or shm files appear
    json.loads(json.dumps(r))
    active = {p.stem for p in (out / "library").glob("*.py") if p.stem != "__init__"}
    assert active and set(r["tools"]) == active
    seen = {rec["task"]["world_seed"] for rec in lines(out / "episodes.jsonl")}
    assert r["held_out_seed"] not in seen
    for key, value in _scores(r):
        if key not in ("behaviour_weight", "threshold"):
            assert 0.0 <= value <= 1.0, (key, value)
    shares = [s["share"] for s in r["funnel"]]
    assert shares[0] == 1.0 and all(a >= b for a, b in itertools.pairwise(shares))
    assert r["l2"]["n_evolved"] == len(active)
    assert r["l3"]["library"]["n_reference_measured"] == 18
    cands = r["candidates"]
    assert cands["n"] == result["candidates"] >= len(active)  # every version the pipeline produced
    # The job's own end-of-run diagnosis is the same (deterministic, same settings).
    d = result["diagnostics"]
    assert d["l1"] == r["l1"] and d["l2"] == r["l2"] and d["l3"] == r["l3"]["library"] and d["funnel"] == r["funnel"]
    assert d["candidates"]["funnel"] == cands["funnel"]
    with pytest.raises(ValueError, match="seed"):
        diagnose_library(out, world=WORLD, protocol=PROTOCOL, seed=SEED + 1, sandbox=sandbox)


# -- L4 and the job's diagnostics ---------------------------------------------------------------------
def test_oracle_normalised_success() -> None:
    assert oracle_normalised(0.5, 0.75, 0.25) == 0.5
    assert oracle_normalised(0.25, 0.75, 0.25) == 0.0 and oracle_normalised(0.75, 0.75, 0.25) == 1.0
    assert oracle_normalised(0.0, 0.75, 0.25) == -0.5  # a harmful library: not clipped
    assert oracle_normalised(1.0, 0.75, 0.25) == 1.5  # better than the reference tools: not clipped
    assert oracle_normalised(0.5, 0.25, 0.25) is None and oracle_normalised(0.5, 0.2, 0.4) is None


def _rec(family: str, success: bool) -> dict[str, Any]:
    return {"task": {"family": family}, "success": success, "llm": {"usage": {"llm_calls": 2, "tokens_in": 10}}}


def test_l4_summary_per_family_and_prediction_units() -> None:
    records = {
        "affordances": [_rec("a", False), _rec("a", False), _rec("b", True), _rec("c", False)],
        "reference": [_rec("a", True), _rec("a", True), _rec("b", True), _rec("c", True)],
        "library": [_rec("a", True), _rec("a", False), _rec("b", False), _rec("c", True)],
    }
    diag = {
        "tools": {"t1": {"compliance": True, "exec": True}, "t2": {"compliance": True, "exec": False}},
        "matching": {"t1": {"arg_f1": 1.0}, "t2": {"arg_f1": 0.5}},
        "l3": {"per_reference": {"r1": {"matched": "t1", "ut_soft": 0.9, "ut_hard": 0.8},
                                 "r2": {"matched": "t2", "ut_soft": 0.5, "ut_hard": 0.0},
                                 "r3": {"matched": None, "ut_soft": 0.0, "ut_hard": 0.0}}},
    }  # fmt: skip
    s = summarise_l4(records, {"a": ["r1", "r2"], "b": ["r1"], "c": ["r3"]}, diag)
    assert s["arms"]["library"] == {"n": 4, "success_rate": 0.5, "llm_failures": 0}
    assert s["sr"] == pytest.approx((0.5 - 0.25) / (1.0 - 0.25))
    assert s["by_family"]["a"]["sr"] == 0.5 and s["by_family"]["b"]["sr"] is None  # ref does not beat aff on b
    assert s["by_family"]["c"]["sr"] == 1.0
    units = {u["family"]: u for u in s["units"]}
    assert set(units) == {"a", "c"}
    assert units["a"] == {"family": "a", "l1": 0.5, "l2": 0.75, "l3_soft": 0.7, "l3_hard": 0.4, "l4": 0.5}
    assert units["c"] == {"family": "c", "l1": 0.0, "l2": 0.0, "l3_soft": 0.0, "l3_hard": 0.0, "l4": 1.0}
    assert s["llm_calls"] == 24 and s["tokens_in"] == 120 and s["cost_usd"] is None


def test_arise_job_ends_with_l1_to_l4(job: tuple[Path, dict[str, Any]]) -> None:
    out, result = job
    d = result["diagnostics"]
    plan = json.loads((out / "diagnostics" / "plan.json").read_text())
    assert plan["settings_hash"] == d["settings_hash"] and len(plan["instances"]) == 6  # one per family
    seen = {rec["task"]["world_seed"] for rec in lines(out / "episodes.jsonl")}
    arms = {arm: lines(out / "diagnostics" / f"l4_{arm}.jsonl") for arm in ("affordances", "reference", "library")}
    for arm, recs in arms.items():
        assert [r["task"]["id"] for r in recs] == plan["instances"]
        assert {r["task"]["world_seed"] for r in recs} == {d["held_out_seed"]} and d["held_out_seed"] not in seen
        assert d["l4"]["arms"][arm] == {"n": 6, "success_rate": sum(r["success"] for r in recs) / 6, "llm_failures": 0}
    offered = {arm: set(recs[0]["tools_offered"]) for arm, recs in arms.items()}
    active = {n.split(" v")[0] for n in result["evolution"]["library"]}
    assert offered["library"] - offered["affordances"] == active  # the frozen library, nothing else
    assert offered["reference"] > offered["affordances"]
    rate = {a: d["l4"]["arms"][a]["success_rate"] for a in arms}
    assert rate["reference"] > rate["affordances"]  # on the sim the reference tools help
    assert d["l4"]["sr"] == pytest.approx(oracle_normalised(rate["library"], rate["reference"], rate["affordances"]))
    assert d["l4"]["units"] and all(
        set(u) == {"family", "l1", "l2", "l3_soft", "l3_hard", "l4"} for u in d["l4"]["units"]
    )
    full = json.loads((out / "diagnostics" / "diagnostics.json").read_text())
    assert full["l4"] == d["l4"] and set(full["tools"]) == active
    # L4 calls are accounted apart from the job's (Table 6 stays the job's own cost).
    assert d["l4"]["llm_calls"] == sum(r["llm"]["usage"]["llm_calls"] for recs in arms.values() for r in recs) > 0


def test_an_empty_library_scores_zero_downstream(tmp_path: Path) -> None:
    """Without evolved tools the library arm is the affordances arm, episode for episode: SR is exactly 0."""
    result = run_arise(tmp_path / "empty", "evolution.failure_threshold=1000")
    assert result["tools_promoted"] == 0 and result["candidates"] == 0
    d = result["diagnostics"]
    strip = [{k: v for k, v in r.items() if k != "arm"} for r in lines(tmp_path / "empty/diagnostics/l4_library.jsonl")]
    assert strip == [{k: v for k, v in r.items() if k != "arm"}
                     for r in lines(tmp_path / "empty/diagnostics/l4_affordances.jsonl")]  # fmt: skip
    assert d["l4"]["sr"] == 0.0
    assert d["l2"]["n_matched"] == 0 and d["l3"]["ut_hard"] == 0.0 and d["candidates"]["n"] == 0
    assert all(u["l1"] == u["l3_hard"] == 0.0 for u in d["l4"]["units"])


def test_diagnostics_resume_and_rerun_with_other_settings(job: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    src, result = job
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    assert run_arise(out).get("skipped")  # complete, diagnostics included: nothing to do
    episodes = (out / "episodes.jsonl").read_bytes()
    files = {p.name: p.read_bytes() for p in (out / "diagnostics").iterdir()}
    # Killed during L4: result.json not written yet, the library arm torn mid-record.
    (out / "result.json").unlink()
    torn = out / "diagnostics" / "l4_library.jsonl"
    keep = torn.read_text().splitlines(keepends=True)
    torn.write_text("".join(keep[:2]) + keep[2][:40])
    again = run_arise(out)
    assert not again.get("skipped") and again["diagnostics"] == result["diagnostics"]
    assert {p.name: p.read_bytes() for p in (out / "diagnostics").iterdir()} == files
    assert (out / "episodes.jsonl").read_bytes() == episodes
    # Other settings: the old diagnostics are moved aside, never overwritten; the records stay.
    other = run_arise(out, "diagnostics.edge_per_tool=3")
    aside = out / f"diagnostics.{result['diagnostics']['settings_hash']}"
    assert {p.name: p.read_bytes() for p in aside.iterdir()} == files
    assert other["diagnostics"]["settings_hash"] != result["diagnostics"]["settings_hash"]
    assert other["diagnostics"]["l3"]["n_cases"] < result["diagnostics"]["l3"]["n_cases"]
    assert other["config_hash"] == result["config_hash"] and (out / "episodes.jsonl").read_bytes() == episodes


def test_diagnostics_only_for_arise_and_settings_are_checked(tmp_path: Path) -> None:
    fixed = run_job(compose_run_config(["condition=fixed_tools", f"families={FAMILIES}", "progress=false"]),
                    tmp_path / "fixed")  # fmt: skip
    assert "diagnostics" not in fixed and not (tmp_path / "fixed" / "diagnostics").exists()
    off = run_arise(tmp_path / "off", "diagnostics.enabled=false", "per_family=1")
    assert "diagnostics" not in off
    for bad, msg in (("diagnostics.per_family=0", "per_family"), ("diagnostics.threshold=1.5", "threshold")):
        with pytest.raises(ConfigError, match=msg):
            run_arise(tmp_path / "bad", bad)
    assert not (tmp_path / "bad" / "episodes.jsonl").exists()


# -- candidates -------------------------------------------------------------------------------------
def test_candidates_are_scored_one_by_one(sandbox: Sandbox, refs: dict[str, EvolvedTool]) -> None:
    """Every version is diagnosed (no assignment): a policy violation fails L1 compliance, a crash fails
    exec, a wrong value passes L1 but fails L3; the funnel over candidates drops each at its layer."""
    good = refs["log_malformed"]
    forbidden = mutate(good.code, good.name, "forbidden_import", np.random.default_rng(0))
    tree = ast.parse(good.code)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == good.name)
    fn.body = [fn.body[0], ast.parse("raise RuntimeError('boom')").body[0]]  # docstring kept, always raises
    crash_code = ast.unparse(tree)
    stats_ref = refs["metrics_series_stats"]
    wrong = mutate(stats_ref.code, stats_ref.name, "off_by_one", np.random.default_rng(0))
    assert forbidden and wrong
    versions = [
        EvolvedTool(good.name, forbidden, good.parameters, version=1, status="rejected"),
        EvolvedTool(good.name, crash_code, good.parameters, version=2, status="rejected"),
        EvolvedTool(good.name, good.code, good.parameters, version=3, status="active"),
        EvolvedTool("renamed_malformed", good.code.replace(f"def {good.name}(", "def renamed_malformed("),
                    good.parameters, version=1, status="rejected"),
    ]  # fmt: skip
    r = diagnose_candidates(versions, world=WORLD, protocol=PROTOCOL, seed=SEED, sandbox=sandbox)
    rows = r["tools"]
    assert [x["compliance"] for x in rows] == [False, True, True, True]
    assert [x["exec"] for x in rows] == [False, False, True, True]
    assert rows[1]["smoke"]["error"] and "boom" in rows[1]["smoke"]["error"]
    assert [x["matched"] for x in rows] == [None, good.name, good.name, good.name]  # versions share a reference
    assert rows[3]["match"]["how"] == "best" and rows[3]["ut_hard"] == 1.0
    assert [s["count"] for s in r["funnel"]] == [4, 3, 2, 2, 2]
    assert r["l1"]["compliance"] == 0.75 and r["l1"]["exec"] == 0.5
    assert r["by_status"] == {"active": 1, "rejected": 3}
    off = EvolvedTool(stats_ref.name, wrong, stats_ref.parameters, version=4)
    r2 = diagnose_candidates([off], world=WORLD, protocol=PROTOCOL, seed=SEED, sandbox=sandbox)
    assert r2["tools"][0]["compliance"] and r2["tools"][0]["exec"]
    assert r2["tools"][0]["ut_hard"] < 1.0  # only L3 sees a wrong value


def test_a_library_of_the_reference_tools_scores_one_on_every_layer(tmp_path: Path, sandbox: Sandbox) -> None:
    """L4's other anchor: a library holding the reference tools (bundled, run in the sandbox, with their own
    descriptions) is as useful downstream as the reference tools themselves: SR is 1."""
    cfg = compose_run_config([*JOB, "evolution.failure_threshold=1000", "diagnostics.enabled=false"])
    out = tmp_path / "job"
    run_job(cfg, out)
    with Library(out / "library.sqlite") as lib:
        for t in reference_as_evolved(WORLD, PROTOCOL):
            schema = {**t.parameters, "description": t.description}
            v = lib.add_candidate(t.name, t.code, schema, "", origin="synthesis", episode=0)
            lib.promote(t.name, v.version, episode=0)
    llm = OmegaConf.to_container(cfg.llm, resolve=True)
    assert isinstance(llm, dict)
    policy = ReActAgent(make_backend({str(k): v for k, v in llm.items()}), system_prompt=cfg.world.system_prompt,
                        temperature=cfg.agent.temperature, seed=SEED, max_steps=int(cfg.max_steps))  # fmt: skip
    env = gym.make(ENV_IDS[WORLD], protocol=PROTOCOL, max_episode_steps=int(cfg.max_steps))
    summary = diagnose_job(out, env=env, policy=policy, suite=get_suite(WORLD, PROTOCOL), sandbox=sandbox,
                           seed=SEED, settings={"candidates": False}, families=list(cfg.families))  # fmt: skip
    env.close()
    assert summary["l1"]["compliance"] == summary["l1"]["exec"] == 1.0
    assert summary["l2"]["tool_f1"] == 1.0 and summary["l3"]["ut_hard"] == 1.0
    lib_recs, ref_recs = (lines(out / "diagnostics" / f"l4_{arm}.jsonl") for arm in ("library", "reference"))
    assert [r["success"] for r in lib_recs] == [r["success"] for r in ref_recs]
    assert summary["l4"]["sr"] == 1.0


def test_report_metrics_never_pass_library_l1_off_as_candidate_l1(tmp_path: Path) -> None:
    """With diagnostics.candidates=false the compliance/exec columns are undefined, not the library's L1."""
    from experiments.report.genesis import _pooled_funnel, metrics
    from experiments.report.jobs import Job

    diag = {
        "l1": {"compliance": 1.0, "exec": 1.0},
        "l2": {"tool_f1": 0.5, "arg_f1": 1.0},
        "l3": {"ut_soft": 0.4, "ut_hard": 0.3},
        "l4": {"sr": 0.2},
        "funnel": [{"stage": "evolved", "count": 9}],
    }
    m = metrics(Job(tmp_path, {"diagnostics": diag}, []))
    assert m["compliance"] is None and m["exec"] is None
    assert (m["schema_f1"], m["ut_hard"], m["sr"]) == (0.5, 0.3, 0.2)
    assert _pooled_funnel([Job(tmp_path, {"diagnostics": diag}, [])]) == [0, 0, 0, 0, 0]
    funnel = [{"stage": "evolved", "count": 4}, {"stage": "compliant", "count": 2}]
    with_cands = {**diag, "candidates": {"l1": {"compliance": 0.5, "exec": 0.25}, "funnel": funnel}}
    assert metrics(Job(tmp_path, {"diagnostics": with_cands}, []))["exec"] == 0.25
    assert _pooled_funnel([Job(tmp_path, {"diagnostics": with_cands}, [])]) == [4, 2, 0, 0, 0]


def test_diagnose_job_rejects_unknown_settings(tmp_path: Path, sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match=r"unknown diagnostics settings \['edges'\]; accepted: .*edge_per_tool"):
        diagnose_job(tmp_path, env=None, policy=None, suite=get_suite(WORLD, PROTOCOL), sandbox=sandbox,  # type: ignore[arg-type]
                     seed=SEED, settings={"edges": 3})  # fmt: skip
    assert not (tmp_path / "diagnostics").exists()
