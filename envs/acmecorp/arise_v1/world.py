"""The AcmeCorp world of the ARISE paper (protocol ``arise_v1``).

Reproduces the paper's data generator in distribution (not byte for byte: the paper
used Python's ``random``, this uses named numpy streams from ``envs.seeding``):

* logs: 500 lines ``[ACME:<SEVERITY>:<service>:<unix_ts>] <message> | ctx=<json>``
  over six services, severity weights DEBUG 30 / INFO 45 / WARN 14 / ERROR 9 /
  FATAL 2, timestamps uniform in [1710000000, 1710086400] (inclusive), stable-sorted
  by timestamp; each line's ``ctx`` as the paper's generator makes it (``log_context``: host and
  region everywhere, ``user_id`` on auth INFO lines only, ``amount`` up to 9,999.99 on payments INFO);
* metrics: one static record per service behind ``http://metrics.acme.internal``
  (``GET /services``, ``GET /metrics/{service}`` -> base64 of
  ``ACME_METRICS|<service>|<ts>|<json>``);
* AcmeConf: ``base.acme`` (a ``defaults`` block) plus one file per picked service
  (3 or 4 of the 6, in pick order), and a second version of the first picked file for
  the diff task, made the way the paper made it (literal ``replicas = 2/3/5`` replaced
  by 4/6/8, which leaves a ``${PAYMENTS_REPLICAS:-N}`` line untouched).

``V1Data`` is the graders' view: it re-reads the files and the metrics API through
``WorldAccess`` (never ``World.facts``) with parsers independent of the paper tools.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from envs import seeding
from envs.access import WorldAccess
from envs.acmecorp.arise_v1.log_context import log_context
from envs.http import WorldHttp, error_response, json_response
from envs.world import World

SERVICES: tuple[str, ...] = ("payments", "gateway", "database", "auth", "frontend", "worker")
SEVERITIES: tuple[str, ...] = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SEVERITY_WEIGHTS: tuple[int, ...] = (30, 45, 14, 9, 2)
ERROR_SEVERITIES: tuple[str, ...] = ("ERROR", "FATAL")
N_LOG_LINES = 500
T_START = 1_710_000_000
T_END = 1_710_086_400
NOW = T_END

METRICS_HOST = "metrics.acme.internal"
METRICS_URL = f"http://{METRICS_HOST}"
METRIC_KEYS: tuple[str, ...] = (
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "error_rate",
    "request_count",
    "cpu_pct",
    "memory_pct",
)
ENCODING_HEADER = "acme-metrics-v1"

LOG_PATH = "logs/acme.log"
CONFIG_DIR = "config"
CONFIG_V2_DIR = "config/v2"
BASE_CONFIG = "base.acme"
REPLICA_CHOICES: tuple[int, ...] = (2, 3, 5)
TIMEOUT_CHOICES: tuple[str, ...] = ("15s", "30s", "1m", "2m")
HEALTH_CHECK = "/healthz"
REQUIRED_FIELDS: tuple[str, ...] = ("replicas", "timeout", "health_check")

# Messages per service and severity (ours: the reference renders generic templates per severity).
MESSAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "payments": {
        "DEBUG": ("Loaded payment method cache", "Computing fraud score", "Currency table refreshed"),
        "INFO": ("Payment processed successfully", "Refund issued", "Invoice generated"),
        "WARN": ("Payment retry scheduled", "Fraud score above review threshold", "Slow response from card processor"),
        "ERROR": ("Payment declined by processor", "Card tokenization failed", "Ledger write failed"),
        "FATAL": ("Payment ledger unavailable", "Processor credentials rejected"),
    },
    "gateway": {
        "DEBUG": ("Route table lookup", "Upstream connection reused", "Header normalization applied"),
        "INFO": ("Request routed", "Rate limit window reset", "TLS session resumed"),
        "WARN": ("Upstream latency high", "Rate limit approaching", "Retrying upstream request"),
        "ERROR": ("Upstream timeout", "Bad gateway from upstream", "Circuit breaker open"),
        "FATAL": ("Listener crashed", "Route table corrupted"),
    },
    "database": {
        "DEBUG": ("Query plan cached", "Connection checked out", "Vacuum skipped"),
        "INFO": ("Query executed", "Checkpoint completed", "Replica in sync"),
        "WARN": ("Slow query detected", "Connection pool near capacity", "Replication lag rising"),
        "ERROR": ("Deadlock detected", "Query timeout", "Connection refused"),
        "FATAL": ("Disk full", "Primary node unreachable"),
    },
    "auth": {
        "DEBUG": ("Token cache hit", "Signing keys refreshed", "Session lookup"),
        "INFO": ("User login succeeded", "Token issued", "Password changed"),
        "WARN": ("Multiple failed login attempts", "Token near expiry", "MFA challenge timed out"),
        "ERROR": ("Token validation failed", "Identity provider error", "Session store unavailable"),
        "FATAL": ("Signing key missing", "Auth database unreachable"),
    },
    "frontend": {
        "DEBUG": ("Asset manifest loaded", "Feature flags evaluated", "Template cache warmed"),
        "INFO": ("Page rendered", "Static asset served", "User session started"),
        "WARN": ("Slow page render", "Asset bundle above size budget", "Client-side error reported"),
        "ERROR": ("Render failed", "Backend call from page failed", "Session expired unexpectedly"),
        "FATAL": ("Server-side renderer crashed", "Build artifacts missing"),
    },
    "worker": {
        "DEBUG": ("Polling queue", "Job payload decoded", "Heartbeat sent"),
        "INFO": ("Job completed", "Job enqueued", "Batch processed"),
        "WARN": ("Job retry scheduled", "Queue depth growing", "Job running longer than expected"),
        "ERROR": ("Job failed", "Dead-letter write failed", "Payload deserialization error"),
        "FATAL": ("Worker pool exhausted", "Queue broker unreachable"),
    },
}
LOG_LINE_RE = re.compile(
    r"^\[ACME:(?P<severity>[A-Z]+):(?P<service>[a-z0-9_-]+):(?P<ts>\d+)\] (?P<message>.*?) \| ctx=(?P<ctx>\{.*\})$"
)


# -- generators -------------------------------------------------------------------
def format_log_line(severity: str, service: str, ts: int, message: str, ctx: dict[str, Any]) -> str:
    return f"[ACME:{severity}:{service}:{ts}] {message} | ctx={json.dumps(ctx, separators=(',', ':'))}"


def generate_logs(seed: int, n_lines: int = N_LOG_LINES) -> list[str]:
    """The paper's log file: ``n_lines`` lines, stable-sorted by timestamp."""
    r = seeding.rng(seed, "arise_v1", "logs")
    ts = r.integers(T_START, T_END, size=n_lines, endpoint=True)
    svc_idx = r.integers(0, len(SERVICES), size=n_lines)
    p = np.asarray(SEVERITY_WEIGHTS, dtype=float)
    sev_idx = r.choice(len(SEVERITIES), size=n_lines, p=p / p.sum())
    d = seeding.rng(seed, "arise_v1", "log_details")
    records: list[tuple[int, str]] = []
    for i in range(n_lines):
        service, severity = SERVICES[int(svc_idx[i])], SEVERITIES[int(sev_idx[i])]
        pool = MESSAGES[service][severity]
        m = int(d.integers(0, len(pool)))
        ctx = log_context(d, severity, service)
        records.append((int(ts[i]), format_log_line(severity, service, int(ts[i]), pool[m], ctx)))
    order = np.argsort(np.asarray([t for t, _ in records]), kind="stable")
    return [records[int(k)][1] for k in order]


def generate_metrics(seed: int) -> dict[str, dict[str, Any]]:
    """One static record per service, in ``SERVICES`` order."""
    r = seeding.rng(seed, "arise_v1", "metrics")
    out: dict[str, dict[str, Any]] = {}
    for service in SERVICES:
        p50 = round(float(r.uniform(5.0, 200.0)), 3)
        p95 = round(p50 * float(r.uniform(1.5, 4.0)), 3)
        p99 = round(p95 * float(r.uniform(1.1, 2.5)), 3)
        out[service] = {
            "latency_p50": p50,
            "latency_p95": p95,
            "latency_p99": p99,
            "error_rate": round(float(r.uniform(0.0, 1.0)), 6),
            "request_count": int(r.integers(100, 1_000_000, endpoint=True)),
            "cpu_pct": round(float(r.uniform(0.0, 100.0)), 2),
            "memory_pct": round(float(r.uniform(0.0, 100.0)), 2),
        }
    return out


def encode_metrics(service: str, ts: int, data: dict[str, Any]) -> str:
    """Standard base64 of ``ACME_METRICS|<service>|<ts>|<compact json>``."""
    raw = f"ACME_METRICS|{service}|{ts}|{json.dumps(data, separators=(',', ':'))}"
    return base64.b64encode(raw.encode()).decode()


BASE_CONFIG_TEXT = """# AcmeCorp shared defaults (every service file includes this one)
defaults {
  replicas = 1
  timeout = 30s
  health_check = "/healthz"
  retries = 3
  log_level = "info"
}
"""


def service_config_text(service: str, replicas: int, timeout: str, deps: list[str]) -> str:
    rep = f"${{PAYMENTS_REPLICAS:-{replicas}}}" if service == "payments" else str(replicas)
    return (
        f"# {service} service configuration\n"
        f'@include "{BASE_CONFIG}"\n'
        "\n"
        f"service {service} {{\n"
        f"  replicas = {rep}\n"
        f"  timeout = {timeout}\n"
        f"  deps = [{', '.join(deps)}]\n"
        f'  health_check = "{HEALTH_CHECK}"\n'
        "}\n"
    )


def paper_modified_version(text: str) -> str:
    """The paper's 'version B' for the diff task: literal replica counts bumped (2->4, 3->6, 5->8)."""
    return (
        text.replace("replicas = 2", "replicas = 4")
        .replace("replicas = 3", "replicas = 6")
        .replace("replicas = 5", "replicas = 8")
    )


def generate_configs(seed: int) -> tuple[list[str], dict[str, str]]:
    """(picked services in pick order, {file name: text}) with ``base.acme`` first."""
    r = seeding.rng(seed, "arise_v1", "config")
    k = int(r.choice([3, 4]))
    picked = [SERVICES[int(i)] for i in r.choice(len(SERVICES), size=k, replace=False)]
    files = {BASE_CONFIG: BASE_CONFIG_TEXT}
    for service in picked:
        replicas = int(r.choice(REPLICA_CHOICES))
        timeout = str(r.choice(TIMEOUT_CHOICES))
        deps = [s for s in picked if s != service]
        files[f"{service}.acme"] = service_config_text(service, replicas, timeout, deps)
    return picked, files


HANDBOOK = {
    "logging": (
        "# AcmeCorp logging\n\n"
        "One entry per line: `[ACME:<SEVERITY>:<service>:<unix_ts>] <message> | ctx=<json>`.\n"
        "Severities: DEBUG, INFO, WARN, ERROR, FATAL. 'Errors' means ERROR and FATAL unless a\n"
        "question says ERROR. ctx is a compact JSON object (host, region, request_id,\n"
        "duration_ms, error_code, user_id, amount, ...). The log file is `logs/acme.log`.\n"
    ),
    "metrics-api": (
        "# Metrics API\n\n"
        f"Base URL: {METRICS_URL}\n\n"
        "- `GET /services` -> JSON list of service names.\n"
        "- `GET /metrics/{service}` -> text/plain body: standard base64 of\n"
        "  `ACME_METRICS|<service>|<unix_ts>|<json>`; headers `X-Acme-Encoding: acme-metrics-v1`\n"
        "  and `X-Acme-Service`. JSON keys: " + ", ".join(METRIC_KEYS) + ".\n"
        "- Unknown service -> 404 with a JSON error.\n"
    ),
    "acmeconf": (
        "# AcmeConf\n\n"
        'Line-based: `# comments`, `@include "file"`, `service <name> { ... }` blocks (and one\n'
        "`defaults { ... }` block in base.acme), `key = value`, lists `[a, b]`, quoted strings,\n"
        "`${VAR}` / `${VAR:-default}` variables, durations with s/m/h (integer seconds).\n"
        "Required service fields: replicas, timeout, health_check.\n"
    ),
}


# -- the world --------------------------------------------------------------------
def _metrics_api(http: WorldHttp, metrics: dict[str, dict[str, Any]], now: int) -> None:
    vh = http.add_host(METRICS_HOST)
    services = list(metrics)

    def list_services(request: httpx.Request) -> httpx.Response:
        return json_response(200, services)

    def get_metrics(request: httpx.Request, service: str) -> httpx.Response:
        data = metrics.get(service)
        if data is None:
            return error_response(404, f"unknown service {service!r}", services=services)
        headers = {
            "content-type": "text/plain; charset=utf-8",
            "X-Acme-Encoding": ENCODING_HEADER,
            "X-Acme-Service": service,
        }
        return httpx.Response(200, content=encode_metrics(service, now, data).encode(), headers=headers)

    vh.route("GET", path="/services").mock(side_effect=list_services)
    vh.route("GET", path_regex=r"^/metrics/(?P<service>[^/]+)$").mock(side_effect=get_metrics)


def build_arise_v1_world(seed: int, options: dict[str, Any] | None = None) -> World:
    """The arise_v1 AcmeCorp world for ``seed`` (the paper had no generator knobs)."""
    opts = dict(options or {})
    if opts:
        raise ValueError(f"the arise_v1 world takes no options (the paper's generator is fixed), got {sorted(opts)}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    lines = generate_logs(seed)
    metrics = generate_metrics(seed)
    picked, configs = generate_configs(seed)
    files: dict[str, str] = {LOG_PATH: "\n".join(lines) + "\n"}
    for name, text in configs.items():
        files[f"{CONFIG_DIR}/{name}"] = text
    first = f"{picked[0]}.acme"
    files[f"{CONFIG_V2_DIR}/{first}"] = paper_modified_version(configs[first])
    http = WorldHttp()
    _metrics_api(http, metrics, NOW)
    fingerprint = json.dumps({"now": NOW, "metrics": metrics}, separators=(",", ":"), sort_keys=True).encode()
    entities = [
        *SERVICES,
        *SEVERITIES,
        METRICS_HOST,
        "PAYMENTS_REPLICAS",
        HEALTH_CHECK,
        *configs,
    ]
    return World(
        name="acmecorp",
        protocol="arise_v1",
        seed=seed,
        now=NOW,
        files=files,
        docs=dict(HANDBOOK),
        http=http,
        facts={"config_services": picked, "config_order": list(configs)},
        api_fingerprint=fingerprint,
        entities=entities,
        options={},
    )


# -- the graders' view ------------------------------------------------------------
def parse_log_text(text: str) -> list[dict[str, Any]]:
    """Strict parser (graders' side): every non-empty line must be a valid entry."""
    out: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = LOG_LINE_RE.match(line)
        if m is None:
            raise ValueError(f"line {n} is not an ACME log entry: {line[:80]!r}")
        out.append(
            {
                "severity": m["severity"],
                "service": m["service"],
                "timestamp": int(m["ts"]),
                "message": m["message"],
                "ctx": json.loads(m["ctx"]),
            }
        )
    return out


_DURATION_RE = re.compile(r"^(\d+)([smh])$")
_UNIT = {"s": 1, "m": 60, "h": 3600}
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def conf_value(raw: str) -> Any:
    """AcmeConf literal -> Python value; variables are resolved to their default."""
    raw = raw.strip()
    if raw.startswith("[") and raw.endswith("]"):
        return [conf_value(x) for x in raw[1:-1].split(",") if x.strip()]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    var = _VAR_RE.fullmatch(raw)
    if var:
        return conf_value(var.group(2)) if var.group(2) is not None else None
    if raw.isdigit():
        return int(raw)
    dur = _DURATION_RE.match(raw)
    if dur:
        return int(dur.group(1)) * _UNIT[dur.group(2)]
    return raw


@dataclass
class ConfFile:
    includes: list[str]
    blocks: dict[str, dict[str, Any]]  # block name ("defaults" or a service) -> fields
    variables: list[str]


def parse_conf_text(text: str) -> ConfFile:
    """Strict AcmeConf parser (graders' side) with variables resolved to their defaults."""
    includes: list[str] = []
    blocks: dict[str, dict[str, Any]] = {}
    current: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("@include"):
            includes.append(s.split(None, 1)[1].strip().strip('"'))
        elif s.endswith("{"):
            head = s[:-1].split()
            if current is not None or not head or (head[0] == "service") != (len(head) == 2):
                raise ValueError(f"line {n}: bad block header {s!r}")
            current = head[-1]
            blocks[current] = {}
        elif s == "}":
            if current is None:
                raise ValueError(f"line {n}: '}}' without an open block")
            current = None
        elif "=" in s and current is not None:
            key, _, raw = s.partition("=")
            blocks[current][key.strip()] = conf_value(raw)
        else:
            raise ValueError(f"line {n}: cannot parse {s!r}")
    if current is not None:
        raise ValueError(f"block {current!r} is not closed")
    return ConfFile(includes, blocks, sorted({name for name, _ in _VAR_RE.findall(text)}))


def decode_metrics_body(body: str) -> tuple[str, int, dict[str, Any]]:
    raw = base64.b64decode(body.strip(), validate=True).decode()
    magic, service, ts, payload = raw.split("|", 3)
    if magic != "ACME_METRICS":
        raise ValueError(f"not an ACME_METRICS payload: {raw[:40]!r}")
    return service, int(ts), json.loads(payload)


@dataclass
class V1Data:
    """Everything the graders need, re-read from the world's files and API."""

    lines: list[str]
    entries: list[dict[str, Any]]
    metrics: dict[str, dict[str, Any]]  # in /services order
    configs: dict[str, str]  # file name -> text (config/*.acme, not the v2 copies)
    conf: dict[str, ConfFile]
    config_v2: dict[str, str]

    @classmethod
    def load(cls, access: WorldAccess) -> V1Data:
        key = ("arise_v1", "V1Data")
        cached = access.world.cache.get(key)
        if isinstance(cached, V1Data):
            return cached
        text = access.read_file(LOG_PATH)
        lines = [ln for ln in text.splitlines() if ln.strip()]
        resp = access.http_get(f"{METRICS_URL}/services")
        if resp["status"] != 200:
            raise RuntimeError(f"metrics API /services answered {resp['status']}: {resp['body'][:200]}")
        metrics: dict[str, dict[str, Any]] = {}
        for service in json.loads(resp["body"]):
            r = access.http_get(f"{METRICS_URL}/metrics/{service}")
            if r["status"] != 200:
                raise RuntimeError(f"metrics API /metrics/{service} answered {r['status']}")
            metrics[service] = decode_metrics_body(r["body"])[2]
        configs: dict[str, str] = {}
        v2: dict[str, str] = {}
        for path in access.list_files(CONFIG_DIR + "/"):
            rel = path[len(CONFIG_DIR) + 1 :]
            if rel.startswith("v2/"):
                v2[rel[3:]] = access.read_file(path)
            elif rel.endswith(".acme"):
                configs[rel] = access.read_file(path)
        data = cls(
            lines=lines,
            entries=parse_log_text(text),
            metrics=metrics,
            configs=configs,
            conf={name: parse_conf_text(t) for name, t in configs.items()},
            config_v2=v2,
        )
        access.world.cache[key] = data
        return data

    # convenience views used by the truths
    def service_blocks(self) -> dict[str, dict[str, Any]]:
        """Every service block across the config files (the ``defaults`` block excluded)."""
        out: dict[str, dict[str, Any]] = {}
        for cf in self.conf.values():
            for name, fields in cf.blocks.items():
                if name != "defaults":
                    out.setdefault(name, fields)
        return out

    def variables(self) -> list[str]:
        return sorted({v for cf in self.conf.values() for v in cf.variables})
