"""AcmeCorp metrics: per-minute series and the metrics HTTP API.

The series is the single source of truth: window aggregates, the paginated series
endpoint and the logs' activity all derive from it, and the incident shapes it
(error rate and latency rise for the root cause from its start, less for the
services that depend on it).

API (documented for agents in ``handbook/metrics-api.md``), host ``metrics.acme.internal``:

* ``GET /services`` -> JSON list of service names;
* ``GET /metrics/{service}?window=<dur>&at=<ts>`` -> ``text/plain`` standard base64
  of ``ACME_METRICS|<service>|<at>|<compact json>``; headers
  ``X-Acme-Encoding: acme-metrics-v1`` and ``X-Acme-Service``;
* ``GET /metrics/{service}/series?from=&to=&cursor=`` -> JSON page of per-minute points.

Options: ``metrics_rate_limit_every`` (k > 0: every k-th request of an episode gets
429 + ``Retry-After``), ``metrics_auth`` (require ``X-Acme-Token``).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from envs.acmecorp.topology import Incident, Topology
from envs.http import WorldHttp, error_response, is_privileged, json_response

HOST = "metrics.acme.internal"
BASE_URL = f"http://{HOST}"
SERIES_PAGE = 60
METRIC_KEYS = ("latency_p50", "latency_p95", "latency_p99", "error_rate", "request_count", "cpu_pct", "memory_pct")


@dataclass
class Series:
    """Per-minute metrics of one service; index m is minute ``t0 + 60*m``."""

    requests: np.ndarray  # int
    errors: np.ndarray  # int
    p50: np.ndarray  # float, 2 dp
    p95: np.ndarray
    p99: np.ndarray
    cpu: np.ndarray
    mem: np.ndarray


def generate_series(rng: np.random.Generator, topo: Topology, incident: Incident | None) -> dict[str, Series]:
    minutes = (topo.now - topo.t0) // 60
    m = np.arange(minutes)
    hour_of_day = ((topo.t0 + 60 * m) % 86_400) / 3600.0
    diurnal = 1.0 + 0.45 * np.sin((hour_of_day - 9.0) / 24.0 * 2 * np.pi)
    affected = topo.dependents(incident.service) if incident else set()
    out: dict[str, Series] = {}
    for svc in topo.services:
        rpm = rng.uniform(200, 4000)
        base_err = rng.uniform(0.001, 0.02)
        p50_base = rng.uniform(8, 120)
        p95_mult = rng.uniform(1.8, 3.5)
        p99_mult = rng.uniform(1.2, 2.2)
        cpu_base = rng.uniform(15, 55)
        mem_base = rng.uniform(30, 70)
        noise = rng.normal(0, 1, size=(5, minutes))
        lam = rpm * diurnal * np.exp(0.05 * noise[0])
        err_rate = np.clip(base_err * np.exp(0.3 * noise[1]), 0, 1)
        lat = p50_base * np.exp(0.08 * noise[2]) * (0.85 + 0.3 * (diurnal - 0.55))
        cpu = cpu_base * diurnal / 1.1 + 3 * noise[3]
        mem = mem_base + 2 * noise[4]
        if incident is not None and (svc == incident.service or svc in affected):
            on = (topo.t0 + 60 * m >= incident.start_ts) & (topo.t0 + 60 * m < incident.end_ts)
            root = svc == incident.service
            bump = rng.uniform(0.2, 0.45) if root else rng.uniform(0.03, 0.12)
            err_rate = np.where(on, np.clip(err_rate + bump, 0, 1), err_rate)
            lat = np.where(on, lat * (rng.uniform(3, 8) if root else rng.uniform(1.5, 3)), lat)
            if root and incident.cause == "memory_limit":
                mem = np.where(on, rng.uniform(93, 99) + noise[4] * 0.5, mem)
            if root and incident.cause == "rate_limit_misconfig":
                lam = np.where(on, lam * 0.35, lam)
            if root and incident.cause == "pool_exhaustion":
                cpu = np.where(on, cpu * 0.6, cpu)
        requests = rng.poisson(lam).astype(np.int64)
        errors = rng.binomial(requests, err_rate).astype(np.int64)
        p50 = np.round(lat, 2)
        p95 = np.round(lat * p95_mult, 2)
        p99 = np.round(lat * p95_mult * p99_mult, 2)
        out[svc] = Series(
            requests,
            errors,
            p50,
            p95,
            p99,
            np.round(np.clip(cpu, 0.5, 99.5), 2),
            np.round(np.clip(mem, 1, 99.9), 2),
        )
    return out


def series_fingerprint(series: dict[str, Series]) -> bytes:
    parts = []
    for svc in sorted(series):
        s = series[svc]
        for arr in (s.requests, s.errors, s.p50, s.p95, s.p99, s.cpu, s.mem):
            parts.append(np.ascontiguousarray(arr).tobytes())
    return svc.encode() + b"".join(parts)


def aggregate(s: Series, lo: int, hi: int) -> dict[str, Any]:
    """Aggregate minutes [lo, hi) (indices) as documented in the handbook."""
    req = s.requests[lo:hi]
    total = int(req.sum())
    w = req / total if total else np.full(hi - lo, 1.0 / (hi - lo))
    return {
        "latency_p50": round(float((s.p50[lo:hi] * w).sum()), 2),
        "latency_p95": round(float((s.p95[lo:hi] * w).sum()), 2),
        "latency_p99": round(float((s.p99[lo:hi] * w).sum()), 2),
        "error_rate": round(float(s.errors[lo:hi].sum()) / total, 6) if total else 0.0,
        "request_count": total,
        "cpu_pct": round(float(s.cpu[lo:hi].mean()), 2),
        "memory_pct": round(float(s.mem[lo:hi].mean()), 2),
    }


_DUR = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_window(text: str) -> int:
    """'5m', '1h', '1h30m', '90s' -> seconds (must be whole minutes)."""
    m = _DUR.match(text.strip()) if text else None
    if not m or not any(m.groups()):
        raise ValueError(f"window {text!r} is not a duration like 5m, 1h or 1h30m")
    h, mi, s = (int(g or 0) for g in m.groups())
    return h * 3600 + mi * 60 + s


def encode_payload(service: str, ts: int, data: dict[str, Any]) -> str:
    raw = f"ACME_METRICS|{service}|{ts}|{json.dumps(data, separators=(',', ':'))}"
    return base64.b64encode(raw.encode()).decode()


def decode_payload(body: str) -> tuple[str, int, dict[str, Any]]:
    raw = base64.b64decode(body.strip()).decode()
    magic, service, ts, payload = raw.split("|", 3)
    if magic != "ACME_METRICS":
        raise ValueError("not an acme-metrics-v1 payload")
    return service, int(ts), json.loads(payload)


class MetricsApi:
    """The metrics service bound to one world's series."""

    def __init__(
        self, http: WorldHttp, topo: Topology, series: dict[str, Series], rate_limit_every: int = 0, token: str = ""
    ) -> None:
        self.http, self.topo, self.series = http, topo, series
        self.rate_limit_every = rate_limit_every
        self.token = token
        self._bodies: dict[tuple[str, int, int], str] = {}
        vh = http.add_host(HOST)
        vh.route("GET", path="/services").mock(side_effect=self._guard(self.services))
        vh.route("GET", path_regex=r"^/metrics/(?P<service>[^/]+)/series$").mock(side_effect=self._guard(self.page))
        vh.route("GET", path_regex=r"^/metrics/(?P<service>[^/]+)$").mock(side_effect=self._guard(self.metrics))

    def _guard(self, handler: Any) -> Any:
        def wrapped(request: httpx.Request, **kw: Any) -> httpx.Response:
            if is_privileged(request):  # ground truth: no rate limit, no auth
                return handler(request, **kw)
            n = self.http.count_request(HOST, request)
            if self.rate_limit_every and n % self.rate_limit_every == 0:
                return json_response(
                    429, {"error": "rate limit exceeded; retry after Retry-After seconds"}, {"Retry-After": "1"}
                )
            if self.token and request.headers.get("x-acme-token") != self.token:
                return error_response(401, "missing or wrong X-Acme-Token header (see the handbook)")
            return handler(request, **kw)

        return wrapped

    def services(self, request: httpx.Request) -> httpx.Response:
        return json_response(200, list(self.topo.services))

    def _series_for(self, service: str) -> Series | None:
        return self.series.get(service)

    def metrics(self, request: httpx.Request, service: str) -> httpx.Response:
        s = self._series_for(service)
        if s is None:
            return error_response(404, f"unknown service {service!r}", services=list(self.topo.services))
        q = request.url.params
        try:
            window = parse_window(q.get("window", "5m"))
            at = int(q.get("at", self.topo.now))
        except ValueError as exc:
            return error_response(400, str(exc))
        if window % 60 or not 60 <= window <= 86_400:
            return error_response(400, "window must be a whole number of minutes between 1m and 24h")
        if at % 60:
            return error_response(400, "at must be a minute boundary (a multiple of 60)")
        if not self.topo.t0 + window <= at <= self.topo.now:
            return error_response(
                400, f"at must be within [{self.topo.t0 + window}, {self.topo.now}] for window {window}s"
            )
        body = self._bodies.get((service, window, at))
        if body is None:  # a pure function of the query; the guard still counts every request
            hi = (at - self.topo.t0) // 60
            body = encode_payload(service, at, aggregate(s, hi - window // 60, hi))
            self._bodies[(service, window, at)] = body
        return httpx.Response(
            200,
            content=body.encode(),
            headers={"content-type": "text/plain", "X-Acme-Encoding": "acme-metrics-v1", "X-Acme-Service": service},
        )

    def page(self, request: httpx.Request, service: str) -> httpx.Response:
        s = self._series_for(service)
        if s is None:
            return error_response(404, f"unknown service {service!r}", services=list(self.topo.services))
        q = request.url.params
        try:
            start = int(q.get("from", self.topo.t0))
            end = int(q.get("to", self.topo.now))
            cursor = q.get("cursor")
            if cursor:
                start = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("ts:"))
        except (ValueError, UnicodeDecodeError):
            return error_response(400, "from/to must be unix seconds and cursor a value returned by this endpoint")
        start = max(start, self.topo.t0)
        end = min(end, self.topo.now)
        lo = -(-(start - self.topo.t0) // 60)
        hi = -(-(end - self.topo.t0) // 60)
        stop = min(hi, lo + SERIES_PAGE)
        points = [
            {
                "ts": self.topo.t0 + 60 * i,
                "request_count": int(s.requests[i]),
                "error_count": int(s.errors[i]),
                "latency_p50": float(s.p50[i]),
                "latency_p95": float(s.p95[i]),
                "latency_p99": float(s.p99[i]),
                "cpu_pct": float(s.cpu[i]),
                "memory_pct": float(s.mem[i]),
            }
            for i in range(lo, stop)
        ]
        nxt = None
        if stop < hi:
            nxt = base64.urlsafe_b64encode(f"ts:{self.topo.t0 + 60 * stop}".encode()).decode()
        return json_response(200, {"service": service, "from": start, "to": end, "points": points, "next_cursor": nxt})
