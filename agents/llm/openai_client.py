"""OpenAI-compatible Chat Completions (OpenAI, vLLM, Ollama, llama.cpp server, OpenRouter, ...).

``native_tools=True`` sends tools as ``{"type": "function", "function": spec}`` and reads
``message.tool_calls``. ``native_tools=False`` is for servers without tool calling: the
tools are described in the system prompt and the model replies with one JSON action
``{"tool": name, "arguments": {...}}`` (anything else is its final answer); tool calls
and results in the transcript are rendered as text for it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agents.llm.base import HttpBackend
from agents.llm.types import ChatRequest, ChatResponse, MalformedResponseError, Message, ToolCall, token_count

FALLBACK_INSTRUCTIONS = (
    "You can call tools. To call one, reply with only a JSON object of the form "
    '{{"tool": "<tool name>", "arguments": {{...}}}} and nothing else; you will then receive its result. '
    "When you have the final answer, reply with the answer itself, not a tool call.\n"
    "Tools (JSON schemas):\n{tools}"
)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.DOTALL)


class OpenAIChat(HttpBackend):
    """Chat Completions at ``{base_url}/chat/completions`` (``base_url`` includes ``/v1``)."""

    name = "openai"
    adapter_version = "openai-1"

    def __init__(
        self,
        *,
        native_tools: bool = True,
        send_meta: bool = False,
        base_url: str = "https://api.openai.com/v1",
        **kwargs: Any,
    ):
        kwargs.setdefault("api_key_env", "OPENAI_API_KEY")
        super().__init__(base_url=base_url, **kwargs)
        self.native_tools = native_tools
        # Only for the simulated model's server (agents.serve_sim): the task context travels as an
        # extra field, ``arise_meta``. Real servers never get it (and may reject unknown fields).
        self.send_meta = send_meta
        self.uses_meta = send_meta
        if not native_tools:
            self.adapter_version += "-jsontext"

    def _endpoint(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        return headers

    def _payload(self, request: ChatRequest, model: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": model}
        if self.native_tools:
            payload["messages"] = [dict(m) for m in request.messages]
            if request.tools:
                payload["tools"] = [{"type": "function", "function": spec} for spec in request.tools]
        else:
            payload["messages"] = fallback_messages(request.messages, request.tools)
        for name, value in request.sampling().items():
            if value is not None:
                payload[name] = value
        if self.send_meta:
            payload["arise_meta"] = request.meta
        return payload

    def _parse(self, data: dict[str, Any], request: ChatRequest, model: str) -> ChatResponse:
        try:
            choice = data["choices"][0]
            message = choice["message"]
            text = message.get("content") or ""
            raw_calls = message.get("tool_calls") or []
            if not isinstance(text, str) or not isinstance(raw_calls, list):
                raise TypeError("content must be a string and tool_calls a list")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise MalformedResponseError(
                f"answered JSON without a usable choices[0].message ({exc!r}); "
                "is this an OpenAI-compatible Chat Completions server?"
            ) from None
        if self.native_tools:
            calls = [_native_call(i, rc) for i, rc in enumerate(raw_calls)]
        else:
            calls = parse_json_action(text)
        usage_raw = data.get("usage")
        if not isinstance(usage_raw, dict):
            usage_raw = {}
        tokens_in = token_count(usage_raw.get("prompt_tokens"))
        tokens_out = token_count(usage_raw.get("completion_tokens"))
        return ChatResponse(
            text=text,
            tool_calls=calls,
            usage=self.prices.usage(model, tokens_in, tokens_out),
            raw=data,
            finish_reason=choice.get("finish_reason"),
        )


def _native_call(index: int, raw: Any) -> ToolCall:
    fn = raw.get("function") if isinstance(raw, dict) else None
    if not isinstance(fn, dict):
        return ToolCall(f"call_{index}", "", {}, json.dumps(raw), f"tool call #{index} has no function: {raw!r}")
    call_id = str(raw.get("id") or f"call_{index}")
    name = str(fn.get("name") or "")
    raw_args = fn.get("arguments")
    if isinstance(raw_args, dict):  # some servers send an object instead of JSON text
        return ToolCall(call_id, name, raw_args, json.dumps(raw_args))
    raw_text = raw_args if isinstance(raw_args, str) else json.dumps(raw_args)
    return _with_arguments(call_id, name, raw_text)


def _with_arguments(call_id: str, name: str, raw_text: str) -> ToolCall:
    if not raw_text.strip():
        return ToolCall(call_id, name, {}, raw_text)
    try:
        args = json.loads(raw_text)
    except json.JSONDecodeError as exc:
        return ToolCall(
            call_id, name, {}, raw_text, f"arguments of {name or 'the tool call'} are not valid JSON: {exc}"
        )
    if not isinstance(args, dict):
        return ToolCall(
            call_id, name, {}, raw_text, f"arguments of {name} must be a JSON object, got {type(args).__name__}"
        )
    return ToolCall(call_id, name, args, raw_text)


# -- JSON-in-text fallback -------------------------------------------------------------------
def fallback_messages(messages: list[Message], tools: list[dict[str, Any]]) -> list[Message]:
    """``messages`` for a server without tool calling: tools in the system prompt, calls as text."""
    out: list[Message] = []
    if tools:
        instructions = FALLBACK_INSTRUCTIONS.format(tools=json.dumps(tools, indent=1, sort_keys=True))
        if messages and messages[0].get("role") == "system":
            out.append({"role": "system", "content": f"{messages[0].get('content') or ''}\n\n{instructions}"})
            messages = messages[1:]
        else:
            out.append({"role": "system", "content": instructions})
    names: dict[str, str] = {}
    for m in messages:
        role = m.get("role")
        if role == "assistant" and m.get("tool_calls"):
            parts = [m["content"]] if m.get("content") else []
            for tc in m["tool_calls"]:
                fn = tc.get("function", {})
                names[tc.get("id", "")] = fn.get("name", "")
                try:
                    args = json.loads(fn.get("arguments") or "{}")
                except json.JSONDecodeError:
                    args = fn.get("arguments")
                parts.append(json.dumps({"tool": fn.get("name"), "arguments": args}))
            out.append({"role": "assistant", "content": "\n".join(parts)})
        elif role == "tool":
            name = names.get(m.get("tool_call_id", ""), "tool")
            out.append({"role": "user", "content": f"Result of {name}:\n{m.get('content', '')}"})
        else:
            out.append({"role": str(role), "content": m.get("content") or ""})
    return out


def parse_json_action(text: str) -> list[ToolCall]:
    """The tool call in a fallback reply (``[]`` when the reply is a final answer)."""
    body = text.strip()
    fence = _FENCE.match(body)
    if fence:
        body = fence.group(1).strip()
    if not body.startswith("{"):
        return []
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as exc:
        if re.search(r'"tool"\s*:', body):
            return [ToolCall("call_0", "", {}, body, f"the JSON tool call is not valid JSON: {exc}")]
        return []
    if not isinstance(obj, dict) or "tool" not in obj:
        return []  # a JSON final answer
    name = obj["tool"]
    args = obj.get("arguments", {})
    raw_args = json.dumps(args)
    if not isinstance(name, str) or not name:
        return [ToolCall("call_0", "", {}, raw_args, f"'tool' must be a tool name, got {name!r}")]
    if not isinstance(args, dict):
        return [ToolCall("call_0", name, {}, raw_args, f"arguments of {name} must be a JSON object")]
    return [ToolCall("call_0", name, args, raw_args)]
