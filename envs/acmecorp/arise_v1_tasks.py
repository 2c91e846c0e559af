"""The ARISE paper's 60 AcmeCorp tasks (protocol ``arise_v1``), flaws included.

Four phases of 15 (logs, metrics, config, incidents; 5 easy, 5 medium, 5 hard each,
in the paper's order). Data is pasted inline into the prompts, except the metrics
API, whose URL and decoding recipe the prompt gives. Answers are free text graded by
the paper's substring-style checks (``PaperCheck``), reproduced with their known
flaws (see ``docs/arise_v1.md``): e.g. log tasks 1-5 show 100 lines but are graded
on all 500, log task 7 always passes, config task 12 is always true, checks whose
expected list is empty pass vacuously.

Each task has a ``truth`` recomputed from the world through ``WorldAccess``
(``V1Data``) and an oracle ``solve`` that only uses what its prompt shows plus the
seven paper tools (and ``http_get`` for ``GET /services``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

from envs.access import WorldAccess
from envs.acmecorp import PHASES
from envs.acmecorp.arise_v1_world import (
    CONFIG_DIR,
    CONFIG_V2_DIR,
    ERROR_SEVERITIES,
    LOG_PATH,
    METRICS_URL,
    SERVICES,
    SEVERITIES,
    V1Data,
    parse_conf_text,
)
from envs.grading import FreeTextCheck
from envs.oracle import OracleError
from envs.oracle import http_json as _http_json
from envs.tasks import Call, Solver, TaskFamily
from envs.world import World

SAMPLE_LINES = 100  # log tasks 1-5 show this many lines (and are graded on all of them)
LOG_HINT = "The format is [ACME:severity:service:unix_timestamp] message | ctx={json}."
METRICS_HINT = (
    "The API returns base64-encoded data. Decode the base64 string to get the format: "
    "ACME_METRICS|service|timestamp|json. Parse the JSON portion to get metrics."
)
INCIDENT_METRICS_HINT = (
    "The metrics API returns base64-encoded data. Decode the base64 string to get the format: "
    "ACME_METRICS|service|timestamp|json. Parse the JSON for metrics."
)
VAR_NOTE = "Note: If replicas uses a variable like ${VAR:-N}, return the default value N."
HEALTHY_BELOW = 0.05
DEGRADED_BELOW = 0.1


# =================================================================================
# The paper's checks
# =================================================================================
def _has_none(low: str) -> bool:
    return "none" in low or "no " in low


def _present(text: str, items: Iterable[Any]) -> tuple[bool, str]:
    missing = [str(x) for x in items if str(x) not in text]
    return not missing, "" if not missing else f"missing: {', '.join(missing[:6])}"


def _c_contains(text: str, truth: Any) -> tuple[bool, str]:
    if truth is None or truth == "":
        return False, "no expected value (the paper's check fails)"
    ok = str(truth) in text
    return ok, "" if ok else f"{str(truth)!r} not in the answer"


def _c_contains_unless_none(text: str, truth: Any) -> tuple[bool, str]:
    if truth is None:
        return True, "no expected value: passes"
    return _c_contains(text, truth)


def _c_all_present(text: str, truth: Any) -> tuple[bool, str]:
    if not truth:
        return True, "expected list is empty: passes vacuously"
    return _present(text, truth)


def _c_none_or_all_present(text: str, truth: Any) -> tuple[bool, str]:
    # Paper: (empty and ("none" or "no ")) or all(name in output). all() of an empty list
    # is true, so an empty expectation passes whatever the answer says.
    if not truth:
        return True, "" if _has_none(text.lower()) else "expected list is empty: passes vacuously"
    return _present(text, truth)


def _c_pairs(text: str, truth: Any) -> tuple[bool, str]:
    bad = [f"{k}={v}" for k, v in truth.items() if k not in text or str(v) not in text]
    return not bad, "" if not bad else f"missing name or count: {', '.join(bad[:6])}"


def _c_half_present(text: str, truth: Any) -> tuple[bool, str]:
    if not truth:
        return True, "expected list is empty: passes vacuously"
    found = sum(1 for x in truth if str(x) in text)
    ok = found >= 0.5 * len(truth)
    return ok, "" if ok else f"{found}/{len(truth)} present (needs half)"


def _c_any_group(text: str, truth: Any) -> tuple[bool, str]:
    if not truth:
        return True, "no qualifying group: passes vacuously"
    ok = any(all(s in text for s in group) for group in truth.values())
    return ok, "" if ok else "no qualifying group has all its names in the answer"


def _c_first_before_last(text: str, truth: Any) -> tuple[bool, str]:
    top, bottom = truth[0], truth[-1]
    if top not in text or bottom not in text:
        return False, f"{top!r} or {bottom!r} missing"
    ok = text.index(top) < text.index(bottom)
    return ok, "" if ok else f"{top!r} first appears after {bottom!r}"


def _c_any_key(text: str, truth: Any) -> tuple[bool, str]:
    ok = any(str(k) in text for k in truth)
    return ok, "" if ok else f"none of {list(truth)} in the answer"


def _c_any_value(text: str, truth: Any) -> tuple[bool, str]:
    return _c_any_key(text, list(truth.values()))


def _c_all_values(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, truth.values())


def _c_names_and_any_count(text: str, truth: Any) -> tuple[bool, str]:
    ok, note = _present(text, truth)
    if not ok:
        return False, note
    ok = any(str(c) in text for c in truth.values())
    return ok, "" if ok else "no count in the answer"


def _c_total_and_names(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, [truth["total_requests"], *truth["attention"]])


def _c_validation(text: str, truth: Any) -> tuple[bool, str]:
    # Paper: (empty and ("no "|"valid"|"none")) or all(any(word of issue in output) for
    # issue in expected[:1]); the second clause is vacuously true when nothing is expected.
    low = text.lower()
    if not truth:
        hit = "no " in low or "valid" in low or "none" in low
        return True, "" if hit else "no issues expected: passes vacuously"
    words = str(truth[0]).lower().split()
    ok = any(w in low for w in words)
    return ok, "" if ok else "no word of the first issue in the answer"


def _c_mentions_replicas(text: str, truth: Any) -> tuple[bool, str]:
    ok = "replicas" in text.lower()
    return ok, "" if ok else "'replicas' not in the answer"


def _c_cycles(text: str, truth: Any) -> tuple[bool, str]:
    if truth:
        return True, "a cycle exists: the paper's check is always true"
    ok = _has_none(text.lower())
    return ok, "" if ok else "expected 'no'/'none'"


def _c_dep_refs(text: str, truth: Any) -> tuple[bool, str]:
    low = text.lower()
    if not truth:
        ok = "valid" in low or "all " in low or "no " in low
        return ok, "" if ok else "expected 'valid', 'all ' or 'no '"
    ok = any(w in low for issue in truth for w in str(issue).lower().split())
    return ok, "" if ok else "no word of any issue in the answer"


def _c_health_words(text: str, truth: Any) -> tuple[bool, str]:
    low = text.lower()
    ok = "healthy" in low or "error" in low or "rate" in low
    return ok, "" if ok else "none of 'healthy', 'error', 'rate'"


def _c_root_cause(text: str, truth: Any) -> tuple[bool, str]:
    low = text.lower()
    ok = "payments" in low and ("error" in low or "cause" in low)
    return ok, "" if ok else "needs 'payments' and 'error' or 'cause'"


def _c_count_and_payments(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, [truth["error_count"], "payments"])


def _c_service_named(text: str, truth: Any) -> tuple[bool, str]:
    return _c_contains(text, truth["service"])


def _c_affected_two(text: str, truth: Any) -> tuple[bool, str]:
    found = sum(1 for s in truth if s in text)
    need = min(2, len(truth))
    return found >= need, "" if found >= need else f"{found} of the error-bearing services named, need {need}"


def _c_three_services(text: str, truth: Any) -> tuple[bool, str]:
    found = sum(1 for s in SERVICES if s in text)
    return found >= 3, "" if found >= 3 else f"{found} service names, need 3"


def _c_winner_and_three(text: str, truth: Any) -> tuple[bool, str]:
    if truth["worst_by_logs"] not in text:
        return False, f"{truth['worst_by_logs']!r} (most log errors) not in the answer"
    return _c_three_services(text, truth)


CHECKS: dict[str, tuple[Callable[[str, Any], tuple[bool, str]], str]] = {
    "contains": (_c_contains, "passes if str(expected) is a substring of the answer"),
    "contains_unless_none": (_c_contains_unless_none, "str(expected) in the answer; passes when nothing is expected"),
    "all_present": (_c_all_present, "every expected name is a substring (an empty expectation passes)"),
    "none_or_all_present": (
        _c_none_or_all_present,
        "every expected name is a substring, or 'none'/'no ' when the expectation is empty "
        "(the paper's all() makes an empty expectation pass anything)",
    ),
    "pairs": (_c_pairs, "every expected name and every expected count are substrings (independently)"),
    "half_present": (_c_half_present, "at least half of the expected values are substrings; empty passes"),
    "any_group": (_c_any_group, "all names of any one qualifying group are substrings; empty passes"),
    "first_before_last": (_c_first_before_last, "the top item first appears before the bottom item"),
    "any_key": (_c_any_key, "any one of the expected names is a substring"),
    "any_value": (_c_any_value, "any one of the expected names is a substring"),
    "all_values": (_c_all_values, "every expected value is a substring"),
    "names_and_any_count": (_c_names_and_any_count, "every expected name and any one expected count are substrings"),
    "total_and_names": (_c_total_and_names, "the total and every attention-list name are substrings"),
    "validation": (_c_validation, "'no '/'valid'/'none' when no issue is expected (passes vacuously anyway)"),
    "mentions_replicas": (_c_mentions_replicas, "the answer mentions 'replicas' (case-insensitive)"),
    "cycles": (_c_cycles, "always true when a cycle exists; else 'no '/'none'"),
    "dep_refs": (_c_dep_refs, "'valid', 'all ' or 'no ' when every reference resolves; else any word of an issue"),
    "health_words": (_c_health_words, "the answer contains 'healthy', 'error' or 'rate' (case-insensitive)"),
    "root_cause": (_c_root_cause, "the answer contains 'payments' and 'error' or 'cause' (case-insensitive)"),
    "count_and_payments": (_c_count_and_payments, "the payments error count and 'payments' are substrings"),
    "service_named": (_c_service_named, "the service's name is a substring"),
    "affected_two": (_c_affected_two, "at least min(2, n) of the n error-bearing services are named"),
    "three_services": (_c_three_services, "at least 3 of the six service names appear"),
    "winner_and_three": (_c_winner_and_three, "the service with most log errors and at least 3 service names appear"),
}


class PaperCheck(FreeTextCheck):
    """One of the paper's free-text AcmeCorp checks (``kind`` selects it from ``CHECKS``)."""

    checks = CHECKS
    label = "paper"


# =================================================================================
# Analyses shared by truths (on V1Data) and oracles (on tool output)
# =================================================================================
Entry = dict[str, Any]
Metrics = dict[str, dict[str, Any]]


def count_entries(entries: list[Entry], service: str = "", severity: str = "") -> int:
    return sum(
        1 for e in entries if (not service or e["service"] == service) and (not severity or e["severity"] == severity)
    )


def error_counts(entries: list[Entry]) -> dict[str, int]:
    """ERROR+FATAL per service, in order of first error (the paper's tie order)."""
    out: dict[str, int] = {}
    for e in entries:
        if e["severity"] in ERROR_SEVERITIES:
            out[e["service"]] = out.get(e["service"], 0) + 1
    return out


def argmax(values: dict[str, Any]) -> str:
    """Key of the largest value, the first one on ties ('' when empty)."""
    return max(values, key=lambda k: values[k]) if values else ""


def fatal_services(entries: list[Entry]) -> list[str]:
    return sorted({e["service"] for e in entries if e["severity"] == "FATAL"})


def severity_counts(entries: list[Entry]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in entries:
        out[e["severity"]] = out.get(e["severity"], 0) + 1
    return out


def error_user_ids(entries: list[Entry]) -> list[str]:
    return sorted({str(e["ctx"]["user_id"]) for e in entries if e["severity"] == "ERROR" and e["ctx"].get("user_id")})


def errors_last_6h(entries: list[Entry]) -> int:
    if not entries:
        return 0
    cutoff = max(e["timestamp"] for e in entries) - 6 * 3600
    return sum(1 for e in entries if e["severity"] == "ERROR" and e["timestamp"] >= cutoff)


def errors_by_hour(entries: list[Entry]) -> dict[int, int]:
    out: dict[int, int] = {}
    for e in entries:
        if e["severity"] in ERROR_SEVERITIES:
            hour = e["timestamp"] // 3600 * 3600
            out[hour] = out.get(hour, 0) + 1
    return out


def peak_error_hour(entries: list[Entry]) -> int | None:
    by_hour = errors_by_hour(entries)
    return max(by_hour, key=lambda h: by_hour[h]) if by_hour else None


def error_rates_by_service(entries: list[Entry]) -> dict[str, float]:
    total: dict[str, int] = {}
    for e in entries:
        total[e["service"]] = total.get(e["service"], 0) + 1
    errs = error_counts(entries)
    return {s: errs.get(s, 0) / n for s, n in total.items()}


def correlated_hours(entries: list[Entry]) -> dict[str, list[str]]:
    """Hour start -> services with errors in it, for hours with at least two such services."""
    hours: dict[int, set[str]] = {}
    for e in entries:
        if e["severity"] in ERROR_SEVERITIES:
            hours.setdefault(e["timestamp"] // 3600 * 3600, set()).add(e["service"])
    return {str(h): sorted(s) for h, s in hours.items() if len(s) > 1}


def top3(counts: dict[str, int]) -> dict[str, int]:
    return {s: counts[s] for s in sorted(counts, key=lambda k: counts[k], reverse=True)[:3]}


def threshold_hits(entries: list[Entry]) -> int:
    """ctx.amount > 500 or ctx.duration_ms > 1000, counted per field as the paper did.

    An entry exceeding both thresholds would count twice; this world never puts both
    keys in one ctx (payments carry amount, other services duration_ms), so the count
    equals the number of entries.
    """
    n = 0
    for e in entries:
        amount, duration = e["ctx"].get("amount"), e["ctx"].get("duration_ms")
        if isinstance(amount, (int, float)) and amount > 500:
            n += 1
        if isinstance(duration, (int, float)) and duration > 1000:
            n += 1
    return n


def error_messages(entries: list[Entry]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in entries:
        if e["severity"] in ERROR_SEVERITIES and e["message"] not in out.setdefault(e["service"], []):
            out[e["service"]].append(e["message"])
    return out


def health_status(error_rate: float) -> str:
    if error_rate < HEALTHY_BELOW:
        return "healthy"
    return "degraded" if error_rate < DEGRADED_BELOW else "critical"


def metric_argmax(metrics: Metrics, key: str) -> str:
    return argmax({s: m[key] for s, m in metrics.items()})


def rank_by(metrics: Metrics, key: str) -> list[str]:
    return sorted(metrics, key=lambda s: metrics[s][key], reverse=True)


def most_efficient(metrics: Metrics) -> str:
    per_req = {s: m["cpu_pct"] / m["request_count"] for s, m in metrics.items() if m["request_count"] > 0}
    return min(per_req, key=lambda s: per_req[s]) if per_req else ""


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Elementary cycles found by DFS from each node (each reported once, rotated to its smallest member)."""
    seen: set[tuple[str, ...]] = set()
    out: list[list[str]] = []

    def dfs(node: str, path: list[str]) -> None:
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if nxt in path:
                cyc = path[path.index(nxt) :]
                i = cyc.index(min(cyc))
                key = tuple(cyc[i:] + cyc[:i])
                if key not in seen:
                    seen.add(key)
                    out.append(list(key))
            else:
                dfs(nxt, [*path, nxt])

    for start in graph:
        dfs(start, [start])
    return out


def unknown_deps(graph: dict[str, list[str]]) -> list[str]:
    return [f"{s} depends on unknown service {d}" for s, deps in graph.items() for d in deps if d not in graph]


# =================================================================================
# Inline data: what the prompts show (and the oracles therefore see)
# =================================================================================
def log_lines(world: World) -> list[str]:
    return [ln for ln in world.files[LOG_PATH].splitlines() if ln.strip()]


def shown_logs(world: World, scope: str) -> str:
    lines = log_lines(world)
    return "\n".join(lines[:SAMPLE_LINES] if scope == "sample" else lines)


def config_texts(world: World) -> dict[str, str]:
    """Config files in the paper's order (base.acme, then the picked services)."""
    return {name: world.files[f"{CONFIG_DIR}/{name}"] for name in world.facts["config_order"]}


def picked_services(world: World) -> list[str]:
    return list(world.facts["config_services"])


def config_block(name: str, text: str) -> str:
    return f"Config file ({name}):\n```\n{text}```"


def all_config_blocks(world: World) -> str:
    return "\n\n".join(config_block(n, t) for n, t in config_texts(world).items())


def _service_or_first(world: World, preferred: str) -> str:
    picked = picked_services(world)
    return preferred if preferred in picked else picked[0]


# =================================================================================
# Oracle helpers
# =================================================================================
def _tool(name: str, **args: Any) -> Generator[Call, str, str]:
    out = yield Call(name, args)
    if out.startswith("Error"):
        raise OracleError(f"{name} failed: {out[:300]}")
    return out


def _tool_json(name: str, **args: Any) -> Generator[Call, str, Any]:
    out = yield from _tool(name, **args)
    return json.loads(out)


def _entries(text: str) -> Generator[Call, str, list[Entry]]:
    out = yield from _tool_json("parse_acme_log", log_text=text)
    return list(out)


def _errors(text: str) -> Generator[Call, str, dict[str, int]]:
    out = yield from _tool_json("count_acme_errors", log_text=text)
    return dict(out)


def _nlines(text: str) -> int:
    return sum(1 for ln in text.splitlines() if ln.strip())


def _metrics_of(service: str) -> Generator[Call, str, dict[str, Any]]:
    out = yield from _tool_json("fetch_acme_metrics", url=f"{METRICS_URL}/metrics/{service}")
    return dict(out["data"])


def _all_metrics() -> Generator[Call, str, Metrics]:
    services = yield from _http_json(f"{METRICS_URL}/services")
    out: Metrics = {}
    for s in services:
        out[s] = yield from _metrics_of(s)
    return out


def _conf(text: str) -> Generator[Call, str, dict[str, dict[str, Any]]]:
    out = yield from _tool_json("parse_acmeconf", config_text=text)
    return dict(out["services"])


def _all_conf(world: World) -> Generator[Call, str, dict[str, dict[str, Any]]]:
    """Service blocks of every shown config file (the defaults block dropped)."""
    out: dict[str, dict[str, Any]] = {}
    for text in config_texts(world).values():
        blocks = yield from _conf(text)
        for name, fields in blocks.items():
            if name != "defaults":
                out.setdefault(name, fields)
    return out


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def resolve(value: Any) -> Any:
    """A parse_acmeconf value with ``${VAR:-default}`` replaced by its default."""
    if isinstance(value, list):
        return [resolve(v) for v in value]
    if isinstance(value, str):
        m = _VAR.fullmatch(value.strip())
        if m:
            default = m.group(2)
            if default is None:
                return None
            return int(default) if default.isdigit() else default
    return value


def _graph(blocks: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    return {s: list(f.get("deps", [])) if isinstance(f.get("deps"), list) else [] for s, f in blocks.items()}


def _names(items: Iterable[str], empty: str = "None") -> str:
    items = list(items)
    return ", ".join(items) if items else empty


# =================================================================================
# Task specs
# =================================================================================
Question = Callable[[World, dict[str, Any]], str]
Truth = Callable[[V1Data, dict[str, Any]], Any]
SolveFn = Callable[[World, dict[str, Any]], Solver]
ParamsFn = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class V1Spec:
    phase: str
    number: int
    check: str
    summary: str
    question: Question
    truth: Truth
    solve: SolveFn
    params: ParamsFn | None = None

    @property
    def difficulty(self) -> str:
        return ("easy", "medium", "hard")[(self.number - 1) // 5]

    @property
    def name(self) -> str:
        return f"v1.{self.phase}.{self.number:02d}"


SPECS: list[V1Spec] = []


def task(
    phase: str,
    number: int,
    check: str,
    summary: str,
    question: Question,
    truth: Truth,
    params: ParamsFn | None = None,
) -> Callable[[SolveFn], SolveFn]:
    """Register a task; the decorated generator function is its oracle."""

    def deco(solve: SolveFn) -> SolveFn:
        if check not in CHECKS:
            raise ValueError(f"unknown check {check!r}")
        SPECS.append(V1Spec(phase, number, check, summary, question, truth, solve, params))
        return solve

    return deco


# -- phase 1: logs -----------------------------------------------------------------
def _logs_q(scope: str, ask: str) -> Question:
    def q(world: World, params: dict[str, Any]) -> str:
        return f"Here is an AcmeCorp log file. {LOG_HINT}\n\n{shown_logs(world, scope)}\n\n{ask}"

    return q


@task(
    "logs", 1, "contains", "ERROR count for payments (100 lines shown, 500 graded)",
    _logs_q("sample", "How many ERROR entries are there for the 'payments' service? Return just the count."),
    lambda d, p: count_entries(d.entries, "payments", "ERROR"),
)  # fmt: skip
def _logs_01(world: World, params: dict[str, Any]) -> Solver:
    out = yield from _tool(
        "filter_acme_logs", log_text=shown_logs(world, "sample"), service="payments", severity="ERROR"
    )
    return str(_nlines(out))


@task(
    "logs", 2, "contains", "ERROR count for gateway (100 lines shown, 500 graded)",
    _logs_q("sample", "How many ERROR entries are there for the 'gateway' service? Return just the count."),
    lambda d, p: count_entries(d.entries, "gateway", "ERROR"),
)  # fmt: skip
def _logs_02(world: World, params: dict[str, Any]) -> Solver:
    out = yield from _tool(
        "filter_acme_logs", log_text=shown_logs(world, "sample"), service="gateway", severity="ERROR"
    )
    return str(_nlines(out))


@task(
    "logs", 3, "all_present", "services with a FATAL entry (100 lines shown, 500 graded)",
    _logs_q("sample", "List all unique services that have at least one FATAL entry. Return the service names."),
    lambda d, p: fatal_services(d.entries),
)  # fmt: skip
def _logs_03(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from _entries(shown_logs(world, "sample"))
    return _names(fatal_services(entries))


@task(
    "logs", 4, "contains", "total entries (100 lines shown, 500 graded)",
    _logs_q("sample", "Count the total number of log entries above. Each line is one entry. Return just the count."),
    lambda d, p: len(d.entries),
)  # fmt: skip
def _logs_04(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from _entries(shown_logs(world, "sample"))
    return str(len(entries))


@task(
    "logs", 5, "contains", "service with most errors (100 lines shown, 500 graded)",
    _logs_q(
        "sample",
        "Find the service with the most error entries (ERROR + FATAL combined). Return the service name.",
    ),
    lambda d, p: argmax(error_counts(d.entries)),
)  # fmt: skip
def _logs_05(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from _errors(shown_logs(world, "sample"))
    return argmax(counts)


@task(
    "logs", 6, "pairs", "errors per service",
    _logs_q(
        "all",
        "Count the number of error entries (ERROR + FATAL) per service. Return each service name with its error count.",
    ),
    lambda d, p: error_counts(d.entries),
)  # fmt: skip
def _logs_06(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from _errors(shown_logs(world, "all"))
    return "\n".join(f"{s}: {n}" for s, n in counts.items())


@task(
    "logs", 7, "half_present", "unique ctx.user_id of ERROR entries (always empty)",
    _logs_q(
        "all",
        "Extract all unique user_id values from the ctx JSON field of ERROR entries. Return the list of user_ids.",
    ),
    lambda d, p: error_user_ids(d.entries),
)  # fmt: skip
def _logs_07(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from _entries(shown_logs(world, "all"))
    ids = error_user_ids(entries)
    return _names(ids, "No ERROR entry has a user_id in its ctx, so the list is empty.")


@task(
    "logs", 8, "contains", "ERROR count in the last 6 hours",
    _logs_q(
        "all", "Find all ERROR entries in the last 6 hours of the log timespan. Return the count of such entries."
    ),
    lambda d, p: errors_last_6h(d.entries),
)  # fmt: skip
def _logs_08(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from _entries(shown_logs(world, "all"))
    return str(errors_last_6h(entries))


@task(
    "logs", 9, "pairs", "count per severity",
    _logs_q(
        "all",
        "Count entries per severity level (DEBUG, INFO, WARN, ERROR, FATAL). Return each severity with its count.",
    ),
    lambda d, p: severity_counts(d.entries),
)  # fmt: skip
def _logs_09(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from _entries(shown_logs(world, "all"))
    counts = severity_counts(entries)
    return "\n".join(f"{s}: {counts[s]}" for s in SEVERITIES if s in counts)


@task(
    "logs", 10, "contains_unless_none", "hour bucket with most errors",
    _logs_q(
        "all",
        "Find the hour (in unix timestamp) with the most errors (ERROR + FATAL). "
        "Return the hour's start timestamp and error count.",
    ),
    lambda d, p: peak_error_hour(d.entries),
)  # fmt: skip
def _logs_10(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from _entries(shown_logs(world, "all"))
    hour = peak_error_hour(entries)
    if hour is None:
        return "There are no ERROR or FATAL entries."
    return f"{hour} ({errors_by_hour(entries)[hour]} errors)"


@task(
    "logs", 11, "all_present", "per-service error rate (names only)",
    _logs_q(
        "all",
        "For each service, compute the error rate (count of ERROR+FATAL entries divided by total entries for that "
        "service). Return each service with its error rate as a decimal.",
    ),
    lambda d, p: error_rates_by_service(d.entries),
)  # fmt: skip
def _logs_11(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from _entries(shown_logs(world, "all"))
    return "\n".join(f"{s}: {r:.4f}" for s, r in error_rates_by_service(entries).items())


@task(
    "logs", 12, "any_group", "hours where at least 2 services had errors",
    _logs_q(
        "all",
        "Correlate which services have errors (ERROR or FATAL) in the same hour. "
        "Return the hours where multiple services had errors and which services were affected.",
    ),
    lambda d, p: correlated_hours(d.entries),
)  # fmt: skip
def _logs_12(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from _entries(shown_logs(world, "all"))
    hours = correlated_hours(entries)
    return "\n".join(f"{h}: {', '.join(s)}" for h, s in hours.items()) or "No hour had errors in several services."


@task(
    "logs", 13, "all_present", "top-3 services by errors",
    _logs_q(
        "all",
        "Generate a summary of the top 3 services by error count (ERROR + FATAL). "
        "For each, include the error count and the unique error messages.",
    ),
    lambda d, p: top3(error_counts(d.entries)),
)  # fmt: skip
def _logs_13(world: World, params: dict[str, Any]) -> Solver:
    text = shown_logs(world, "all")
    counts = yield from _errors(text)
    entries = yield from _entries(text)
    messages = error_messages(entries)
    return "\n".join(f"{s}: {n} errors ({'; '.join(messages.get(s, []))})" for s, n in top3(counts).items())


@task(
    "logs", 14, "contains", "entries with ctx.amount > 500 or ctx.duration_ms > 1000",
    _logs_q(
        "all",
        "Find all entries where a ctx field exceeds a threshold: amount > 500 or duration_ms > 1000. "
        "Return the count of such entries.",
    ),
    lambda d, p: threshold_hits(d.entries),
)  # fmt: skip
def _logs_14(world: World, params: dict[str, Any]) -> Solver:
    entries = yield from _entries(shown_logs(world, "all"))
    return str(threshold_hits(entries))


@task(
    "logs", 15, "names_and_any_count", "full error report",
    _logs_q(
        "all",
        "Generate a full error report: (1) error counts by service (ERROR+FATAL), "
        "(2) top error messages across all services, (3) time distribution of errors by hour.",
    ),
    lambda d, p: error_counts(d.entries),
)  # fmt: skip
def _logs_15(world: World, params: dict[str, Any]) -> Solver:
    text = shown_logs(world, "all")
    counts = yield from _errors(text)
    entries = yield from _entries(text)
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


# -- phase 2: metrics ----------------------------------------------------------------
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


@task("metrics", 1, "all_present", "list services", _list_services_q, lambda d, p: list(d.metrics))
def _metrics_01(world: World, params: dict[str, Any]) -> Solver:
    services = yield from _http_json(f"{METRICS_URL}/services")
    return _names(services)


def _single_metric(n: int, service: str, key: str) -> None:
    def solve(world: World, params: dict[str, Any]) -> Solver:
        data = yield from _metrics_of(service)
        return str(data[key])

    task(
        "metrics", n, "contains", f"{service} {key}",
        _one_service_q(service, f"Return the {key} value."),
        lambda d, p: d.metrics[service][key],
    )(solve)  # fmt: skip


_single_metric(2, "payments", "latency_p99")
_single_metric(3, "gateway", "error_rate")
_single_metric(4, "database", "cpu_pct")
_single_metric(5, "auth", "request_count")


@task(
    "metrics", 6, "contains", "highest p99 service",
    _all_services_q("Which service has the highest latency_p99? Return the service name and value."),
    lambda d, p: metric_argmax(d.metrics, "latency_p99"),
)  # fmt: skip
def _metrics_06(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from _all_metrics()
    top = metric_argmax(metrics, "latency_p99")
    return f"{top} ({metrics[top]['latency_p99']})"


@task(
    "metrics", 7, "contains", "highest error_rate service",
    _all_services_q("Which service has the highest error_rate? Return the service name and value."),
    lambda d, p: metric_argmax(d.metrics, "error_rate"),
)  # fmt: skip
def _metrics_07(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from _all_metrics()
    top = metric_argmax(metrics, "error_rate")
    return f"{top} ({metrics[top]['error_rate']})"


def _compare_q(world: World, params: dict[str, Any]) -> str:
    return (
        f"Fetch metrics for 'payments' and 'gateway' from {METRICS_URL}/metrics/{{service}}. {METRICS_HINT} "
        "Compare their latency_p99 values. Which is higher and by how much?"
    )


@task(
    "metrics", 8, "any_key", "payments vs gateway p99 (either name passes)", _compare_q,
    lambda d, p: {s: d.metrics[s]["latency_p99"] for s in ("payments", "gateway")},
)  # fmt: skip
def _metrics_08(world: World, params: dict[str, Any]) -> Solver:
    pay = yield from _metrics_of("payments")
    gw = yield from _metrics_of("gateway")
    a, b = pay["latency_p99"], gw["latency_p99"]
    hi, lo = ("payments", "gateway") if a >= b else ("gateway", "payments")
    return f"{hi} has the higher latency_p99 ({max(a, b)} vs {min(a, b)} for {lo}), by {abs(a - b):.3f} ms."


@task(
    "metrics", 9, "all_present", "services with error_rate > 0.05",
    _all_services_q("List all services with error_rate above 0.05."),
    lambda d, p: [s for s, m in d.metrics.items() if m["error_rate"] > 0.05],
)  # fmt: skip
def _metrics_09(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from _all_metrics()
    return _names(s for s, m in metrics.items() if m["error_rate"] > 0.05)


@task(
    "metrics", 10, "contains", "total request_count",
    _all_services_q("Calculate the total request_count across all services."),
    lambda d, p: sum(m["request_count"] for m in d.metrics.values()),
)  # fmt: skip
def _metrics_10(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from _all_metrics()
    return str(sum(m["request_count"] for m in metrics.values()))


@task(
    "metrics", 11, "first_before_last", "rank by p99 (top before bottom)",
    _all_services_q("Rank all services by latency_p99, highest first. Return the ordered list."),
    lambda d, p: rank_by(d.metrics, "latency_p99"),
)  # fmt: skip
def _metrics_11(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from _all_metrics()
    return "\n".join(
        f"{i}. {s} ({metrics[s]['latency_p99']})" for i, s in enumerate(rank_by(metrics, "latency_p99"), 1)
    )


@task(
    "metrics", 12, "none_or_all_present", "cpu_pct > 80 and error_rate > 0.05",
    _all_services_q(
        "Find services where cpu_pct > 80 AND error_rate > 0.05. Return the list (or state none if no services match)."
    ),
    lambda d, p: [s for s, m in d.metrics.items() if m["cpu_pct"] > 80 and m["error_rate"] > 0.05],
)  # fmt: skip
def _metrics_12(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from _all_metrics()
    return _names(s for s, m in metrics.items() if m["cpu_pct"] > 80 and m["error_rate"] > 0.05)


@task(
    "metrics", 13, "all_present", "health dashboard (names only)",
    _all_services_q(
        "Generate a health dashboard: for each service, report status as 'healthy' if error_rate < 0.05, "
        "'degraded' if error_rate < 0.1, or 'critical' otherwise."
    ),
    lambda d, p: {s: health_status(m["error_rate"]) for s, m in d.metrics.items()},
)  # fmt: skip
def _metrics_13(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from _all_metrics()
    return "\n".join(
        f"{s}: {health_status(m['error_rate'])} (error_rate {m['error_rate']})" for s, m in metrics.items()
    )


@task(
    "metrics", 14, "contains", "lowest cpu_pct per request",
    _all_services_q(
        "Which service is the most resource-efficient? Compute efficiency as cpu_pct / request_count "
        "(lowest is most efficient). Return the service name."
    ),
    lambda d, p: most_efficient(d.metrics),
)  # fmt: skip
def _metrics_14(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from _all_metrics()
    return most_efficient(metrics)


def _summary_truth(d: V1Data, p: dict[str, Any]) -> dict[str, Any]:
    rates = [m["error_rate"] for m in d.metrics.values()]
    return {
        "total_requests": sum(m["request_count"] for m in d.metrics.values()),
        "average_error_rate": sum(rates) / len(rates),
        "attention": [s for s, m in d.metrics.items() if m["error_rate"] >= HEALTHY_BELOW],
    }


@task(
    "metrics", 15, "total_and_names", "total requests, average error rate, attention list",
    _all_services_q(
        "Generate a full metrics summary: total requests across all services, average error rate, "
        "and list of services needing attention (error_rate >= 0.05)."
    ),
    _summary_truth,
)  # fmt: skip
def _metrics_15(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from _all_metrics()
    total = sum(m["request_count"] for m in metrics.values())
    avg = sum(m["error_rate"] for m in metrics.values()) / len(metrics)
    attention = [s for s, m in metrics.items() if m["error_rate"] >= HEALTHY_BELOW]
    return f"Total requests: {total}\nAverage error rate: {avg:.6f}\nNeeding attention: {_names(attention)}"


# -- phase 3: config -------------------------------------------------------------------
def _first(world: World) -> dict[str, Any]:
    return {"service": picked_services(world)[0]}


def _second(world: World) -> dict[str, Any]:
    picked = picked_services(world)
    return {"service": picked[1] if len(picked) > 1 else "gateway"}


def _database_or_first(world: World) -> dict[str, Any]:
    return {"service": _service_or_first(world, "database")}


def _file_of(world: World, service: str) -> str:
    return config_texts(world).get(f"{service}.acme", "")


def _one_conf_q(ask: str, note: str = "") -> Question:
    def q(world: World, params: dict[str, Any]) -> str:
        svc = params["service"]
        text = f"{ask.format(service=svc)}\n\n{config_block(f'{svc}.acme', _file_of(world, svc))}"
        return f"{text}\n\n{note}" if note else text

    return q


def _all_conf_q(ask: str) -> Question:
    def q(world: World, params: dict[str, Any]) -> str:
        return f"{ask.format(**params)}\n\n{all_config_blocks(world)}"

    return q


def _block(d: V1Data, service: str) -> dict[str, Any]:
    return d.service_blocks().get(service, {})


@task(
    "config", 1, "contains", "replicas of the first service (variable default)",
    _one_conf_q(
        "Parse the following AcmeConf config and return the replicas count for the '{service}' service.", VAR_NOTE
    ),
    lambda d, p: _block(d, p["service"]).get("replicas"),
    params=_first,
)  # fmt: skip
def _config_01(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _conf(_file_of(world, params["service"]))
    return str(resolve(blocks[params["service"]]["replicas"]))


@task(
    "config", 2, "contains", "timeout in seconds of the second service",
    _one_conf_q(
        "Parse the following AcmeConf config and return the timeout value (in seconds) for the '{service}' service.",
        "Note: Durations like '30s' = 30, '5m' = 300, '1h' = 3600.",
    ),
    lambda d, p: _block(d, p["service"]).get("timeout"),
    params=_second,
)  # fmt: skip
def _config_02(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _conf(_file_of(world, params["service"]))
    return str(blocks[params["service"]]["timeout"])


@task(
    "config", 3, "all_present", "list services",
    _all_conf_q("Look at these AcmeConf config files and list all services defined (excluding 'defaults')."),
    lambda d, p: sorted(d.service_blocks()),
)  # fmt: skip
def _config_03(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _all_conf(world)
    return _names(blocks)


@task(
    "config", 4, "all_present", "deps of the first service",
    _one_conf_q("Parse the following AcmeConf config and list the dependencies of the '{service}' service."),
    lambda d, p: list(_block(d, p["service"]).get("deps", [])),
    params=_first,
)  # fmt: skip
def _config_04(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _conf(_file_of(world, params["service"]))
    return _names(blocks[params["service"]].get("deps", []))


@task(
    "config", 5, "contains", "health_check path",
    _one_conf_q("Parse the following AcmeConf config and return the health_check path for the '{service}' service."),
    lambda d, p: _block(d, p["service"]).get("health_check", ""),
    params=_database_or_first,
)  # fmt: skip
def _config_05(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _conf(_file_of(world, params["service"]))
    return str(blocks[params["service"]]["health_check"])


def _validation_truth(d: V1Data, p: dict[str, Any]) -> list[str]:
    return [
        f"{svc} is missing required field {f}"
        for svc, fields in d.service_blocks().items()
        for f in ("replicas", "timeout", "health_check")
        if f not in fields
    ]


@task(
    "config", 6, "validation", "missing required fields (expected none)",
    _all_conf_q(
        "Validate the following AcmeConf configs. Check if any services are missing required fields "
        "(replicas, timeout, health_check). Report any issues found."
    ),
    _validation_truth,
)  # fmt: skip
def _config_06(world: World, params: dict[str, Any]) -> Solver:
    issues: list[dict[str, Any]] = []
    for text in config_texts(world).values():
        issues += yield from _tool_json("validate_acmeconf", config_text=text)
    if not issues:
        return "No issues found: every service defines replicas, timeout and health_check."
    return "\n".join(f"{i['service']}: {i['issue']}" for i in issues)


@task(
    "config", 7, "none_or_all_present", "who depends on database (or the first service)",
    _all_conf_q(
        "From the following AcmeConf configs, which services depend on the '{service}' service? Check the 'deps' field."
    ),
    lambda d, p: sorted(s for s, f in d.service_blocks().items() if p["service"] in f.get("deps", [])),
    params=_database_or_first,
)  # fmt: skip
def _config_07(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _all_conf(world)
    return _names(sorted(s for s, deps in _graph(blocks).items() if params["service"] in deps))


@task(
    "config", 8, "none_or_all_present", "services with replicas > 2",
    _all_conf_q(
        "Parse all the following AcmeConf configs and list services with replicas > 2. "
        "If replicas uses a variable like ${{VAR:-N}}, use the default value N."
    ),
    lambda d, p: sorted(s for s, f in d.service_blocks().items() if _int_above(f.get("replicas"), 2)),
)  # fmt: skip
def _config_08(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _all_conf(world)
    big = []
    for s, f in blocks.items():
        replicas = resolve(f.get("replicas"))
        if isinstance(replicas, int) and replicas > 2:
            big.append(s)
    return _names(sorted(big))


def _int_above(value: Any, threshold: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > threshold


def _collect_vars(value: Any, into: set[str]) -> None:
    if isinstance(value, list):
        for v in value:
            _collect_vars(v, into)
    elif isinstance(value, str):
        into.update(m.group(1) for m in _VAR.finditer(value))


@task(
    "config", 9, "none_or_all_present", "environment variables referenced",
    _all_conf_q(
        "What environment variables are referenced in the following AcmeConf configs? "
        "Look for patterns like ${{VARIABLE_NAME}} or ${{VARIABLE_NAME:-default}}."
    ),
    lambda d, p: d.variables(),
)  # fmt: skip
def _config_09(world: World, params: dict[str, Any]) -> Solver:
    found: set[str] = set()
    for text in config_texts(world).values():
        blocks = yield from _conf(text)
        for fields in blocks.values():
            for v in fields.values():
                _collect_vars(v, found)
    return _names(sorted(found))


@task(
    "config", 10, "contains", "resolve variables of the first file (graded like task 1)",
    _one_conf_q(
        "Parse the following AcmeConf config and resolve any variable references using their default values "
        "(e.g., ${{VAR:-3}} resolves to 3). Return the resolved values for all fields."
    ),
    lambda d, p: _block(d, p["service"]).get("replicas"),
    params=_first,
)  # fmt: skip
def _config_10(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _conf(_file_of(world, params["service"]))
    fields = blocks[params["service"]]
    return "\n".join(
        f"{k} = {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in resolve(dict(fields)).items()
    )


def _diff_params(world: World) -> dict[str, Any]:
    return {"file": f"{picked_services(world)[0]}.acme"}


def _diff_q(world: World, params: dict[str, Any]) -> str:
    name = params["file"]
    a = world.files[f"{CONFIG_DIR}/{name}"]
    b = world.files[f"{CONFIG_V2_DIR}/{name}"]
    return (
        "Compare these two versions of an AcmeConf config and list the differences.\n\n"
        f"Version A ({name}):\n```\n{a}```\n\nVersion B ({name}):\n```\n{b}```"
    )


def _diff_truth(d: V1Data, p: dict[str, Any]) -> list[dict[str, Any]]:
    a = parse_blocks(d.configs[p["file"]])
    b = parse_blocks(d.config_v2[p["file"]])
    return [
        {"service": s, "field": f, "old": a[s].get(f), "new": b.get(s, {}).get(f)}
        for s in a
        for f in a[s]
        if a[s].get(f) != b.get(s, {}).get(f)
    ]


def parse_blocks(text: str) -> dict[str, dict[str, Any]]:
    return parse_conf_text(text).blocks


@task(
    "config", 11, "mentions_replicas", "diff two versions (graded on 'replicas')",
    _diff_q, _diff_truth, params=_diff_params,
)  # fmt: skip
def _config_11(world: World, params: dict[str, Any]) -> Solver:
    name = params["file"]
    changes = yield from _tool_json(
        "diff_acmeconf",
        config_a=world.files[f"{CONFIG_DIR}/{name}"],
        config_b=world.files[f"{CONFIG_V2_DIR}/{name}"],
    )
    if not changes:
        return "The two versions are identical: no differences."
    return "\n".join(f"{c['service']}.{c['field']}: {c['old']} -> {c['new']}" for c in changes)


@task(
    "config", 12, "cycles", "circular dependencies (always true)",
    _all_conf_q(
        "Check for circular dependencies in the following service configs. A circular dependency is when service A "
        "depends on B and B depends on A (directly or transitively)."
    ),
    lambda d, p: find_cycles({s: list(f.get("deps", [])) for s, f in d.service_blocks().items()}),
)  # fmt: skip
def _config_12(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _all_conf(world)
    cycles = find_cycles(_graph(blocks))
    if not cycles:
        return "No circular dependencies."
    return "Circular dependencies found:\n" + "\n".join(" -> ".join([*c, c[0]]) for c in cycles)


@task(
    "config", 13, "dep_refs", "deps point to existing services (expected empty)",
    _all_conf_q(
        "Validate that all dependency references in the configs point to existing services. Check the 'deps' field "
        "of each service and verify each referenced service is actually defined."
    ),
    lambda d, p: unknown_deps({s: list(f.get("deps", [])) for s, f in d.service_blocks().items()}),
)  # fmt: skip
def _config_13(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _all_conf(world)
    issues = unknown_deps(_graph(blocks))
    return "\n".join(issues) if issues else "All dependency references are valid: every dep is a defined service."


@task(
    "config", 14, "all_present", "dependency graph (names)",
    _all_conf_q(
        "Generate a dependency graph from the following configs. For each service, list which services it depends on."
    ),
    lambda d, p: {s: list(f.get("deps", [])) for s, f in d.service_blocks().items()},
)  # fmt: skip
def _config_14(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _all_conf(world)
    return "\n".join(f"{s} -> {_names(deps, '(none)')}" for s, deps in _graph(blocks).items())


@task(
    "config", 15, "all_present", "full audit (names)",
    _all_conf_q(
        "Perform a full config audit on the following AcmeConf files. Check for: (1) missing required fields "
        "(replicas, timeout, health_check), (2) unresolved variable references, (3) invalid dependency references "
        "(deps pointing to non-existent services)."
    ),
    lambda d, p: sorted(d.service_blocks()),
)  # fmt: skip
def _config_15(world: World, params: dict[str, Any]) -> Solver:
    issues: list[dict[str, Any]] = []
    for text in config_texts(world).values():
        issues += yield from _tool_json("validate_acmeconf", config_text=text)
    blocks = yield from _all_conf(world)
    unknown = unknown_deps(_graph(blocks))
    lines = []
    for s, f in blocks.items():
        missing = [i["field"] for i in issues if i["service"] == s]
        found: set[str] = set()
        for v in f.values():
            _collect_vars(v, found)
        variables = f"variables with defaults: {', '.join(sorted(found))}" if found else "no variables"
        lines.append(
            f"{s}: {'missing ' + ', '.join(missing) if missing else 'all required fields present'}; {variables}"
        )
    lines.append("Invalid dependency references: " + (_names(unknown, "none")))
    return "\n".join(lines)


# -- phase 4: incidents -----------------------------------------------------------------
def _logs_inline(world: World) -> str:
    return f"Logs ({LOG_PATH}). {LOG_HINT}\n\n{shown_logs(world, 'all')}"


@task(
    "incidents", 1, "contains", "payments ERROR count",
    lambda w, p: (
        f"INCIDENT: Payments service is alerting. Check the logs below for ERROR entries for the 'payments' "
        f"service.\n\n{_logs_inline(w)}\n\nHow many ERROR entries are there?"
    ),
    lambda d, p: count_entries(d.entries, "payments", "ERROR"),
)  # fmt: skip
def _incidents_01(world: World, params: dict[str, Any]) -> Solver:
    out = yield from _tool("filter_acme_logs", log_text=shown_logs(world, "all"), service="payments", severity="ERROR")
    return str(_nlines(out))


@task(
    "incidents", 2, "contains", "gateway p99",
    lambda w, p: (
        f"INCIDENT: Gateway might be slow. Check its metrics at {METRICS_URL}/metrics/gateway. "
        f"{INCIDENT_METRICS_HINT} What is the p99 latency?"
    ),
    lambda d, p: d.metrics["gateway"]["latency_p99"],
)  # fmt: skip
def _incidents_02(world: World, params: dict[str, Any]) -> Solver:
    data = yield from _metrics_of("gateway")
    return str(data["latency_p99"])


def _auth_or_first(world: World) -> dict[str, Any]:
    return {"service": _service_or_first(world, "auth")}


@task(
    "incidents", 3, "contains", "replicas of auth (or the first config service)",
    lambda w, p: (
        f"INCIDENT: Someone changed the {p['service']} config. Parse the following config and tell me the current "
        f"replicas count.\n\n{config_block(p['service'] + '.acme', _file_of(w, p['service']))}\n\n{VAR_NOTE}"
    ),
    lambda d, p: _block(d, p["service"]).get("replicas"),
    params=_auth_or_first,
)  # fmt: skip
def _incidents_03(world: World, params: dict[str, Any]) -> Solver:
    blocks = yield from _conf(_file_of(world, params["service"]))
    return str(resolve(blocks[params["service"]]["replicas"]))


@task(
    "incidents", 4, "contains", "total errors (ERROR + FATAL)",
    lambda w, p: (
        "INCIDENT: Check how many total errors (ERROR + FATAL) we have across all services in the logs below.\n\n"
        f"{_logs_inline(w)}\n\nReturn the total count."
    ),
    lambda d, p: sum(error_counts(d.entries).values()),
)  # fmt: skip
def _incidents_04(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from _errors(shown_logs(world, "all"))
    return str(sum(counts.values()))


@task(
    "incidents", 5, "contains", "database error_rate",
    lambda w, p: (
        f"INCIDENT: Fetch the error_rate for the 'database' service from metrics at {METRICS_URL}/metrics/database. "
        f"{INCIDENT_METRICS_HINT} Return the error_rate value."
    ),
    lambda d, p: d.metrics["database"]["error_rate"],
)  # fmt: skip
def _incidents_05(world: World, params: dict[str, Any]) -> Solver:
    data = yield from _metrics_of("database")
    return str(data["error_rate"])


@task(
    "incidents", 6, "count_and_payments", "payments log errors and metric error_rate (count and name graded)",
    lambda w, p: (
        "INCIDENT: Payments has errors. Check BOTH the logs below for ERROR/FATAL entries for 'payments', and the "
        f"metrics at {METRICS_URL}/metrics/payments. {INCIDENT_METRICS_HINT}\n\n{_logs_inline(w)}\n\n"
        "Are errors reflected in both the logs and the metrics? Report the error count from logs and the "
        "error_rate from metrics."
    ),
    lambda d, p: {
        "error_count": error_counts(d.entries).get("payments", 0),
        "error_rate": d.metrics["payments"]["error_rate"],
    },
)  # fmt: skip
def _incidents_06(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from _errors(shown_logs(world, "all"))
    data = yield from _metrics_of("payments")
    n, rate = counts.get("payments", 0), data["error_rate"]
    both = "yes, errors show in both" if n > 0 and rate > HEALTHY_BELOW else "they are not reflected in both"
    return f"payments: {n} ERROR/FATAL log entries; metrics error_rate {rate}; {both}."


@task(
    "incidents", 7, "all_values", "gateway p99 and gateway WARN count",
    lambda w, p: (
        f"INCIDENT: Gateway is slow. Check metrics at {METRICS_URL}/metrics/gateway for p99 latency, and check the "
        f"logs below for WARN entries from the 'gateway' service. {INCIDENT_METRICS_HINT}\n\n{_logs_inline(w)}\n\n"
        "Report the p99 latency and the number of WARN entries."
    ),
    lambda d, p: {
        "latency_p99": d.metrics["gateway"]["latency_p99"],
        "warn_count": count_entries(d.entries, "gateway", "WARN"),
    },
)  # fmt: skip
def _incidents_07(world: World, params: dict[str, Any]) -> Solver:
    data = yield from _metrics_of("gateway")
    out = yield from _tool("filter_acme_logs", log_text=shown_logs(world, "all"), service="gateway", severity="WARN")
    return f"gateway latency_p99: {data['latency_p99']}; WARN entries: {_nlines(out)}"


def _frontend_or_first(world: World) -> dict[str, Any]:
    return {"service": _service_or_first(world, "frontend")}


@task(
    "incidents", 8, "service_named", "config replicas and error_rate of frontend or fallback (name graded)",
    lambda w, p: (
        f"INCIDENT: We deployed a config change for '{p['service']}'. Check the config below and verify the metrics "
        f"look ok at {METRICS_URL}/metrics/{p['service']}. {INCIDENT_METRICS_HINT}\n\n"
        f"{config_block(p['service'] + '.acme', _file_of(w, p['service']))}\n\n"
        "Report the config replicas and the current error_rate from metrics."
    ),
    lambda d, p: {
        "service": p["service"],
        "replicas": _block(d, p["service"]).get("replicas"),
        "error_rate": d.metrics[p["service"]]["error_rate"],
    },
    params=_frontend_or_first,
)  # fmt: skip
def _incidents_08(world: World, params: dict[str, Any]) -> Solver:
    svc = params["service"]
    blocks = yield from _conf(_file_of(world, svc))
    data = yield from _metrics_of(svc)
    return f"{svc}: replicas {resolve(blocks[svc]['replicas'])}; error_rate {data['error_rate']}"


@task(
    "incidents", 9, "any_value", "worst service overall (logs winner or metrics winner)",
    lambda w, p: (
        "INCIDENT: Multiple services have errors. Check the logs below for error counts (ERROR+FATAL) per service and "
        f"the metrics API at {METRICS_URL} for error rates. {INCIDENT_METRICS_HINT}\n\n{_logs_inline(w)}\n\n"
        "Which service is the worst overall? Consider both log errors and metric error rates."
    ),
    lambda d, p: {
        "worst_by_logs": argmax(error_counts(d.entries)),
        "worst_by_metrics": metric_argmax(d.metrics, "error_rate"),
    },
)  # fmt: skip
def _incidents_09(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from _errors(shown_logs(world, "all"))
    metrics = yield from _all_metrics()
    by_logs, by_metrics = argmax(counts), metric_argmax(metrics, "error_rate")
    return (
        f"Worst overall: {by_logs} (most log errors, {counts.get(by_logs, 0)}); highest metrics error_rate: "
        f"{by_metrics} ({metrics[by_metrics]['error_rate']})."
    )


def _db_params(world: World) -> dict[str, Any]:
    return {"config_file": "database.acme" if "database" in picked_services(world) else None}


def _inc10_q(world: World, params: dict[str, Any]) -> str:
    if params["config_file"]:
        shown = config_block("database.acme", _file_of(world, "database"))
    else:
        shown = "The database service config is:\n" + all_config_blocks(world)
    return (
        "INCIDENT: Check if the database service dependencies in the config are all healthy in metrics.\n\n"
        f"{shown}\n\nFor each dependency, check its metrics at {METRICS_URL}/metrics/{{service}}. "
        f"{INCIDENT_METRICS_HINT} Report whether each dependency is healthy (error_rate < 0.05)."
    )


def _inc10_truth(d: V1Data, p: dict[str, Any]) -> dict[str, str]:
    deps = _block(d, "database").get("deps", []) if p["config_file"] else []
    return {s: "healthy" if d.metrics[s]["error_rate"] < HEALTHY_BELOW else "unhealthy" for s in deps}


@task(
    "incidents", 10, "health_words", "database deps healthy ('healthy'/'error'/'rate' anywhere)",
    _inc10_q, _inc10_truth, params=_db_params,
)  # fmt: skip
def _incidents_10(world: World, params: dict[str, Any]) -> Solver:
    if params["config_file"]:
        blocks = yield from _conf(_file_of(world, "database"))
    else:
        blocks = yield from _all_conf(world)
    if "database" not in blocks:
        return (
            "The database service is not defined in these configs, so it has no configured dependencies "
            "whose health (error_rate < 0.05) could be checked."
        )
    lines = []
    for dep in blocks["database"].get("deps", []):
        data = yield from _metrics_of(dep)
        state = "healthy" if data["error_rate"] < HEALTHY_BELOW else "NOT healthy"
        lines.append(f"{dep}: {state} (error_rate {data['error_rate']})")
    return "\n".join(lines) or "database has no dependencies."


def _inc11_q(world: World, params: dict[str, Any]) -> str:
    text = _file_of(world, "payments")
    conf = config_block("payments.acme", text) if text else "No payments config available."
    return (
        "INCIDENT: Service payments is down. Perform a full investigation:\n"
        "1. Check the logs below for ERROR/FATAL entries for payments\n"
        f"2. Check metrics at {METRICS_URL}/metrics/payments for degradation\n"
        "3. Check the payments config below for any issues\n\n"
        f"{conf}\n\n{INCIDENT_METRICS_HINT}\n\n{_logs_inline(world)}\n\nWhat is the likely root cause?"
    )


@task(
    "incidents", 11, "root_cause", "root cause for payments ('payments' and 'error'/'cause')",
    _inc11_q,
    lambda d, p: {
        "service": "payments",
        "error_count": error_counts(d.entries).get("payments", 0),
        "error_rate": d.metrics["payments"]["error_rate"],
    },
)  # fmt: skip
def _incidents_11(world: World, params: dict[str, Any]) -> Solver:
    text = shown_logs(world, "all")
    entries = yield from _entries(text)
    data = yield from _metrics_of("payments")
    mine = [e for e in entries if e["service"] == "payments" and e["severity"] in ERROR_SEVERITIES]
    by_msg: dict[str, int] = {}
    for e in mine:
        by_msg[e["message"]] = by_msg.get(e["message"], 0) + 1
    top = argmax(by_msg)
    conf_note = ""
    conf_text = _file_of(world, "payments")
    if conf_text:
        issues = yield from _tool_json("validate_acmeconf", config_text=conf_text)
        conf_note = " The payments config has no missing fields." if not issues else f" Config issues: {issues}."
    return (
        f"payments has {len(mine)} ERROR/FATAL log entries and a metrics error_rate of {data['error_rate']}. "
        f"Likely root cause: {top or 'unknown'} (the most frequent payments error).{conf_note}"
    )


@task(
    "incidents", 12, "contains", "highest-p99 bottleneck",
    lambda w, p: (
        f"INCIDENT: We're seeing increased latency across the board. Check all services' metrics at {METRICS_URL} "
        f"(list from /services, then /metrics/{{service}} for each). {INCIDENT_METRICS_HINT}\n"
        f"Also check the logs below for correlated errors.\n\n{_logs_inline(w)}\n\n"
        "Identify the bottleneck service (highest p99 latency)."
    ),
    lambda d, p: metric_argmax(d.metrics, "latency_p99"),
)  # fmt: skip
def _incidents_12(world: World, params: dict[str, Any]) -> Solver:
    metrics = yield from _all_metrics()
    top = metric_argmax(metrics, "latency_p99")
    return f"Bottleneck: {top} (latency_p99 {metrics[top]['latency_p99']})"


@task(
    "incidents", 13, "affected_two", "incident report (>= 2 error-bearing services named)",
    lambda w, p: (
        "INCIDENT: Generate an incident report covering:\n"
        "1. Affected services (from the logs below - services with ERROR/FATAL)\n"
        f"2. Severity assessment (from metrics at {METRICS_URL} - error rates)\n"
        f"3. Current config state\n\n{all_config_blocks(w)}\n\n{INCIDENT_METRICS_HINT}\n\n{_logs_inline(w)}"
    ),
    lambda d, p: error_counts(d.entries),
)  # fmt: skip
def _incidents_13(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from _errors(shown_logs(world, "all"))
    metrics = yield from _all_metrics()
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
        blocks = yield from _conf(text)
        issues = yield from _tool_json("validate_acmeconf", config_text=text)
        for s in blocks:
            if s != "defaults":
                valid[s] = not any(i["service"] == s for i in issues)
    return valid


@task(
    "incidents", 14, "three_services", "full health check (>= 3 names)",
    lambda w, p: (
        "INCIDENT: Perform a full health check for each service:\n"
        "1. Check the logs below for errors (ERROR+FATAL count)\n"
        f"2. Check metrics at {METRICS_URL}/metrics/{{service}} for performance\n"
        f"3. Check config for correctness\n\n{all_config_blocks(w)}\n\n{INCIDENT_METRICS_HINT}\n\n{_logs_inline(w)}\n\n"
        "For each service, report: error count (logs), error rate (metrics), and config status."
    ),
    lambda d, p: {
        s: {"log_errors": error_counts(d.entries).get(s, 0), "error_rate": m["error_rate"]}
        for s, m in d.metrics.items()
    },
)  # fmt: skip
def _incidents_14(world: World, params: dict[str, Any]) -> Solver:
    counts = yield from _errors(shown_logs(world, "all"))
    metrics = yield from _all_metrics()
    valid = yield from _config_validity(world)
    lines = []
    for s in metrics:
        conf = "not configured" if s not in valid else ("valid" if valid[s] else "missing fields")
        lines.append(f"{s}: {counts.get(s, 0)} log errors, error_rate {metrics[s]['error_rate']}, config {conf}")
    return "\n".join(lines)


@task(
    "incidents", 15, "winner_and_three", "urgency ranking (worst-by-logs + >= 3 names)",
    lambda w, p: (
        "INCIDENT TRIAGE: Rank all services by urgency using:\n"
        "1. Error counts from the logs below\n"
        f"2. Error rates from metrics at {METRICS_URL}\n"
        f"3. Config validation\n\n{all_config_blocks(w)}\n\n{INCIDENT_METRICS_HINT}\n\n{_logs_inline(w)}\n\n"
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
    counts = yield from _errors(shown_logs(world, "all"))
    metrics = yield from _all_metrics()
    ranking = sorted(metrics, key=lambda s: (counts.get(s, 0), metrics[s]["error_rate"]), reverse=True)
    return "\n".join(
        f"{i}. {s}: {counts.get(s, 0)} log errors, error_rate {metrics[s]['error_rate']}"
        for i, s in enumerate(ranking, 1)
    )


# =================================================================================
# Families
# =================================================================================
class V1Task(TaskFamily):
    """One of the paper's 60 AcmeCorp tasks."""

    answer_schema = {"type": "string", "description": "free text"}  # the paper graded free text

    def __init__(self, spec: V1Spec) -> None:
        self.spec = spec
        self.name = spec.name
        self.phase = spec.phase
        self.difficulty = spec.difficulty

    def __repr__(self) -> str:
        return f"V1Task({self.name!r}: {self.spec.summary})"

    def sample(self, world: World, rng: Any) -> dict[str, Any]:
        return self.spec.params(world) if self.spec.params else {}

    def question(self, world: World, params: dict[str, Any]) -> str:
        return self.spec.question(world, params)

    def prompt(self, world: World, params: dict[str, Any]) -> str:
        # The paper graded free text: no schema, no grading recipe.
        return self.question(world, params)

    def truth(self, access: WorldAccess, params: dict[str, Any]) -> Any:
        return self.spec.truth(V1Data.load(access), params)

    def comparator(self, params: dict[str, Any]) -> PaperCheck:
        return PaperCheck(self.spec.check)

    def solve(self, world: World, params: dict[str, Any]) -> Solver:
        return self.spec.solve(world, params)


def _ordered_specs() -> list[V1Spec]:
    specs = sorted(SPECS, key=lambda s: (PHASES.index(s.phase), s.number))
    names = [s.name for s in specs]
    expected = [f"v1.{p}.{n:02d}" for p in PHASES for n in range(1, 16)]
    if names != expected:
        raise RuntimeError(f"arise_v1 task table is incomplete or duplicated: {sorted(set(expected) ^ set(names))}")
    return specs


def families() -> list[V1Task]:
    """The 60 tasks in the paper's order (phase, then number)."""
    return [V1Task(s) for s in _ordered_specs()]


# =================================================================================
# The constant blob
# =================================================================================
BLOB_KEYWORDS: tuple[str, ...] = ("error", "cause", "healthy", "none", "valid", "replicas", "no", "rate")
CONSTANT_BLOB: str = " ".join([*SERVICES, *SEVERITIES, *BLOB_KEYWORDS, *(str(i) for i in range(1000))])
"""An input-independent answer: service and severity names, a few keywords, 0..999.

The paper's checks accept it on most tasks (see docs/arise_v1.md); it is the null
baseline that shows how much of a score this protocol can hand out for free.
"""

__all__ = [
    "CHECKS",
    "CONSTANT_BLOB",
    "SPECS",
    "OracleError",
    "PaperCheck",
    "V1Spec",
    "V1Task",
    "families",
]
