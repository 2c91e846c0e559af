"""``ReplayBackend``: a content-addressed, file-based cache around any backend.

Key = sha256 of the canonical JSON of the request as the provider would see it:
provider, base_url, model, messages, tools, sampling parameters, sample index and the
adapter version. ``meta`` (simulator context) is part of it only for backends whose
answers depend on it (``uses_meta``: the simulated model, in process or over HTTP);
keys are never part of it.

Each entry is one JSON file ``cache_dir/<key[:2]>/<key>.json`` written atomically
(temporary file in the same directory + ``os.replace``), so concurrent jobs can share a
directory: a reader sees a whole entry or none, and two writers of one key write the
same request. Modes:

* ``record``: hit -> the stored response; miss -> ask the inner backend and store it.
* ``replay-only``: hit -> the stored response; miss -> ``ReplayMissError``.
* ``off``: always the inner backend, the cache is neither read nor written.

Replayed responses equal the recorded ones field for field (usage and latency as recorded).
A ``ContextLengthError`` is cached too and raised again in replay-only mode; in record mode the
server is asked again (the verdict belongs to the server as it was: a restart with a larger
context answers). ``options`` (the role's tool_choice/response_format/stop) and ``weights``
(what the server reports it serves, or the user's ``model_label``) are part of the key when set.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from agents.llm.types import ChatBackend, ChatRequest, ChatResponse, ContextLengthError, LLMError, ReplayMissError

MODES = ("off", "record", "replay-only")
CACHE_FORMAT = 1


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class ReplayBackend:
    name = "replay"

    def __init__(self, inner: ChatBackend, cache_dir: str | os.PathLike[str], mode: str = "record") -> None:
        if mode not in MODES:
            raise ValueError(f"replay mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.inner = inner
        self.cache_dir = Path(cache_dir)
        self.mode = mode
        self.hits = 0
        self.misses = 0
        self.backend_requests = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ReplayBackend(inner={self.inner!r}, cache_dir={str(self.cache_dir)!r}, mode={self.mode!r})"

    @property
    def model(self) -> str:
        return str(getattr(self.inner, "model", ""))

    def key_fields(self, request: ChatRequest) -> dict[str, Any]:
        """What the key is computed from (stored next to each entry for inspection)."""
        resolve = getattr(self.inner, "resolve_model", None)
        model = resolve(request) if callable(resolve) else (request.model or self.model)
        fields = {
            "provider": self.inner.name,
            "base_url": getattr(self.inner, "base_url", None),
            "adapter_version": getattr(self.inner, "adapter_version", None),
            "model": model,
            "messages": request.messages,
            "tools": request.tools,
            "sampling": request.sampling(),
            "sample_index": request.sample_index,
        }
        role_options = getattr(self.inner, "role_options", None)
        options = role_options(request.role) if callable(role_options) else {}
        if options:  # tool_choice, response_format, stop: they change the answer
            fields["options"] = options
        weights = getattr(self.inner, "weights", None)
        if weights:  # the server answers with other weights than `model` names (llama.cpp ignores it)
            fields["weights"] = weights
        if getattr(self.inner, "uses_meta", False):  # the simulated model answers from meta too
            fields["meta"] = request.meta
        return fields

    def key(self, request: ChatRequest) -> str:
        return hashlib.sha256(_canonical(self.key_fields(request)).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "backend_requests": self.backend_requests}

    def _count(self, field: str) -> None:
        with self._lock:
            setattr(self, field, getattr(self, field) + 1)

    def complete(self, request: ChatRequest) -> ChatResponse:
        if self.mode == "off":
            self._count("backend_requests")
            return self.inner.complete(request)
        key = self.key(request)
        try:
            cached = self._load(key)
        except ContextLengthError:
            if self.mode == "replay-only":  # a cached verdict is a hit too
                self._count("hits")
                raise
            # Recording: the verdict belongs to the server as it was (a restart with a larger context
            # answers); asking again costs nothing when it still refuses.
            cached = None
        if cached is not None:
            self._count("hits")
            return cached
        self._count("misses")
        if self.mode == "replay-only":
            raise ReplayMissError(
                f"replay-only: no cached response for model {self.key_fields(request)['model']!r} "
                f"({self.inner.name}), request {_summary(request)}, key {key[:16]}... in {self.cache_dir}; "
                f"record it first with mode=record (the key covers messages, tools, sampling, sample_index, the role's "
                f"request_options and the served weights when set, "
                f"base_url and adapter version)"
            )
        self._count("backend_requests")
        try:
            response = self.inner.complete(request)
        except ContextLengthError as exc:  # a deterministic verdict on this request: replay it too
            self._store(key, request, None, error=exc)
            raise
        self._store(key, request, response)
        return response

    def _load(self, key: str) -> ChatResponse | None:
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            entry = json.loads(text)
            if "error" in entry:
                err = entry["error"]
                raise ContextLengthError(str(err["message"]), err.get("status"))
            return ChatResponse.from_dict(entry["response"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise LLMError(f"replay: cache entry {path} is unreadable ({exc!r}); delete it to re-record") from None

    def _store(
        self, key: str, request: ChatRequest, response: ChatResponse | None, error: LLMError | None = None
    ) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry: dict[str, Any] = {"format": CACHE_FORMAT, "key": key, "request": self.key_fields(request)}
        if response is not None:
            entry["response"] = response.to_dict()
        if error is not None:
            entry["error"] = {"type": type(error).__name__, "message": str(error), "status": error.status}
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:8]}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, sort_keys=True, indent=1, ensure_ascii=False))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _summary(request: ChatRequest) -> str:
    last = request.messages[-1] if request.messages else {}
    content = str(last.get("content") or "")
    if len(content) > 80:
        content = content[:77] + "..."
    tools = ",".join(t.get("name", "?") for t in request.tools[:6]) + ("..." if len(request.tools) > 6 else "")
    return (
        f"[{len(request.messages)} messages, last {last.get('role', '-')}: {content!r}; tools: {tools or '-'}; "
        f"sample_index {request.sample_index}]"
    )
