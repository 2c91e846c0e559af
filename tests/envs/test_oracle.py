"""envs.oracle: the one driver of task solvers (OracleSteps, trace_solver, tool_executor, trace_oracle)."""

from __future__ import annotations

import json
from collections.abc import Generator
from types import SimpleNamespace
from typing import Any

import pytest

from agents.scripted import OraclePolicy
from envs.access import WorldAccess
from envs.oracle import (
    OracleError,
    OracleSteps,
    SolverError,
    run_oracle,
    tool_executor,
    trace_oracle,
    trace_solver,
)
from envs.tasks import Call, Suite, get_suite
from envs.tools import InProcessRunner
from envs.world import World


def echo_solver(n: int) -> Generator[Any, str, list[str]]:
    """Calls ``step`` n times and answers with every observation it was sent, in order."""
    seen = []
    for i in range(n):
        seen.append((yield Call("step", {"i": i})))
    return seen


def echo_execute(call: Call) -> tuple[str, str | None]:
    return f"obs {call.args['i']}", f"out {call.args['i']}"


def test_steps_hand_out_calls_feed_back_observations_and_keep_the_answer():
    steps = OracleSteps(echo_solver(2))
    first = steps.send("ignored: nothing was called yet")
    assert first == Call("step", {"i": 0}) and steps.calls == 1 and not steps.done
    assert steps.send("a") == Call("step", {"i": 1})
    assert steps.send("b") is None
    assert steps.done and steps.answer == ["a", "b"] and steps.calls == 2


def test_a_solver_without_calls_answers_on_the_first_step():
    steps = OracleSteps(echo_solver(0))
    assert steps.send() is None and steps.done and steps.answer == [] and steps.calls == 0


def test_steps_after_the_answer_are_an_error():
    steps = OracleSteps(echo_solver(0), name="mine")
    steps.send()
    with pytest.raises(SolverError, match="mine has already answered"):
        steps.send("more")


def test_a_yield_that_is_not_a_call_is_a_solver_error():
    def bad() -> Generator[Any, str, None]:
        yield {"tool": "step"}

    with pytest.raises(SolverError, match=r"^oracle for f yielded dict, expected Call$"):
        OracleSteps(bad(), name="oracle for f").send()


def test_max_calls_allows_exactly_that_many():
    assert trace_solver(echo_solver(3), echo_execute, max_calls=3).answer == ["obs 0", "obs 1", "obs 2"]
    with pytest.raises(SolverError, match=r"^s made more than 2 calls$"):
        trace_solver(echo_solver(3), echo_execute, name="s", max_calls=2)


def test_an_exception_of_the_solver_reaches_the_caller_unchanged():
    def failing() -> Generator[Any, str, None]:
        yield Call("step", {"i": 0})
        raise OracleError("cannot read that")

    steps = OracleSteps(failing())
    steps.send()
    with pytest.raises(OracleError, match="cannot read that"):
        steps.send("x")


def test_trace_solver_records_every_call_observation_and_output():
    trace = trace_solver(echo_solver(2), echo_execute)
    assert trace.calls == [Call("step", {"i": 0}), Call("step", {"i": 1})]
    assert [(s.observation, s.output) for s in trace.steps] == [("obs 0", "out 0"), ("obs 1", "out 1")]
    assert trace.answer == ["obs 0", "obs 1"]


def double(x: int) -> int:
    """Twice x."""
    return 2 * x


def boom() -> str:
    """Always fails."""
    raise ValueError("no luck")


@pytest.fixture(scope="module")
def suite() -> Suite:
    return get_suite("acmecorp", "rigorous")


@pytest.fixture(scope="module")
def world(suite: Suite) -> World:
    return suite.get_world(3)


def test_tool_executor_shows_a_failed_call_as_an_error_observation(world: World):
    execute = tool_executor(InProcessRunner.of([double, boom]), WorldAccess(world))
    assert execute(Call("double", {"x": 4})) == ("8", "8")
    observation, output = execute(Call("boom", {}))
    assert observation == "Error: ValueError: no luck" and output is None


def test_trace_oracle_and_run_oracle_solve_real_instances(suite: Suite):
    instances = suite.instances(11, "test", families=[f.name for f in suite.families[:4]])
    assert instances
    for inst in instances:
        trace = trace_oracle(suite, inst.family, inst.world_seed, inst.params, inst.options)
        assert trace.steps and all(s.output is not None for s in trace.steps), inst.id
        assert inst.grade(trace.answer).success, inst.id
        answer, calls = run_oracle(suite, inst)
        assert answer == str(trace.answer) and calls == trace.calls


def test_trace_oracle_stops_a_solver_at_max_calls(suite: Suite):
    inst = suite.instances(11, "test", families=[suite.families[0].name])[0]
    n = len(trace_oracle(suite, inst.family, inst.world_seed, inst.params, inst.options).steps)
    with pytest.raises(SolverError, match=f"oracle for {inst.family} made more than {n - 1} calls"):
        trace_oracle(suite, inst.family, inst.world_seed, inst.params, inst.options, max_calls=n - 1)


def fake_env(solver: Generator[Any, str, Any]) -> Any:
    family = SimpleNamespace(solve=lambda world, params: solver)
    suite = SimpleNamespace(family=lambda name: family, get_world=lambda seed, options: None)
    return SimpleNamespace(suite=suite, instance=SimpleNamespace(family="f", world_seed=0, options={}, params={}))


def test_oracle_policy_steps_the_solver_through_act():
    policy = OraclePolicy()
    policy.reset(fake_env(echo_solver(1)), "prompt", {})
    assert json.loads(policy.act("prompt")) == {"tool": "step", "args": {"i": 0}}
    assert json.loads(policy.act("seen")) == {"answer": ["seen"]}
    assert policy.episode_extras() == {}


def test_oracle_policy_records_what_broke_the_solver_and_answers_null():
    def not_a_call() -> Generator[Any, str, None]:
        yield "step"

    def raising() -> Generator[Any, str, None]:
        yield Call("step", {})
        raise KeyError("rows")

    policy = OraclePolicy()
    policy.reset(fake_env(not_a_call()), "prompt", {})
    assert json.loads(policy.act("prompt")) == {"answer": None}
    assert policy.episode_extras() == {"solver_error": "solver yielded str, expected Call"}
    policy.reset(fake_env(raising()), "prompt", {})
    policy.act("prompt")
    assert json.loads(policy.act("x")) == {"answer": None}
    assert policy.episode_extras() == {"solver_error": "KeyError: 'rows'"}
