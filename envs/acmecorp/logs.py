"""AcmeCorp logs: the line format, the canonical parser, and the generator.

Format (documented for agents in ``handbook/logging.md``)::

    [ACME:<SEVERITY>:<service>:<unix_ts>] <message> | ctx=<compact json object>

* a literal `` | `` inside a message is written `` \\| ``; the separator is the first
  unescaped `` | ctx=``;
* lines that start with whitespace continue the previous entry (stack traces);
* a line that does not match the format, or whose ctx is not a JSON object, is
  *malformed*: it is skipped, and so are continuation lines that follow it;
* files rotate: ``logs/acme.log`` is the newest, ``acme.log.1`` the one before, ...
  and within and across files entries are in non-decreasing timestamp order.

Ground truth for log tasks is computed with ``parse_log_files`` on the rendered
files, so it is exactly what an agent can reach; a round-trip test checks that the
parser recovers every well-formed generated entry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.acmecorp.topology import CAUSES, DEPENDENT_ERROR, Incident, Topology

SEVERITIES = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
ERROR_SEVERITIES = ("ERROR", "FATAL")
BASE_WEIGHTS = np.array([30, 45, 14, 9, 2], dtype=float) / 100.0

_LINE = re.compile(r"^\[ACME:(DEBUG|INFO|WARN|ERROR|FATAL):([a-z][a-z0-9_-]*):(\d{9,11})\] (.*?)(?<!\\) \| ctx=(.*)$")

GENERIC_ERRORS = (
    "E-VALIDATION",
    "E-NOT-FOUND",
    "E-CONFLICT",
    "E-INTERNAL",
    "E-UNAUTHORIZED",
    "E-THROTTLED",
    "E-BAD-GATEWAY",
    "E-SERIALIZATION",
)
NAMES = (
    "alice",
    "bob",
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "Dvořák",
    "Müller",
    "山田",
    "Ana-María",
    "Renée",
    "Ngozi",
    "Çağla",
    "Ωmega",
)
CURRENCIES = ("USD", "EUR", "GBP", "JPY")
EXCEPTIONS = ("TimeoutError", "ConnectionResetError", "ValueError", "KeyError", "RuntimeError")


@dataclass(frozen=True)
class LogEntry:
    ts: int
    severity: str
    service: str
    message: str
    ctx: dict[str, Any]
    stack: tuple[str, ...] = ()
    file: str = ""
    line: int = 0  # 1-based line number of the entry's first line in its file

    @property
    def is_error(self) -> bool:
        return self.severity in ERROR_SEVERITIES


@dataclass
class ParsedLogs:
    entries: list[LogEntry] = field(default_factory=list)
    malformed: int = 0
    malformed_by_file: dict[str, int] = field(default_factory=dict)


def escape_message(msg: str) -> str:
    return msg.replace(" | ", " \\| ")


def unescape_message(msg: str) -> str:
    return msg.replace(" \\| ", " | ")


def render_entry(e: LogEntry) -> str:
    ctx = json.dumps(e.ctx, separators=(",", ":"), ensure_ascii=False)
    head = f"[ACME:{e.severity}:{e.service}:{e.ts}] {escape_message(e.message)} | ctx={ctx}"
    return "\n".join((head, *e.stack))


def parse_text(text: str, file: str = "") -> ParsedLogs:
    """Parse one log file's text (see the module docstring for the rules)."""
    out = ParsedLogs()
    current: dict[str, Any] | None = None
    stack: list[str] = []
    skipping = False
    loads = json.loads

    def flush() -> None:
        if current is not None:
            out.entries.append(LogEntry(**current, stack=tuple(stack)))

    for i, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        if line[0] in " \t":
            if current is not None and not skipping:
                stack.append(line)
            continue
        m = _LINE.match(line)
        ctx: Any = None
        if m is not None:
            try:
                ctx = loads(m.group(5))
            except ValueError:
                ctx = None
        flush()
        current, stack = None, []
        if m is None or not isinstance(ctx, dict):
            out.malformed += 1
            skipping = True
            continue
        skipping = False
        current = {
            "ts": int(m.group(3)),
            "severity": m.group(1),
            "service": m.group(2),
            "message": unescape_message(m.group(4)),
            "ctx": ctx,
            "file": file,
            "line": i,
        }
    flush()
    if file:
        out.malformed_by_file[file] = out.malformed
    return out


def rotated_paths(paths: list[str], base: str = "logs/acme.log") -> list[str]:
    """Paths of the rotated set ``base``, ``base.1``, ... ordered oldest first."""
    found = []
    for p in paths:
        if p == base:
            found.append((0, p))
        elif p.startswith(base + ".") and p[len(base) + 1 :].isdigit():
            found.append((int(p[len(base) + 1 :]), p))
    return [p for _, p in sorted(found, reverse=True)]


def parse_log_files(texts: list[tuple[str, str]]) -> ParsedLogs:
    """Parse (path, text) pairs given oldest first; entries come out in file order."""
    out = ParsedLogs()
    for path, text in texts:
        part = parse_text(text, path)
        out.entries.extend(part.entries)
        out.malformed += part.malformed
        out.malformed_by_file[path] = part.malformed
    return out


# -- generation ---------------------------------------------------------------------


@dataclass
class LogOptions:
    lines: int = 12_000  # approximate number of entries
    lines_per_file: int = 4_000
    malformed_rate: float = 0.004
    stack_trace_rate: float = 0.35  # share of ERROR/FATAL entries with a stack trace
    escaped_separator_rate: float = 0.08  # share of ERROR messages with an escaped " | "
    non_ascii: bool = True

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> LogOptions:
        o = cls(
            lines=int(options.get("log_lines", cls.lines)),
            lines_per_file=int(options.get("log_lines_per_file", cls.lines_per_file)),
            malformed_rate=float(options.get("log_malformed_rate", cls.malformed_rate)),
            stack_trace_rate=float(options.get("log_stack_trace_rate", cls.stack_trace_rate)),
            escaped_separator_rate=float(options.get("log_escaped_separator_rate", cls.escaped_separator_rate)),
            non_ascii=bool(options.get("log_non_ascii", cls.non_ascii)),
        )
        if not 200 <= o.lines <= 2_000_000:
            raise ValueError(f"log_lines must be in [200, 2000000], got {o.lines}")
        if o.lines_per_file < 100:
            raise ValueError(f"log_lines_per_file must be >= 100, got {o.lines_per_file}")
        for name in ("malformed_rate", "stack_trace_rate", "escaped_separator_rate"):
            v = getattr(o, name)
            if not 0.0 <= v <= 0.5:
                raise ValueError(f"log_{name} must be in [0, 0.5], got {v}")
        return o


def generate_logs(
    rng: np.random.Generator,
    topo: Topology,
    incident: Incident | None,
    activity: dict[str, np.ndarray],
    error_share: dict[str, np.ndarray],
    opts: LogOptions,
) -> dict[str, str]:
    """Render the rotated log files.

    ``activity[svc]`` is the per-minute request volume (relative), ``error_share[svc]``
    the per-minute probability that an entry is ERROR/FATAL; both come from the
    metrics series so logs and metrics tell the same story.
    """
    services = list(topo.services)
    minutes = len(next(iter(activity.values())))
    total_activity = sum(float(a.sum()) for a in activity.values())
    scale = opts.lines / max(total_activity, 1e-9)
    recs: list[tuple[int, int, int, int]] = []  # (ts, service idx, severity idx, incident flag)
    affected = topo.dependents(incident.service) if incident else set()
    for si, svc in enumerate(services):
        lam = activity[svc] * scale
        counts = rng.poisson(lam)
        n = int(counts.sum())
        minute_idx = np.repeat(np.arange(minutes), counts)
        ts = topo.t0 + minute_idx * 60 + rng.integers(0, 60, size=n)
        p_err = error_share[svc][minute_idx]
        is_err = rng.random(n) < p_err
        base = rng.choice(3, size=n, p=BASE_WEIGHTS[:3] / BASE_WEIGHTS[:3].sum())
        fatal = rng.random(n) < (BASE_WEIGHTS[4] / (BASE_WEIGHTS[3] + BASE_WEIGHTS[4]))
        sev_idx = np.where(is_err, np.where(fatal, 4, 3), base)
        in_inc = np.zeros(n, dtype=bool)
        if incident is not None and (svc == incident.service or svc in affected):
            in_inc = (ts >= incident.start_ts) & (ts < incident.end_ts)
            # Error bursts: failing requests log regardless of the service's usual volume.
            first = (incident.start_ts - topo.t0) // 60
            last = (incident.end_ts - topo.t0) // 60
            burst = rng.poisson(1.5 if svc == incident.service else 0.3, size=last - first)
            b_ts = topo.t0 + np.repeat(np.arange(first, last), burst) * 60 + rng.integers(0, 60, size=int(burst.sum()))
            b_sev = np.where(rng.random(len(b_ts)) < 0.15, 4, 3)
            recs.extend((t, si, s, True) for t, s in zip(b_ts.tolist(), b_sev.tolist(), strict=True))
        recs.extend(zip(ts.tolist(), [si] * n, sev_idx.tolist(), in_inc.tolist(), strict=True))
    recs.sort(key=lambda r: (r[0], r[1]))

    err_codes = {
        svc: [GENERIC_ERRORS[i] for i in rng.choice(len(GENERIC_ERRORS), size=3, replace=False)] for svc in services
    }
    lines: list[str] = []
    n = len(recs)
    u = rng.random((n, 8)).tolist()
    ints = rng.integers(0, 1_000_000_000, size=(n, 4)).tolist()
    names = NAMES if opts.non_ascii else (*NAMES[:2], "carol", "dave", "erin", "frank")
    for k, (ts_k, si, sv, inc) in enumerate(recs):
        svc = services[si]
        sev = SEVERITIES[sv]
        uk, ik = u[k], ints[k]
        hosts = topo.hosts[svc]
        host = hosts[ik[0] % len(hosts)]
        rid = f"req-{ik[1]:09x}"[:14]
        user = f"u{ik[2] % 5000:04d}"
        dur = int(5 + uk[0] ** 3 * 2500)
        stack: tuple[str, ...] = ()
        if sev == "DEBUG":
            hit = uk[1] < 0.7
            key = f"user:{user}"
            msg = f"cache lookup key={key} hit={'true' if hit else 'false'}"
            ctx: dict[str, Any] = {"host": host, "key": key, "hit": hit}
        elif sev == "INFO":
            if svc == "payments" or (svc == "billing" and uk[1] < 0.5):
                amount = round(1 + uk[2] * 999, 2)
                cur = CURRENCIES[ik[3] % len(CURRENCIES)]
                who = names[ik[3] % len(names)]
                msg = f"charge captured {amount:.2f} {cur} for {who}"
                ctx = {
                    "request_id": rid,
                    "host": host,
                    "duration_ms": dur,
                    "amount": amount,
                    "currency": cur,
                    "user_id": user,
                    "customer": who,
                }
            else:
                msg = f"request completed status=200 in {dur}ms"
                ctx = {"request_id": rid, "host": host, "duration_ms": dur, "status": 200, "user_id": user}
        elif sev == "WARN":
            deps = topo.deps[svc]
            if deps and uk[1] < 0.4:
                dep = deps[ik[3] % len(deps)]
                attempt = 1 + ik[2] % 3
                msg = f"retrying call to {dep} (attempt {attempt})"
                ctx = {"host": host, "dep": dep, "attempt": attempt}
            else:
                dur = 1000 + int(uk[2] * 4000)
                msg = f"slow request took {dur}ms (threshold 1000ms)"
                ctx = {"request_id": rid, "host": host, "duration_ms": dur}
        else:
            if inc and incident is not None and svc == incident.service and uk[1] < 0.85:
                code, desc = incident.error_code, incident.message
            elif inc and incident is not None and svc != incident.service and uk[1] < 0.7:
                code, desc = DEPENDENT_ERROR, f"call to {incident.service} failed"
            else:
                code = err_codes[svc][0 if uk[2] < 0.6 else 1 if uk[2] < 0.9 else 2]
                desc = code.removeprefix("E-").lower().replace("-", " ")
            if sev == "FATAL":
                msg = f"process crashed: {code} {desc}"
                ctx = {"host": host, "error_code": code, "exit_code": 1 + ik[3] % 3, "user_id": user}
            else:
                msg = f"request failed: {code} {desc}"
                if uk[4] < opts.escaped_separator_rate:
                    msg += " | retry scheduled"
                ctx = {"request_id": rid, "host": host, "error_code": code, "duration_ms": dur, "user_id": user}
            if uk[3] < opts.stack_trace_rate:
                exc = EXCEPTIONS[ik[2] % len(EXCEPTIONS)]
                stack = (
                    "  Traceback (most recent call last):",
                    f'    File "/srv/{svc}/handlers.py", line {10 + ik[3] % 400}, in handle',
                    f"  {exc}: {desc}",
                )
        line = render_entry(LogEntry(int(ts_k), sev, svc, msg, ctx, stack))
        if uk[5] < opts.malformed_rate:
            line = _corrupt(line.split("\n")[0], uk[6], uk[7]) + "".join("\n" + s for s in stack)
        lines.append(line)
    return _rotate(lines, opts.lines_per_file)


def _corrupt(line: str, a: float, b: float) -> str:
    """A malformed variant of a rendered line: truncated, or ctx that is not JSON."""
    if a < 0.5:
        cut = int(len(line) * (0.3 + 0.6 * b))
        return line[:cut]
    head, _, ctx = line.partition(" | ctx=")
    broken = ctx.replace('"', "", 1) if b < 0.5 else ctx.replace(":", "=", 1)
    return f"{head} | ctx={broken}"


def _rotate(lines: list[str], per_file: int) -> dict[str, str]:
    chunks = [lines[i : i + per_file] for i in range(0, len(lines), per_file)] or [[]]
    files = {}
    for age, chunk in enumerate(reversed(chunks)):
        path = "logs/acme.log" + (f".{age}" if age else "")
        files[path] = "\n".join(chunk) + "\n"
    return files


CAUSE_CODES = {c: v[1] for c, v in CAUSES.items()}
