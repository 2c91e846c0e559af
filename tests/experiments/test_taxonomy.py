"""experiments.taxonomy: the decision list rule by rule, the success guard, counts, and real records.

Each rule test builds a minimal record whose verdict only that rule gives, next to a control
record that differs in the one fact the rule looks at and must land elsewhere, so a rule that
fired on the wrong evidence (or did not fire) fails a test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from envs.grading import grade_answer
from envs.tasks import get_suite
from experiments.config import compose_run_config
from experiments.run import run_job
from experiments.taxonomy import (
    CATEGORIES,
    LABELS,
    FailureClassification,
    OraclePlan,
    PlannedCall,
    classify,
    oracle_plan,
    taxonomy,
)

AFF = ["http_get", "http_post", "list_files", "read_file", "read_doc"]
REFERENCE = frozenset({"log_count", "log_group_count", "incident_detect", "metrics_get"})
LOG_COUNT_DEFAULTS = {"service": "", "severity": "", "start": 0, "end": 0, "error_code": "", "with_stack": False}
NEEDED = {"service": "worker", "severity": "WARN"}
# logs.severity_count at seed 42: "How many WARN entries did worker log?" The truth is 152.
PLAN = OraclePlan(
    calls=(PlannedCall("log_count", dict(NEEDED), "152"),),
    answer=152,
    answer_success=True,
    known_tools=REFERENCE,
    defaults={"log_count": LOG_COUNT_DEFAULTS},
)


def task(world: str = "acmecorp", protocol: str = "rigorous", family: str = "logs.severity_count", **kw: Any) -> Any:
    base = {"world": world, "protocol": protocol, "family": family, "world_seed": 42, "options": {}}
    base.update({"params": dict(NEEDED), "truth": 152, "id": f"{world}/{protocol}/test/s42/w0/{family}/0"})
    return base | kw


def record(
    calls: list[tuple[str, dict[str, Any], bool, str]],
    shown: list[str] | None = None,
    answer: Any = 19,
    task_json: dict[str, Any] | None = None,
    success: bool = False,
) -> dict[str, Any]:
    """A record as experiments.episodes writes it; calls are (tool, args, ok, output or error)."""
    steps = [
        {
            "action": json.dumps({"tool": t, "args": a}),
            "observation": out if ok else f"Error: {out}",
            "reward": 0.0,
            "info": {"kind": "tool", "tool": t, "args": a, "ok": ok, "error": None if ok else out},
        }
        for t, a, ok, out in calls
    ]
    tj = task_json or task()
    suite = get_suite(tj["world"], tj["protocol"])
    fam = suite.family(tj["family"])
    grade = grade_answer(answer, tj["truth"], fam.comparator(tj["params"]), fam.answer_schema).to_json()
    assert grade["success"] is success, "the fixture's answer must get the grade the test says"
    shown = [*AFF, "log_count", "log_group_count"] if shown is None else shown
    return {
        "task": tj,
        "prompt": "",
        "tools_offered": shown,
        "tools_shown": shown,
        "tools_called": [{"tool": t, "args": a, "ok": ok, "error": None if ok else out} for t, a, ok, out in calls],
        "steps": steps,
        "answer": answer,
        "grade": grade,
        "success": grade["success"],
        "truncated": False,
    }


def verdict(rec: dict[str, Any], plan: OraclePlan | None = PLAN) -> FailureClassification:
    v = classify(rec, plan=plan) if plan is not None else classify(rec)
    assert v.category in CATEGORIES and v.reason and "\n" not in v.reason
    return v


# -- the API ------------------------------------------------------------------------------
def test_categories_are_the_papers_in_its_order_with_its_labels():
    assert CATEGORIES == ("incorrect_invocation", "not_called", "missing_tool", "wrong_reasoning", "grader_strictness")
    assert [LABELS[c] for c in CATEGORIES] == [
        "Incorrect tool invocation",
        "Tool exists but not called",
        "Missing tool",
        "Correct call but wrong reasoning",
        "Grader strictness",
    ]
    v = FailureClassification("not_called", "x")
    assert v.label == "Tool exists but not called"
    with pytest.raises(AttributeError):
        v.category = "missing_tool"  # type: ignore[misc]


def test_a_successful_record_is_refused():
    rec = record([("log_count", dict(NEEDED), True, "152")], answer=152, success=True)
    with pytest.raises(ValueError, match="success"):
        classify(rec, plan=PLAN)


# -- the oracle plan ------------------------------------------------------------------------
def test_oracle_plan_is_rebuilt_from_the_record_and_cached():
    inst = get_suite("acmecorp", "rigorous").instance(42, "test", "logs.severity_count")
    rec = {"task": inst.to_json(), "prompt": inst.prompt}
    plan = oracle_plan(rec)
    assert plan is not None and plan.tools == ("log_count",)
    assert plan.calls[0].args == NEEDED and plan.calls[0].output == str(inst.truth) == "152"
    assert plan.answer_success is True and "log_group_count" in plan.known_tools
    assert oracle_plan(json.loads(json.dumps(rec))) is plan  # cached per instance, from a JSON round trip


def test_missing_tool_versus_not_called_on_a_real_instance():
    """The same episode (pages read by hand, a wrong count) is missing_tool without log_count on
    offer, and not_called with it; the plan is computed from the record itself."""
    tj = get_suite("acmecorp", "rigorous").instance(42, "test", "logs.severity_count").to_json()
    by_hand = [
        ("list_files", {"path": "logs/"}, True, "logs/acme.log"),
        ("read_file", {"path": "logs/acme.log"}, True, "..."),
    ]
    absent = verdict(record(by_hand, shown=AFF, task_json=tj), plan=None)
    assert (absent.category, absent.rule) == ("missing_tool", "M-absent")
    assert "log_count" in absent.reason and "only the affordances" in absent.reason
    offered = verdict(record(by_hand, task_json=tj), plan=None)
    assert (offered.category, offered.rule) == ("not_called", "N")
    assert "log_count" in offered.reason and "never called" in offered.reason


def test_nothing_offered_at_all_is_missing_tool():
    v = verdict(record([], shown=[]))
    assert v.category == "missing_tool" and "nothing was offered" in v.reason


# -- incorrect invocation -------------------------------------------------------------------
def test_an_unrecovered_error_is_an_incorrect_invocation_a_recovered_one_is_not():
    bad = ("log_count", {"service": "wroker", "severity": "WARN"}, False, "ValueError: unknown service 'wroker'")
    v = verdict(record([bad]))
    assert (v.category, v.rule) == ("incorrect_invocation", "I-error")
    assert "log_count" in v.reason and "unknown service 'wroker'" in v.reason
    recovered = verdict(record([bad, ("log_count", dict(NEEDED), True, "152")]))
    assert (recovered.category, recovered.rule) == ("wrong_reasoning", "W")


def test_wrong_arguments_are_named_equivalent_arguments_are_not():
    wrong = verdict(record([("log_count", {"service": "worker", "severity": "ERROR"}, True, "77")]))
    assert (wrong.category, wrong.rule) == ("incorrect_invocation", "I-args")
    assert "severity" in wrong.reason and "'WARN'" in wrong.reason and "'ERROR'" in wrong.reason
    # Defaults spelt out are the same call (judged on arguments alone: a record without steps has no outputs).
    spelt = {"service": "worker", "severity": "WARN", "with_stack": False, "start": 0}
    no_outputs = record([("log_count", spelt, True, "152")])
    del no_outputs["steps"]
    assert verdict(no_outputs).category == "wrong_reasoning"
    explicit = OraclePlan(calls=(PlannedCall("log_count", NEEDED | {"start": 0}, "152"),), defaults=PLAN.defaults)
    no_outputs = record([("log_count", dict(NEEDED), True, "152")])
    del no_outputs["steps"]
    assert verdict(no_outputs, plan=explicit).category == "wrong_reasoning"  # the plan spells out a default
    # Another spelling that returns the reference's output is the same call too.
    other = {"service": " worker", "severity": "warn"}
    assert verdict(record([("log_count", other, True, "152")])).category == "wrong_reasoning"


def test_a_tool_called_in_place_of_the_needed_one_is_an_incorrect_invocation():
    sibling = ("log_group_count", {"by": "severity", "service": "worker"}, True, '{"WARN": 152}')
    v = verdict(record([sibling]))
    assert (v.category, v.rule) == ("incorrect_invocation", "I-wrong-tool")
    assert "log_group_count in place of log_count" in v.reason
    # An errored sibling directly followed by the right call was recovered from.
    slip = ("log_group_count", NEEDED, False, "log_group_count: missing required argument(s) ['by']")
    assert verdict(record([slip, ("log_count", dict(NEEDED), True, "152")])).category == "wrong_reasoning"
    # A recovered slip is not blamed for a later needed tool that was simply never called.
    plan = OraclePlan(
        calls=(PlannedCall("incident_detect", {}, "{}"), PlannedCall("log_group_count", {"by": "service"}, "{}")),
        known_tools=REFERENCE,
    )
    shown = [*AFF, "incident_detect", "log_group_count", "log_count"]
    slip = ("log_count", {"by": "x"}, False, "log_count: unknown argument(s) ['by']")
    calls = [slip, ("incident_detect", {}, True, "{}")]
    assert verdict(record(calls, shown=shown), plan=plan).rule == "N"
    assert verdict(record(calls[:1], shown=shown), plan=plan).rule == "I-wrong-tool"
    # A hallucinated name (not on offer) in place of the needed tool counts too.
    ghost = ("count_logs", dict(NEEDED), False, "unknown tool 'count_logs'")
    assert verdict(record([ghost])).rule == "I-wrong-tool"


# -- wrong reasoning, faulty tools, plan order --------------------------------------------
def test_right_call_wrong_answer_is_wrong_reasoning_a_faulty_tool_is_missing_tool():
    right = verdict(record([("log_count", dict(NEEDED), True, "152")], answer=151))
    assert (right.category, right.rule) == ("wrong_reasoning", "W")
    assert "log_count" in right.reason and "wrong value" in right.reason
    # The same arguments, but the offered log_count (an evolved one) returns another count.
    faulty = verdict(record([("log_count", dict(NEEDED), True, "150")], answer=150))
    assert (faulty.category, faulty.rule) == ("missing_tool", "M-faulty")
    assert "'150'" in faulty.reason and "'152'" in faulty.reason


def test_the_first_broken_needed_call_decides():
    plan = OraclePlan(
        calls=(
            PlannedCall("incident_detect", {}, '{"service": "worker"}'),
            PlannedCall("log_group_count", {"by": "error_code", "service": "worker"}, '{"E1": 3}'),
        ),
        known_tools=REFERENCE,
    )
    by_hand = [("read_file", {"path": "logs/acme.log"}, True, "...")] * 3
    # incident_detect is missing; log_group_count is offered but never reached: the missing tool is the cause.
    v = verdict(record(by_hand), plan=plan)
    assert (v.category, v.rule) == ("missing_tool", "M-absent") and "incident_detect" in v.reason
    # With incident_detect on offer and called, the uncalled log_group_count decides.
    made = [("incident_detect", {}, True, '{"service": "worker"}'), *by_hand]
    v = verdict(record(made, shown=[*AFF, "incident_detect", "log_group_count"]), plan=plan)
    assert (v.category, v.rule) == ("not_called", "N") and "log_group_count" in v.reason


def test_a_multi_call_plan_left_part_way_is_not_called_for_the_first_call_skipped():
    urls = [f"http://metrics.acme.internal/metrics/{s}" for s in ("payments", "gateway", "auth")]
    plan = OraclePlan(calls=tuple(PlannedCall("metrics_get", {"url": u}, u[-4:]) for u in urls), known_tools=REFERENCE)
    calls = [("metrics_get", {"url": urls[0]}, True, urls[0][-4:]), ("http_get", {"url": urls[1]}, True, "HTTP 200")]
    v = verdict(record(calls, shown=[*AFF, "metrics_get"]), plan=plan)
    assert (v.category, v.rule) == ("not_called", "N")
    assert "gateway" in v.reason and "1 of 3 needed calls made" in v.reason
    everything = [("metrics_get", {"url": u}, True, u[-4:]) for u in urls]
    assert verdict(record(everything, shown=[*AFF, "metrics_get"]), plan=plan).category == "wrong_reasoning"


def test_an_evolved_tool_with_a_name_of_its_own_stands_for_the_needed_one():
    calls = [("log_counter", {"svc": "worker", "level": "WARN"}, True, "count: 152")]
    v = verdict(record(calls, shown=[*AFF, "log_counter"]))
    assert v.category == "wrong_reasoning"  # log_counter is log_count under another name; its call is made
    # A known reference tool never stands for another one, however alike the names (ratio 0.9).
    plan = OraclePlan(calls=(PlannedCall("val_batch", {"path": "incoming/b1.json"}, "[]"),),
                      known_tools=frozenset({"val_batch", "val_batches"}))  # fmt: skip
    assert verdict(record([], shown=[*AFF, "val_batches"]), plan=plan).rule == "M-absent"
    assert verdict(record([], shown=[*AFF, "val_batchs"]), plan=plan).rule == "N"  # an unknown look-alike does


# -- affordances and code ---------------------------------------------------------------------
def test_a_misused_needed_affordance_is_an_incorrect_invocation():
    tj = task("datacorp", "arise_v1", "v1.validation.01", params={}, truth=["orders", "products", "customers"])
    plan = OraclePlan(
        calls=(PlannedCall("http_get", {"url": "http://validation.datacorp.internal/schemas"}, '["orders"]'),),
        known_tools=frozenset(),
    )
    bad = ("http_get", {"url": "http://validation.datacorp.internal/schema"}, False, "HTTP 404")
    v = verdict(record([bad], shown=["http_get"], answer="orders", task_json=tj), plan=plan)
    assert (v.category, v.rule) == ("incorrect_invocation", "I-error") and "http_get" in v.reason
    v = verdict(record([], shown=[], answer="orders", task_json=tj), plan=plan)
    assert v.category == "missing_tool"  # arise_v1 no_evolution: no affordance at all


def test_run_python_stands_in_for_a_missing_tool():
    failed = verdict(record([("run_python", {"code": "..."}, False, "NameError: x")], shown=[*AFF, "run_python"]))
    assert (failed.category, failed.rule) == ("incorrect_invocation", "I-error") and "run_python" in failed.reason
    wrote = verdict(record([("run_python", {"code": "..."}, True, "152")], shown=[*AFF, "run_python"]))
    assert wrote.category == "wrong_reasoning"  # the snippet returned what log_count returns
    buggy = verdict(record([("run_python", {"code": "..."}, True, "149")], shown=[*AFF, "run_python"]))
    assert buggy.rule == "M-absent" and "run_python" in buggy.reason


# -- grader strictness -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("family", "truth", "answer", "strict"),
    [
        ("v1.metrics.02", 690.819, "The payments p99 latency is 690.82 ms.", True),  # rounded
        ("v1.metrics.02", 690.819, "The payments p99 latency is 690.7 ms.", False),  # another value
        ("v1.metrics.03", 0.793465, "error rate 79.35%", True),  # as a percentage
        ("v1.metrics.03", 0.793465, "error rate 0.8", False),  # too coarse to be the value
        ("v1.logs.05", "database", "Database has the most errors", True),  # letter case
        ("v1.logs.05", "database", "data has the most errors", False),
        ("v1.logs.10", 1710057600, "the busiest hour starts at 2024-03-10T08:00:00Z", True),  # epoch as ISO time
        ("v1.logs.10", 1710057600, "the busiest hour starts at 1710057602", False),
    ],
)
def test_free_text_strictness_needs_the_same_value_in_another_form(family, truth, answer, strict):
    tj = task("acmecorp", "arise_v1", family, params={}, truth=truth)
    plan = OraclePlan(calls=(), answer="x", answer_success=True)
    v = verdict(record([], shown=[], answer=answer, task_json=tj), plan=plan)
    assert (v.category == "grader_strictness") is strict, v
    if strict:
        assert v.rule == "S-rewrite"


def test_typed_strictness_is_case_or_wrapping_never_a_wider_tolerance():
    truth = {"service": "worker", "errors": 131}
    tj = task(family="logs.top_error_service", params={"start": 1, "end": 2}, truth=truth)
    ok_call = [("log_group_count", {"by": "service"}, True, "{}")]
    plan = OraclePlan(calls=(PlannedCall("log_group_count", {"by": "service"}, "{}"),), answer_success=True)
    v = verdict(record(ok_call, answer={"service": "Worker", "errors": "131 errors"}, task_json=tj), plan=plan)
    assert (v.category, v.rule) == ("grader_strictness", "S-rewrite")
    v = verdict(record(ok_call, answer={"service": "Worker", "errors": 130}, task_json=tj), plan=plan)
    assert v.category == "wrong_reasoning"  # a wrong count is not rescued by the case fix
    tol = task(family="metrics.current_value", params={"service": "payments", "metric": "cpu_pct"}, truth=56.11)
    v = verdict(record(ok_call, answer="56.2", task_json=tol), plan=plan)
    assert v.category == "wrong_reasoning"  # outside the stated tolerance: wrong, not strictly graded


def test_the_reference_solutions_own_rejected_answer_is_grader_strictness():
    tj = task("acmecorp", "arise_v1", "v1.logs.01", params={}, truth=9)
    needed = (PlannedCall("filter_acme_logs", {"log_text": "..."}, "[]"),)
    plan = OraclePlan(calls=needed, answer="0", answer_success=False)
    calls = [("filter_acme_logs", {"log_text": "..."}, True, "[]")]
    v = verdict(record(calls, shown=["http_get", "filter_acme_logs"], answer="0", task_json=tj), plan=plan)
    assert (v.category, v.rule) == ("grader_strictness", "S-oracle")
    other = verdict(record(calls, shown=["http_get", "filter_acme_logs"], answer="3", task_json=tj), plan=plan)
    assert other.category == "wrong_reasoning"
    fine = OraclePlan(calls=plan.calls, answer="0", answer_success=True)  # a grader that accepts the reference
    assert verdict(record(calls, shown=["http_get", "filter_acme_logs"], answer="0", task_json=tj), fine).rule == "W"


# -- without a plan, counts ---------------------------------------------------------------------
def test_without_a_plan_the_shown_tools_stand_in():
    tj = task(world="nowhere")
    base = {"task": tj, "prompt": "", "answer": 1, "grade": {"score": 0.0, "success": False, "detail": {}}}
    rec = base | {"tools_offered": AFF, "tools_called": [], "success": False}
    assert classify(rec).category == "missing_tool" and "plan unknown" in classify(rec).reason
    rec = base | {"tools_offered": [*AFF, "log_count"], "tools_called": [], "success": False}
    assert classify(rec).category == "not_called"
    called = [{"tool": "log_count", "args": {}, "ok": False, "error": "boom"}]
    rec = base | {"tools_offered": [*AFF, "log_count"], "tools_called": called, "success": False}
    assert classify(rec).category == "incorrect_invocation"


def test_taxonomy_counts_failures_only_with_every_category():
    recs = [
        record([], shown=AFF),  # missing_tool
        record([]),  # not_called
        record([("log_count", dict(NEEDED), True, "152")], answer=151),  # wrong_reasoning
        record([("log_count", dict(NEEDED), True, "152")], answer=152, success=True),  # ignored
    ]
    for r in recs:
        r["task"] = get_suite("acmecorp", "rigorous").instance(42, "test", "logs.severity_count").to_json()
    counts = taxonomy(recs)
    assert list(counts) == [*CATEGORIES, "llm_failure"]
    assert counts == {
        "incorrect_invocation": 0,
        "not_called": 1,
        "missing_tool": 1,
        "wrong_reasoning": 1,
        "grader_strictness": 0,
        "llm_failure": 0,
    }
    assert taxonomy([]) == dict.fromkeys([*CATEGORIES, "llm_failure"], 0)
    dead = {**recs[0], "llm_failure": "LLMError: openai: connection failed"}
    assert taxonomy([dead])["llm_failure"] == 1  # its own class, never one of the agent's
    assert classify(dead).category == "llm_failure" and classify(dead).rule == "L"


# -- real records ---------------------------------------------------------------------------
def test_every_failure_of_real_jobs_gets_a_category(tmp_path: Path):
    """Small sim jobs (AcmeCorp arise_v1, about 1 s each): every failure is classified, counts add up,
    and what a condition cannot produce does not appear."""
    by_condition: dict[str, list[FailureClassification]] = {}
    for condition in ("no_evolution", "fixed_tools"):
        overrides = [
            "world=acmecorp",
            "protocol=arise_v1",
            f"condition={condition}",
            "llm=sim-4o-mini-like",
            "progress=false",
        ]
        out = tmp_path / condition
        result = run_job(compose_run_config(overrides), out)
        records = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
        failures = [r for r in records if not r["success"]]
        assert failures and len(records) == result["n_episodes"]
        verdicts = [classify(r) for r in failures]
        assert all(v.category in CATEGORIES and v.reason for v in verdicts)
        counts = taxonomy(records)
        assert sum(counts.values()) == len(failures)
        assert counts == {c: sum(v.category == c for v in verdicts) for c in [*CATEGORIES, "llm_failure"]}
        by_condition[condition] = verdicts
    # No tools at all: nothing can be called wrongly or left uncalled.
    assert {v.category for v in by_condition["no_evolution"]} <= {"missing_tool", "grader_strictness"}
    # Every reference tool on offer: nothing the plan needs is absent, and the failures spread out.
    fixed = by_condition["fixed_tools"]
    assert not any(v.rule == "M-absent" for v in fixed)
    assert len({v.category for v in fixed}) >= 3
