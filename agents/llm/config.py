"""Typed configs of the LLM providers: the schema of the Hydra ``llm`` group and of ``make_backend``.

Each provider has one dataclass; its fields are the accepted keys, so a mistyped key is an
error naming them (when Hydra composes the config, and again in ``make_backend`` for plain
mappings). ``conf/llm/*.yaml`` presets extend these schemas (``defaults: [/schema_llm_<provider>@_here_]``;
experiments/config.py registers them).

Fields that default to None mean "the client's default" (written next to each field); an
unset one is not part of a job's plan hash, so jobs recorded before the field existed resume.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HttpLLMConfig:
    """Keys shared by the HTTP providers (OpenAI-compatible servers and Anthropic)."""

    provider: str = ""
    model: str = ""  # required
    base_url: str = ""  # the endpoint (each provider's default is its public API)
    api_key_env: str | None = None  # environment variable holding the key; null = no key (local servers)
    timeout_s: float = 60.0  # per attempt, connect to last byte
    max_attempts: int = 4  # attempts per request (transient failures are retried)
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    jitter: float = 0.25  # fraction of each backoff drawn at random
    retry_seed: int = 0  # seed of that jitter
    max_retry_after_s: float = 120.0  # a server's Retry-After is honoured up to this many seconds
    max_concurrency: int = 4  # requests in flight per endpoint (>= 1)
    # Directory of flock-ed slot files so max_concurrency holds across processes; null = per process.
    shared_limit_dir: str | None = None
    prices: dict[str, Any] = field(default_factory=dict)  # model -> {input, output} USD per 1M tokens
    # Names the weights in replay keys, for servers that answer whatever `model` says (llama.cpp);
    # null = the id the server reports in /v1/models when it differs from `model` (agents.llm.server_check).
    model_label: str | None = None
    # The model's context window in tokens, checked against the job's first request before any call;
    # null = what the server reports (vLLM max_model_len, llama.cpp n_ctx), else unchecked.
    context_window: int | None = None


@dataclass
class OpenAIConfig(HttpLLMConfig):
    provider: str = "openai"
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str | None = "OPENAI_API_KEY"
    native_tools: bool = True  # false: tools described in the prompt, JSON actions
    send_meta: bool | None = None  # null = false; true: pass the task context (the sim behind agents.serve_sim)
    # Checks at job start that native tool calls come back and tool results reach the model:
    # off (null) | warn | fallback (switch to JSON actions) | stop. See agents/llm/server_check.py.
    tool_probe: str | None = None
    fold_system_prompt: bool | None = None  # null = false; true: system prompt into the first user message
    # Per role (agent, tool_author): {tool_choice, response_format, stop} passed to the server;
    # response_format: actions = the JSON schema of one action (JSON-action mode). null = none.
    request_options: dict[str, Any] | None = None


@dataclass
class AnthropicConfig(HttpLLMConfig):
    provider: str = "anthropic"
    base_url: str = "https://api.anthropic.com"
    api_key_env: str | None = "ANTHROPIC_API_KEY"
    anthropic_version: str | None = None  # null = the client's pinned API version
    default_max_tokens: int | None = None  # the Messages API requires max_tokens; null = the client's default


@dataclass
class SimConfig:
    """The simulated model (agents/sim/): offline, deterministic, no key."""

    provider: str = "sim"
    profile: str = "sim-4o-mini-like"  # agents/sim/profiles.py
    model: str | None = None  # the name recorded with its responses; null = the profile's name
    overrides: dict[str, Any] = field(default_factory=dict)  # profile knobs, e.g. {p_wrong_tool: 0}


@dataclass
class ReplayLLMConfig:
    """A content-addressed response cache around another backend (``inner``)."""

    provider: str = "replay"
    cache_dir: str = ""  # required
    mode: str = "record"  # record | replay-only | off
    inner: Any = None  # the wrapped backend's config (required)


PROVIDER_CONFIGS: dict[str, type] = {
    "openai": OpenAIConfig,
    "anthropic": AnthropicConfig,
    "sim": SimConfig,
    "replay": ReplayLLMConfig,
}


def accepted_keys(provider: str) -> list[str]:
    return [f.name for f in dataclasses.fields(PROVIDER_CONFIGS[provider])]


def parse_llm_config(config: dict[str, Any]) -> Any:
    """The typed config of ``config`` (a plain mapping with a ``provider`` key).

    Raises ValueError naming the provider and the accepted keys or providers.
    """
    provider = config.get("provider")
    if provider not in PROVIDER_CONFIGS:
        raise ValueError(f"unknown llm provider {provider!r}; accepted: {', '.join(sorted(PROVIDER_CONFIGS))}")
    unknown = sorted(set(config) - set(accepted_keys(provider)))
    if unknown:
        raise ValueError(
            f"llm provider {provider!r}: unknown config key(s) {unknown}; "
            f"accepted: {', '.join(sorted(accepted_keys(provider)))}"
        )
    return PROVIDER_CONFIGS[provider](**config)
