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

Unknown keys are an error listing the accepted ones. A new provider adds its typed config
to ``agents.llm.config.PROVIDER_CONFIGS`` and its builder to ``PROVIDERS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from agents.llm.anthropic_client import AnthropicChat
from agents.llm.config import (
    AnthropicConfig,
    HttpLLMConfig,
    OpenAIConfig,
    ReplayLLMConfig,
    SimConfig,
    parse_llm_config,
)
from agents.llm.openai_client import OpenAIChat
from agents.llm.pricing import PriceTable
from agents.llm.replay import ReplayBackend
from agents.llm.retry import RetryPolicy
from agents.llm.server_check import TOOL_PROBE_ACTIONS
from agents.llm.types import ChatBackend

Builder = Callable[[Any, httpx.Client | None], ChatBackend]


def _http_kwargs(cfg: HttpLLMConfig, client: httpx.Client | None) -> dict[str, Any]:
    if not cfg.model:
        raise ValueError(f"llm provider {cfg.provider!r}: 'model' is required")
    retry = RetryPolicy(
        max_attempts=int(cfg.max_attempts),
        base_delay_s=float(cfg.backoff_base_s),
        max_delay_s=float(cfg.backoff_max_s),
        jitter=float(cfg.jitter),
        seed=int(cfg.retry_seed),
        max_retry_after_s=float(cfg.max_retry_after_s),
    )
    if cfg.context_window is not None and (
        isinstance(cfg.context_window, bool) or not isinstance(cfg.context_window, int) or cfg.context_window < 1
    ):
        raise ValueError(
            f"llm provider {cfg.provider!r}: context_window must be a positive number of tokens or null, "
            f"got {cfg.context_window!r}"
        )
    if cfg.model_label is not None and not (isinstance(cfg.model_label, str) and cfg.model_label.strip()):
        raise ValueError(f"llm provider {cfg.provider!r}: model_label must be a non-empty string or null")
    return {
        "model": str(cfg.model),
        "model_label": cfg.model_label,
        "context_window": cfg.context_window,
        "base_url": str(cfg.base_url),
        "api_key_env": cfg.api_key_env,
        "client": client,
        "timeout_s": float(cfg.timeout_s),
        "retry": retry,
        "max_concurrency": _max_concurrency(cfg),
        "prices": PriceTable.from_config(cfg.prices),
        "shared_limit_dir": _shared_limit_dir(cfg),
    }


def _max_concurrency(cfg: HttpLLMConfig) -> int:
    value: Any = cfg.max_concurrency
    try:
        limit = int(value) if not isinstance(value, bool | float) else None
    except (TypeError, ValueError):
        limit = None
    if limit is None or limit < 1:
        raise ValueError(f"llm provider {cfg.provider!r}: max_concurrency must be an integer >= 1, got {value!r}")
    return limit


def _shared_limit_dir(cfg: HttpLLMConfig) -> str | None:
    """``shared_limit_dir``: null/empty = per-process limit; else the directory of the shared slots."""
    value: Any = cfg.shared_limit_dir
    if value is None or value == "":
        return None
    if not isinstance(value, str | os.PathLike):
        raise ValueError(
            f"llm provider {cfg.provider!r}: shared_limit_dir must be a directory path or null, got {value!r}"
        )
    return os.fspath(value)


def _openai(cfg: OpenAIConfig, client: httpx.Client | None) -> ChatBackend:
    if cfg.tool_probe not in TOOL_PROBE_ACTIONS:
        raise ValueError(
            f"llm provider 'openai': tool_probe must be one of {', '.join(map(str, TOOL_PROBE_ACTIONS))}, "
            f"got {cfg.tool_probe!r}"
        )
    return OpenAIChat(
        native_tools=bool(cfg.native_tools),
        send_meta=bool(cfg.send_meta),
        fold_system_prompt=bool(cfg.fold_system_prompt),
        request_options=cfg.request_options,
        **_http_kwargs(cfg, client),
    )


def _anthropic(cfg: AnthropicConfig, client: httpx.Client | None) -> ChatBackend:
    extra: dict[str, Any] = {}
    if cfg.anthropic_version is not None:
        extra["anthropic_version"] = str(cfg.anthropic_version)
    if cfg.default_max_tokens is not None:
        extra["default_max_tokens"] = int(cfg.default_max_tokens)
    return AnthropicChat(**extra, **_http_kwargs(cfg, client))


def _replay(cfg: ReplayLLMConfig, client: httpx.Client | None) -> ChatBackend:
    if not isinstance(cfg.inner, Mapping):
        raise ValueError("llm provider 'replay': 'inner' must be the config of the wrapped backend")
    if not cfg.cache_dir:
        raise ValueError("llm provider 'replay': 'cache_dir' is required")
    inner = make_backend(cfg.inner, client=client)
    return ReplayBackend(inner, cfg.cache_dir, mode=str(cfg.mode))


def _sim(cfg: SimConfig, client: httpx.Client | None) -> ChatBackend:
    from agents.sim import SimChat, get_profile  # the sim imports the worlds: load it only when asked

    profile = get_profile(str(cfg.profile), cfg.overrides)
    return SimChat(profile, model=str(cfg.model or ""))


# provider -> builder; its accepted keys are the fields of agents.llm.config.PROVIDER_CONFIGS[provider].
PROVIDERS: dict[str, Builder] = {"openai": _openai, "anthropic": _anthropic, "sim": _sim, "replay": _replay}


def make_backend(config: Mapping[str, Any], *, client: httpx.Client | None = None) -> ChatBackend:
    """Build the backend described by ``config``; ``client`` is the shared httpx seam (tests)."""
    cfg = parse_llm_config(dict(config))  # ValueError naming the accepted keys or providers
    return PROVIDERS[cfg.provider](cfg, client)
