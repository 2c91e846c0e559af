"""OpenAI-compatible Chat Completions (OpenAI, vLLM, Ollama, llama.cpp server, OpenRouter, ...).

``native_tools=True`` sends tools as ``{"type": "function", "function": spec}`` and reads
``message.tool_calls``. ``native_tools=False`` is for servers without tool calling: the
tools are described in the system prompt and the model replies with one JSON action
``{"tool": name, "arguments": {...}}`` (anything else is its final answer); tool calls
and results in the transcript are rendered as text for it.

Options for local servers (docs/local_models.md):

* ``fold_system_prompt``: the system prompt becomes the head of the first user message, for chat
  templates without a system role (Gemma's drops it, tool list included).
* ``request_options``: per role (``agent``, ``tool_author``), passed through to the payload:
  ``tool_choice``, ``stop`` and ``response_format``. ``response_format: actions`` sends, in
  JSON-action mode (``native_tools=false`` or after the tool probe fell back), the JSON schema of
  one action, ``{"tool": <a tool offered>, "arguments": {...}}`` or ``{"answer": ...}``, so a server
  with constrained decoding (llama.cpp, vLLM, Ollama) only lets the model write well-formed actions;
  the answer is then unwrapped as the final answer. ``actions_json_object`` is the same schema in
  the form llama-cpp-python's server takes. In native mode it is not sent.
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
# The final-answer form when ``response_format: actions`` forces every reply to be a JSON object.
ACTIONS_INSTRUCTIONS = (
    "Every reply must be one JSON object: to call a tool, "
    '{{"tool": "<tool name>", "arguments": {{...}}}}; when you have the final answer, {{"answer": <the answer>}}.\n'
    "Tools (JSON schemas):\n{tools}"
)
# Options passed through per role, and what each accepts.
REQUEST_OPTIONS = {
    "tool_choice": '"auto", "none", "required" or {"type": "function", "function": {"name": ...}}',
    "response_format": (
        '"actions", "actions_json_object", {"type": "json_object"} or {"type": "json_schema", "json_schema": {...}}'
    ),
    "stop": "a string or a list of up to 4 strings",
}
ROLES = ("agent", "tool_author")
# The JSON schema of one action, as the standard json_schema (OpenAI, vLLM, Ollama, llama.cpp's server)
# or as llama-cpp-python's server takes it ({"type": "json_object", "schema": ...}; it refuses json_schema).
ACTION_FORMATS = ("actions", "actions_json_object")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.DOTALL)


class OpenAIChat(HttpBackend):
    """Chat Completions at ``{base_url}/chat/completions`` (``base_url`` includes ``/v1``)."""

    name = "openai"

    def __init__(
        self,
        *,
        native_tools: bool = True,
        send_meta: bool = False,
        fold_system_prompt: bool = False,
        request_options: dict[str, dict[str, Any]] | None = None,
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
        self.fold_system_prompt = fold_system_prompt
        self.request_options = check_request_options(request_options or {}, native_tools)

    @property
    def adapter_version(self) -> str:  # type: ignore[override]
        """Names how requests are rendered (part of replay keys): a change of mode is another request."""
        version = "openai-1" + ("" if self.native_tools else "-jsontext")
        return version + ("-foldsys" if self.fold_system_prompt else "")

    def use_json_actions(self) -> None:
        """Switch to JSON actions (a server that ignores native tool calls: agents.llm.server_check)."""
        self.native_tools = False
        self.request_options = check_request_options(self.request_options, native_tools=False)

    def role_options(self, role: str) -> dict[str, Any]:
        """The provider options sent with a request of ``role`` (part of its replay key)."""
        return self.request_options.get(role, {})

    def _endpoint(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        return headers

    def _payload(self, request: ChatRequest, model: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": model}
        options = dict(self.role_options(request.role))
        action_format = options.get("response_format") if options.get("response_format") in ACTION_FORMATS else None
        if action_format is not None:
            del options["response_format"]
        actions = action_format is not None and not self.native_tools  # JSON actions only (native: unused)
        if self.native_tools:
            # content "" rather than null beside tool calls: llama-cpp-python's server refuses null (HTTP 500)
            payload["messages"] = [
                {**m, "content": ""} if m.get("tool_calls") and m.get("content") is None else dict(m)
                for m in request.messages
            ]
            if request.tools:
                payload["tools"] = [{"type": "function", "function": spec} for spec in request.tools]
            else:
                options.pop("tool_choice", None)  # servers reject tool_choice without tools
        else:
            payload["messages"] = fallback_messages(request.messages, request.tools, answer_as_json=actions)
            options.pop("tool_choice", None)  # no native tools to choose among
        if actions:
            options["response_format"] = actions_response_format(request.tools, str(action_format))
        if self.fold_system_prompt:
            payload["messages"] = fold_system(payload["messages"])
        for name, value in request.sampling().items():
            if value is not None:
                payload[name] = value
        payload.update(options)
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
            if not calls and self.role_options(request.role).get("response_format") in ACTION_FORMATS:
                text = unwrap_answer(text)
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


def check_request_options(options: dict[str, Any], native_tools: bool) -> dict[str, dict[str, Any]]:
    """``request_options`` checked: roles, option names and shapes (ValueError naming what is accepted)."""
    if not isinstance(options, dict):
        raise ValueError(f"request_options must map a role ({', '.join(ROLES)}) to options, got {options!r}")
    checked: dict[str, dict[str, Any]] = {}
    for role, opts in options.items():
        if role not in ROLES:
            raise ValueError(f"request_options: unknown role {role!r}; accepted: {', '.join(ROLES)}")
        if opts is None:
            continue
        if not isinstance(opts, dict):
            raise ValueError(f"request_options.{role} must be a mapping of options, got {opts!r}")
        for name, value in opts.items():
            if name not in REQUEST_OPTIONS:
                raise ValueError(
                    f"request_options.{role}: unknown option {name!r}; accepted: {', '.join(REQUEST_OPTIONS)}"
                )
            if value is not None and not _option_ok(name, value, native_tools):
                raise ValueError(f"request_options.{role}.{name}: got {value!r}; accepted: {REQUEST_OPTIONS[name]}")
        if opts.get("response_format") in ACTION_FORMATS and role != "agent":
            raise ValueError(
                f"request_options.{role}.response_format={opts['response_format']} constrains the agent's JSON "
                "actions: set it for role agent"
            )
        checked[str(role)] = {str(k): v for k, v in opts.items() if v is not None}
    return checked


def _option_ok(name: str, value: Any, native_tools: bool) -> bool:
    if name == "tool_choice":
        if value in ("auto", "none", "required"):
            return True
        fn = value.get("function") if isinstance(value, dict) else None
        return isinstance(fn, dict) and value.get("type") == "function" and isinstance(fn.get("name"), str)
    if name == "response_format":
        if value in ACTION_FORMATS:
            return True
        return isinstance(value, dict) and value.get("type") in ("text", "json_object", "json_schema")
    if name == "stop":
        if isinstance(value, str):
            return bool(value)
        return isinstance(value, list) and 0 < len(value) <= 4 and all(isinstance(v, str) and v for v in value)
    return False


def actions_response_format(tools: list[dict[str, Any]], form: str = "actions") -> dict[str, Any]:
    """``response_format`` for one JSON action: a call of an offered tool, or the final answer.

    ``form``: ``actions`` (standard json_schema) or ``actions_json_object`` (llama-cpp-python)."""
    call = {
        "type": "object",
        "properties": {
            "tool": {"type": "string", "enum": [t["name"] for t in tools]},
            "arguments": {"type": "object"},
        },
        "required": ["tool", "arguments"],
    }
    answer = {"type": "object", "properties": {"answer": {}}, "required": ["answer"]}
    schema = {"anyOf": [call, answer]} if tools else answer
    if form == "actions_json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "action", "schema": schema}}


def unwrap_answer(text: str) -> str:
    """The final answer in an ``{"answer": ...}`` reply (JSON text when it is not a string)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return text
    if not isinstance(obj, dict) or "answer" not in obj:
        return text
    answer = obj["answer"]
    return answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)


def fold_system(messages: list[Message]) -> list[Message]:
    """The system message folded into the first user message (templates without a system role)."""
    if not messages or messages[0].get("role") != "system":
        return messages
    system = str(messages[0].get("content") or "")
    rest = [dict(m) for m in messages[1:]]
    for m in rest:
        if m.get("role") == "user":
            m["content"] = f"{system}\n\n{m.get('content') or ''}"
            return rest
    return [{"role": "user", "content": system}, *rest]


# -- JSON-in-text fallback -------------------------------------------------------------------
def fallback_messages(
    messages: list[Message], tools: list[dict[str, Any]], answer_as_json: bool = False
) -> list[Message]:
    """``messages`` for a server without tool calling: tools in the system prompt, calls as text.

    ``answer_as_json``: the final answer is asked for as ``{"answer": ...}`` (``response_format: actions``)."""
    out: list[Message] = []
    if tools:
        template = ACTIONS_INSTRUCTIONS if answer_as_json else FALLBACK_INSTRUCTIONS
        instructions = template.format(tools=json.dumps(tools, indent=1, sort_keys=True))
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
