"""The oracle driver: a task family's scripted solver run against its world.

A family's ``solve(world, params)`` is a generator that yields ``Call``s and returns the
answer. ``trace_oracle`` drives it the way an agent's calls would go: affordances through
the same ``Affordances`` an agent gets (a fresh HTTP session), tools through ``runner``
(default: the suite's reference tools in-process); a failed call reaches the solver as
``Error: ...``, as the env would show it. Observations are not truncated.

Used by the protocols' ``run_oracle``, differential testing, the downstream tool sets and
the failure taxonomy's plans. (The oracle *policy* drives the same solvers through the env,
one step per ``act``; the simulated model follows them with its own per-call decisions.)
"""

from __future__ import annotations

import json
from collections.abc import Generator
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
    runner = runner or InProcessRunner.of(suite.reference_tools())
    trace = OracleTrace(answer=None)
    solver = solver_family.solve(world, params)
    try:
        call = next(solver)
        while True:
            if not isinstance(call, Call):
                raise RuntimeError(f"oracle for {family} yielded {type(call).__name__}, expected Call")
            if len(trace.steps) >= max_calls:
                raise RuntimeError(f"oracle for {family} made more than {max_calls} calls")
            output: str | None
            if call.tool in suite.affordances:
                try:
                    obs = output = affordances.call(call.tool, dict(call.args))
                except Exception as exc:  # an affordance failure is an observation
                    obs, output = f"Error: {exc}", None
            else:
                result = runner.call(call.tool, dict(call.args), access)
                output = result.output if result.ok else None
                obs = result.output if result.ok else f"Error: {result.error}"
            trace.steps.append(OracleStep(call, obs, output))
            call = solver.send(obs)
    except StopIteration as stop:
        trace.answer = stop.value
    return trace


def run_oracle(
    suite: Suite, instance: TaskInstance, runner: ToolRunner | None = None, max_calls: int = 100
) -> tuple[str, list[Call]]:
    """A task instance's oracle: (answer as text, the calls made)."""
    trace = trace_oracle(
        suite, instance.family, instance.world_seed, instance.params, instance.options, runner, max_calls
    )
    return str(trace.answer), trace.calls


__all__ = ["OracleError", "OracleStep", "OracleTrace", "http_json", "run_oracle", "trace_oracle"]
