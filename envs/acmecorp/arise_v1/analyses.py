"""Analyses shared by the AcmeCorp paper tasks' truths (on ``V1Data``) and oracles (on tool output)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from envs.acmecorp.arise_v1.world import (
    ERROR_SEVERITIES,
    V1Data,
)

HEALTHY_BELOW = 0.05
DEGRADED_BELOW = 0.1

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


def dep_graph(blocks: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    return {s: list(f.get("deps", [])) if isinstance(f.get("deps"), list) else [] for s, f in blocks.items()}


def names_or(items: Iterable[str], empty: str = "None") -> str:
    items = list(items)
    return ", ".join(items) if items else empty


def service_block(d: V1Data, service: str) -> dict[str, Any]:
    return d.service_blocks().get(service, {})
