"""Sending one JSON POST to an LLM endpoint: retries, backoff, Retry-After, concurrency.

* Retried: 429, 5xx, timeouts and connection errors, up to ``max_attempts`` attempts.
  The wait is ``Retry-After`` when the server sends it (seconds or an HTTP date, capped
  at ``max_retry_after_s``), else exponential backoff ``base_delay_s * 2**(n-1)``
  (capped at ``max_delay_s``) stretched by up to ``jitter`` from a seeded
  ``numpy.random.Generator``. ``sleep`` and ``now`` are injectable so tests never wait.
* Also retried: a 2xx that is not a usable answer (not JSON, a provider error object such as
  Anthropic's ``overloaded_error``, or a body the client's parser rejects).
* Not retried: 401/403 (``AuthError``), other 4xx (``LLMError``), context overflow
  (``ContextLengthError``).
* ``timeout_s`` bounds each attempt from connect to last byte. Every failed attempt is
  returned (``Attempt``: reason, status, wait) so the record shows what a call went through.
* A per-endpoint concurrency limit: one ``threading.BoundedSemaphore`` per ``base_url``,
  shared by every client in the process (the first limit registered for an endpoint
  wins). A slot is held only while a request is in flight, never while sleeping.
* Optionally the limit is shared across processes (the jobs of a Hydra sweep):
  ``endpoint_limiter(..., shared_dir=...)`` also takes one of ``limit`` ``flock``-ed slot
  files in a directory per endpoint (``SharedSlots``), so N jobs together keep at most
  ``limit`` requests in flight against one endpoint.
"""

from __future__ import annotations

import email.utils
import errno
import fcntl
import hashlib
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

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
T = TypeVar("T")


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


class Limiter(Protocol):
    """What ``post_json`` needs of a concurrency limit: ``with limiter:`` holds one slot."""

    def __enter__(self, /) -> object: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> bool | None: ...


class SlotTimeoutError(LLMError):
    """No concurrency slot became free within ``timeout_s``."""


class SharedSlots:
    """At most ``limit`` holders at a time across every process using ``directory``.

    ``with SharedSlots(directory, limit):`` takes one of the slot files ``slot-0.lock`` ..
    ``slot-{limit-1}.lock`` in ``directory`` (created, with its parents, on construction)
    with ``fcntl.flock(LOCK_EX | LOCK_NB)``, polling every ``poll_s`` seconds (jittered)
    while all are taken, and releases it on exit. A ``flock`` belongs to the open file,
    so the OS releases it when the holder's process dies, even by ``SIGKILL``: a crashed
    or killed job never leaks a slot. That is why slots are locks and not a counter in a
    file, which a dead process would leave incremented.

    Thread-safe: every acquisition opens its own file descriptors (``flock`` locks of two
    descriptors conflict even within one process) and the held descriptor is kept per
    thread. Threads of a process first take ``local`` (an in-process semaphore; by default
    a new ``BoundedSemaphore(limit)``), so at most ``limit`` of them poll the files at
    once. ``timeout_s`` bounds the whole wait (both parts); on expiry ``SlotTimeoutError``.

    Processes passing different limits for one directory share the first slots; together
    they stay within the largest limit. Locks on a network filesystem work only where the
    mount supports them (NFS with lockd/NFSv4 locks, Lustre mounted with ``flock``);
    otherwise they may be node-local or fail (a clear ``OSError`` then).
    """

    def __init__(
        self,
        directory: str | Path,
        limit: int,
        *,
        timeout_s: float | None = None,
        poll_s: float = 0.03,
        local: threading.Semaphore | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {limit}")
        if timeout_s is not None and timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0 or None, got {timeout_s}")
        if poll_s <= 0:
            raise ValueError(f"poll_s must be > 0, got {poll_s}")
        self.directory = Path(directory)
        self.limit = int(limit)
        self.timeout_s = timeout_s
        self.poll_s = float(poll_s)
        self._local = local if local is not None else threading.BoundedSemaphore(self.limit)
        self._held = threading.local()  # .fds: descriptors this thread holds, innermost last
        self._rng = random.Random()  # poll jitter only; never reaches a record
        self._rng_lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(
                f"cannot create the LLM concurrency slot directory {self.directory} ({exc}); set "
                "llm.shared_limit_dir (or ARISE_LLM_SLOTS) to a writable directory, or null for a per-process limit"
            ) from exc

    def __repr__(self) -> str:
        return f"SharedSlots({str(self.directory)!r}, limit={self.limit})"

    def _slot_path(self, i: int) -> Path:
        return self.directory / f"slot-{i}.lock"

    def acquire(self) -> int:
        """Take a slot (blocking, up to ``timeout_s``); the index of the slot taken."""
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        if not self._local.acquire(timeout=None if deadline is None else max(0.0, deadline - time.monotonic())):
            raise self._timeout_error()
        try:
            slot, fd = self._lock_one(deadline)
        except BaseException:
            self._local.release()
            raise
        fds = getattr(self._held, "fds", None)
        if fds is None:
            fds = self._held.fds = []
        fds.append(fd)
        return slot

    def release(self) -> None:
        """Give back the slot most recently taken by this thread."""
        fds = getattr(self._held, "fds", None)
        if not fds:
            raise RuntimeError(f"{self!r}: release() without a slot held by this thread")
        fd = fds.pop()
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
            self._local.release()

    def __enter__(self) -> SharedSlots:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def _lock_one(self, deadline: float | None) -> tuple[int, int]:
        fds: dict[int, int] = {}  # slot -> descriptor opened by this acquisition
        try:
            while True:
                for i in range(self.limit):
                    fd = fds.get(i)
                    if fd is None:
                        fd = fds[i] = self._open(i)
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError as exc:
                        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                            continue
                        raise OSError(
                            f"cannot flock {self._slot_path(i)} ({exc}); file locking may not be supported on "
                            "this filesystem: point llm.shared_limit_dir at a local or lock-capable one, or null"
                        ) from exc
                    return i, fds.pop(i)
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._timeout_error()
                with self._rng_lock:
                    pause = self.poll_s * (0.5 + self._rng.random())
                if deadline is not None:
                    pause = min(pause, max(0.0, deadline - time.monotonic()))
                time.sleep(pause)
        finally:
            for fd in fds.values():
                os.close(fd)

    def _open(self, i: int) -> int:
        path = self._slot_path(i)
        try:
            # Read-only is enough for flock; O_CREAT makes the file on first use.
            return os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise OSError(
                f"cannot open the LLM concurrency slot {path} ({exc}); set llm.shared_limit_dir "
                "(or ARISE_LLM_SLOTS) to a writable directory, or null for a per-process limit"
            ) from exc

    def _timeout_error(self) -> SlotTimeoutError:
        return SlotTimeoutError(
            f"no free LLM concurrency slot in {self.directory} after {self.timeout_s:g} s "
            f"(all {self.limit} held by this or other processes); raise max_concurrency or the timeout"
        )


_LIMITS: dict[str, threading.BoundedSemaphore] = {}
_LIMIT_SIZES: dict[str, int] = {}
_SHARED: dict[tuple[str, str], SharedSlots] = {}
_LIMITS_LOCK = threading.Lock()


def endpoint_key(base_url: str) -> str:
    """The directory name of ``base_url``'s slots under a shared directory (16 hex digits of its sha256)."""
    return hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:16]


def endpoint_limiter(base_url: str, limit: int, shared_dir: str | Path | None = None) -> Limiter:
    """The concurrency limiter of ``base_url`` (the first limit registered in a process wins).

    ``shared_dir=None``: the process-wide semaphore of the endpoint (``limit`` requests in
    flight per process). Otherwise also a ``SharedSlots`` slot in
    ``shared_dir/<endpoint_key(base_url)>``: every process using that directory shares the
    endpoint's ``limit`` slots; different endpoints get different subdirectories.
    """
    if limit < 1:
        raise ValueError(f"max_concurrency must be >= 1, got {limit}")
    key = base_url.rstrip("/")
    with _LIMITS_LOCK:
        sem = _LIMITS.get(key)
        if sem is None:
            sem = _LIMITS[key] = threading.BoundedSemaphore(limit)
            _LIMIT_SIZES[key] = limit
        if shared_dir is None:
            return sem
        directory = Path(shared_dir).expanduser().absolute() / endpoint_key(key)
        shared = _SHARED.get((key, str(directory)))
        if shared is None:
            shared = _SHARED[key, str(directory)] = SharedSlots(directory, _LIMIT_SIZES[key], local=sem)
        return shared


@dataclass(frozen=True)
class Attempt:
    """A failed attempt of one call: what went wrong (``kind``: status, timeout, connection,
    malformed, provider_error, or final for a non-retried error), the reason, the HTTP status if
    one came, and the wait before the next try (``None`` after the last attempt). Kept in the
    record, so a retried call leaves a trace."""

    kind: str
    reason: str
    status: int | None = None
    wait_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason, "status": self.status, "wait_s": self.wait_s}


class _Retryable(Exception):
    """This attempt failed in a way another attempt may not (5xx, timeout, garbled 200)."""

    def __init__(self, kind: str, reason: str, status: int | None = None, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.status, self.retry_after = kind, reason, status, retry_after


def post_json(
    client: httpx.Client,
    url: str,
    *,
    payload: dict[str, Any],
    headers: dict[str, str],
    policy: RetryPolicy,
    limiter: Limiter,
    timeout_s: float,
    provider: str,
    parse: Callable[[dict[str, Any]], T],
    key: str | None = None,
    key_env: str | None = None,
) -> tuple[T, list[Attempt]]:
    """POST ``payload`` to ``url`` with retries: ``parse`` of the first good 2xx JSON object, and the
    failed attempts before it.

    ``timeout_s`` bounds each attempt from connect to last byte (a server trickling bytes is cut
    off). A 2xx whose body is not JSON, is a provider error object, or that ``parse`` rejects
    (``MalformedResponseError``) is retried like a 5xx: proxies and overloaded providers send such
    pages now and then. When every attempt fails, the ``LLMError`` raised carries ``attempts``.
    """
    failed: list[Attempt] = []
    for attempt in range(1, policy.max_attempts + 1):
        try:
            with limiter:
                status, resp_headers, body = _send(client, url, payload, headers, timeout_s, key)
            data = _checked(status, resp_headers, body, url, provider, key, key_env)
            try:
                return parse(data), failed
            except MalformedResponseError as exc:
                body_excerpt = redact(json.dumps(data)[:_BODY_EXCERPT], key)
                raise _Retryable("malformed", f"{exc} Body: {body_excerpt}", status) from None
        except _Retryable as exc:
            wait = policy.delay(attempt, exc.retry_after) if attempt < policy.max_attempts else None
            failed.append(Attempt(exc.kind, exc.reason, exc.status, None if wait is None else round(wait, 6)))
            if wait is not None:
                policy.sleep(wait)
        except LLMError as exc:
            exc.attempts = [*failed, Attempt("final", str(exc), exc.status)]
            raise
    last = failed[-1]
    msg = f"{provider}: {url} {last.reason} (gave up after {policy.max_attempts} attempts)"
    error: LLMError
    if last.status == 429:
        error = RateLimitError(msg + "; lower max_concurrency or raise max_attempts", last.status)
    elif last.kind == "malformed":
        error = MalformedResponseError(msg, last.status)
    elif last.kind == "provider_error":
        error = LLMError(msg + "; the provider reported it, not a problem of this config", last.status)
    else:
        error = LLMError(msg + "; check that the server is up and base_url is right", last.status)
    error.attempts = failed
    raise error


def _send(
    client: httpx.Client, url: str, payload: dict[str, Any], headers: dict[str, str], timeout_s: float, key: str | None
) -> tuple[int, httpx.Headers, bytes]:
    """One attempt: (status, headers, body), all of it within ``timeout_s`` of the start.

    httpx's timeouts are per operation (a server sending a byte every second never trips a 3 s
    read timeout), so the request runs in a worker thread and the caller waits for the whole
    answer at most ``timeout_s``. An abandoned worker stops at its next chunk or read timeout.
    """
    outcome: dict[str, Any] = {}
    done, cancelled = threading.Event(), threading.Event()

    def attempt() -> None:
        try:
            outcome["value"] = _receive(client, url, payload, headers, timeout_s, key, cancelled)
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=attempt, name="llm-request", daemon=True).start()
    if not done.wait(timeout_s):
        cancelled.set()
        raise _Retryable("timeout", f"timed out after {timeout_s:g} s (no complete answer by then)")
    if "error" in outcome:
        raise outcome["error"]
    value: tuple[int, httpx.Headers, bytes] = outcome["value"]
    return value


def _receive(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    timeout_s: float,
    key: str | None,
    cancelled: threading.Event,
) -> tuple[int, httpx.Headers, bytes]:
    try:
        with client.stream("POST", url, json=payload, headers=headers, timeout=timeout_s) as resp:
            chunks: list[bytes] = []
            for chunk in resp.iter_bytes():
                if cancelled.is_set():
                    break
                chunks.append(chunk)
            return resp.status_code, resp.headers, b"".join(chunks)
    except httpx.TimeoutException as exc:
        raise _Retryable("timeout", f"timed out after {timeout_s:g} s ({type(exc).__name__})") from None
    except httpx.DecodingError as exc:  # a body its content-encoding does not describe (a broken gzip)
        raise _Retryable("malformed", f"sent a body that cannot be decoded ({redact(str(exc), key)})") from None
    except httpx.TransportError as exc:
        raise _Retryable("connection", f"connection failed ({type(exc).__name__}: {redact(str(exc), key)})") from None


def _checked(
    status: int,
    headers: httpx.Headers,
    body: bytes,
    url: str,
    provider: str,
    key: str | None,
    key_env: str | None,
) -> dict[str, Any]:
    """The JSON object of a good answer; raises ``_Retryable`` or a final ``LLMError`` otherwise."""
    text = body.decode("utf-8", errors="replace")
    excerpt = redact(text[:_BODY_EXCERPT], key)
    if not 200 <= status < 300:
        if status in (401, 403):
            hint = f"check that {key_env} holds a valid key" if key_env else "this endpoint needs an API key"
            raise AuthError(
                f"{provider}: {url} answered {status} (authentication failed); {hint}. Body: {excerpt}", status
            )
        if status in (400, 413) and _CONTEXT_LENGTH.search(text):
            raise ContextLengthError(
                f"{provider}: the request is longer than the model's context window ({status}). Body: {excerpt}", status
            )
        if status not in RETRY_STATUSES:
            raise LLMError(
                f"{provider}: {url} answered {status}; check the model name and request. Body: {excerpt}", status
            )
        raise _Retryable("status", f"answered {status}: {excerpt}", status, headers.get("retry-after"))
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _Retryable(
            "malformed",
            f"answered {status} with a body that is not JSON ({exc}); if this persists, check that base_url "
            f"points at the API root. Body: {excerpt!r}",
            status,
        ) from None
    if not isinstance(data, dict):
        raise _Retryable(
            "malformed", f"answered {status} with a JSON {type(data).__name__}, expected an object", status
        )
    problem = provider_error(data)
    if problem is not None:
        if _CONTEXT_LENGTH.search(problem):
            raise ContextLengthError(
                f"{provider}: the request is longer than the model's context window: {problem}", status
            )
        raise _Retryable(
            "provider_error", f"answered {status} with an error instead of a completion: {redact(problem, key)}", status
        )
    return data


def provider_error(data: dict[str, Any]) -> str | None:
    """The error a provider reported inside a 2xx JSON body, if any ("type: message").

    OpenAI-compatible servers and proxies send ``{"error": {...}}``; Anthropic sends
    ``{"type": "error", "error": {"type": "overloaded_error", "message": ...}}``.
    """
    err = data.get("error")
    if err is None or (("choices" in data or "content" in data) and data.get("type") != "error"):
        return None
    if isinstance(err, dict):
        kind = err.get("type") or err.get("code") or "error"
        return f"{kind}: {str(err.get('message') or '')[:_BODY_EXCERPT]}"
    return f"error: {str(err)[:_BODY_EXCERPT]}"
