"""Ground-truth helpers that read the world the way an agent can (through ``WorldAccess``).

Graders must not use generator internals, so every truth in the AcmeCorp families is
computed here from the rendered log files and the metrics API responses. Parsed views
are memoised on the world (``world.cache``) because many tasks share them.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from envs.access import WorldAccess
from envs.acmecorp import logs as logfmt
from envs.acmecorp.metrics import BASE_URL, decode_payload


def parsed_logs(access: WorldAccess) -> logfmt.ParsedLogs:
    cache = access.world.cache
    if "parsed_logs" not in cache:
        paths = logfmt.rotated_paths(access.list_files("logs/"))
        cache["parsed_logs"] = logfmt.parse_log_files([(p, access.read_file(p)) for p in paths])
    result: logfmt.ParsedLogs = cache["parsed_logs"]
    return result


def entries(
    access: WorldAccess, service: str = "", errors_only: bool = False, start: int = 0, end: int = 0
) -> list[logfmt.LogEntry]:
    out = []
    for e in parsed_logs(access).entries:
        if service and e.service != service:
            continue
        if errors_only and not e.is_error:
            continue
        if start and e.ts < start:
            continue
        if end and e.ts >= end:
            continue
        out.append(e)
    return out


def services(access: WorldAccess) -> list[str]:
    resp = access.http_get(BASE_URL + "/services")
    return list(json.loads(resp["body"]))


def window_metrics(access: WorldAccess, service: str, window: str, at: int) -> dict[str, Any]:
    key = ("window", service, window, at)
    cache = access.world.cache
    if key not in cache:
        resp = access.http_get(f"{BASE_URL}/metrics/{service}", params={"window": window, "at": at})
        if resp["status"] != 200:
            raise RuntimeError(f"metrics API returned {resp['status']}: {resp['body']}")
        cache[key] = decode_payload(resp["body"])[2]
    data: dict[str, Any] = cache[key]
    return data


def series(access: WorldAccess, service: str) -> list[dict[str, Any]]:
    """Every per-minute point of a service (all pages)."""
    key = ("series", service)
    cache = access.world.cache
    if key not in cache:
        points: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        while True:
            resp = access.http_get(f"{BASE_URL}/metrics/{service}/series", params=params)
            if resp["status"] != 200:
                raise RuntimeError(f"metrics series API returned {resp['status']}: {resp['body'][:200]}")
            page = json.loads(resp["body"])
            points.extend(page["points"])
            if not page["next_cursor"]:
                break
            params = {"cursor": page["next_cursor"]}
        cache[key] = points
    pts: list[dict[str, Any]] = cache[key]
    return pts


def point_error_rate(p: dict[str, Any]) -> float:
    return p["error_count"] / p["request_count"] if p["request_count"] else 0.0


def incident_view(access: WorldAccess, min_rise: float = 0.1) -> dict[str, Any]:
    """Root cause (largest error-rate rise) and start (handbook definition), from the API."""
    key = ("incident_view", min_rise)
    cache = access.world.cache
    if key not in cache:
        rises, firsts = {}, {}
        for svc in services(access):
            pts = series(access, svc)
            rates = [point_error_rate(p) for p in pts]
            med = statistics.median(rates)
            rises[svc] = max(rates) - med
            firsts[svc] = next((p["ts"] for p, r in zip(pts, rates, strict=True) if r >= med + min_rise), None)
        root = max(rises, key=lambda s: (rises[s], s))
        cache[key] = {"root_cause": root, "start_ts": firsts[root], "rises": rises}
    view: dict[str, Any] = cache[key]
    return view


def unique_argmax(counts: dict[str, float], gap: float = 0.0) -> str | None:
    """The key with the strictly largest value (by more than ``gap``), else None."""
    if not counts:
        return None
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] <= gap:
        return None
    return ranked[0][0]
