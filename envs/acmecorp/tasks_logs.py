"""Phase 1 (Logs): task families over the rotated AcmeCorp log files."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from envs.access import WorldAccess
from envs.acmecorp import reach
from envs.acmecorp.logs import SEVERITIES
from envs.grading import Comparator, DictOf, ExactInt, ExactStr, OrderedList, Tolerance
from envs.tasks import Call, DegenerateTask, Solver, TaskFamily
from envs.world import World

INT = {"type": "integer"}
STR = {"type": "string"}


def pick_service(world: World, rng: Any) -> str:
    return str(rng.choice(world.facts["topology"].services))


def pick_window(world: World, rng: Any, min_h: int = 1, max_h: int = 6) -> tuple[int, int]:
    topo = world.facts["topology"]
    hours = (topo.now - topo.t0) // 3600
    span = int(rng.integers(min_h, min(max_h, hours - 1) + 1))
    start = topo.t0 + int(rng.integers(0, (hours - span) * 60)) * 60 + int(rng.integers(0, 60))
    return start, start + span * 3600


def window_text(a: int, b: int) -> str:
    return f"in the window [{a}, {b}) (unix seconds, start inclusive, end exclusive)"


class SeverityCount(TaskFamily):
    name, phase, difficulty = "logs.severity_count", "logs", "easy"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"service": pick_service(world, rng), "severity": str(rng.choice(["WARN", "ERROR", "FATAL"]))}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return f"How many {p['severity']} entries did the service {p['service']} log, over all rotated log files?"

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        n = sum(e.severity == p["severity"] for e in reach.entries(access, p["service"]))
        if n == 0:
            raise DegenerateTask("zero count")
        return n

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("log_count", {"service": p["service"], "severity": p["severity"]})
        return json.loads(out)


class ErrorsInWindow(TaskFamily):
    name, phase, difficulty = "logs.errors_in_window", "logs", "easy"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        a, b = pick_window(world, rng, 1, 8)
        return {"start": a, "end": b}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return f"How many errors (ERROR or FATAL) were logged by all services {window_text(p['start'], p['end'])}?"

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        return len(reach.entries(access, errors_only=True, start=p["start"], end=p["end"]))

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("log_count", {"severity": "errors", "start": p["start"], "end": p["end"]})
        return json.loads(out)


def error_counts(access: WorldAccess, start: int = 0, end: int = 0) -> Counter[str]:
    return Counter(e.service for e in reach.entries(access, errors_only=True, start=start, end=end))


class TopErrorServiceWindow(TaskFamily):
    name, phase, difficulty = "logs.top_error_service", "logs", "medium"
    answer_schema = {
        "type": "object",
        "properties": {"service": STR, "errors": INT},
        "required": ["service", "errors"],
        "additionalProperties": False,
    }

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        a, b = pick_window(world, rng, 2, 8)
        return {"start": a, "end": b}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"Which service logged the most errors (ERROR or FATAL) {window_text(p['start'], p['end'])}, and how many?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        counts = error_counts(access, p["start"], p["end"])
        top = reach.unique_argmax(dict(counts))
        if top is None:
            raise DegenerateTask("tie for the most errors")
        return {"service": top, "errors": counts[top]}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf((("service", ExactStr()), ("errors", ExactInt())))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "log_group_count", {"by": "service", "severity": "errors", "start": p["start"], "end": p["end"]}
        )
        counts = json.loads(out)
        top = max(counts, key=lambda s: counts[s])
        return {"service": top, "errors": counts[top]}


class SeverityBreakdown(TaskFamily):
    name, phase, difficulty = "logs.severity_breakdown", "logs", "medium"
    answer_schema = {
        "type": "object",
        "properties": {s: INT for s in SEVERITIES},
        "required": list(SEVERITIES),
        "additionalProperties": False,
    }

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        a, b = pick_window(world, rng, 2, 10)
        return {"service": pick_service(world, rng), "start": a, "end": b}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"For the service {p['service']}, how many entries of each severity were logged "
            f"{window_text(p['start'], p['end'])}? Give a count for every severity, zero included."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, int]:
        c = Counter(e.severity for e in reach.entries(access, p["service"], start=p["start"], end=p["end"]))
        return {s: c.get(s, 0) for s in SEVERITIES}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf(tuple((s, ExactInt()) for s in SEVERITIES))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "log_group_count", {"by": "severity", "service": p["service"], "start": p["start"], "end": p["end"]}
        )
        c = json.loads(out)
        return {s: c.get(s, 0) for s in SEVERITIES}


class Top3ErrorServices(TaskFamily):
    name, phase, difficulty = "logs.top3_error_services", "logs", "medium"
    answer_schema = {"type": "array", "items": STR, "minItems": 3, "maxItems": 3}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        a, b = pick_window(world, rng, 3, 12)
        return {"start": a, "end": b}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"List the three services with the most errors (ERROR or FATAL) {window_text(p['start'], p['end'])}, "
            "most errors first."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[str]:
        ranked = error_counts(access, p["start"], p["end"]).most_common()
        counts = [c for _, c in ranked[:4]]
        if len(counts) < 3 or len(set(counts)) < len(counts):
            raise DegenerateTask("ties among the top services")
        return [s for s, _ in ranked[:3]]

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return OrderedList(ExactStr())

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "log_group_count", {"by": "service", "severity": "errors", "start": p["start"], "end": p["end"]}
        )
        counts = json.loads(out)
        return sorted(counts, key=lambda s: -counts[s])[:3]


class DistinctErrorUsers(TaskFamily):
    name, phase, difficulty = "logs.distinct_error_users", "logs", "medium"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"service": pick_service(world, rng)}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return f"How many distinct ctx.user_id values appear in the error (ERROR or FATAL) entries of {p['service']}?"

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        users = {e.ctx["user_id"] for e in reach.entries(access, p["service"], errors_only=True) if "user_id" in e.ctx}
        if len(users) < 2:
            raise DegenerateTask("too few users")
        return len(users)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("log_field_stats", {"field": "user_id", "service": p["service"], "severity": "errors"})
        return json.loads(out)["distinct"]


class BusiestErrorHour(TaskFamily):
    name, phase, difficulty = "logs.busiest_error_hour", "logs", "medium"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"service": pick_service(world, rng)}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"In which hour bucket (ts - ts % 3600) did {p['service']} log the most errors (ERROR or FATAL)? "
            "Answer with the bucket's unix timestamp."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        c = Counter(e.ts - e.ts % 3600 for e in reach.entries(access, p["service"], errors_only=True))
        top = reach.unique_argmax({str(k): v for k, v in c.items()})
        if top is None:
            raise DegenerateTask("tie for the busiest hour")
        return int(top)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("log_group_count", {"by": "hour", "service": p["service"], "severity": "errors"})
        counts = json.loads(out)
        return int(max(counts, key=counts.get))


class MalformedLines(TaskFamily):
    name, phase, difficulty = "logs.malformed_lines", "logs", "hard"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            "How many malformed lines are there across all rotated log files? Count each malformed line once; "
            "the indented continuation lines that follow it are skipped with it, not counted."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        n = reach.parsed_logs(access).malformed
        if n == 0:
            raise DegenerateTask("no malformed lines in this world")
        return n

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("log_malformed", {})
        return json.loads(out)["total"]


class StackTraces(TaskFamily):
    name, phase, difficulty = "logs.stack_traces", "logs", "hard"
    answer_schema = INT

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"service": pick_service(world, rng)}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return f"How many log entries of {p['service']} carry a multi-line stack trace?"

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        n = sum(bool(e.stack) for e in reach.entries(access, p["service"]))
        if n == 0:
            raise DegenerateTask("no stack traces")
        return n

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("log_count", {"service": p["service"], "with_stack": True})
        return json.loads(out)


class MeanDuration(TaskFamily):
    name, phase, difficulty = "logs.mean_duration", "logs", "hard"
    answer_schema = {"type": "number"}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        a, b = pick_window(world, rng, 2, 8)
        return {"service": pick_service(world, rng), "start": a, "end": b}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"What is the mean ctx.duration_ms of the INFO entries of {p['service']} "
            f"{window_text(p['start'], p['end'])}?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> float:
        vals = [
            e.ctx["duration_ms"]
            for e in reach.entries(access, p["service"], start=p["start"], end=p["end"])
            if e.severity == "INFO" and "duration_ms" in e.ctx
        ]
        if len(vals) < 3:
            raise DegenerateTask("too few entries")
        return round(sum(vals) / len(vals), 6)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return Tolerance(abs_tol=0.01)

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "log_field_stats",
            {"field": "duration_ms", "service": p["service"], "severity": "INFO", "start": p["start"], "end": p["end"]},
        )
        return json.loads(out)["mean"]


class TopErrorCode(TaskFamily):
    name, phase, difficulty = "logs.top_error_code", "logs", "medium"
    answer_schema = {
        "type": "object",
        "properties": {"error_code": STR, "count": INT},
        "required": ["error_code", "count"],
        "additionalProperties": False,
    }

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return {"service": pick_service(world, rng)}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"Which ctx.error_code appears most often in the error (ERROR or FATAL) entries of {p['service']}, "
            "and how many times?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        c = Counter(e.ctx["error_code"] for e in reach.entries(access, p["service"], errors_only=True))
        top = reach.unique_argmax(dict(c))
        if top is None:
            raise DegenerateTask("tie for the top code")
        return {"error_code": top, "count": c[top]}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf((("error_code", ExactStr()), ("count", ExactInt())))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("log_group_count", {"by": "error_code", "service": p["service"], "severity": "errors"})
        counts = json.loads(out)
        top = max(counts, key=counts.get)
        return {"error_code": top, "count": counts[top]}


class ChargedAmount(TaskFamily):
    name, phase, difficulty = "logs.charged_amount", "logs", "hard"
    answer_schema = {"type": "number"}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        svcs = [s for s in ("payments", "billing") if s in world.facts["topology"].services]
        a, b = pick_window(world, rng, 2, 10)
        return {
            "service": str(rng.choice(svcs)),
            "currency": str(rng.choice(["USD", "EUR", "GBP"])),
            "start": a,
            "end": b,
        }

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"What is the total ctx.amount of the charges in {p['currency']} captured by {p['service']} "
            f"{window_text(p['start'], p['end'])}?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> float:
        vals = [
            e.ctx["amount"]
            for e in reach.entries(access, p["service"], start=p["start"], end=p["end"])
            if e.ctx.get("currency") == p["currency"] and "amount" in e.ctx
        ]
        if len(vals) < 2:
            raise DegenerateTask("too few charges")
        return round(sum(vals), 2)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return Tolerance(abs_tol=0.01)

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "log_charges", {"service": p["service"], "currency": p["currency"], "start": p["start"], "end": p["end"]}
        )
        return json.loads(out)["total"]


LOG_FAMILIES: list[TaskFamily] = [
    SeverityCount(),
    ErrorsInWindow(),
    TopErrorServiceWindow(),
    SeverityBreakdown(),
    Top3ErrorServices(),
    DistinctErrorUsers(),
    BusiestErrorHour(),
    MalformedLines(),
    StackTraces(),
    MeanDuration(),
    TopErrorCode(),
    ChargedAmount(),
]
