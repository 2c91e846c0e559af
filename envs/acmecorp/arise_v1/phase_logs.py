"""Phase 1 of the AcmeCorp paper tasks: logs (15 tasks; log tasks 1-5 show 100 lines, graded on 500)."""

from __future__ import annotations

from typing import Any

from envs.acmecorp.arise_v1.analyses import (
    argmax,
    correlated_hours,
    count_entries,
    error_counts,
    error_messages,
    error_rates_by_service,
    error_user_ids,
    errors_by_hour,
    errors_last_6h,
    fatal_services,
    names_or,
    peak_error_hour,
    severity_counts,
    threshold_hits,
    top3,
)
from envs.acmecorp.arise_v1.checks import CHECKS
from envs.acmecorp.arise_v1.oracle_calls import call_tool, count_lines, tool_entries, tool_errors
from envs.acmecorp.arise_v1.prompts import LOG_HINT, shown_logs
from envs.acmecorp.arise_v1.world import (
    ERROR_SEVERITIES,
    SEVERITIES,
)
from envs.arise_v1 import PhaseTable, Question
from envs.tasks import Solver
from envs.world import World

LOG_TASKS = PhaseTable("logs", CHECKS, bands=(5, 5, 5))


def _logs_q(scope: str, ask: str) -> Question:
    def q(world: World, params: dict[str, Any]) -> str:
        return f"Here is an AcmeCorp log file. {LOG_HINT}\n\n{shown_logs(world, scope)}\n\n{ask}"

    return q


@LOG_TASKS.task(
    1, "contains", "ERROR count for payments (100 lines shown, 500 graded)",
    _logs_q("sample", "How many ERROR entries are there for the 'payments' service? Return just the count."),
    lambda d, p: count_entries(d.entries, "payments", "ERROR"),
)  # fmt: skip
def _logs_01(world: World, params: dict[str, Any]) -> Solver:
    out = yield from call_tool(
        "filter_acme_logs", log_text=shown_logs(world, "sample"), service="payments", severity="ERROR"
    )
    return str(count_lines(out))


@LOG_TASKS.task(
    2, "contains", "ERROR count for gateway (100 lines shown, 500 graded)",
    _logs_q("sample", "How many ERROR entries are there for the 'gateway' service? Return just the count."),
    lambda d, p: count_entries(d.entries, "gateway", "ERROR"),
)  # fmt: skip
def _logs_02(world: World, params: dict[str, Any]) -> Solver:
    out = yield from call_tool(
        "filter_acme_logs", log_text=shown_logs(world, "sample"), service="gateway", severity="ERROR"
    )
    return str(count_lines(out))


@LOG_TASKS.task(
    3, "all_present", "services with a FATAL entry (100 lines shown, 500 graded)",
    _logs_q("sample", "List all unique services that have at least one FATAL entry. Return the service names."),
    lambda d, p: fatal_services(d.entries),
)  # fmt: skip
def _logs_03(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from tool_entries(shown_logs(world, "sample"))
    return names_or(fatal_services(entries))


@LOG_TASKS.task(
    4, "contains", "total entries (100 lines shown, 500 graded)",
    _logs_q("sample", "Count the total number of log entries above. Each line is one entry. Return just the count."),
    lambda d, p: len(d.entries),
)  # fmt: skip
def _logs_04(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from tool_entries(shown_logs(world, "sample"))
    return str(len(entries))


@LOG_TASKS.task(
    5, "contains", "service with most errors (100 lines shown, 500 graded)",
    _logs_q(
        "sample",
        "Find the service with the most error entries (ERROR + FATAL combined). Return the service name.",
    ),
    lambda d, p: argmax(error_counts(d.entries)),
)  # fmt: skip
def _logs_05(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from tool_errors(shown_logs(world, "sample"))
    return argmax(counts)


@LOG_TASKS.task(
    6, "pairs", "errors per service",
    _logs_q(
        "all",
        "Count the number of error entries (ERROR + FATAL) per service. Return each service name with its error count.",
    ),
    lambda d, p: error_counts(d.entries),
)  # fmt: skip
def _logs_06(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from tool_errors(shown_logs(world, "all"))
    return "\n".join(f"{s}: {n}" for s, n in counts.items())


@LOG_TASKS.task(
    7, "half_present", "unique ctx.user_id of ERROR entries (always empty)",
    _logs_q(
        "all",
        "Extract all unique user_id values from the ctx JSON field of ERROR entries. Return the list of user_ids.",
    ),
    lambda d, p: error_user_ids(d.entries),
)  # fmt: skip
def _logs_07(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from tool_entries(shown_logs(world, "all"))
    ids = error_user_ids(entries)
    return names_or(ids, "No ERROR entry has a user_id in its ctx, so the list is empty.")


@LOG_TASKS.task(
    8, "contains", "ERROR count in the last 6 hours",
    _logs_q(
        "all", "Find all ERROR entries in the last 6 hours of the log timespan. Return the count of such entries."
    ),
    lambda d, p: errors_last_6h(d.entries),
)  # fmt: skip
def _logs_08(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from tool_entries(shown_logs(world, "all"))
    return str(errors_last_6h(entries))


@LOG_TASKS.task(
    9, "pairs", "count per severity",
    _logs_q(
        "all",
        "Count entries per severity level (DEBUG, INFO, WARN, ERROR, FATAL). Return each severity with its count.",
    ),
    lambda d, p: severity_counts(d.entries),
)  # fmt: skip
def _logs_09(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from tool_entries(shown_logs(world, "all"))
    counts = severity_counts(entries)
    return "\n".join(f"{s}: {counts[s]}" for s in SEVERITIES if s in counts)


@LOG_TASKS.task(
    10, "contains_unless_none", "hour bucket with most errors",
    _logs_q(
        "all",
        "Find the hour (in unix timestamp) with the most errors (ERROR + FATAL). "
        "Return the hour's start timestamp and error count.",
    ),
    lambda d, p: peak_error_hour(d.entries),
)  # fmt: skip
def _logs_10(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from tool_entries(shown_logs(world, "all"))
    hour = peak_error_hour(entries)
    if hour is None:
        return "There are no ERROR or FATAL entries."
    return f"{hour} ({errors_by_hour(entries)[hour]} errors)"


@LOG_TASKS.task(
    11, "all_present", "per-service error rate (names only)",
    _logs_q(
        "all",
        "For each service, compute the error rate (count of ERROR+FATAL entries divided by total entries for that "
        "service). Return each service with its error rate as a decimal.",
    ),
    lambda d, p: error_rates_by_service(d.entries),
)  # fmt: skip
def _logs_11(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from tool_entries(shown_logs(world, "all"))
    return "\n".join(f"{s}: {r:.4f}" for s, r in error_rates_by_service(entries).items())


@LOG_TASKS.task(
    12, "any_group", "hours where at least 2 services had errors",
    _logs_q(
        "all",
        "Correlate which services have errors (ERROR or FATAL) in the same hour. "
        "Return the hours where multiple services had errors and which services were affected.",
    ),
    lambda d, p: correlated_hours(d.entries),
)  # fmt: skip
def _logs_12(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from tool_entries(shown_logs(world, "all"))
    hours = correlated_hours(entries)
    return "\n".join(f"{h}: {', '.join(s)}" for h, s in hours.items()) or "No hour had errors in several services."


@LOG_TASKS.task(
    13, "all_present", "top-3 services by errors",
    _logs_q(
        "all",
        "Generate a summary of the top 3 services by error count (ERROR + FATAL). "
        "For each, include the error count and the unique error messages.",
    ),
    lambda d, p: top3(error_counts(d.entries)),
)  # fmt: skip
def _logs_13(world: World, params: dict[str, Any]) -> Solver:
    text = shown_logs(world, "all")
    counts = yield from tool_errors(text)
    entries = yield from tool_entries(text)
    messages = error_messages(entries)
    return "\n".join(f"{s}: {n} errors ({'; '.join(messages.get(s, []))})" for s, n in top3(counts).items())


@LOG_TASKS.task(
    14, "contains", "entries with ctx.amount > 500 or ctx.duration_ms > 1000",
    _logs_q(
        "all",
        "Find all entries where a ctx field exceeds a threshold: amount > 500 or duration_ms > 1000. "
        "Return the count of such entries.",
    ),
    lambda d, p: threshold_hits(d.entries),
)  # fmt: skip
def _logs_14(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from tool_entries(shown_logs(world, "all"))
    return str(threshold_hits(entries))


@LOG_TASKS.task(
    15, "names_and_any_count", "full error report",
    _logs_q(
        "all",
        "Generate a full error report: (1) error counts by service (ERROR+FATAL), "
        "(2) top error messages across all services, (3) time distribution of errors by hour.",
    ),
    lambda d, p: error_counts(d.entries),
)  # fmt: skip
def _logs_15(world: World, params: dict[str, Any]) -> Solver:
    text = shown_logs(world, "all")
    counts = yield from tool_errors(text)
    entries = yield from tool_entries(text)
    msg_counts: dict[str, int] = {}
    for e in entries:
        if e["severity"] in ERROR_SEVERITIES:
            msg_counts[e["message"]] = msg_counts.get(e["message"], 0) + 1
    top_msgs = sorted(msg_counts, key=lambda m: msg_counts[m], reverse=True)[:5]
    by_hour = errors_by_hour(entries)
    return (
        "Error counts by service:\n"
        + "\n".join(f"  {s}: {n}" for s, n in counts.items())
        + "\nTop error messages:\n"
        + "\n".join(f"  {m} ({msg_counts[m]})" for m in top_msgs)
        + "\nErrors by hour:\n"
        + "\n".join(f"  {h}: {n}" for h, n in sorted(by_hour.items()))
    )
