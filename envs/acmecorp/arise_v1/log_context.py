"""The ``ctx`` object of an arise_v1 AcmeCorp log line, distributed as in the paper's generator.

The fields, their ranges and which severity/service carries which are facts of the reference harness
(github.com/abekek/arise at 54de0da2e7ec6896469ce454520deba0e8e85a61, ``benchmarks/acmecorp/logs.py``,
``_make_ctx``). The draws come from our named numpy stream, so the values match in distribution, not
byte for byte. What the tasks feel:

* ``host`` and ``region`` are on every line;
* ``user_id`` only on auth INFO lines (about 7.5% of all lines) and never on ERROR, so log task 7
  ("user_ids of ERROR entries") is always empty;
* ``amount`` (1 to 9,999.99) only on payments INFO lines, which also carry ``duration_ms`` (5 to 300);
* ``duration_ms`` on INFO (5-300), WARN (500-5,000) and ERROR (100-30,000) lines, so log task 14
  (amount > 500 or duration_ms > 1000) counts about 28% of the lines; since a payments INFO line's
  duration never exceeds 1000, no line passes both thresholds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

HOSTS: tuple[str, ...] = ("web-01", "web-02", "worker-01", "worker-02", "db-primary")
REGIONS: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1")
CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP")
AUTH_METHODS: tuple[str, ...] = ("password", "oauth", "apikey", "mfa")
QUERY_TYPES: tuple[str, ...] = ("SELECT", "INSERT", "UPDATE", "DELETE")
THRESHOLDS_MS: tuple[int, ...] = (500, 1000, 2000)
ERROR_CODES: tuple[str, ...] = ("E1001", "E1002", "E2001", "E3001", "E5000")
FATAL_CODES: tuple[str, ...] = ("F0001", "F0002", "F0003")
AMOUNT_RANGE = (1.0, 9999.99)  # payments INFO, 2 dp
# duration_ms ranges (inclusive) by severity; DEBUG and FATAL lines have none.
DURATION_MS: dict[str, tuple[int, int]] = {"INFO": (5, 300), "WARN": (500, 5000), "ERROR": (100, 30_000)}

_HEX = "0123456789abcdef"


def _hex(r: np.random.Generator, n: int) -> str:
    return "".join(_HEX[int(i)] for i in r.integers(0, 16, size=n))


def _pick(r: np.random.Generator, options: tuple[Any, ...]) -> Any:
    return options[int(r.integers(0, len(options)))]


def _between(r: np.random.Generator, lo: int, hi: int) -> int:
    return int(r.integers(lo, hi, endpoint=True))


def log_context(r: np.random.Generator, severity: str, service: str) -> dict[str, Any]:
    """One line's ctx, keys in the reference's order (host, region, then the severity's fields)."""
    ctx: dict[str, Any] = {"host": _pick(r, HOSTS), "region": _pick(r, REGIONS)}
    if severity == "DEBUG":
        ctx.update(trace_id=_hex(r, 16), span_id=_hex(r, 8), pid=_between(r, 1000, 65535))
    elif severity == "INFO":
        ctx.update(request_id=_hex(r, 12), duration_ms=_between(r, *DURATION_MS["INFO"]))
        if service == "payments":
            ctx.update(
                transaction_id=f"txn_{_hex(r, 10)}",
                amount=round(float(r.uniform(*AMOUNT_RANGE)), 2),
                currency=_pick(r, CURRENCIES),
            )
        elif service == "auth":
            ctx.update(user_id=f"usr_{_between(r, 1000, 99999)}", method=_pick(r, AUTH_METHODS))
        elif service == "database":
            ctx.update(query_type=_pick(r, QUERY_TYPES), rows_affected=_between(r, 0, 5000))
    elif severity == "WARN":
        ctx.update(
            duration_ms=_between(r, *DURATION_MS["WARN"]),
            threshold_ms=_pick(r, THRESHOLDS_MS),
            retry=_between(r, 1, 3),
            request_id=_hex(r, 12),
        )
    elif severity == "ERROR":
        ctx.update(
            error_code=_pick(r, ERROR_CODES),
            request_id=_hex(r, 12),
            duration_ms=_between(r, *DURATION_MS["ERROR"]),
            stack_depth=_between(r, 3, 20),
        )
        if service == "payments":
            ctx["transaction_id"] = f"txn_{_hex(r, 10)}"
    elif severity == "FATAL":
        ctx.update(error_code=_pick(r, FATAL_CODES), memory_mb=_between(r, 512, 8192), uptime_s=_between(r, 60, 86400))
    else:
        raise ValueError(f"unknown severity {severity!r}; expected DEBUG, INFO, WARN, ERROR or FATAL")
    return ctx
