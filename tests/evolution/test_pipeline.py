"""The evolution loop with a scripted model: every check, repair, rejection and event is real."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from agents.llm.types import ChatRequest, ChatResponse, Usage
from envs.tasks import get_suite
from evolution.library import Library
from evolution.pipeline import EvolutionSettings, Evolver, audit_promotions, self_reward
from evolution.sandbox.runner import Sandbox

SUITE = get_suite("acmecorp", "rigorous")
WORLD_SEED = 7
N_LOGS = len(SUITE.access(SUITE.get_world(WORLD_SEED)).list_files("logs/"))

GOOD = '''from envs.toolkit import list_files


def count_files(prefix: str) -> int:
    """Count world files under a prefix."""
    return len(list_files(prefix))
'''
BUGGY = GOOD.replace("return len(list_files(prefix))", "return len(list_files(prefix)) + 1")
HOSTILE = "import os\n" + GOOD
LOOPS_ON_EMPTY = GOOD.replace(
    "    return len(list_files(prefix))", "    while not prefix:\n        pass\n    return len(list_files(prefix))"
)
TESTS = f"def test_logs():\n    assert count_files('logs/') == {N_LOGS}\n"
ADVERSARIAL = "def test_adversarial_empty_prefix():\n    assert count_files('') >= count_files('logs/')\n"
PARAMS = {"type": "object", "properties": {"prefix": {"type": "string"}}, "required": ["prefix"]}


def tool(code: str, tests: str = TESTS, params: Any = PARAMS, name: str = "count_files") -> str:
    return "```json\n" + json.dumps({"name": name, "description": "Count files.", "parameters": params,
                                      "code": code, "tests": tests}) + "\n```"  # fmt: skip


GAPS = '```json\n{"gaps": [{"name": "count_files", "description": "count files", "evidence": ["x"]}]}\n```'


class Scripted:
    """A model that answers each pipeline step from a queue (and records what it was asked)."""

    name = "scripted"

    def __init__(self, **steps: list[str]) -> None:
        self.steps = {k: list(v) for k, v in steps.items()}
        self.requests: list[ChatRequest] = []

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        queue = self.steps.get(str(request.meta["step"])) or ["(nothing)"]
        text = queue.pop(0) if len(queue) > 1 else queue[0]
        return ChatResponse(text=text, usage=Usage(100, 50, 0.001))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def failure(i: int, score: float = 0.0) -> dict[str, Any]:
    task = {"id": f"t{i}", "family": "logs.severity_count", "world_seed": WORLD_SEED}
    return {"task": task, "prompt": "p", "tools_called": [], "answer": "42", "score": score, "success": score >= 0.5,
            "truncated": False}  # fmt: skip


def evolver(backend: Scripted, sandbox: Sandbox, **settings: Any) -> Evolver:
    cfg = EvolutionSettings(**{"failure_threshold": 1, "max_evolutions": 1, "per_episodes": 1, **settings})
    return Evolver(cfg, backend, Library(":memory:"), sandbox, SUITE, seed=1)


def test_a_correct_tool_is_promoted_after_its_full_check(sandbox: Sandbox):
    backend = Scripted(gaps=[GAPS], synthesize=[tool(GOOD)], adversarial=["```python\n" + ADVERSARIAL + "```"])
    ev = evolver(backend, sandbox)
    ev.observe(0, failure(0))
    assert [t.name for t in ev.library.active()] == ["count_files"]
    assert ev.stats.promoted == 1 and ev.stats.candidates == 1 and not ev.stats.rejections
    (check,) = ev.library.events("check")
    assert check["ok"] and check["tests"] == [1, 1] and check["adversarial"] == [1, 1] and check["static_policy"]
    assert audit_promotions(ev.library) == []
    assert [r.meta["step"] for r in backend.requests] == ["gaps", "synthesize", "adversarial"]
    stats = ev.stats.to_json()
    assert stats["llm_calls"] == 3 and stats["cost_usd"] == pytest.approx(0.003)
    assert stats["usage"]["llm_calls"] == 3 and stats["usage"]["failed_calls"] == 0
    # The promoted tool is what the agent gets, run in the sandbox.
    out = ev.runner().call("count_files", {"prefix": "logs/"}, SUITE.access(SUITE.get_world(WORLD_SEED)))
    assert out.ok and out.output == str(N_LOGS)


def test_every_repaired_version_is_checked_again_and_only_a_passing_one_is_promoted(sandbox: Sandbox):
    backend = Scripted(gaps=[GAPS], synthesize=[tool(BUGGY)], repair=[tool(HOSTILE), tool(GOOD)],
                       adversarial=["```python\n" + ADVERSARIAL + "```"])  # fmt: skip
    ev = evolver(backend, sandbox, max_repairs=2)
    ev.observe(0, failure(0))
    checks = ev.library.events("check")
    assert [(c["round"], c["ok"], c["reason"]) for c in checks] == [
        (0, False, "sandbox_tests"), (1, False, "static_policy"), (2, True, None)]  # fmt: skip
    assert len({c["code_sha"] for c in checks}) == 3
    assert ev.library.get("count_files").code == GOOD
    assert ev.stats.repair_rounds == 2 and audit_promotions(ev.library) == []
    repair_prompt = backend.requests[-1].messages[-1]["content"]
    assert "static policy" in repair_prompt and "import of 'os'" in repair_prompt  # the verdict is shown
    # The log keeps what each repair replaced (for diffs) and the adversarial suite the candidate faced.
    revised = ev.library.events("revised")
    assert [(e["round"], e["previous_code"]) for e in revised] == [(1, BUGGY), (2, HOSTILE)]
    (gaps,) = ev.library.events("gaps")
    assert gaps["gaps"] == ["count_files"] and gaps["descriptions"] == {"count_files": "count files"}
    (adversarial,) = ev.library.events("adversarial")
    assert adversarial["name"] == "count_files" and adversarial["tests"] == ADVERSARIAL


def test_repairs_exhausted_reject_with_the_last_reason(sandbox: Sandbox):
    backend = Scripted(gaps=[GAPS], synthesize=[tool(BUGGY)], repair=[tool(BUGGY + "\n")])
    ev = evolver(backend, sandbox, max_repairs=1, adversarial=False)
    ev.observe(0, failure(0))
    assert ev.library.active() == [] and ev.stats.rejections == {"sandbox_tests": 1}
    (rejected,) = ev.library.events("rejected")
    assert rejected["reason"] == "sandbox_tests" and rejected["detail"].startswith("tests: 0/1 passed")
    assert rejected["rounds"] == 1 and len(ev.library.events("check")) == 2


@pytest.mark.parametrize(
    ("draft", "reason"),
    [
        (tool(GOOD, tests=""), "sandbox_tests"),  # zero tests prove nothing
        (tool(HOSTILE), "static_policy"),
        (tool(GOOD, params={"type": "array"}), "schema_invalid"),
        (tool(LOOPS_ON_EMPTY, tests="def test_empty():\n    count_files('')\n"), "timeout"),
    ],
)
def test_one_shot_rejection_reasons(sandbox: Sandbox, draft: str, reason: str):
    ev = evolver(Scripted(gaps=[GAPS], synthesize=[draft]), sandbox, max_repairs=0, adversarial=False)
    ev.observe(0, failure(0))
    assert ev.stats.rejections == {reason: 1} and ev.library.active() == []


def test_adversarial_tests_catch_what_the_unit_tests_miss_and_switching_them_off_promotes_it(sandbox: Sandbox):
    adversarial = "```python\ndef test_adversarial_empty():\n    assert count_files('') >= 0\n```"
    on = evolver(Scripted(gaps=[GAPS], synthesize=[tool(LOOPS_ON_EMPTY)], adversarial=[adversarial]), sandbox,
                 max_repairs=0)  # fmt: skip
    on.observe(0, failure(0))
    assert on.stats.rejections == {"timeout": 1}
    off = evolver(Scripted(gaps=[GAPS], synthesize=[tool(LOOPS_ON_EMPTY)]), sandbox, max_repairs=0, adversarial=False)
    off.observe(0, failure(0))
    assert off.stats.promoted == 1 and audit_promotions(off.library) == []


def test_static_policy_off_lets_the_sandbox_be_the_only_boundary(sandbox: Sandbox):
    ev = evolver(Scripted(gaps=[GAPS], synthesize=[tool(HOSTILE)]), sandbox, static_policy=False, adversarial=False)
    ev.observe(0, failure(0))
    assert ev.stats.promoted == 1
    (check,) = ev.library.events("check")
    assert check["static_policy"] is None and check["static_policy_enforced"] is False
    assert audit_promotions(ev.library) == []


def test_model_output_that_cannot_be_parsed_is_an_event_never_an_exception(sandbox: Sandbox):
    ev = evolver(Scripted(gaps=["I think you need better tools."]), sandbox)
    ev.observe(0, failure(0))
    assert ev.stats.parse_failures == 1 and ev.library.versions() == []
    (event,) = ev.library.events("parse")
    assert event["step"] == "gaps" and "no JSON" in event["problems"][0]
    ev2 = evolver(Scripted(gaps=[GAPS], synthesize=["```python\nthis is not python(\n```"]), sandbox)
    ev2.observe(0, failure(0))
    assert ev2.stats.parse_failures == 1 and ev2.library.events("parse")[0]["step"] == "synthesize"


def test_the_same_code_again_is_a_duplicate(sandbox: Sandbox):
    backend = Scripted(gaps=[GAPS], synthesize=[tool(GOOD)], adversarial=["```python\n" + ADVERSARIAL + "```"])
    ev = evolver(backend, sandbox, max_repairs=0)
    ev.observe(0, failure(0))
    ev.observe(1, failure(1))  # the model offers the same tool again: a patch with the same code
    assert ev.stats.rejections == {"duplicate": 1} and ev.library.get("count_files").version == 1


def test_a_patch_needs_evidence_from_replayed_failures(sandbox: Sandbox):
    fixed = GOOD.replace("Count world files", "Count the world files")
    backend = Scripted(gaps=[GAPS], synthesize=[tool(GOOD), tool(fixed)])
    replays: list[str] = []

    def replay(task: str, runner: Any) -> dict[str, Any]:
        replays.append(task)
        new = "the world files" in runner.tools["count_files"][1]
        return failure(99, score=1.0 if new else 0.0)

    ev = evolver(backend, sandbox, adversarial=False)
    ev.replay = replay
    ev.observe(0, failure(0))
    used = failure(1) | {"tools_called": [{"tool": "count_files", "args": {}, "ok": True, "error": None}]}
    ev.observe(1, used)
    assert ev.library.get("count_files").version == 2  # won its A/B test: 1 success vs 0 on the replay
    (ab,) = ev.library.events("ab_test")
    assert ab["old_successes"] == 0 and ab["new_successes"] == 1 and replays == ["t1", "t1"]


def test_triggers_count_failures_and_respect_the_cap(sandbox: Sandbox):
    backend = Scripted(gaps=["no gaps today"])
    ev = evolver(backend, sandbox, failure_threshold=2, max_evolutions=1, per_episodes=4)
    for i, score in enumerate([0, 1, 0, 0, 0, 0, 0, 0, 0]):
        ev.observe(i, failure(i, score))
    assert ev.stats.evolutions == [2, 6]  # 2 failures at episode 2; the cap holds the next until episode 6
    none = evolver(Scripted(gaps=["none"]), sandbox, failure_threshold=3, reward_signal="none")
    for i in range(6):
        none.observe(i, failure(i, score=1.0))  # without a reward signal every episode counts
    assert none.stats.evolutions == [2, 5]


def test_self_reward_is_the_agents_own_judgement():
    assert self_reward(failure(0, score=0.0)) == 1.0  # a confident wrong answer looks fine to the agent
    assert self_reward(failure(0) | {"answer": "I could not determine it"}) == 0.0
    assert self_reward(failure(0) | {"truncated": True}) == 0.0
    # A backend's private payload is not the agent's judgement (it would mean something else on real models).
    guessed = failure(0) | {"llm": {"responses": [{"raw": {"sim": {"events": [{"event": "guessed"}]}}}]}}
    assert self_reward(guessed) == 1.0


def test_the_audit_flags_a_promotion_without_a_passing_check():
    lib = Library(":memory:")
    v = lib.add_candidate("count_files", GOOD, PARAMS, TESTS, origin="synthesis", episode=0)
    lib.promote("count_files", v.version, episode=0)
    assert audit_promotions(lib) == ["count_files v1 was promoted without a passing full check of its code"]


def test_settings_are_validated_with_the_accepted_values():
    with pytest.raises(ValueError, match="reward_signal must be one of oracle, self, none"):
        EvolutionSettings(reward_signal="vibes")
    with pytest.raises(ValueError, match="failure_threshold must be >= 1"):
        EvolutionSettings(failure_threshold=0)
    with pytest.raises(ValueError, match="pruning must be one of"):
        EvolutionSettings(pruning="random")


def test_a_plateau_triggers_evolution_before_the_failure_threshold(sandbox: Sandbox):
    ev = evolver(Scripted(gaps=["none"]), sandbox, failure_threshold=10, plateau_window=2, per_episodes=1)
    for i, score in enumerate([1, 0, 1, 0, 1, 1]):
        ev.observe(i, failure(i, score))
    # Episodes 0-3: success 1/2 in the last two equals 1/2 in the two before -> plateau at episode 3.
    assert ev.stats.evolutions == [3]
    (trigger,) = ev.library.events("trigger")
    assert "plateau" in trigger["reason"]


def test_without_a_reward_signal_tool_use_counts_only_the_calls_own_outcome(sandbox: Sandbox):
    backend = Scripted(gaps=[GAPS], synthesize=[tool(GOOD)])
    ev = evolver(backend, sandbox, reward_signal="none", failure_threshold=1, adversarial=False)
    ev.observe(0, failure(0))
    assert ev.stats.promoted == 1
    calls = [{"tool": "count_files", "args": {}, "ok": True, "error": None},
             {"tool": "count_files", "args": {}, "ok": False, "error": "x"}]  # fmt: skip
    ev.observe(1, failure(1, score=0.0) | {"tools_called": calls, "success": False})
    t = ev.library.get("count_files")
    assert (t.invocations, t.successes) == (2, 1)  # the grader's 0 is not visible under `none`


def test_only_versions_under_test_are_revised():
    lib = Library(":memory:")
    v = lib.add_candidate("count_files", GOOD, PARAMS, TESTS, origin="synthesis", episode=0)
    lib.revise("count_files", v.version, BUGGY, TESTS, episode=0, round=1)
    assert lib.get("count_files", 1).code == BUGGY
    lib.promote("count_files", 1, episode=0)
    with pytest.raises(ValueError, match="only testing versions are revised"):
        lib.revise("count_files", 1, GOOD, TESTS, episode=1)


def test_repair_prompt_does_not_depend_on_which_limit_stopped_a_runaway():
    # Under load the clock fires first, otherwise the world-call budget: same seed, same prompt.
    from evolution.pipeline import _describe
    from evolution.sandbox.runner import CallOutcome

    by_clock = _describe(CallOutcome(False, error="timeout: killed after 5.0 s wall clock", reason="timeout"), "tests")
    by_budget = _describe(CallOutcome(False, error="runaway: killed after more than 5000 world calls",
                                      reason="rpc_limit"), "tests")  # fmt: skip
    assert by_clock == by_budget and "limits" in by_clock
    failed = CallOutcome(False, tests=[{"name": "test_a", "passed": False, "error": "AssertionError: 1 != 2"}])
    assert "test_a: AssertionError: 1 != 2" in _describe(failed, "tests")
