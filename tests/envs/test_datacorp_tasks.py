"""DataCorp CSV and Validation families: the sanity gates of worlds.md on 20 seeds.

The oracle drives each family's ``solve`` through an ``InProcessRunner`` of the
reference tools with a ``WorldAccess`` (exactly what the env does on a tool call);
null answers are graded directly against the same instances.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import jsonschema
import pytest

from agents.scripted import NullMajority, random_like
from envs import seeding
from envs.access import WorldAccess
from envs.datacorp import PHASES
from envs.datacorp.reference_tools import EXPORT_TOOLS, VALIDATION_TOOLS
from envs.datacorp.tasks_csv import CSV_FAMILIES
from envs.datacorp.tasks_validation import VALIDATION_FAMILIES
from envs.datacorp.world import DEFAULT_OPTIONS, build_world
from envs.oracle import tool_executor, trace_solver
from envs.tasks import Suite, TaskInstance, available
from envs.tools import InProcessRunner

SEEDS = range(1, 21)
TOOLS = [*EXPORT_TOOLS, *VALIDATION_TOOLS]
NULLS = ("null_empty", "null_echo", "null_names", "null_numbers", "null_random", "null_majority", "null_blob")
MAX_OBSERVATION = 12_000


def make_suite() -> Suite:
    return Suite(
        world="datacorp",
        protocol="rigorous",
        build_world=build_world,
        families=[*CSV_FAMILIES, *VALIDATION_FAMILIES],
        reference_tools=lambda: list(TOOLS),
        phase_order=PHASES,
        default_options=dict(DEFAULT_OPTIONS),
    )


SUITE = make_suite()
RUNNER = InProcessRunner.of(TOOLS)


def run_oracle(suite: Suite, inst: TaskInstance) -> tuple[Any, int]:
    """(answer, longest tool output) of the family's oracle solver."""
    world = suite.get_world(inst.world_seed)
    solver = suite.family(inst.family).solve(world, inst.params)
    trace = trace_solver(solver, tool_executor(RUNNER, WorldAccess(world)), inst.id)
    failed = [s for s in trace.steps if s.output is None]
    assert not failed, f"{inst.id}: {failed[0].call} -> {failed[0].observation}"
    return trace.answer, max((len(s.observation) for s in trace.steps), default=0)


def null_answers(suite: Suite, inst: TaskInstance, seed: int, majority: dict[str, Any]) -> dict[str, Any]:
    from envs.acmecorp.arise_v1 import CONSTANT_BLOB

    names = list(suite.get_world(inst.world_seed).entities)
    return {
        "null_empty": "",
        "null_echo": inst.prompt,
        "null_names": names,
        "null_numbers": list(range(1000)),
        "null_random": random_like(inst.answer_schema, seeding.rng(seed, "null_random", inst.id), names),
        "null_majority": majority.get(inst.family),
        "null_blob": CONSTANT_BLOB,
    }


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Any]:
    success: dict[tuple[str, str], list[bool]] = defaultdict(list)
    truths: dict[str, list[str]] = defaultdict(list)
    longest = 0
    failures = []
    for seed in SEEDS:
        # one train world per seed keeps this under budget; the full gate test uses three
        majority = NullMajority().fit(SUITE, seed, n_worlds=1).majority
        for inst in SUITE.instances(seed, "test"):
            truths[inst.family].append(json.dumps(inst.truth, sort_keys=True))
            answer, out_len = run_oracle(SUITE, inst)
            longest = max(longest, out_len)
            grade = inst.grade(json.dumps(answer, ensure_ascii=False))
            success[("oracle", inst.family)].append(grade.success)
            if not grade.success:
                failures.append((inst.id, grade.detail, inst.truth, answer))
            for name, value in null_answers(SUITE, inst, seed, majority).items():
                success[(name, inst.family)].append(inst.grade(value).success)
    return {"success": success, "truths": truths, "longest": longest, "failures": failures}


def test_families_cover_two_phases_with_at_least_eight_each():
    per_phase: dict[str, list[str]] = defaultdict(list)
    for f in SUITE.families:
        per_phase[f.phase].append(f.name)
        assert f.difficulty in ("easy", "medium", "hard"), f.name
        assert f.name.startswith(f.phase + "."), f.name
        jsonschema.Draft202012Validator.check_schema(f.answer_schema)
    assert SUITE.phases() == ("csv", "validation")
    assert all(len(v) >= 8 for v in per_phase.values()), per_phase
    for phase in per_phase:
        assert {f.difficulty for f in SUITE.families if f.phase == phase} == {"easy", "medium", "hard"}
    assert len({f.name for f in SUITE.families}) == len(SUITE.families)


def test_oracle_scores_100_percent_on_every_family(outcomes):
    assert not outcomes["failures"], outcomes["failures"][:3]
    for fam in SUITE.families:
        runs = outcomes["success"][("oracle", fam.name)]
        assert len(runs) == len(SEEDS) and all(runs), fam.name


def test_tool_outputs_fit_an_observation(outcomes):
    assert outcomes["longest"] < MAX_OBSERVATION


@pytest.mark.parametrize("policy", NULLS)
def test_null_answers_score_near_zero(outcomes, policy):
    per_family = {f.name: outcomes["success"][(policy, f.name)] for f in SUITE.families}
    overall = sum(sum(v) for v in per_family.values()) / sum(len(v) for v in per_family.values())
    assert overall <= 0.10, (policy, overall)
    worst = max(per_family, key=lambda f: sum(per_family[f]))
    assert sum(per_family[worst]) / len(SEEDS) <= 0.25, (policy, worst, per_family[worst])


def test_truth_is_never_constant_across_seeds(outcomes):
    for fam in SUITE.families:
        values = outcomes["truths"][fam.name]
        assert len(set(values)) > len(values) // 3, f"{fam.name}: only {len(set(values))} distinct truths"


def test_truths_fit_the_answer_schemas():
    for inst in SUITE.instances(4, "test"):
        jsonschema.validate(inst.truth, inst.answer_schema)
        assert "Answer JSON schema" in inst.prompt and inst.params == json.loads(json.dumps(inst.params))


def test_wrong_answers_fail_and_partial_credit_is_partial():
    inst = SUITE.instance(5, "test", "csv.top_customer")
    truth = inst.truth
    assert inst.grade(json.dumps(truth, ensure_ascii=False)).success
    g = inst.grade({**truth, "customer_id": truth["customer_id"] + 1})
    assert not g.success and 0 < g.score < 1
    inst = SUITE.instance(5, "test", "validation.batch_codes")
    assert not inst.grade(inst.truth[:-1]).success
    all_codes = [f"DC-{i:03d}" for i in range(1, 11)]
    if sorted(inst.truth) != all_codes:
        assert not inst.grade(all_codes).success


def test_instances_are_reproducible_and_splits_disjoint():
    a = [i.to_json() for i in make_suite().instances(9, "test")]
    b = [i.to_json() for i in make_suite().instances(9, "test")]
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    tr = SUITE.instance(9, "train", "csv.valid_rows")
    te = SUITE.instance(9, "test", "csv.valid_rows")
    assert tr.world_seed != te.world_seed


def test_prompts_do_not_leak_truths():
    for inst in SUITE.instances(6, "test"):
        truth = inst.truth
        if isinstance(truth, int) and truth > 100:
            assert str(truth) not in inst.prompt, inst.id


def test_reference_tools_have_documented_schemas_and_clear_errors():
    specs = {s.name: s for s in RUNNER.specs()}
    assert len(specs) >= 8
    for spec in specs.values():
        assert spec.description
        for name, prop in spec.parameters["properties"].items():
            assert prop.get("description"), (spec.name, name)
    world = SUITE.get_world(1)
    access = WorldAccess(world)
    bad = RUNNER.call("dc_aggregate", {"table": "ordrs"}, access)
    assert not bad.ok and "orders" in (bad.error or "")
    bad = RUNNER.call("dc_aggregate", {"table": "orders", "agg": "mode", "column": "amount"}, access)
    assert not bad.ok and "accepted" in (bad.error or "")
    bad = RUNNER.call("dc_aggregate", {"table": "orders", "where": {"customers.regio": "uk"}}, access)
    assert not bad.ok and "region" in (bad.error or "")
    bad = RUNNER.call("dc_aggregate", {"table": "orders", "group_by": "order_id"}, access)
    assert not bad.ok and "top=N" in (bad.error or "")
    ok = RUNNER.call("dc_aggregate", {"table": "orders", "group_by": "order_id", "top": 3}, access)
    assert ok.ok and len(json.loads(ok.output)) == 3
    ok = RUNNER.call("dc_aggregate", {"table": "orders", "group_by": "customers.region"}, access)
    assert ok.ok and len(json.loads(ok.output)) == 7


@pytest.mark.skipif(
    ("datacorp", "rigorous") not in available(), reason="DataCorp suite not registered in envs.tasks yet"
)
def test_families_run_through_the_gymnasium_env():
    import gymnasium as gym

    from agents.scripted import OraclePolicy
    from envs.tasks import get_suite
    from experiments.episodes import run_episode

    suite = get_suite("datacorp", "rigorous")
    env = gym.make("arise_gym/DataCorp-v0")
    for name in ("csv.top_customer", "validation.export_failures", "validation.code_by_batch", "csv.refund_rate"):
        inst = suite.instance(3, "test", name)
        record = run_episode(env, OraclePolicy(), inst, "reference")[0].to_json()
        assert record["success"], (name, record["grade"], record["answer"])
    env.close()
