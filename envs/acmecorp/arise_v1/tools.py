"""The seven hand-written tools of the ARISE paper's ``fixed_tools`` condition.

Each tool is a plain function whose imports are inside its body, so the module's
source can be shipped to a sandbox as is (``validate_acmeconf`` and ``diff_acmeconf``
call ``parse_acmeconf``, so the seven travel together); the JSON schema an agent sees is
derived from the signature and the Google-style docstring by ``envs.tools.tool_spec``.
Only ``fetch_acme_metrics`` touches the world, through ``envs.toolkit.http_get``.
Failures raise ``ValueError`` with a clear message; the tool runner turns that into
an ``Error: ...`` observation, as the paper's agent loop did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def parse_acme_log(log_text: str) -> list[dict[str, Any]]:
    """Parse AcmeCorp log text into structured entries.

    Lines look like `[ACME:<SEVERITY>:<service>:<unix_ts>] <message> | ctx=<json>`.
    Blank lines and lines that are not log entries are skipped.

    Args:
        log_text: The log lines, one entry per line.

    Returns:
        A JSON list of entries, each {"severity", "service", "timestamp", "message", "ctx"}.
    """
    import json
    import re

    pattern = re.compile(r"^\[ACME:([A-Z]+):([^:\]]+):(\d+)\] (.*?) \| ctx=(\{.*\})\s*$")
    entries: list[dict[str, Any]] = []
    for line in log_text.splitlines():
        m = pattern.match(line.strip())
        if m is None:
            continue
        try:
            ctx = json.loads(m.group(5))
        except json.JSONDecodeError:
            ctx = {}
        entries.append(
            {
                "severity": m.group(1),
                "service": m.group(2),
                "timestamp": int(m.group(3)),
                "message": m.group(4),
                "ctx": ctx if isinstance(ctx, dict) else {},
            }
        )
    if not entries and log_text.strip():
        raise ValueError(
            "no ACME log entries found; expected lines like "
            '[ACME:ERROR:payments:1710000000] message | ctx={"request_id":"..."}'
        )
    return entries


def filter_acme_logs(log_text: str, service: str = "", severity: str = "") -> str:
    """Select the log lines of one service and/or one severity.

    Args:
        log_text: The log lines, one entry per line.
        service: Keep only this service (e.g. "payments"); empty keeps every service.
        severity: Keep only this severity (DEBUG, INFO, WARN, ERROR or FATAL); empty keeps all.

    Returns:
        The matching raw lines joined by newlines (empty text when nothing matches).
    """
    import re

    allowed = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
    sev = severity.strip().upper()
    if sev and sev not in allowed:
        raise ValueError(f"severity must be one of {', '.join(allowed)} (or empty), got {severity!r}")
    svc = service.strip().lower()
    head = re.compile(r"^\[ACME:([A-Z]+):([^:\]]+):(\d+)\] ")
    kept = []
    for line in log_text.splitlines():
        m = head.match(line.strip())
        if m is None:
            continue
        if sev and m.group(1) != sev:
            continue
        if svc and m.group(2) != svc:
            continue
        kept.append(line.strip())
    return "\n".join(kept)


def count_acme_errors(log_text: str) -> dict[str, int]:
    """Count error entries (ERROR + FATAL) per service.

    Args:
        log_text: The log lines, one entry per line.

    Returns:
        A JSON object {service: count} with the services that have at least one error,
        in order of their first error in the text.
    """
    import re

    head = re.compile(r"^\[ACME:([A-Z]+):([^:\]]+):(\d+)\] ")
    counts: dict[str, int] = {}
    for line in log_text.splitlines():
        m = head.match(line.strip())
        if m is not None and m.group(1) in ("ERROR", "FATAL"):
            counts[m.group(2)] = counts.get(m.group(2), 0) + 1
    return counts


def fetch_acme_metrics(url: str) -> dict[str, Any]:
    """Fetch one service's metrics from the AcmeCorp metrics API and decode them.

    The API answers with base64 of `ACME_METRICS|<service>|<unix_ts>|<json>`.

    Args:
        url: Full URL of a metrics endpoint, e.g. http://metrics.acme.internal/metrics/payments.

    Returns:
        A JSON object {"service", "timestamp", "data"} where data holds latency_p50,
        latency_p95, latency_p99, error_rate, request_count, cpu_pct and memory_pct.
    """
    import base64
    import binascii
    import json

    from envs.toolkit import http_get

    resp = http_get(url)
    status, body = resp["status"], str(resp["body"])
    if status != 200:
        raise ValueError(f"HTTP {status} from {url}: {body[:300]}")
    try:
        raw = base64.b64decode(body.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"response from {url} is not base64 text: {body[:80]!r}") from exc
    parts = raw.split("|", 3)
    if len(parts) != 4 or parts[0] != "ACME_METRICS":
        raise ValueError(f"decoded payload is not ACME_METRICS|service|timestamp|json: {raw[:80]!r}")
    _, service, ts, payload = parts
    return {"service": service, "timestamp": int(ts), "data": json.loads(payload)}


def parse_acmeconf(config_text: str) -> dict[str, Any]:
    """Parse one AcmeConf file.

    Integers become numbers, durations (30s, 1m, 2h) integer seconds, quoted strings
    strings and [a, b] lists; variable references such as ${VAR:-3} are kept as written.

    Args:
        config_text: The text of one .acme file.

    Returns:
        A JSON object {"includes": [file, ...], "services": {name: {field: value}}}; the
        defaults block of base.acme appears as the service "defaults".
    """
    import re

    def value(raw: str) -> Any:
        raw = raw.strip()
        if raw.startswith("[") and raw.endswith("]"):
            return [value(x) for x in raw[1:-1].split(",") if x.strip()]
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            return raw[1:-1]
        if raw.startswith("${"):
            return raw
        if re.fullmatch(r"-?\d+", raw):
            return int(raw)
        dur = re.fullmatch(r"(\d+)([smh])", raw)
        if dur:
            return int(dur.group(1)) * {"s": 1, "m": 60, "h": 3600}[dur.group(2)]
        if raw in ("true", "false"):
            return raw == "true"
        return raw

    includes: list[str] = []
    services: dict[str, dict[str, Any]] = {}
    current: str | None = None
    for n, line in enumerate(config_text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("@include"):
            m = re.fullmatch(r'@include\s+"([^"]+)"', s)
            if m is None:
                raise ValueError(f'line {n}: expected @include "file", got {s!r}')
            includes.append(m.group(1))
        elif s.endswith("{"):
            m = re.fullmatch(r"(?:service\s+([\w-]+)|defaults)\s*\{", s)
            if m is None:
                raise ValueError(f"line {n}: expected 'service <name> {{' or 'defaults {{', got {s!r}")
            if current is not None:
                raise ValueError(f"line {n}: block {current!r} is not closed before {s!r}")
            current = m.group(1) or "defaults"
            services[current] = {}
        elif s == "}":
            if current is None:
                raise ValueError(f"line {n}: '}}' without an open block")
            current = None
        elif "=" in s:
            if current is None:
                raise ValueError(f"line {n}: field outside a block: {s!r}")
            key, _, raw = s.partition("=")
            services[current][key.strip()] = value(raw)
        else:
            raise ValueError(f"line {n}: cannot parse {s!r}")
    if current is not None:
        raise ValueError(f"block {current!r} is not closed (missing '}}')")
    return {"includes": includes, "services": services}


def validate_acmeconf(config_text: str) -> list[dict[str, str]]:
    """Check that every service block of an AcmeConf file has the required fields.

    Required fields are replicas, timeout and health_check (the defaults block is not checked).

    Args:
        config_text: The text of one .acme file.

    Returns:
        A JSON list of issues {"service", "field", "issue"}; an empty list means the file is valid.
    """
    parsed = parse_acmeconf(config_text)
    issues = []
    for name, fields in parsed["services"].items():
        if name == "defaults":
            continue
        for field in ("replicas", "timeout", "health_check"):
            if field not in fields:
                issues.append({"service": name, "field": field, "issue": f"missing required field {field!r}"})
    return issues


def diff_acmeconf(config_a: str, config_b: str) -> list[dict[str, Any]]:
    """Compare two versions of an AcmeConf file field by field.

    Args:
        config_a: The old version (text of a .acme file).
        config_b: The new version (text of a .acme file).

    Returns:
        A JSON list of changes {"service", "field", "old", "new"} (null when a field or
        service exists on one side only); an empty list means no differences.
    """
    a = parse_acmeconf(config_a)["services"]
    b = parse_acmeconf(config_b)["services"]
    changes = []
    for service in list(a) + [s for s in b if s not in a]:
        fa, fb = a.get(service, {}), b.get(service, {})
        for field in list(fa) + [f for f in fb if f not in fa]:
            old, new = fa.get(field), fb.get(field)
            if old != new:
                changes.append({"service": service, "field": field, "old": old, "new": new})
    return changes


PAPER_TOOLS: list[Callable[..., Any]] = [
    parse_acme_log,
    filter_acme_logs,
    count_acme_errors,
    fetch_acme_metrics,
    parse_acmeconf,
    validate_acmeconf,
    diff_acmeconf,
]
