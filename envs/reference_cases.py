"""Tool-call cases on frozen worlds and what the world's reference tool returns for them.

A *case* is a tool call (name, arguments) on a frozen world. Nominal cases are the
calls the task families' oracle plans make (``run_oracle`` on real instances); edge
cases perturb them the way adversarial tests would (empty strings, zero, negative
and out-of-range numbers, unknown names). The expected output of a case is what the
hand-written reference tool returns in process. Used by the measurement of promoted
tools (``experiments.differential``, the L3 diagnostics) and by the simulated tool
author's unit tests.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs import seeding, toolkit
from envs.oracle import run_oracle
from envs.tasks import Suite
from envs.tools import ToolSpec, check_args


@dataclass(frozen=True)
class Case:
    world_seed: int
    tool: str
    args: dict[str, Any]
    kind: str = "nominal"  # nominal | edge
    options: dict[str, Any] = field(default_factory=dict)  # the world generator options

    def key(self) -> str:
        return json.dumps([self.world_seed, self.options, self.tool, self.args], sort_keys=True, default=str)

    def world(self, suite: Suite) -> Any:
        return suite.get_world(self.world_seed, self.options)

    def variant(self, args: dict[str, Any]) -> Case:
        """The same world and tool with other arguments (an edge case)."""
        return Case(self.world_seed, self.tool, args, "edge", self.options)


@dataclass(frozen=True)
class Expected:
    ok: bool
    value: Any = None
    error: str | None = None


def plain(value: Any) -> Any:
    """A value as it crosses the sandbox boundary (JSON, with ``str`` for the rest)."""
    return json.loads(json.dumps(value, default=str))


def same(a: Any, b: Any, rel: float = 1e-6) -> bool:
    """Typed equality of JSON values: int/float compare numerically, bool is not a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) or isinstance(b, float):
            return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, rel) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], rel) for k in a)
    return type(a) is type(b) and a == b


def nominal_cases(
    suite: Suite,
    seed: int,
    split: str = "test",
    n_worlds: int = 1,
    per_family: int = 1,
    options: dict[str, Any] | None = None,
) -> list[Case]:
    """Every distinct reference-tool call the oracle plans make on the split's instances."""
    names = {fn.__name__ for fn in suite.reference_tools()}
    seen: dict[str, Case] = {}
    for inst in suite.instances(seed, split, n_worlds=n_worlds, per_family=per_family, options=options):
        _, calls = run_oracle(suite, inst)
        for call in calls:
            if call.tool in names:
                case = Case(inst.world_seed, call.tool, dict(call.args), options=dict(inst.options))
                seen.setdefault(case.key(), case)
    return list(seen.values())


def edge_cases(specs: Iterable[ToolSpec], nominal: list[Case], seed: int, per_tool: int = 12) -> list[Case]:
    """Perturbed calls: each argument in turn set to an edge value of its type (valid under the schema)."""
    by_tool: dict[str, list[Case]] = {}
    for case in nominal:
        by_tool.setdefault(case.tool, []).append(case)
    out: list[Case] = []
    for spec in specs:
        bases = by_tool.get(spec.name) or []
        rng = seeding.rng(seed, "edge", spec.name)
        props = spec.parameters.get("properties", {})
        made: dict[str, Case] = {}
        candidates: list[Case] = []
        for base in bases or []:
            for pname, schema in sorted(props.items()):
                for value in edge_values(schema, base.args.get(pname)):
                    args = {**base.args, pname: value}
                    if check_args(spec, args) is None:
                        candidates.append(base.variant(args))
        if not bases and not spec.parameters.get("required"):
            first = min(nominal, key=lambda c: c.world_seed, default=None)
            candidates.append(Case(first.world_seed if first else seed, spec.name, {}, "edge",
                                   first.options if first else {}))  # fmt: skip
        order = rng.permutation(len(candidates)) if candidates else np.array([], dtype=int)
        for i in order:
            c = candidates[int(i)]
            made.setdefault(c.key(), c)
            if len(made) >= per_tool:
                break
        out.extend(made.values())
    return out


def edge_values(schema: dict[str, Any], current: Any) -> list[Any]:
    """Edge values for one parameter: empty, zero, boundary and unknown values of its type."""
    kind = schema.get("type")
    if kind == "string":
        return ["", "no-such-name", (current or "") + "_x"]
    if kind == "integer":
        base = current if isinstance(current, int) else 0
        return [0, -1, base + 1, base - 1]
    if kind == "number":
        return [0.0, -1.0, 1e9]
    if kind == "array":
        return [[]]
    if kind == "object":
        return [{}]
    if kind == "boolean":
        return [not current] if isinstance(current, bool) else [True, False]
    return []


def expected_output(suite: Suite, fn: Callable[..., Any], case: Case) -> Expected:
    """The reference tool's output for ``case`` (privileged access: no rate limits or session state)."""
    world = case.world(suite)
    try:
        with toolkit.bound(suite.access(world)):
            return Expected(True, plain(fn(**case.args)))
    except Exception as exc:
        return Expected(False, error=f"{type(exc).__name__}: {exc}")
