"""The small protocol every LLM backend speaks: a chat request in, a chat response out.

Messages use the OpenAI Chat Completions shape whatever the provider (adapters map it):

* ``{"role": "system" | "user", "content": str}``
* ``{"role": "assistant", "content": str | None, "tool_calls": [{"id", "type": "function",
  "function": {"name", "arguments": <JSON text>}}]}`` (``assistant_message`` builds it)
* ``{"role": "tool", "tool_call_id": str, "content": str}`` for a tool result.

Tools are JSON schemas in the ``envs.tools.ToolSpec.to_json()`` shape (name,
description, parameters). ``meta`` is structured context for the simulated model; it
never reaches a provider payload and never enters a replay cache key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]
# finish_reason values meaning "cut off at max_tokens" (OpenAI-compatible servers, Anthropic).
TRUNCATED_FINISH_REASONS = frozenset({"length", "max_tokens"})


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion request. ``model=""`` means the backend's configured model."""

    model: str
    messages: list[Message]
    tools: list[dict[str, Any]] = field(default_factory=list)
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    sample_index: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    # Who asks: "agent" (the episode's model) or "tool_author" (the evolution pipeline). Backends pass
    # the provider options configured for that role (``request_options``); it never reaches a payload.
    role: str = "agent"

    def sampling(self) -> dict[str, Any]:
        """Sampling parameters (the ones that change the answer), ``None`` values included."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": self.seed}


@dataclass(frozen=True)
class ToolCall:
    """A tool call proposed by the model. ``error`` is set when its arguments were malformed.

    A malformed call is data, not an exception: the agent shows ``error`` to the model as
    an observation and the run goes on.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    error: str | None = None


@dataclass(frozen=True)
class Usage:
    """Tokens of one call and its cost. ``None`` is unknown: a server that sent no usable token
    counts, or a model without a price. Unknown is never guessed as 0."""

    tokens_in: int | None = 0
    tokens_out: int | None = 0
    cost_usd: float | None = None

    @property
    def known(self) -> bool:
        return self.tokens_in is not None and self.tokens_out is not None


def token_count(value: Any) -> int | None:
    """A token count from a provider's usage field: a non-negative integer (or integral float),
    else ``None`` (unknown). Servers have sent "n/a", "12.5", null and negative numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


@dataclass(frozen=True)
class ChatResponse:
    """The model's answer: text, tool calls, usage, wall time and the provider payload."""

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None
    # Failed attempts before this answer (``agents.llm.retry.Attempt.to_dict``), oldest first.
    retries: list[dict[str, Any]] = field(default_factory=list)

    def _copies(self) -> dict[str, str]:
        """Long strings the record already holds as fields: the text and each call's arguments."""
        copies = {self.text: "<text>"} if len(self.text) >= _MIN_COPY else {}
        for i, call in enumerate(self.tool_calls):
            if len(call.raw_arguments) >= _MIN_COPY:
                copies.setdefault(call.raw_arguments, f"<tool_calls[{i}].raw_arguments>")
        return copies

    @property
    def truncated(self) -> bool:
        """The model stopped at the token limit (OpenAI ``length``, Anthropic ``max_tokens``)."""
        return self.finish_reason in TRUNCATED_FINISH_REASONS

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["raw"] = _without_copies(self.raw, self._copies())
        if not self.retries:
            del data["retries"]  # records of calls that went through first time stay as they were
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChatResponse:
        return cls(
            text=data["text"],
            tool_calls=[ToolCall(**tc) for tc in data.get("tool_calls", [])],
            usage=Usage(**data.get("usage", {})),
            latency_s=data.get("latency_s", 0.0),
            raw=data.get("raw", {}),
            finish_reason=data.get("finish_reason"),
            retries=list(data.get("retries", [])),
        )


_MIN_COPY = 64  # shorter strings are cheaper to keep than to point at


def _without_copies(value: Any, copies: dict[str, str]) -> Any:
    """``value`` (a provider payload) with each string that the response stores as a field replaced
    by a pointer to that field, so a response is stored once (a 2 MB answer was stored 7 times)."""
    if not copies:
        return value
    if isinstance(value, str):
        return copies.get(value, value)
    if isinstance(value, dict):
        return {k: _without_copies(v, copies) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_copies(v, copies) for v in value]
    return value


def assistant_message(response: ChatResponse) -> Message:
    """The common-shape assistant message for ``response`` (to append to the transcript)."""
    msg: Message = {"role": "assistant", "content": response.text or None}
    if response.tool_calls:
        msg["tool_calls"] = [
            {"id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": tc.raw_arguments}}
            for tc in response.tool_calls
        ]
    return msg


def tool_message(tool_call_id: str, content: str) -> Message:
    """The common-shape message carrying a tool's result back to the model."""
    return {"role": "tool", "tool_call_id": tool_call_id, "content": content}


@runtime_checkable
class ChatBackend(Protocol):
    """Anything that answers chat requests. ``name`` is the provider (openai, anthropic, ...)."""

    name: str

    def complete(self, request: ChatRequest) -> ChatResponse: ...


class LLMError(RuntimeError):
    """An LLM call failed; the message says what happened and what to check."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        # Every failed attempt of the call (``agents.llm.retry.Attempt``), the last one included.
        self.attempts: list[Any] = []


class AuthError(LLMError):
    """Missing or rejected credentials (never retried)."""


class RateLimitError(LLMError):
    """The endpoint kept answering 429 after every retry."""


class MalformedResponseError(LLMError):
    """The endpoint answered something that is not a valid response of its API."""


class ContextLengthError(LLMError):
    """The request does not fit the model's context window (deterministic: replay caches it)."""


class ReplayMissError(LLMError):
    """Replay-only mode and the request is not in the cache."""
