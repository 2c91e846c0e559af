"""Phase 4 (Incidents): tasks that tie logs, metrics and the deploy history together.

Definitions (root cause, start time, blast radius, triggering deploy) are the ones of
``handbook/incidents.md``; truths are computed from the metrics API, the log files
and the config tree, never from the generator's incident record.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from envs.access import WorldAccess
from envs.acmecorp import reach
from envs.acmecorp.topology import CAUSES, DEPENDENT_ERROR
from envs.grading import Comparator, CountMap, DictOf, ExactInt, ExactStr, Tolerance
from envs.tasks import Call, DegenerateTask, Solver, TaskFamily
from envs.world import World

STR = {"type": "string"}
INT = {"type": "integer"}
CODE_TO_CAUSE = {code: cause for cause, (_, code, _) in CAUSES.items()}
CAUSE_ENUM = {"type": "string", "enum": sorted(CAUSES)}
EARLY_WINDOW = 1800  # "the first 30 minutes of the incident"


def _obj(**props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def root_and_start(access: WorldAccess) -> tuple[str, int]:
    view = reach.incident_view(access)
    if view["start_ts"] is None:
        raise DegenerateTask("no incident start by the handbook definition")
    return view["root_cause"], int(view["start_ts"])


def cause_from_logs(access: WorldAccess, root: str, start: int) -> str:
    codes = Counter(
        e.ctx.get("error_code")
        for e in reach.entries(access, root, errors_only=True, start=start, end=start + EARLY_WINDOW)
        if e.ctx.get("error_code") in CODE_TO_CAUSE
    )
    top = reach.unique_argmax({str(k): v for k, v in codes.items()})
    if top is None:
        raise DegenerateTask("no unique cause signature in the logs")
    return CODE_TO_CAUSE[top]


def _detect() -> Solver:
    out = yield Call("incident_detect", {})
    info: dict[str, Any] = json.loads(out)
    return info


def _cause(root: str, start: int) -> Solver:
    out = yield Call(
        "log_group_count",
        {"by": "error_code", "service": root, "severity": "errors", "start": start, "end": start + EARLY_WINDOW},
    )
    counts = json.loads(out)
    sig = {c: n for c, n in counts.items() if c in CODE_TO_CAUSE}
    return CODE_TO_CAUSE[max(sig, key=lambda c: sig[c])]


class RootCause(TaskFamily):
    name, phase, difficulty = "incidents.root_cause", "incidents", "medium"
    answer_schema = _obj(service=STR, cause=CAUSE_ENUM)

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            "AcmeCorp had one incident during the observed period. Which service was the root cause, and which "
            "cause category (see the incidents handbook page) was it?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        root, start = root_and_start(access)
        return {"service": root, "cause": cause_from_logs(access, root, start)}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf((("service", ExactStr()), ("cause", ExactStr())))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        info = yield from _detect()
        cause = yield from _cause(info["root_cause"], info["start_ts"])
        return {"service": info["root_cause"], "cause": cause}


class StartTime(TaskFamily):
    name, phase, difficulty = "incidents.start_time", "incidents", "medium"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return "When did the incident start? Give the start minute as a unix timestamp (handbook definition)."

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        return root_and_start(access)[1]

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return Tolerance(abs_tol=120)

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        info = yield from _detect()
        return info["start_ts"]


class PeakErrorRate(TaskFamily):
    name, phase, difficulty = "incidents.peak_error_rate", "incidents", "hard"
    answer_schema = _obj(service=STR, peak_error_rate={"type": "number"})

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            "For the incident's root-cause service, what was the highest per-minute error rate "
            "(error_count / request_count) in its metrics series?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        root, _ = root_and_start(access)
        peak = max(reach.point_error_rate(pt) for pt in reach.series(access, root))
        return {"service": root, "peak_error_rate": round(peak, 6)}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf((("service", ExactStr()), ("peak_error_rate", Tolerance(abs_tol=1e-4))))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        info = yield from _detect()
        return {"service": info["root_cause"], "peak_error_rate": info["peak_error_rate"]}


class EarlyErrors(TaskFamily):
    name, phase, difficulty = "incidents.early_errors", "incidents", "medium"
    answer_schema = _obj(service=STR, errors=INT)

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            "How many error entries (ERROR or FATAL) did the incident's root-cause service log in the first "
            "30 minutes of the incident, i.e. in [start, start + 1800) with the handbook's start time?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        root, start = root_and_start(access)
        n = len(reach.entries(access, root, errors_only=True, start=start, end=start + EARLY_WINDOW))
        return {"service": root, "errors": n}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf((("service", ExactStr()), ("errors", ExactInt())))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        info = yield from _detect()
        root, start = info["root_cause"], info["start_ts"]
        out = yield Call(
            "log_count", {"service": root, "severity": "errors", "start": start, "end": start + EARLY_WINDOW}
        )
        return {"service": root, "errors": json.loads(out)}


class DependentFailures(TaskFamily):
    name, phase, difficulty = "incidents.dependent_failures", "incidents", "medium"
    answer_schema = {
        "type": "object",
        "additionalProperties": INT,
        "description": "service -> number of its error entries with error_code E-DEPENDENCY-FAILED",
    }

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"During the incident, other services failed calling the root cause and logged {DEPENDENT_ERROR}. "
            f"For every service that logged at least one error entry with error_code {DEPENDENT_ERROR}, give "
            "how many it logged."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, int]:
        c = Counter(
            e.service for e in reach.entries(access, errors_only=True) if e.ctx.get("error_code") == DEPENDENT_ERROR
        )
        if not c:
            raise DegenerateTask("no dependent failures")
        return dict(sorted(c.items()))

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return CountMap()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("log_group_count", {"by": "service", "severity": "errors"})
        services = list(json.loads(out))
        counts = {}
        for svc in services:
            o = yield Call("log_count", {"service": svc, "severity": "errors", "error_code": DEPENDENT_ERROR})
            if json.loads(o):
                counts[svc] = json.loads(o)
        return counts


INCIDENT_FAMILIES: list[TaskFamily] = [
    RootCause(),
    StartTime(),
    PeakErrorRate(),
    EarlyErrors(),
    DependentFailures(),
]
