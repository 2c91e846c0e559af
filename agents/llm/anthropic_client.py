"""Anthropic Messages API (``POST {base_url}/v1/messages``) over the common message shape.

Mapping: system messages -> the ``system`` field; assistant ``tool_calls`` -> ``tool_use``
blocks; ``role: "tool"`` messages -> ``tool_result`` blocks in a user turn (consecutive
user-side messages are merged, as the API wants alternating turns); tools ->
``{"name", "description", "input_schema"}``. The API has no ``seed``; it is not sent.
"""

from __future__ import annotations

import json
from typing import Any

from agents.llm.base import HttpBackend
from agents.llm.types import ChatRequest, ChatResponse, MalformedResponseError, Message, ToolCall, token_count

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicChat(HttpBackend):
    name = "anthropic"
    adapter_version = "anthropic-1"

    def __init__(
        self,
        *,
        base_url: str = "https://api.anthropic.com",
        anthropic_version: str = ANTHROPIC_VERSION,
        default_max_tokens: int = 4096,
        **kwargs: Any,
    ):
        kwargs.setdefault("api_key_env", "ANTHROPIC_API_KEY")
        super().__init__(base_url=base_url, **kwargs)
        self.anthropic_version = anthropic_version
        self.default_max_tokens = default_max_tokens

    def _endpoint(self) -> str:
        return f"{self.base_url}/v1/messages"

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {"content-type": "application/json", "anthropic-version": self.anthropic_version}
        if key:
            headers["x-api-key"] = key
        return headers

    def _payload(self, request: ChatRequest, model: str) -> dict[str, Any]:
        system, messages = to_anthropic_messages(request.messages)
        payload: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens or self.default_max_tokens,
            "messages": messages,
        }
        if system:
            payload["system"] = system
        if request.tools:
            payload["tools"] = [
                {"name": t["name"], "description": t.get("description", ""), "input_schema": t["parameters"]}
                for t in request.tools
            ]
        if request.temperature is not None:
            payload["temperature"] = request.temperature
        return payload

    def _parse(self, data: dict[str, Any], request: ChatRequest, model: str) -> ChatResponse:
        blocks = data.get("content")
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            raise MalformedResponseError(
                "answered JSON without a content block list; is base_url the Messages API root?"
            )
        texts: list[str] = []
        calls: list[ToolCall] = []
        for i, block in enumerate(blocks):
            if block.get("type") == "text":
                texts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_use":
                call_id = str(block.get("id") or f"toolu_{i}")
                name = str(block.get("name") or "")
                args = block.get("input")
                raw = json.dumps(args)
                if isinstance(args, dict):
                    calls.append(ToolCall(call_id, name, args, raw))
                else:
                    calls.append(ToolCall(call_id, name, {}, raw, f"input of {name} must be a JSON object"))
        usage_raw = data.get("usage")
        if not isinstance(usage_raw, dict):
            usage_raw = {}
        tokens_in = token_count(usage_raw.get("input_tokens"))
        tokens_out = token_count(usage_raw.get("output_tokens"))
        return ChatResponse(
            text="".join(texts),
            tool_calls=calls,
            usage=self.prices.usage(model, tokens_in, tokens_out),
            raw=data,
            finish_reason=data.get("stop_reason"),
        )


def to_anthropic_messages(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """(system prompt, Messages API turns) for common-shape ``messages``."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for m in messages:
        role = m.get("role")
        content = m.get("content")
        if role == "system":
            system.append(str(content or ""))
        elif role == "tool":
            add("user", [{"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": str(content or "")}])
        elif role == "assistant":
            blocks: list[dict[str, Any]] = [{"type": "text", "text": content}] if content else []
            for tc in m.get("tool_calls") or []:
                fn = tc.get("function", {})
                try:
                    args = json.loads(fn.get("arguments") or "{}")
                except json.JSONDecodeError:
                    args = {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": tc["id"],
                        "name": fn.get("name", ""),
                        "input": args if isinstance(args, dict) else {},
                    }
                )
            add("assistant", blocks)
        elif role == "user":
            add("user", [{"type": "text", "text": str(content or "")}])
        else:
            raise ValueError(f"anthropic: unsupported message role {role!r}")
    return "\n\n".join(system), turns
