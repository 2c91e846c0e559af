"""The simulated tool author's tests: expected values from what it observed, never from a world."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from agents.sim.author import respond
from agents.sim.memory import NeedData, ObservedWorld
from agents.sim.profiles import get_profile
from envs import toolkit
from envs.access import WorldAccess
from envs.affordances import Affordances
from envs.reference_cases import Case, expected_output
from envs.tasks import Suite, get_suite
from evolution.parsing import Gap, parse_tool
from evolution.prompts import SYSTEM, repair_prompt

SUITE = get_suite("acmecorp", "rigorous")
WORLD_SEED = 5
ARGS = {"service": "payments", "severity": "ERROR"}


def observations(name: str, args: dict[str, Any], seed: int = WORLD_SEED) -> list[list[Any]]:
    """What an agent doing ``name(**args)`` by hand observes: every affordance call and its answer, in order."""
    world = SUITE.get_world(seed)
    affordances = Affordances(SUITE.access(world))
    fn = {f.__name__: f for f in SUITE.reference_tools()}[name]
    mem, out = ObservedWorld(page_lines=100), list[list[Any]]()
    while True:
        try:
            with toolkit.bound(mem):  # type: ignore[arg-type]
                fn(**args)
            return out
        except NeedData as need:
            obs = affordances.call(need.tool, need.call_args)
            mem.observe(need.tool, need.call_args, obs)
            out.append([need.tool, need.call_args, obs])


def author(step: str, overrides: dict[str, Any] | None = None, prompt: str = "", **meta: Any) -> str:
    base = {"world": "acmecorp", "protocol": "rigorous", "evolution": 0, "attempt": 0, "round": 0,
            "step": step, "gap": {"name": "log_count"}, "examples": [ARGS]}  # fmt: skip
    profile = get_profile("sim-perfect", {"p_test_nominal": 1.0, **(overrides or {})})
    return respond(profile, {**base, **meta}, SYSTEM + "\n" + prompt, seed=1)  # as SimChat joins the request


def suite_of(answer: str) -> str:
    draft = parse_tool(answer).value
    assert draft is not None, answer
    return draft.tests


def first_want(tests: str) -> Any:
    m = re.search(r"^    want = (.*)$", tests, re.MULTILINE)
    return None if m is None else eval(m.group(1))  # a literal the author wrote


def truth(args: dict[str, Any] = ARGS) -> Any:
    fn = {f.__name__: f for f in SUITE.reference_tools()}["log_count"]
    return expected_output(SUITE, fn, Case(WORLD_SEED, "log_count", args)).value


def test_expected_values_are_what_the_failed_episodes_observed():
    seen = observations("log_count", ARGS)
    assert len(seen) >= 3  # several pages of several files
    full = first_want(suite_of(author("synthesize", observed=seen)))
    assert full == truth() and full > 0  # it saw every page: its value is right
    # It saw only the first page of each file: it counts over what it read, so it expects too little.
    first_pages = [o for o in seen if o[0] == "list_files" or o[1].get("offset") == 0]
    partial = first_want(suite_of(author("synthesize", observed=first_pages)))
    assert isinstance(partial, int) and 0 < partial < full
    # It never read some file: it cannot know the value and checks only the declared return type.
    assert first_want(suite_of(author("synthesize", observed=seen[:2]))) is None
    # It saw nothing: it cannot know the value and checks only the declared return type.
    blind = suite_of(author("synthesize", observed=[]))
    assert first_want(blind) is None and "assert isinstance(got, int)" in blind
    # Observations of another world (not the one its tests run in) give that world's values.
    other = first_want(suite_of(author("synthesize", observed=observations("log_count", ARGS, seed=6))))
    assert other != full


def test_wrong_expectations_follow_their_profile_rate():
    seen = observations("log_count", ARGS)
    assert first_want(suite_of(author("synthesize", {"p_wrong_expectation": 0.0}, observed=seen))) == truth()
    wrong = [
        first_want(suite_of(author("synthesize", {"p_wrong_expectation": 1.0}, evolution=i, observed=seen)))
        for i in range(5)
    ]
    assert all(w != truth() for w in wrong)
    mixed = [
        first_want(suite_of(author("synthesize", {"p_wrong_expectation": 0.5}, evolution=i, observed=seen))) == truth()
        for i in range(40)
    ]
    assert 8 <= sum(mixed) <= 32  # about half right
    with pytest.raises(ValueError, match="p_wrong_expectation must be a probability"):
        get_profile("sim-sonnet-like", {"p_wrong_expectation": 2})


def test_a_repair_after_failing_tests_works_the_values_out_again():
    seen = observations("log_count", ARGS)
    bad_tests = "def test_x():\n    assert log_count(service='payments', severity='ERROR') == -5\n"
    code = parse_tool(author("synthesize", observed=seen)).value.code  # type: ignore[union-attr]
    prompt = repair_prompt(Gap("log_count", "count"), code, bad_tests, "tests: 0/1 passed")
    fixed = suite_of(author("repair", prompt=prompt, round=1, feedback=["sandbox_tests"], observed=seen))
    assert first_want(fixed) == truth() and "-5" not in fixed
    kept = suite_of(author("repair", prompt=prompt, round=1, feedback=["static_policy"], observed=seen))
    assert kept == bad_tests  # a verdict on the code alone leaves its tests as they were


def test_the_author_never_reads_a_world(monkeypatch: pytest.MonkeyPatch):
    seen, want = observations("log_count", ARGS), truth()  # before the world is out of bounds
    touched: list[str] = []

    class Forbidden(BaseException):  # not an Exception: the author's own handlers cannot swallow it
        pass

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        touched.append("world")
        raise Forbidden("the tool author reached a world")

    monkeypatch.setattr(Suite, "get_world", forbidden)
    monkeypatch.setattr(WorldAccess, "__init__", forbidden)
    overrides = {"p_test_edge": 1.0, "p_adversarial_case": 1.0}
    answers = [author(step, overrides, observed=seen) for step in ("synthesize", "adversarial")]
    code = parse_tool(answers[0]).value.code  # type: ignore[union-attr]
    prompt = repair_prompt(Gap("log_count", "count"), code, "", "tests: 0/1 passed")
    answers.append(author("repair", overrides, prompt=prompt, round=1, feedback=["sandbox_tests"], observed=seen))
    assert touched == []
    assert first_want(suite_of(answers[0])) == want
    assert answers[1].count("def test_adversarial_") >= 3 and "def test_nominal_0" in suite_of(answers[2])


def test_the_pipeline_hands_the_author_only_observations_of_the_checked_world():
    from evolution.pipeline import _observed

    def record(seed: int, tool: str, obs: str) -> dict[str, Any]:
        step = {"action": "a", "observation": obs, "info": {"kind": "tool", "tool": tool, "args": {"path": "x"}}}
        return {"task": {"world_seed": seed}, "steps": [step, {"action": "b", "observation": "done",
                                                                "info": {"kind": "answer"}}]}  # fmt: skip

    failures = [record(5, "read_file", "page 5"), record(6, "read_file", "page 6"), record(5, "log_count", "12")]
    assert _observed(failures, 5) == [["read_file", {"path": "x"}, "page 5"]]
    assert json.dumps(_observed(failures, 7)) == "[]"
