"""What the HTTP backends share: configuration, the injected client, keys, retries, pricing."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from agents.llm.keys import read_key
from agents.llm.pricing import PriceTable
from agents.llm.retry import RetryPolicy, endpoint_limiter, post_json
from agents.llm.types import ChatRequest, ChatResponse


class HttpBackend(ABC):
    """Base of the provider adapters. Subclasses build the payload and parse the answer.

    ``client`` is the one seam: tests pass an ``httpx.Client`` mocked by respx, real runs
    get a fresh client. No object holds the API key; it is read from ``api_key_env`` on
    each call. ``max_concurrency`` caps requests in flight to ``base_url`` per process, or
    across every process using ``shared_limit_dir`` when it is set (see ``endpoint_limiter``).
    """

    name = "http"
    adapter_version = "0"

    def __init__(
        self,
        *,
        model: str,
        base_url: str,
        api_key_env: str | None,
        client: httpx.Client | None = None,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 4,
        prices: PriceTable | None = None,
        shared_limit_dir: str | Path | None = None,
        model_label: str | None = None,
        context_window: int | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"{self.name}: base_url must start with http:// or https://, got {base_url!r}")
        self.model = model
        # What identifies the weights in replay keys when ``model`` does not (a user's label, or the id
        # the server reports: agents.llm.server_check); None = ``model`` says it.
        self.weights = model_label
        self.context_window = context_window  # tokens; None = unknown (the server may report it)
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout_s = float(timeout_s)
        self.retry = retry or RetryPolicy()
        self.max_concurrency = max_concurrency
        self.prices = prices or PriceTable()
        self._client = client or httpx.Client(timeout=self.timeout_s)
        self.shared_limit_dir = Path(shared_limit_dir) if shared_limit_dir is not None else None
        self._limiter = endpoint_limiter(self.base_url, max_concurrency, self.shared_limit_dir)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r})"
        )

    def resolve_model(self, request: ChatRequest) -> str:
        return request.model or self.model

    def role_options(self, role: str) -> dict[str, Any]:
        """Provider options sent with a request of ``role`` (none unless the adapter supports them)."""
        return {}

    @property
    def client(self) -> httpx.Client:
        return self._client

    # -- subclass hooks ------------------------------------------------------------------
    @abstractmethod
    def _endpoint(self) -> str:
        """The URL requests are POSTed to."""

    @abstractmethod
    def _headers(self, key: str | None) -> dict[str, str]:
        """Request headers (with the key, if any)."""

    @abstractmethod
    def _payload(self, request: ChatRequest, model: str) -> dict[str, Any]:
        """The provider's JSON body for ``request``."""

    @abstractmethod
    def _parse(self, data: dict[str, Any], request: ChatRequest, model: str) -> ChatResponse:
        """The common response from the provider's JSON."""

    # -- the call --------------------------------------------------------------------------
    def complete(self, request: ChatRequest) -> ChatResponse:
        model = self.resolve_model(request)
        if not model:
            raise ValueError(f"{self.name}: no model in the request and none configured")
        key = read_key(self.api_key_env, self.name)
        payload = self._payload(request, model)
        start = time.perf_counter()
        response, failed = post_json(
            self._client,
            self._endpoint(),
            payload=payload,
            headers=self._headers(key),
            policy=self.retry,
            limiter=self._limiter,
            timeout_s=self.timeout_s,
            provider=self.name,
            parse=lambda data: self._parse(data, request, model),
            key=key,
            key_env=self.api_key_env,
        )
        # latency_s covers the whole call, retries and waits included
        return replace(response, latency_s=time.perf_counter() - start, retries=[a.to_dict() for a in failed])
