"""Phase 2 (Metrics): task families over the base64 metrics API and its paginated series."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np

from envs.access import WorldAccess
from envs.acmecorp import reach
from envs.acmecorp.metrics import aggregate, parse_window
from envs.acmecorp.tasks_logs import pick_service
from envs.grading import Comparator, DictOf, ExactInt, ExactStr, OrderedList, SetOf, Tolerance
from envs.tasks import Call, DegenerateTask, Solver, TaskFamily
from envs.world import World

STR = {"type": "string"}
WINDOWS = ("15m", "30m", "1h", "2h")
FLOAT_METRICS = ("latency_p50", "latency_p95", "latency_p99", "cpu_pct", "memory_pct")


def pick_at(world: World, rng: Any, window: str) -> int:
    topo = world.facts["topology"]
    lo = (topo.t0 + parse_window(window)) // 60
    return int(rng.integers(lo, topo.now // 60 + 1)) * 60


def metric_comparator(metric: str) -> Comparator:
    if metric == "request_count":
        return ExactInt()
    if metric == "error_rate":
        return Tolerance(abs_tol=1e-6)
    return Tolerance(abs_tol=0.01)


def _all(access: WorldAccess, window: str, at: int) -> dict[str, dict[str, Any]]:
    return {s: reach.window_metrics(access, s, window, at) for s in reach.services(access)}


class CurrentMetric(TaskFamily):
    name, phase, difficulty = "metrics.current_value", "metrics", "easy"
    answer_schema = {"type": "number"}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        metric = str(rng.choice(["latency_p99", "error_rate", "request_count", "cpu_pct", "memory_pct"]))
        return {"service": pick_service(world, rng), "metric": metric}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"According to the metrics API, what is the {p['metric']} of {p['service']} over the default window "
            "ending now (window=5m)?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> float:
        value: float = reach.window_metrics(access, p["service"], "5m", access.world.now)[p["metric"]]
        return value

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return metric_comparator(p["metric"])

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("metrics_get", {"service": p["service"], "window": "5m"})
        return json.loads(out)[p["metric"]]


class WindowMetric(TaskFamily):
    name, phase, difficulty = "metrics.window_value", "metrics", "easy"
    answer_schema = {"type": "number"}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        window = str(rng.choice(WINDOWS))
        metric = str(rng.choice(["latency_p95", "error_rate", "request_count", "memory_pct"]))
        return {
            "service": pick_service(world, rng),
            "metric": metric,
            "window": window,
            "at": pick_at(world, rng, window),
        }

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"What was the {p['metric']} of {p['service']} over the {p['window']} window ending at "
            f"unix time {p['at']}, according to the metrics API?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> float:
        value: float = reach.window_metrics(access, p["service"], p["window"], p["at"])[p["metric"]]
        return value

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return metric_comparator(p["metric"])

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("metrics_get", {"service": p["service"], "window": p["window"], "at": p["at"]})
        return json.loads(out)[p["metric"]]


class HighestMetricService(TaskFamily):
    name, phase, difficulty = "metrics.highest_service", "metrics", "medium"
    answer_schema = {
        "type": "object",
        "properties": {"service": STR, "value": {"type": "number"}},
        "required": ["service", "value"],
        "additionalProperties": False,
    }

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        window = str(rng.choice(WINDOWS))
        metric = str(rng.choice(["latency_p99", "error_rate", "cpu_pct"]))
        return {"metric": metric, "window": window, "at": pick_at(world, rng, window)}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"Which service had the highest {p['metric']} over the {p['window']} window ending at unix time "
            f"{p['at']}, and what was that value?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> dict[str, Any]:
        vals = {s: m[p["metric"]] for s, m in _all(access, p["window"], p["at"]).items()}
        top = reach.unique_argmax(vals, gap=0.02 if p["metric"] != "error_rate" else 1e-5)
        if top is None:
            raise DegenerateTask("near tie")
        return {"service": top, "value": vals[top]}

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return DictOf((("service", ExactStr()), ("value", metric_comparator(p["metric"]))))

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("metrics_all", {"window": p["window"], "at": p["at"]})
        data = json.loads(out)
        top = max(data, key=lambda s: data[s][p["metric"]])
        return {"service": top, "value": data[top][p["metric"]]}


class ErrorRateAbove(TaskFamily):
    name, phase, difficulty = "metrics.error_rate_above", "metrics", "medium"
    answer_schema = {"type": "array", "items": STR}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        window = str(rng.choice(WINDOWS))
        at = pick_at(world, rng, window)
        # The threshold sits between two services' rates so neither side is empty.
        topo = world.facts["topology"]
        hi_i = (at - topo.t0) // 60
        lo_i = hi_i - parse_window(window) // 60
        rates = sorted(aggregate(s, lo_i, hi_i)["error_rate"] for s in world.facts["series"].values())
        k = int(rng.integers(1, len(rates)))
        if rates[k] - rates[k - 1] < 4e-4:
            raise DegenerateTask("services too close to the threshold")
        return {"window": window, "at": at, "threshold": round((rates[k - 1] + rates[k]) / 2, 4)}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"Which services had an error_rate strictly above {p['threshold']} over the {p['window']} window "
            f"ending at unix time {p['at']}?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[str]:
        data = _all(access, p["window"], p["at"])
        if any(abs(m["error_rate"] - p["threshold"]) < 1e-4 for m in data.values()):
            raise DegenerateTask("a service sits on the threshold")
        return sorted(s for s, m in data.items() if m["error_rate"] > p["threshold"])

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return SetOf(ExactStr())

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("metrics_all", {"window": p["window"], "at": p["at"]})
        return sorted(s for s, m in json.loads(out).items() if m["error_rate"] > p["threshold"])


class TotalRequests(TaskFamily):
    name, phase, difficulty = "metrics.total_requests", "metrics", "medium"
    answer_schema = {"type": "integer"}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        window = str(rng.choice(WINDOWS))
        return {"window": window, "at": pick_at(world, rng, window)}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"What is the total request_count over all services for the {p['window']} window ending at unix "
            f"time {p['at']}?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        return sum(int(m["request_count"]) for m in _all(access, p["window"], p["at"]).values())

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("metrics_all", {"window": p["window"], "at": p["at"]})
        return sum(m["request_count"] for m in json.loads(out).values())


class RankByMetric(TaskFamily):
    name, phase, difficulty = "metrics.rank_services", "metrics", "medium"
    answer_schema = {"type": "array", "items": STR}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        window = str(rng.choice(WINDOWS))
        metric = str(rng.choice(["cpu_pct", "latency_p50", "memory_pct"]))
        return {"metric": metric, "window": window, "at": pick_at(world, rng, window)}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"Rank all services by {p['metric']} over the {p['window']} window ending at unix time {p['at']}, "
            "highest first."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> list[str]:
        vals = {s: m[p["metric"]] for s, m in _all(access, p["window"], p["at"]).items()}
        ranked = sorted(vals, key=lambda s: -vals[s])
        if any(abs(vals[a] - vals[b]) < 0.02 for a, b in itertools.pairwise(ranked)):
            raise DegenerateTask("near tie in the ranking")
        return ranked

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return OrderedList(ExactStr())

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call("metrics_all", {"window": p["window"], "at": p["at"]})
        data = json.loads(out)
        return sorted(data, key=lambda s: -data[s][p["metric"]])


def pick_range(world: World, rng: Any, min_h: int, max_h: int) -> tuple[int, int]:
    topo = world.facts["topology"]
    hours = (topo.now - topo.t0) // 3600
    span = int(rng.integers(min_h, max_h + 1))
    start = topo.t0 + int(rng.integers(0, (hours - span) * 60 + 1)) * 60
    return start, start + span * 3600


def _range_points(access: WorldAccess, service: str, start: int, end: int) -> list[dict[str, Any]]:
    return [p for p in reach.series(access, service) if start <= p["ts"] < end]


class PeakErrorMinute(TaskFamily):
    name, phase, difficulty = "metrics.peak_error_minute", "metrics", "hard"
    answer_schema = {"type": "integer"}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        a, b = pick_range(world, rng, 2, 8)
        return {"service": pick_service(world, rng), "start": a, "end": b}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"Using the per-minute series of {p['service']}, which minute in [{p['start']}, {p['end']}) had the "
            "highest error rate (error_count / request_count)? Answer with the minute's ts."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        pts = _range_points(access, p["service"], p["start"], p["end"])
        rates = {str(pt["ts"]): reach.point_error_rate(pt) for pt in pts}
        top = reach.unique_argmax(rates, gap=1e-9)
        if top is None:
            raise DegenerateTask("tie for the peak minute")
        return int(top)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "metrics_series_stats",
            {"service": p["service"], "metric": "error_rate", "start": p["start"], "end": p["end"]},
        )
        return json.loads(out)["peak_ts"]


class MinutesAbove(TaskFamily):
    name, phase, difficulty = "metrics.minutes_above", "metrics", "hard"
    answer_schema = {"type": "integer"}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        a, b = pick_range(world, rng, 3, 12)
        svc = pick_service(world, rng)
        s = world.facts["series"][svc]
        lo, hi = (a - world.facts["topology"].t0) // 60, (b - world.facts["topology"].t0) // 60
        q = float(rng.uniform(0.5, 0.95))
        threshold = round(float(np.quantile(s.p99[lo:hi], q)) + 0.005, 3)
        return {"service": svc, "start": a, "end": b, "threshold": threshold}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"In the per-minute series of {p['service']}, how many minutes in [{p['start']}, {p['end']}) had "
            f"latency_p99 strictly above {p['threshold']} ms?"
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> int:
        pts = _range_points(access, p["service"], p["start"], p["end"])
        n = sum(pt["latency_p99"] > p["threshold"] for pt in pts)
        if n == 0:
            raise DegenerateTask("no minute above")
        return n

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return ExactInt()

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        out = yield Call(
            "metrics_series_stats",
            {
                "service": p["service"],
                "metric": "latency_p99",
                "start": p["start"],
                "end": p["end"],
                "threshold": p["threshold"],
            },
        )
        return json.loads(out)["minutes_above"]


class ErrorRateChange(TaskFamily):
    name, phase, difficulty = "metrics.error_rate_change", "metrics", "hard"
    answer_schema = {"type": "number"}

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        a1 = pick_at(world, rng, "1h")
        a2 = pick_at(world, rng, "1h")
        if a1 == a2:
            raise DegenerateTask("same window twice")
        return {"service": pick_service(world, rng), "at1": min(a1, a2), "at2": max(a1, a2)}

    def question(self, world: World, p: dict[str, Any]) -> str:
        return (
            f"By how much did the 1h error_rate of {p['service']} change between the window ending at "
            f"{p['at1']} and the window ending at {p['at2']}? Answer later minus earlier."
        )

    def truth(self, access: WorldAccess, p: dict[str, Any]) -> float:
        e1 = reach.window_metrics(access, p["service"], "1h", p["at1"])["error_rate"]
        e2 = reach.window_metrics(access, p["service"], "1h", p["at2"])["error_rate"]
        return round(e2 - e1, 6)

    def comparator(self, p: dict[str, Any]) -> Comparator:
        return Tolerance(abs_tol=2e-6)

    def solve(self, world: World, p: dict[str, Any]) -> Solver:
        o1 = yield Call("metrics_get", {"service": p["service"], "window": "1h", "at": p["at1"]})
        o2 = yield Call("metrics_get", {"service": p["service"], "window": "1h", "at": p["at2"]})
        return round(json.loads(o2)["error_rate"] - json.loads(o1)["error_rate"], 6)


METRIC_FAMILIES: list[TaskFamily] = [
    CurrentMetric(),
    WindowMetric(),
    HighestMetricService(),
    ErrorRateAbove(),
    TotalRequests(),
    RankByMetric(),
    PeakErrorMinute(),
    MinutesAbove(),
    ErrorRateChange(),
]
