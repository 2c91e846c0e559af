"""Hand-written reference tools for AcmeCorp (logs, metrics, incidents).

They serve the ``fixed_tools`` condition and are the oracle for diagnostics. Like any
tool they reach the world only through ``envs.toolkit`` and take paths, URLs and
parameters, never pasted data; outputs are compact so they fit an observation.
The config tools live in ``envs.acmecorp.config_tools``; ``reference_tools()``
returns the full set.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from typing import Any

from envs.acmecorp import logs as logfmt
from envs.acmecorp.metrics import BASE_URL, METRIC_KEYS, decode_payload
from envs.toolkit import http_get, list_files, read_file

# -- logs ---------------------------------------------------------------------------

_PARSE_CACHE: dict[tuple[tuple[str, int, int], ...], logfmt.ParsedLogs] = {}


def _all_logs() -> logfmt.ParsedLogs:
    paths = logfmt.rotated_paths(list_files("logs/"))
    texts = [(p, read_file(p)) for p in paths]
    key = tuple((p, len(t), hash(t)) for p, t in texts)
    parsed = _PARSE_CACHE.get(key)
    if parsed is None:
        parsed = logfmt.parse_log_files(texts)
        if len(_PARSE_CACHE) > 16:
            _PARSE_CACHE.clear()
        _PARSE_CACHE[key] = parsed
    return parsed


def _severities(severity: str) -> set[str] | None:
    if not severity:
        return None
    if severity.lower() == "errors":
        return set(logfmt.ERROR_SEVERITIES)
    sevs = {s.strip().upper() for s in severity.split(",") if s.strip()}
    bad = sevs - set(logfmt.SEVERITIES)
    if bad:
        raise ValueError(f"unknown severity {sorted(bad)}; accepted: {', '.join(logfmt.SEVERITIES)} or 'errors'")
    return sevs


def _select(
    service: str, severity: str, start: int, end: int, error_code: str = "", with_stack: bool = False
) -> list[logfmt.LogEntry]:
    sevs = _severities(severity)
    out = []
    for e in _all_logs().entries:
        if service and e.service != service:
            continue
        if sevs is not None and e.severity not in sevs:
            continue
        if start and e.ts < start:
            continue
        if end and e.ts >= end:
            continue
        if error_code and e.ctx.get("error_code") != error_code:
            continue
        if with_stack and not e.stack:
            continue
        out.append(e)
    return out


def log_count(
    service: str = "", severity: str = "", start: int = 0, end: int = 0, error_code: str = "", with_stack: bool = False
) -> int:
    """Count log entries across all rotated AcmeCorp log files (malformed lines excluded).

    Args:
        service: Only this service ('' = all).
        severity: A severity, a comma-separated list, or 'errors' for ERROR+FATAL ('' = all).
        start: Only entries with ts >= start (0 = no bound).
        end: Only entries with ts < end (0 = no bound).
        error_code: Only entries whose ctx.error_code equals this ('' = any).
        with_stack: Only entries that carry a multi-line stack trace.
    """
    return len(_select(service, severity, start, end, error_code, with_stack))


def log_group_count(by: str, service: str = "", severity: str = "", start: int = 0, end: int = 0) -> dict[str, int]:
    """Count log entries grouped by a field, across all rotated log files.

    Args:
        by: 'service', 'severity', 'hour' (ts - ts % 3600), 'host' or any ctx key such as 'error_code'.
        service: Only this service ('' = all).
        severity: A severity, a comma-separated list, or 'errors' for ERROR+FATAL ('' = all).
        start: Only entries with ts >= start (0 = no bound).
        end: Only entries with ts < end (0 = no bound).
    """
    counts: Counter[str] = Counter()
    for e in _select(service, severity, start, end):
        if by == "service":
            counts[e.service] += 1
        elif by == "severity":
            counts[e.severity] += 1
        elif by == "hour":
            counts[str(e.ts - e.ts % 3600)] += 1
        elif by in e.ctx:
            counts[str(e.ctx[by])] += 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def log_field_stats(field: str, service: str = "", severity: str = "", start: int = 0, end: int = 0) -> dict[str, Any]:
    """Statistics of a ctx field over matching log entries (entries without the field are skipped).

    Args:
        field: The ctx key, e.g. 'duration_ms', 'amount' or 'user_id'.
        service: Only this service ('' = all).
        severity: A severity, a comma-separated list, or 'errors' for ERROR+FATAL ('' = all).
        start: Only entries with ts >= start (0 = no bound).
        end: Only entries with ts < end (0 = no bound).

    Returns:
        {count, distinct, and for numeric fields sum, mean, min, max, median}.
    """
    values = [e.ctx[field] for e in _select(service, severity, start, end) if field in e.ctx]
    out: dict[str, Any] = {"count": len(values), "distinct": len({json.dumps(v) for v in values})}
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if nums and len(nums) == len(values):
        out.update(
            sum=round(sum(nums), 6),
            mean=round(sum(nums) / len(nums), 6),
            min=min(nums),
            max=max(nums),
            median=statistics.median(nums),
        )
    return out


def log_charges(service: str = "payments", currency: str = "", start: int = 0, end: int = 0) -> dict[str, Any]:
    """Sum the amounts of 'charge captured' entries (ctx.amount), optionally for one currency.

    Args:
        service: Service that logs the charges.
        currency: Only charges in this currency code, e.g. 'EUR' ('' = all currencies).
        start: Only entries with ts >= start (0 = no bound).
        end: Only entries with ts < end (0 = no bound).

    Returns:
        {count, total} with total rounded to 2 decimals.
    """
    amounts = [
        e.ctx["amount"]
        for e in _select(service, "", start, end)
        if "amount" in e.ctx and (not currency or e.ctx.get("currency") == currency)
    ]
    return {"count": len(amounts), "total": round(sum(amounts), 2)}


def log_malformed() -> dict[str, int]:
    """Number of malformed lines per rotated log file (continuation lines are never counted).

    Returns:
        {path: malformed line count} plus 'total'.
    """
    parsed = _all_logs()
    out = dict(parsed.malformed_by_file)
    out["total"] = parsed.malformed
    return out


# -- metrics ---------------------------------------------------------------------------


def _token_headers() -> dict[str, str]:
    try:
        return {"X-Acme-Token": read_file("secrets/metrics.token").strip()}
    except Exception:
        return {}


def _get(path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    headers = _token_headers()
    for _ in range(10):
        resp = http_get(BASE_URL + path, params=params, headers=headers)
        if resp["status"] != 429:
            break
    if resp["status"] != 200:
        raise RuntimeError(f"GET {path} -> HTTP {resp['status']}: {resp['body'][:200]}")
    return resp


def metrics_services() -> list[str]:
    """List the services known to the metrics API."""
    return list(json.loads(_get("/services")["body"]))


def metrics_get(service: str, window: str = "5m", at: int = 0) -> dict[str, Any]:
    """Fetch and decode the aggregated metrics of a service (handles base64, 429 retries and auth).

    Args:
        service: Service name.
        window: Aggregation window such as '5m' or '1h'.
        at: End of the window in unix seconds (0 = now).
    """
    params: dict[str, Any] = {"window": window}
    if at:
        params["at"] = at
    _, ts, data = decode_payload(_get(f"/metrics/{service}", params)["body"])
    return {"service": service, "at": ts, **data}


def metrics_all(window: str = "5m", at: int = 0) -> dict[str, dict[str, Any]]:
    """Decoded aggregated metrics of every service.

    Args:
        window: Aggregation window such as '5m' or '1h'.
        at: End of the window in unix seconds (0 = now).
    """
    out = {}
    for svc in metrics_services():
        m = metrics_get(svc, window, at)
        out[svc] = {k: m[k] for k in METRIC_KEYS}
    return out


def _series(service: str, start: int, end: int) -> list[dict[str, Any]]:
    params: dict[str, Any] = {}
    if start:
        params["from"] = start
    if end:
        params["to"] = end
    points: list[dict[str, Any]] = []
    while True:
        page = json.loads(_get(f"/metrics/{service}/series", params)["body"])
        points.extend(page["points"])
        if not page["next_cursor"]:
            return points
        params = {**params, "cursor": page["next_cursor"]}


def _point_value(p: dict[str, Any], metric: str) -> float:
    if metric == "error_rate":
        return p["error_count"] / p["request_count"] if p["request_count"] else 0.0
    if metric not in p:
        keys = [*sorted(set(p) - {"ts"}), "error_rate"]
        raise ValueError(f"unknown metric {metric!r}; accepted: {keys}")
    return float(p[metric])


def metrics_series_stats(
    service: str, metric: str, start: int = 0, end: int = 0, threshold: float = -1.0
) -> dict[str, Any]:
    """Summarise a service's per-minute series (follows every page of the series endpoint).

    Args:
        service: Service name.
        metric: A point field ('request_count', 'error_count', 'latency_p99', ...) or 'error_rate'.
        start: First minute ts (0 = start of data).
        end: Exclusive end ts (0 = now).
        threshold: If >= 0, also count minutes whose value is strictly above it.

    Returns:
        {minutes, peak_ts (earliest on ties), peak_value, mean, median, minutes_above}.
    """
    pts = _series(service, start, end)
    if not pts:
        raise ValueError("no points in that range")
    vals = [_point_value(p, metric) for p in pts]
    peak = max(range(len(vals)), key=lambda i: (vals[i], -i))
    out: dict[str, Any] = {
        "minutes": len(vals),
        "peak_ts": pts[peak]["ts"],
        "peak_value": round(vals[peak], 6),
        "mean": round(sum(vals) / len(vals), 6),
        "median": round(statistics.median(vals), 6),
    }
    if threshold >= 0:
        out["minutes_above"] = sum(v > threshold for v in vals)
    return out


# -- incidents -----------------------------------------------------------------------


def incident_detect(min_rise: float = 0.1) -> dict[str, Any]:
    """Find the incident: per service, the first minute whose error rate is >= min_rise above the service's median.

    Args:
        min_rise: Rise of the per-minute error rate above the median that counts as incident.

    Returns:
        {root_cause, start_ts, peak_error_rate, services: {service: first bad minute ts or null}}
        where the root cause is the service with the highest peak error-rate rise.
    """
    firsts: dict[str, int | None] = {}
    rises: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for svc in metrics_services():
        pts = _series(svc, 0, 0)
        rates = [_point_value(p, "error_rate") for p in pts]
        med = statistics.median(rates)
        first = next((p["ts"] for p, r in zip(pts, rates, strict=True) if r >= med + min_rise), None)
        firsts[svc] = first
        rises[svc] = max(rates) - med
        peaks[svc] = max(rates)
    root = max(rises, key=lambda s: (rises[s], s))
    return {
        "root_cause": root,
        "start_ts": firsts[root],
        "peak_error_rate": round(peaks[root], 6),
        "services": firsts,
    }


def reference_tools() -> list[Any]:
    """Every AcmeCorp reference tool (logs, metrics, incidents, config)."""
    from envs.acmecorp.config_tools import CONFIG_TOOLS

    return [*LOG_TOOLS, *METRIC_TOOLS, *INCIDENT_TOOLS, *CONFIG_TOOLS]


LOG_TOOLS = [log_count, log_group_count, log_field_stats, log_charges, log_malformed]
METRIC_TOOLS = [metrics_services, metrics_get, metrics_all, metrics_series_stats]
INCIDENT_TOOLS = [incident_detect]
