"""Sending one JSON POST to an LLM endpoint: retries, backoff, Retry-After, concurrency.

* Retried: 429, 5xx, timeouts and connection errors, up to ``max_attempts`` attempts.
  The wait is ``Retry-After`` when the server sends it (seconds or an HTTP date, capped
  at ``max_retry_after_s``), else exponential backoff ``base_delay_s * 2**(n-1)``
  (capped at ``max_delay_s``) stretched by up to ``jitter`` from a seeded
  ``numpy.random.Generator``. ``sleep`` and ``now`` are injectable so tests never wait.
* Not retried: 401/403 (``AuthError``), other 4xx (``LLMError``), a 2xx body that is not
  a JSON object (``MalformedResponseError``).
* A per-endpoint concurrency limit: one ``threading.BoundedSemaphore`` per ``base_url``,
  shared by every client in the process (the first limit registered for an endpoint
  wins). A slot is held only while a request is in flight, never while sleeping.
"""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from agents.llm.keys import redact
from agents.llm.types import AuthError, ContextLengthError, LLMError, MalformedResponseError, RateLimitError

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
# Provider phrasings of a context-window overflow (OpenAI, vLLM, Anthropic, llama.cpp).
_CONTEXT_LENGTH = re.compile(
    r"context_length_exceeded|maximum context length|prompt is too long|exceeds the context", re.I
)
_BODY_EXCERPT = 300


@dataclass
class RetryPolicy:
    """How often and how long to retry. ``seed`` seeds the jitter generator."""

    max_attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    jitter: float = 0.25
    max_retry_after_s: float = 120.0
    seed: int = 0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    now: Callable[[], float] = field(default=time.time, repr=False)
    _rng: np.random.Generator = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        self._rng = np.random.default_rng(self.seed)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based) without Retry-After."""
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        with self._lock:
            u = float(self._rng.random())
        return delay * (1.0 + self.jitter * u)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        parsed = parse_retry_after(retry_after, self.now()) if retry_after else None
        if parsed is not None:
            return min(parsed, self.max_retry_after_s)
        return self.backoff(attempt)


def parse_retry_after(value: str, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); ``None`` if unparsable."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


_LIMITS: dict[str, threading.BoundedSemaphore] = {}
_LIMITS_LOCK = threading.Lock()


def endpoint_limiter(base_url: str, limit: int) -> threading.BoundedSemaphore:
    """The process-wide semaphore of ``base_url`` (created with ``limit`` slots on first use)."""
    if limit < 1:
        raise ValueError(f"max_concurrency must be >= 1, got {limit}")
    key = base_url.rstrip("/")
    with _LIMITS_LOCK:
        sem = _LIMITS.get(key)
        if sem is None:
            sem = _LIMITS[key] = threading.BoundedSemaphore(limit)
        return sem


def post_json(
    client: httpx.Client,
    url: str,
    *,
    payload: dict[str, Any],
    headers: dict[str, str],
    policy: RetryPolicy,
    limiter: threading.BoundedSemaphore,
    timeout_s: float,
    provider: str,
    key: str | None = None,
    key_env: str | None = None,
) -> dict[str, Any]:
    """POST ``payload`` to ``url`` with retries; the decoded JSON object of the first 2xx answer."""
    last = ""
    last_status: int | None = None
    for attempt in range(1, policy.max_attempts + 1):
        retry_after: str | None = None
        with limiter:
            try:
                resp = client.post(url, json=payload, headers=headers, timeout=timeout_s)
            except httpx.TimeoutException as exc:
                last, last_status = f"timed out after {timeout_s:g} s ({type(exc).__name__})", None
                resp = None
            except httpx.TransportError as exc:
                last, last_status = f"connection failed ({type(exc).__name__}: {redact(str(exc), key)})", None
                resp = None
        if resp is not None:
            status = resp.status_code
            if 200 <= status < 300:
                return _decode(resp, url, provider, key)
            body = redact(resp.text[:_BODY_EXCERPT], key)
            if status in (401, 403):
                hint = f"check that {key_env} holds a valid key" if key_env else "this endpoint needs an API key"
                raise AuthError(
                    f"{provider}: {url} answered {status} (authentication failed); {hint}. Body: {body}", status
                )
            if status in (400, 413) and _CONTEXT_LENGTH.search(resp.text):
                raise ContextLengthError(
                    f"{provider}: the request is longer than the model's context window ({status}). Body: {body}",
                    status,
                )
            if status not in RETRY_STATUSES:
                raise LLMError(
                    f"{provider}: {url} answered {status}; check the model name and request. Body: {body}", status
                )
            last, last_status = f"answered {status}: {body}", status
            retry_after = resp.headers.get("retry-after")
        if attempt < policy.max_attempts:
            policy.sleep(policy.delay(attempt, retry_after))
    msg = f"{provider}: {url} {last} (gave up after {policy.max_attempts} attempts)"
    if last_status == 429:
        raise RateLimitError(msg + "; lower max_concurrency or raise max_attempts", last_status)
    raise LLMError(msg + "; check that the server is up and base_url is right", last_status)


def _decode(resp: httpx.Response, url: str, provider: str, key: str | None) -> dict[str, Any]:
    try:
        data = json.loads(resp.content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        excerpt = redact(resp.text[:_BODY_EXCERPT], key)
        raise MalformedResponseError(
            f"{provider}: {url} answered {resp.status_code} with a body that is not JSON ({exc}); "
            f"check that base_url points at the API root. Body: {excerpt!r}",
            resp.status_code,
        ) from None
    if not isinstance(data, dict):
        raise MalformedResponseError(
            f"{provider}: {url} answered a JSON {type(data).__name__}, expected an object", resp.status_code
        )
    return data
