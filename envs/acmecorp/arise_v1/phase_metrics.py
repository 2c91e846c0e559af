"""Phase 2 of the AcmeCorp paper tasks: metrics (15 tasks over the base64 metrics API)."""

from __future__ import annotations

from typing import Any

from envs.acmecorp.arise_v1.analyses import (
    HEALTHY_BELOW,
    health_status,
    metric_argmax,
    most_efficient,
    names_or,
    rank_by,
)
from envs.acmecorp.arise_v1.checks import CHECKS
from envs.acmecorp.arise_v1.oracle_calls import tool_all_metrics, tool_metrics_of
from envs.acmecorp.arise_v1.prompts import METRICS_HINT
from envs.acmecorp.arise_v1.world import (
    METRICS_URL,
    V1Data,
)
from envs.arise_v1 import PhaseTable, Question
from envs.oracle import http_json
from envs.tasks import Solver
from envs.world import World

METRIC_TASKS = PhaseTable("metrics", CHECKS, bands=(5, 5, 5))


def _one_service_q(service: str, ask: str) -> Question:
    def q(world: World, params: dict[str, Any]) -> str:
        return f"Fetch metrics for the '{service}' service from {METRICS_URL}/metrics/{service}. {METRICS_HINT} {ask}"

    return q


def _all_services_q(ask: str) -> Question:
    def q(world: World, params: dict[str, Any]) -> str:
        return (
            f"Check all services at {METRICS_URL}/services, then fetch metrics for each from "
            f"{METRICS_URL}/metrics/{{service}}. {METRICS_HINT} {ask}"
        )

    return q


def _list_services_q(world: World, params: dict[str, Any]) -> str:
    return (
        f"Query the metrics API at {METRICS_URL}/services to list all available services. "
        "Return the list of service names."
    )


@METRIC_TASKS.task(1, "all_present", "list services", _list_services_q, lambda d, p: list(d.metrics))
def _metrics_01(world: World, params: dict[str, Any]) -> Solver:
    services = yield from http_json(f"{METRICS_URL}/services")
    return names_or(services)


def _single_metric(n: int, service: str, key: str) -> None:
    def solve(world: World, params: dict[str, Any]) -> Solver:
        data = yield from tool_metrics_of(service)
        return str(data[key])

    METRIC_TASKS.task(
        n, "contains", f"{service} {key}",
        _one_service_q(service, f"Return the {key} value."),
        lambda d, p: d.metrics[service][key],
    )(solve)  # fmt: skip


_single_metric(2, "payments", "latency_p99")
_single_metric(3, "gateway", "error_rate")
_single_metric(4, "database", "cpu_pct")
_single_metric(5, "auth", "request_count")


@METRIC_TASKS.task(
    6, "contains", "highest p99 service",
    _all_services_q("Which service has the highest latency_p99? Return the service name and value."),
    lambda d, p: metric_argmax(d.metrics, "latency_p99"),
)  # fmt: skip
def _metrics_06(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from tool_all_metrics()
    top = metric_argmax(metrics, "latency_p99")
    return f"{top} ({metrics[top]['latency_p99']})"


@METRIC_TASKS.task(
    7, "contains", "highest error_rate service",
    _all_services_q("Which service has the highest error_rate? Return the service name and value."),
    lambda d, p: metric_argmax(d.metrics, "error_rate"),
)  # fmt: skip
def _metrics_07(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from tool_all_metrics()
    top = metric_argmax(metrics, "error_rate")
    return f"{top} ({metrics[top]['error_rate']})"


def _compare_q(world: World, params: dict[str, Any]) -> str:
    return (
        f"Fetch metrics for 'payments' and 'gateway' from {METRICS_URL}/metrics/{{service}}. {METRICS_HINT} "
        "Compare their latency_p99 values. Which is higher and by how much?"
    )


@METRIC_TASKS.task(
    8, "any_key", "payments vs gateway p99 (either name passes)", _compare_q,
    lambda d, p: {s: d.metrics[s]["latency_p99"] for s in ("payments", "gateway")},
)  # fmt: skip
def _metrics_08(world: World, params: dict[str, Any]) -> Solver:
    pay = yield from tool_metrics_of("payments")
    gw = yield from tool_metrics_of("gateway")
    a, b = pay["latency_p99"], gw["latency_p99"]
    hi, lo = ("payments", "gateway") if a >= b else ("gateway", "payments")
    return f"{hi} has the higher latency_p99 ({max(a, b)} vs {min(a, b)} for {lo}), by {abs(a - b):.3f} ms."


@METRIC_TASKS.task(
    9, "all_present", "services with error_rate > 0.05",
    _all_services_q("List all services with error_rate above 0.05."),
    lambda d, p: [s for s, m in d.metrics.items() if m["error_rate"] > 0.05],
)  # fmt: skip
def _metrics_09(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from tool_all_metrics()
    return names_or(s for s, m in metrics.items() if m["error_rate"] > 0.05)


@METRIC_TASKS.task(
    10, "contains", "total request_count",
    _all_services_q("Calculate the total request_count across all services."),
    lambda d, p: sum(m["request_count"] for m in d.metrics.values()),
)  # fmt: skip
def _metrics_10(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from tool_all_metrics()
    return str(sum(m["request_count"] for m in metrics.values()))


@METRIC_TASKS.task(
    11, "first_before_last", "rank by p99 (top before bottom)",
    _all_services_q("Rank all services by latency_p99, highest first. Return the ordered list."),
    lambda d, p: rank_by(d.metrics, "latency_p99"),
)  # fmt: skip
def _metrics_11(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from tool_all_metrics()
    return "\n".join(
        f"{i}. {s} ({metrics[s]['latency_p99']})" for i, s in enumerate(rank_by(metrics, "latency_p99"), 1)
    )


@METRIC_TASKS.task(
    12, "none_or_all_present", "cpu_pct > 80 and error_rate > 0.05",
    _all_services_q(
        "Find services where cpu_pct > 80 AND error_rate > 0.05. Return the list (or state none if no services match)."
    ),
    lambda d, p: [s for s, m in d.metrics.items() if m["cpu_pct"] > 80 and m["error_rate"] > 0.05],
)  # fmt: skip
def _metrics_12(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from tool_all_metrics()
    return names_or(s for s, m in metrics.items() if m["cpu_pct"] > 80 and m["error_rate"] > 0.05)


@METRIC_TASKS.task(
    13, "all_present", "health dashboard (names only)",
    _all_services_q(
        "Generate a health dashboard: for each service, report status as 'healthy' if error_rate < 0.05, "
        "'degraded' if error_rate < 0.1, or 'critical' otherwise."
    ),
    lambda d, p: {s: health_status(m["error_rate"]) for s, m in d.metrics.items()},
)  # fmt: skip
def _metrics_13(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from tool_all_metrics()
    return "\n".join(
        f"{s}: {health_status(m['error_rate'])} (error_rate {m['error_rate']})" for s, m in metrics.items()
    )


@METRIC_TASKS.task(
    14, "contains", "lowest cpu_pct per request",
    _all_services_q(
        "Which service is the most resource-efficient? Compute efficiency as cpu_pct / request_count "
        "(lowest is most efficient). Return the service name."
    ),
    lambda d, p: most_efficient(d.metrics),
)  # fmt: skip
def _metrics_14(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from tool_all_metrics()
    return most_efficient(metrics)


def _summary_truth(d: V1Data, p: dict[str, Any]) -> dict[str, Any]:
    rates = [m["error_rate"] for m in d.metrics.values()]
    return {
        "total_requests": sum(m["request_count"] for m in d.metrics.values()),
        "average_error_rate": sum(rates) / len(rates),
        "attention": [s for s, m in d.metrics.items() if m["error_rate"] >= HEALTHY_BELOW],
    }


@METRIC_TASKS.task(
    15, "total_and_names", "total requests, average error rate, attention list",
    _all_services_q(
        "Generate a full metrics summary: total requests across all services, average error rate, "
        "and list of services needing attention (error_rate >= 0.05)."
    ),
    _summary_truth,
)  # fmt: skip
def _metrics_15(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from tool_all_metrics()
    total = sum(m["request_count"] for m in metrics.values())
    avg = sum(m["error_rate"] for m in metrics.values()) / len(metrics)
    attention = [s for s, m in metrics.items() if m["error_rate"] >= HEALTHY_BELOW]
    return f"Total requests: {total}\nAverage error rate: {avg:.6f}\nNeeding attention: {names_or(attention)}"
