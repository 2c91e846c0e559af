"""Reference differential tests: does a synthesized tool behave like the world's reference tool?

A *case* is a tool call (name, arguments) on a frozen world. Nominal cases are the
calls the task families' oracle plans make (``run_oracle`` on real instances); edge
cases perturb them the way adversarial tests would (empty strings, zero, negative
and out-of-range numbers, unknown names). The reference output of a case is what the
hand-written reference tool returns in process; a candidate passes a case when the
sandboxed candidate returns the same JSON value (floats to 1e-6 relative), or when
both raise. Differential tests never feed back into evolution: they measure it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from envs.reference_cases import Case, expected_output, same
from envs.tasks import Suite
from envs.tools import check_args, tool_spec
from evolution.sandbox.runner import Sandbox

HARD_FAILURES = frozenset({"timeout", "cpu_limit", "rpc_limit", "scratch_limit", "killed", "crash", "worker", "syntax"})


@dataclass
class DiffResult:
    tool: str
    n: int = 0
    passed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.passed / self.n if self.n else 0.0

    @property
    def all_passed(self) -> bool:
        return self.n > 0 and self.passed == self.n


def differential(
    sandbox: Sandbox,
    suite: Suite,
    name: str,
    code: str,
    cases: Iterable[Case],
    reference: Callable[..., Any] | None = None,
) -> DiffResult:
    """Run ``code``'s ``name`` in the sandbox on ``cases`` and compare with the reference tool ``name``."""
    refs = {fn.__name__: fn for fn in suite.reference_tools()}
    ref = reference or refs.get(name)
    result = DiffResult(name)
    if ref is None:
        return result
    spec = tool_spec(ref)
    for case in cases:
        if case.tool != name or check_args(spec, case.args) is not None:
            continue
        want = expected_output(suite, ref, case)
        got = sandbox.call(code, name, case.args, suite.access(case.world(suite)))
        # Both raising is agreement; hanging, crashing or running away is not (the reference never does).
        clean_failure = not got.ok and got.reason not in HARD_FAILURES
        agree = (not want.ok and clean_failure) or (want.ok and got.ok and same(want.value, got.value))
        result.n += 1
        result.passed += agree
        if not agree and len(result.failures) < 5:
            result.failures.append(
                {
                    "kind": case.kind,
                    "args": case.args,
                    "expected": want.value if want.ok else want.error,
                    "got": got.value if got.ok else got.error,
                }
            )
    return result
