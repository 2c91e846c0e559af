"""LLM access over httpx: one small protocol, provider adapters, retries, pricing, replay.

See ``shared/spec/agents.md`` ("LLM clients"). Backends: ``OpenAIChat`` (any
OpenAI-compatible server), ``AnthropicChat`` (Messages API), ``ReplayBackend`` (a
content-addressed cache around either); ``make_backend`` builds one from config.
"""

from agents.llm.anthropic_client import AnthropicChat
from agents.llm.factory import make_backend
from agents.llm.openai_client import OpenAIChat
from agents.llm.pricing import PriceTable, UsageMeter
from agents.llm.replay import ReplayBackend
from agents.llm.retry import RetryPolicy
from agents.llm.types import (
    AuthError,
    ChatBackend,
    ChatRequest,
    ChatResponse,
    ContextLengthError,
    LLMError,
    MalformedResponseError,
    RateLimitError,
    ReplayMissError,
    ToolCall,
    Usage,
    assistant_message,
    tool_message,
)

__all__ = [
    "AnthropicChat",
    "AuthError",
    "ChatBackend",
    "ChatRequest",
    "ChatResponse",
    "ContextLengthError",
    "LLMError",
    "MalformedResponseError",
    "OpenAIChat",
    "PriceTable",
    "RateLimitError",
    "ReplayBackend",
    "ReplayMissError",
    "RetryPolicy",
    "ToolCall",
    "Usage",
    "UsageMeter",
    "assistant_message",
    "make_backend",
    "tool_message",
]
