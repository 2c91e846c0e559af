"""Phase 4 of the AcmeCorp paper tasks: incidents (15 tasks joining logs, metrics and config)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from envs.acmecorp.arise_v1.analyses import (
    HEALTHY_BELOW,
    argmax,
    count_entries,
    error_counts,
    health_status,
    metric_argmax,
    resolve,
    service_block,
)
from envs.acmecorp.arise_v1.checks import CHECKS
from envs.acmecorp.arise_v1.oracle_calls import (
    call_tool,
    call_tool_json,
    count_lines,
    tool_all_conf,
    tool_all_metrics,
    tool_conf,
    tool_entries,
    tool_errors,
    tool_metrics_of,
    tool_replicas,
)
from envs.acmecorp.arise_v1.prompts import (
    INCIDENT_METRICS_HINT,
    LOG_HINT,
    VAR_NOTE,
    all_incident_config_blocks,
    config_texts,
    file_of,
    incident_config_block,
    incident_logs,
    picked_services,
    service_or_first,
    shown_logs,
)
from envs.acmecorp.arise_v1.world import (
    ERROR_SEVERITIES,
    METRICS_URL,
    V1Data,
)
from envs.arise_v1 import PhaseTable
from envs.tasks import Call, Solver
from envs.world import World

INCIDENT_TASKS = PhaseTable("incidents", CHECKS, bands=(5, 5, 5))


@INCIDENT_TASKS.task(
    1, "contains", "payments ERROR count",
    lambda w, p: (
        f"INCIDENT: Payments service is alerting. Here are the logs. {LOG_HINT}\n\n{shown_logs(w, 'all')}\n\n"
        "How many ERROR entries are there for the 'payments' service?"
    ),
    lambda d, p: count_entries(d.entries, "payments", "ERROR"),
)  # fmt: skip
def _incidents_01(world: World, params: dict[str, Any]) -> Solver:
    out = yield from call_tool(
        "filter_acme_logs", log_text=shown_logs(world, "all"), service="payments", severity="ERROR"
    )
    return str(count_lines(out))


@INCIDENT_TASKS.task(
    2, "contains", "gateway p99",
    lambda w, p: (
        f"INCIDENT: Gateway might be slow. Check its metrics at {METRICS_URL}/metrics/gateway. "
        f"{INCIDENT_METRICS_HINT} What is the p99 latency?"
    ),
    lambda d, p: d.metrics["gateway"]["latency_p99"],
)  # fmt: skip
def _incidents_02(world: World, params: dict[str, Any]) -> Solver:
    data = yield from tool_metrics_of("gateway")
    return str(data["latency_p99"])


def _auth_or_first(world: World) -> dict[str, Any]:
    return {"service": service_or_first(world, "auth")}


@INCIDENT_TASKS.task(
    3, "contains", "replicas of auth (or the first config service)",
    lambda w, p: (
        f"INCIDENT: Someone changed the {p['service']} config. Parse the following config and tell me the current "
        f"replicas count.\n\n{incident_config_block(p['service'] + '.acme', file_of(w, p['service']))}\n\n{VAR_NOTE}"
    ),
    lambda d, p: service_block(d, p["service"]).get("replicas"),
    params=_auth_or_first,
)  # fmt: skip
def _incidents_03(world: World, params: dict[str, Any]) -> Solver:
    return (yield from tool_replicas(world, params["service"]))


@INCIDENT_TASKS.task(
    4, "contains", "total errors (ERROR + FATAL)",
    lambda w, p: (
        "INCIDENT: Check how many total errors (ERROR + FATAL) we have across all services. Here are the logs. "
        f"{LOG_HINT}\n\n{shown_logs(w, 'all')}\n\nReturn the total count."
    ),
    lambda d, p: sum(error_counts(d.entries).values()),
)  # fmt: skip
def _incidents_04(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from tool_errors(shown_logs(world, "all"))
    return str(sum(counts.values()))


@INCIDENT_TASKS.task(
    5, "contains", "database error_rate",
    lambda w, p: (
        f"INCIDENT: Fetch the error_rate for the 'database' service from metrics at {METRICS_URL}/metrics/database. "
        f"{INCIDENT_METRICS_HINT} Return the error_rate value."
    ),
    lambda d, p: d.metrics["database"]["error_rate"],
)  # fmt: skip
def _incidents_05(world: World, params: dict[str, Any]) -> Solver:
    data = yield from tool_metrics_of("database")
    return str(data["error_rate"])


@INCIDENT_TASKS.task(
    6, "count_and_payments", "payments log errors and metric error_rate (count and name graded)",
    lambda w, p: (
        "INCIDENT: Payments has errors. Check BOTH the logs below for ERROR/FATAL entries for 'payments', and the "
        f"metrics API at {METRICS_URL}/metrics/payments. {INCIDENT_METRICS_HINT}\n\n{incident_logs(w)}\n\n"
        "Are errors reflected in both the logs and the metrics? Report the error count from logs and the "
        "error_rate from metrics."
    ),
    lambda d, p: {
        "error_count": error_counts(d.entries).get("payments", 0),
        "error_rate": d.metrics["payments"]["error_rate"],
    },
)  # fmt: skip
def _incidents_06(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from tool_errors(shown_logs(world, "all"))
    data = yield from tool_metrics_of("payments")
    n, rate = counts.get("payments", 0), data["error_rate"]
    both = "yes, errors show in both" if n > 0 and rate > HEALTHY_BELOW else "they are not reflected in both"
    return f"payments: {n} ERROR/FATAL log entries; metrics error_rate {rate}; {both}."


@INCIDENT_TASKS.task(
    7, "all_values", "gateway p99 and gateway WARN count",
    lambda w, p: (
        f"INCIDENT: Gateway is slow. Check metrics at {METRICS_URL}/metrics/gateway for p99 latency, and check the "
        f"logs below for WARN entries from the 'gateway' service. {INCIDENT_METRICS_HINT}\n\n{incident_logs(w)}\n\n"
        "Report the p99 latency and the number of WARN entries."
    ),
    lambda d, p: {
        "latency_p99": d.metrics["gateway"]["latency_p99"],
        "warn_count": count_entries(d.entries, "gateway", "WARN"),
    },
)  # fmt: skip
def _incidents_07(world: World, params: dict[str, Any]) -> Solver:
    data = yield from tool_metrics_of("gateway")
    out = yield from call_tool(
        "filter_acme_logs", log_text=shown_logs(world, "all"), service="gateway", severity="WARN"
    )
    return f"gateway latency_p99: {data['latency_p99']}; WARN entries: {count_lines(out)}"


def _frontend_or_first(world: World) -> dict[str, Any]:
    return {"service": service_or_first(world, "frontend")}


@INCIDENT_TASKS.task(
    8, "service_named", "config replicas and error_rate of frontend or fallback (name graded)",
    lambda w, p: (
        f"INCIDENT: We deployed a config change for '{p['service']}'. Check the config below and verify the metrics "
        f"look ok at {METRICS_URL}/metrics/{p['service']}. {INCIDENT_METRICS_HINT}\n\n"
        # always a configured service (_frontend_or_first): the reference's "No config available" never shows
        f"{incident_config_block(p['service'] + '.acme', file_of(w, p['service']))}\n\n"
        "Report the config replicas and the current error_rate from metrics."
    ),
    lambda d, p: {
        "service": p["service"],
        "replicas": service_block(d, p["service"]).get("replicas"),
        "error_rate": d.metrics[p["service"]]["error_rate"],
    },
    params=_frontend_or_first,
)  # fmt: skip
def _incidents_08(world: World, params: dict[str, Any]) -> Solver:
    svc = params["service"]
    blocks = yield from tool_conf(file_of(world, svc))
    data = yield from tool_metrics_of(svc)
    return f"{svc}: replicas {resolve(blocks[svc]['replicas'])}; error_rate {data['error_rate']}"


@INCIDENT_TASKS.task(
    9, "any_value", "worst service overall (logs winner or metrics winner)",
    lambda w, p: (
        "INCIDENT: Multiple services have errors. Check the logs below for error counts (ERROR+FATAL) per service and "
        f"the metrics API at {METRICS_URL} for error rates. {INCIDENT_METRICS_HINT}\n\n{incident_logs(w)}\n\n"
        "Which service is the worst overall? Consider both log errors and metric error rates."
    ),
    lambda d, p: {
        "worst_by_logs": argmax(error_counts(d.entries)),
        "worst_by_metrics": metric_argmax(d.metrics, "error_rate"),
    },
)  # fmt: skip
def _incidents_09(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from tool_errors(shown_logs(world, "all"))
    metrics = yield from tool_all_metrics()
    by_logs, by_metrics = argmax(counts), metric_argmax(metrics, "error_rate")
    return (
        f"Worst overall: {by_logs} (most log errors, {counts.get(by_logs, 0)}); highest metrics error_rate: "
        f"{by_metrics} ({metrics[by_metrics]['error_rate']})."
    )


def _db_params(world: World) -> dict[str, Any]:
    return {"config_file": "database.acme" if "database" in picked_services(world) else None}


def _inc10_q(world: World, params: dict[str, Any]) -> str:
    if params["config_file"]:
        shown = incident_config_block("database.acme", file_of(world, "database"))
    else:
        # The reference's fallback: every file as "<name>:\n<text>" inside one fence, labelled as database's.
        files = "\n".join(f"{name}:\n{text}" for name, text in config_texts(world).items())
        shown = f"The database service config is:\n```\n{files}```"
    return (
        "INCIDENT: Check if the database service dependencies in the config are all healthy in metrics. \n\n"
        f"{shown}\n\nFor each dependency, check its metrics at {METRICS_URL}/metrics/{{service}}. "
        f"{INCIDENT_METRICS_HINT} Report whether each dependency is healthy (error_rate < 0.05)."
    )


def _inc10_truth(d: V1Data, p: dict[str, Any]) -> dict[str, str]:
    deps = service_block(d, "database").get("deps", []) if p["config_file"] else []
    return {s: "healthy" if d.metrics[s]["error_rate"] < HEALTHY_BELOW else "unhealthy" for s in deps}


@INCIDENT_TASKS.task(
    10, "health_words", "database deps healthy ('healthy'/'error'/'rate' anywhere)",
    _inc10_q, _inc10_truth, params=_db_params,
)  # fmt: skip
def _incidents_10(world: World, params: dict[str, Any]) -> Solver:
    if params["config_file"]:
        blocks = yield from tool_conf(file_of(world, "database"))
    else:
        blocks = yield from tool_all_conf(world)
    if "database" not in blocks:
        return (
            "The database service is not defined in these configs, so it has no configured dependencies "
            "whose health (error_rate < 0.05) could be checked."
        )
    lines = []
    for dep in blocks["database"].get("deps", []):
        data = yield from tool_metrics_of(dep)
        state = "healthy" if data["error_rate"] < HEALTHY_BELOW else "NOT healthy"
        lines.append(f"{dep}: {state} (error_rate {data['error_rate']})")
    return "\n".join(lines) or "database has no dependencies."


def _inc11_q(world: World, params: dict[str, Any]) -> str:
    text = file_of(world, "payments")
    conf = incident_config_block("payments.acme", text) if text else "No payments config available."
    return (
        "INCIDENT: Service payments is down. Perform a full investigation:\n"
        "1. Check the logs below for ERROR/FATAL entries for payments\n"
        f"2. Check metrics at {METRICS_URL}/metrics/payments for degradation\n"
        "3. Check the payments config below for any issues\n\n"
        f"{conf}\n\n{INCIDENT_METRICS_HINT}\n\n{incident_logs(world)}\n\nWhat is the likely root cause?"
    )


@INCIDENT_TASKS.task(
    11, "root_cause", "root cause for payments ('payments' and 'error'/'cause')",
    _inc11_q,
    lambda d, p: {
        "service": "payments",
        "error_count": error_counts(d.entries).get("payments", 0),
        "error_rate": d.metrics["payments"]["error_rate"],
    },
)  # fmt: skip
def _incidents_11(world: World, params: dict[str, Any]) -> Solver:
    text = shown_logs(world, "all")
    entries = yield from tool_entries(text)
    data = yield from tool_metrics_of("payments")
    mine = [e for e in entries if e["service"] == "payments" and e["severity"] in ERROR_SEVERITIES]
    by_msg: dict[str, int] = {}
    for e in mine:
        by_msg[e["message"]] = by_msg.get(e["message"], 0) + 1
    top = argmax(by_msg)
    conf_note = ""
    conf_text = file_of(world, "payments")
    if conf_text:
        issues = yield from call_tool_json("validate_acmeconf", config_text=conf_text)
        conf_note = " The payments config has no missing fields." if not issues else f" Config issues: {issues}."
    return (
        f"payments has {len(mine)} ERROR/FATAL log entries and a metrics error_rate of {data['error_rate']}. "
        f"Likely root cause: {top or 'unknown'} (the most frequent payments error).{conf_note}"
    )


@INCIDENT_TASKS.task(
    12, "contains", "highest-p99 bottleneck",
    lambda w, p: (
        f"INCIDENT: We're seeing increased latency across the board. Check all services' metrics at {METRICS_URL} "
        f"(list from /services, then /metrics/{{service}} for each). {INCIDENT_METRICS_HINT}\n"
        f"Also check the logs below for correlated errors.\n\n{incident_logs(w)}\n\n"
        "Identify the bottleneck service (highest p99 latency)."
    ),
    lambda d, p: metric_argmax(d.metrics, "latency_p99"),
)  # fmt: skip
def _incidents_12(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from tool_all_metrics()
    top = metric_argmax(metrics, "latency_p99")
    return f"Bottleneck: {top} (latency_p99 {metrics[top]['latency_p99']})"


@INCIDENT_TASKS.task(
    13, "affected_two", "incident report (>= 2 error-bearing services named)",
    lambda w, p: (
        "INCIDENT: Generate an incident report covering:\n"
        "1. Affected services (from the logs below - services with ERROR/FATAL)\n"
        f"2. Severity assessment (from metrics at {METRICS_URL} - error rates)\n"
        f"3. Current config state\n\n{all_incident_config_blocks(w)}\n\n{INCIDENT_METRICS_HINT}\n\n{incident_logs(w)}"
    ),
    lambda d, p: error_counts(d.entries),
)  # fmt: skip
def _incidents_13(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from tool_errors(shown_logs(world, "all"))
    metrics = yield from tool_all_metrics()
    lines = ["Affected services (ERROR/FATAL in logs):"]
    for s, n in counts.items():
        rate = metrics.get(s, {}).get("error_rate")
        lines.append(f"  {s}: {n} errors, error_rate {rate} ({health_status(rate) if rate is not None else 'n/a'})")
    lines.append("Config: " + ", ".join(picked_services(world)) + " are configured.")
    return "\n".join(lines)


def _config_validity(world: World) -> Generator[Call, str, dict[str, bool]]:
    """service -> whether validate_acmeconf found nothing missing in its block."""
    valid: dict[str, bool] = {}
    for text in config_texts(world).values():
        blocks = yield from tool_conf(text)
        issues = yield from call_tool_json("validate_acmeconf", config_text=text)
        for s in blocks:
            if s != "defaults":
                valid[s] = not any(i["service"] == s for i in issues)
    return valid


@INCIDENT_TASKS.task(
    14, "three_services", "full health check (>= 3 names)",
    lambda w, p: (
        "INCIDENT: Perform a full health check for each service:\n"
        "1. Check the logs below for errors (ERROR+FATAL count)\n"
        f"2. Check metrics at {METRICS_URL}/metrics/{{service}} for performance\n"
        f"3. Check config for correctness\n\n{all_incident_config_blocks(w)}\n\n{INCIDENT_METRICS_HINT}\n\n"
        f"{incident_logs(w)}\n\n"
        "For each service, report: error count (logs), error rate (metrics), and config status."
    ),
    lambda d, p: {
        s: {"log_errors": error_counts(d.entries).get(s, 0), "error_rate": m["error_rate"]}
        for s, m in d.metrics.items()
    },
)  # fmt: skip
def _incidents_14(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from tool_errors(shown_logs(world, "all"))
    metrics = yield from tool_all_metrics()
    valid = yield from _config_validity(world)
    lines = []
    for s in metrics:
        conf = "not configured" if s not in valid else ("valid" if valid[s] else "missing fields")
        lines.append(f"{s}: {counts.get(s, 0)} log errors, error_rate {metrics[s]['error_rate']}, config {conf}")
    return "\n".join(lines)


@INCIDENT_TASKS.task(
    15, "winner_and_three", "urgency ranking (worst-by-logs + >= 3 names)",
    lambda w, p: (
        "INCIDENT TRIAGE: Rank all services by urgency using:\n"
        "1. Error counts from the logs below\n"
        f"2. Error rates from metrics at {METRICS_URL}\n"
        f"3. Config validation\n\n{all_incident_config_blocks(w)}\n\n{INCIDENT_METRICS_HINT}\n\n{incident_logs(w)}\n\n"
        "Return a ranked list from most urgent to least urgent, with justification for each."
    ),
    lambda d, p: {
        "worst_by_logs": argmax(error_counts(d.entries)),
        "ranking": sorted(
            d.metrics,
            key=lambda s: (error_counts(d.entries).get(s, 0), d.metrics[s]["error_rate"]),
            reverse=True,
        ),
    },
)  # fmt: skip
def _incidents_15(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from tool_errors(shown_logs(world, "all"))
    metrics = yield from tool_all_metrics()
    ranking = sorted(metrics, key=lambda s: (counts.get(s, 0), metrics[s]["error_rate"]), reverse=True)
    return "\n".join(
        f"{i}. {s}: {counts.get(s, 0)} log errors, error_rate {metrics[s]['error_rate']}"
        for i, s in enumerate(ranking, 1)
    )
