"""The oracle driver: a task family's scripted solver run against its world.

A family's ``solve(world, params)`` is a generator that yields ``Call``s and returns the
answer. ``trace_oracle`` drives it the way an agent's calls would go: affordances through
the same ``Affordances`` an agent gets (a fresh HTTP session), tools through ``runner``
(default: the suite's reference tools in-process); a failed call reaches the solver as
``Error: ...``, as the env would show it. Observations are not truncated.

Used by the protocols' ``run_oracle``, differential testing, the downstream tool sets and
the failure taxonomy's plans. ``trace_solver`` is the same driver for any solver and any way of
running its calls; ``OracleSteps`` is its single step, for callers that own the loop: the oracle
*policy* (one call per ``act``, through the env) and the simulated model (its own per-call
decisions).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from envs.access import AccessPolicy, WorldAccess
from envs.affordances import Affordances
from envs.tasks import Call, Suite, TaskInstance
from envs.tools import InProcessRunner, ToolRunner


class OracleError(RuntimeError):
    """A call an oracle (a family's ``solve``) made failed, or answered what the oracle cannot read."""


def http_json(url: str) -> Generator[Call, str, Any]:
    """For solvers: GET through the ``http_get`` affordance ('HTTP <status>\\n<headers>\\n\\n<body>'), the
    body parsed as JSON; anything but a 200 is an ``OracleError``."""
    out = yield Call("http_get", {"url": url})
    if out.startswith("Error"):
        raise OracleError(f"GET {url} failed: {out[:300]}")
    head, _, body = out.partition("\n\n")
    if not head.startswith("HTTP 200"):
        raise OracleError(f"GET {url}: {head.splitlines()[0] if head else out[:80]}")
    return json.loads(body)


@dataclass(frozen=True)
class OracleStep:
    call: Call
    observation: str  # what the solver was sent
    output: str | None  # the call's output, None when it failed


@dataclass
class OracleTrace:
    answer: Any
    steps: list[OracleStep] = field(default_factory=list)

    @property
    def calls(self) -> list[Call]:
        return [s.call for s in self.steps]


Execute = Callable[[Call], tuple[str, str | None]]  # a call -> (observation for the solver, output or None)


class SolverError(RuntimeError):
    """A solver broke the driving protocol: it yielded something else than a ``Call``, or too many."""


class OracleSteps:
    """A solver driven one call at a time, for callers that own the loop (a policy's ``act``, the sim).

    ``send(observation)`` gives the solver the previous call's observation (ignored on the first
    step) and returns its next ``Call``, or None once it has answered (then ``answer`` holds the
    answer). An exception the solver raises reaches the caller unchanged.
    """

    def __init__(self, solver: Generator[Any, str, Any], name: str = "solver", max_calls: int | None = None) -> None:
        self._solver = solver
        self.name, self.max_calls = name, max_calls
        self.calls = 0  # calls yielded so far
        self.started = self.done = False
        self.answer: Any = None

    def send(self, observation: str = "") -> Call | None:
        if self.done:
            raise SolverError(f"{self.name} has already answered")
        started, self.started = self.started, True
        try:
            # A generator's first step takes no value; later ones are sent the observation.
            call = self._solver.send(observation) if started else next(self._solver)
        except StopIteration as stop:
            self.done, self.answer = True, stop.value
            return None
        if not isinstance(call, Call):
            raise SolverError(f"{self.name} yielded {type(call).__name__}, expected Call")
        self.calls += 1
        if self.max_calls is not None and self.calls > self.max_calls:
            raise SolverError(f"{self.name} made more than {self.max_calls} calls")
        return call


def trace_solver(
    solver: Generator[Any, str, Any], execute: Execute, name: str = "solver", max_calls: int | None = None
) -> OracleTrace:
    """Drive ``solver`` to its answer, each call run by ``execute``; every call and its output."""
    steps = OracleSteps(solver, name, max_calls)
    trace = OracleTrace(answer=None)
    call = steps.send()
    while call is not None:
        observation, output = execute(call)
        trace.steps.append(OracleStep(call, observation, output))
        call = steps.send(observation)
    trace.answer = steps.answer
    return trace


def tool_executor(runner: ToolRunner, access: WorldAccess) -> Execute:
    """``execute`` for ``trace_solver`` through ``runner``'s tools: a failed call is observed as ``Error: ...``."""

    def execute(call: Call) -> tuple[str, str | None]:
        result = runner.call(call.tool, dict(call.args), access)
        return (result.output, result.output) if result.ok else (f"Error: {result.error}", None)

    return execute


def trace_oracle(
    suite: Suite,
    family: str,
    world_seed: int,
    params: dict[str, Any],
    options: dict[str, Any] | None = None,
    runner: ToolRunner | None = None,
    max_calls: int = 100,
) -> OracleTrace:
    """Drive ``family``'s solver on the world ``world_seed`` (with ``options``); every call and its output."""
    solver_family = suite.family(family)
    world = suite.get_world(world_seed, options or {})
    world.http.reset_session()
    access = WorldAccess(world, AccessPolicy(suite.affordances))
    affordances = Affordances(access)
    run_tool = tool_executor(runner or InProcessRunner.of(suite.reference_tools()), access)

    def execute(call: Call) -> tuple[str, str | None]:
        if call.tool not in suite.affordances:
            return run_tool(call)
        try:
            output = affordances.call(call.tool, dict(call.args))
        except Exception as exc:  # an affordance failure is an observation
            return f"Error: {exc}", None
        return output, output

    return trace_solver(solver_family.solve(world, params), execute, f"oracle for {family}", max_calls)


def run_oracle(
    suite: Suite, instance: TaskInstance, runner: ToolRunner | None = None, max_calls: int = 100
) -> tuple[str, list[Call]]:
    """A task instance's oracle: (answer as text, the calls made)."""
    trace = trace_oracle(
        suite, instance.family, instance.world_seed, instance.params, instance.options, runner, max_calls
    )
    return str(trace.answer), trace.calls


__all__ = [
    "Execute",
    "OracleError",
    "OracleStep",
    "OracleSteps",
    "OracleTrace",
    "SolverError",
    "http_json",
    "run_oracle",
    "tool_executor",
    "trace_oracle",
    "trace_solver",
]
