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
from typing import Any, Protocol

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
