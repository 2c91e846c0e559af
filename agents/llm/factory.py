"""``make_backend(config)``: a ChatBackend from a plain config mapping (Hydra ``llm`` group).

Examples::

    {"provider": "openai", "model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY",
     "prices": {"gpt-4o-mini": {"input": 0.15, "output": 0.60}}}
    {"provider": "openai", "model": "qwen2.5:7b", "base_url": "http://127.0.0.1:11434/v1",
     "api_key_env": None, "native_tools": False}
    {"provider": "anthropic", "model": "claude-sonnet-4-5", "api_key_env": "ANTHROPIC_API_KEY"}
    {"provider": "replay", "cache_dir": "runs/llm_cache", "mode": "replay-only",
     "inner": {"provider": "openai", ...}}

    {"provider": "sim", "profile": "sim-sonnet-like", "overrides": {"p_wrong_tool": 0.0}}

HTTP backends take ``max_concurrency`` (requests in flight per endpoint, >= 1) and
``shared_limit_dir``: when set, that limit holds across every process (job) using the
directory (``flock``-ed slot files, see ``agents.llm.retry.SharedSlots``); null = per process.

Unknown keys are an error listing the accepted ones. New providers register a builder
and its accepted keys in ``PROVIDERS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from agents.llm.anthropic_client import AnthropicChat
from agents.llm.openai_client import OpenAIChat
from agents.llm.pricing import PriceTable
from agents.llm.replay import ReplayBackend
from agents.llm.retry import RetryPolicy
from agents.llm.types import ChatBackend

HTTP_KEYS = frozenset(
    {
        "provider",
        "model",
        "base_url",
        "api_key_env",
        "timeout_s",
        "max_attempts",
        "backoff_base_s",
        "backoff_max_s",
        "jitter",
        "retry_seed",
        "max_concurrency",
        "shared_limit_dir",
        "prices",
    }
)

Builder = Callable[[dict[str, Any], httpx.Client | None], ChatBackend]


def _http_kwargs(cfg: dict[str, Any], client: httpx.Client | None) -> dict[str, Any]:
    if not cfg.get("model"):
        raise ValueError(f"llm provider {cfg['provider']!r}: 'model' is required")
    retry = RetryPolicy(
        max_attempts=int(cfg.get("max_attempts", 4)),
        base_delay_s=float(cfg.get("backoff_base_s", 1.0)),
        max_delay_s=float(cfg.get("backoff_max_s", 30.0)),
        jitter=float(cfg.get("jitter", 0.25)),
        seed=int(cfg.get("retry_seed", 0)),
    )
    kwargs: dict[str, Any] = {
        "model": str(cfg["model"]),
        "client": client,
        "timeout_s": float(cfg.get("timeout_s", 60.0)),
        "retry": retry,
        "max_concurrency": _max_concurrency(cfg),
        "prices": PriceTable.from_config(cfg.get("prices")),
        "shared_limit_dir": _shared_limit_dir(cfg),
    }
    for name in ("base_url", "api_key_env"):
        if name in cfg:
            kwargs[name] = cfg[name]
    return kwargs


def _max_concurrency(cfg: dict[str, Any]) -> int:
    value = cfg.get("max_concurrency", 4)
    try:
        limit = int(value) if not isinstance(value, bool | float) else None
    except (TypeError, ValueError):
        limit = None
    if limit is None or limit < 1:
        raise ValueError(f"llm provider {cfg['provider']!r}: max_concurrency must be an integer >= 1, got {value!r}")
    return limit


def _shared_limit_dir(cfg: dict[str, Any]) -> str | None:
    """``shared_limit_dir``: null/absent/empty = per-process limit; else the directory of the shared slots."""
    value = cfg.get("shared_limit_dir")
    if value is None or value == "":
        return None
    if not isinstance(value, str | os.PathLike):
        raise ValueError(
            f"llm provider {cfg['provider']!r}: shared_limit_dir must be a directory path or null, got {value!r}"
        )
    return os.fspath(value)


def _openai(cfg: dict[str, Any], client: httpx.Client | None) -> ChatBackend:
    return OpenAIChat(
        native_tools=bool(cfg.get("native_tools", True)),
        send_meta=bool(cfg.get("send_meta", False)),
        **_http_kwargs(cfg, client),
    )


def _anthropic(cfg: dict[str, Any], client: httpx.Client | None) -> ChatBackend:
    extra: dict[str, Any] = {}
    if "anthropic_version" in cfg:
        extra["anthropic_version"] = str(cfg["anthropic_version"])
    if "default_max_tokens" in cfg:
        extra["default_max_tokens"] = int(cfg["default_max_tokens"])
    return AnthropicChat(**extra, **_http_kwargs(cfg, client))


def _replay(cfg: dict[str, Any], client: httpx.Client | None) -> ChatBackend:
    inner_cfg = cfg.get("inner")
    if not isinstance(inner_cfg, Mapping):
        raise ValueError("llm provider 'replay': 'inner' must be the config of the wrapped backend")
    if "cache_dir" not in cfg:
        raise ValueError("llm provider 'replay': 'cache_dir' is required")
    inner = make_backend(inner_cfg, client=client)
    return ReplayBackend(inner, cfg["cache_dir"], mode=str(cfg.get("mode", "record")))


def _sim(cfg: dict[str, Any], client: httpx.Client | None) -> ChatBackend:
    from agents.sim import SimChat, get_profile  # the sim imports the worlds: load it only when asked

    profile = get_profile(str(cfg.get("profile", "sim-4o-mini-like")), cfg.get("overrides"))
    return SimChat(profile, model=str(cfg.get("model") or ""))


# provider -> (builder, accepted config keys).
PROVIDERS: dict[str, tuple[Builder, frozenset[str]]] = {
    "openai": (_openai, HTTP_KEYS | {"native_tools", "send_meta"}),
    "anthropic": (_anthropic, HTTP_KEYS | {"anthropic_version", "default_max_tokens"}),
    "sim": (_sim, frozenset({"provider", "profile", "model", "overrides"})),
    "replay": (_replay, frozenset({"provider", "cache_dir", "mode", "inner"})),
}


def make_backend(config: Mapping[str, Any], *, client: httpx.Client | None = None) -> ChatBackend:
    """Build the backend described by ``config``; ``client`` is the shared httpx seam (tests)."""
    cfg = dict(config)
    provider = cfg.get("provider")
    if provider not in PROVIDERS:
        raise ValueError(f"unknown llm provider {provider!r}; accepted: {', '.join(sorted(PROVIDERS))}")
    builder, accepted = PROVIDERS[provider]
    unknown = sorted(set(cfg) - accepted)
    if unknown:
        raise ValueError(
            f"llm provider {provider!r}: unknown config key(s) {unknown}; accepted: {', '.join(sorted(accepted))}"
        )
    return builder(cfg, client)
