"""The simulated model as an OpenAI-compatible Chat Completions server on loopback.

    python -m agents.serve_sim --port 8765
    python -m experiments.run condition=no_evolution llm=sim-http

Any OpenAI client can talk to it (``base_url=http://127.0.0.1:8765/v1``, any API key):
``POST /v1/chat/completions``, ``GET /v1/models`` and ``GET /v1/models/{id}``. The
request's ``model`` names the profile. The task context the simulator needs travels in
an extra body field ``arise_meta`` (the openai backend sends it with ``send_meta: true``;
the official client with ``extra_body={"arise_meta": ...}``); without it the model knows
no task and answers that it cannot tell.

Streaming. ``stream: true`` is answered with Server-Sent Events
(``content-type: text/event-stream``, chunked transfer encoding, so a keep-alive
connection stays usable; HTTP/1.0 clients get the stream and a closed connection):
``data: {chat.completion.chunk}`` events as OpenAI sends them. Per choice, a first
chunk with ``delta.role = "assistant"``, the text in a few ``delta.content`` pieces,
each tool call as a ``delta.tool_calls`` entry (``index``, ``id``, ``type``,
``function.name``) followed by its ``function.arguments`` in pieces, then a chunk with
an empty delta and the ``finish_reason``. With ``stream_options: {"include_usage":
true}`` every chunk carries ``usage: null`` and a last chunk with empty ``choices``
carries the usage. The stream ends with ``data: [DONE]``. The answer is computed
before the first byte, so every error (validation, unknown model, context overflow)
is a plain JSON error with its status code, never a broken stream.

Errors use the OpenAI shape ``{"error": {"message", "type", "param", "code"}}``. A
body that is not a JSON object, and every field of the wrong type or out of range, is
a 400 ``invalid_request_error`` whose ``param`` names the field (``messages[2].role``,
``tools[0].function.name``, ``temperature``...) and whose message says what is
accepted: ``model`` (required string); ``messages`` (required, a non-empty list of
objects with a ``role`` among system, developer, user, assistant and tool, ``content``
a string or a list of typed parts, required except on an assistant message with
``tool_calls``; a tool message needs a ``tool_call_id``); ``tools`` (a non-empty list
of ``{"type": "function", "function": {"name", "description", "parameters"}}``);
``tool_choice`` (``"none"``, ``"auto"``, ``"required"`` or ``{"type": "function",
"function": {"name"}}`` naming an offered tool; only with ``tools``); ``temperature``
(0 to 2), ``top_p`` (0 to 1), ``presence_penalty`` and ``frequency_penalty`` (-2 to
2), ``max_tokens`` / ``max_completion_tokens`` (integers >= 1), ``seed`` (an integer),
``n`` (1 to 128), ``stream`` and ``parallel_tool_calls`` (booleans),
``stream_options`` (an object, only with ``stream: true``), ``stop`` (a string or up
to 4), ``user`` (a string), ``arise_meta`` (an object). Other fields are ignored.
``tool_choice: "none"`` offers the sim no tools, so it answers in text; ``"required"``
and a named function are accepted, but the sim still decides as it would. ``n`` copies
the (deterministic) answer into n choices. An unknown model is a 404
(``model_not_found``), a context overflow a 400 with code ``context_length_exceeded``,
and a failure inside the sim a 500 ``server_error`` (never a dropped connection).

Concurrency. One thread per connection (``ThreadingHTTPServer``, daemon threads),
HTTP/1.1 keep-alive, and a listen backlog of 1024 (the kernel caps it at
``net.core.somaxconn``). The default backlog of 5 was what lost concurrent clients: with
64 clients connecting at once the accept queue overflowed (``ListenOverflows`` in
``/proc/net/netstat``) and the kernel reset about two thirds of the connections. The
sim backend itself is stateless per request; its caches are filled idempotently.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from agents.llm.types import ChatRequest, ContextLengthError
from agents.sim.backend import SimChat
from agents.sim.profiles import PROFILES

SIM_FINGERPRINT = "arise-gym-sim"  # how results recognise responses of the simulated model
STREAM_PIECES = 4  # a streamed text or tool-call arguments arrive in at most this many deltas
ROLES = ("system", "developer", "user", "assistant", "tool")
PART_TYPES = {  # the content part types each role may send (the sim reads only the text)
    "system": ("text",),
    "developer": ("text",),
    "user": ("text", "image_url", "input_audio", "file"),
    "assistant": ("text", "refusal"),
    "tool": ("text",),
}
TOOL_CHOICES = ("none", "auto", "required")
MAX_N = 128
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
INT64 = (-(2**63), 2**63 - 1)


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog. The default (5) overflowed when many clients connected at once and
    # the kernel reset the connections it could not queue; the kernel caps this at somaxconn.
    request_queue_size = 1024

    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency_s: float = 0.0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the sim server binds loopback only, got host {host!r}")
        super().__init__((host, port), _Handler)
        self.backends = {name: SimChat(profile) for name, profile in PROFILES.items()}
        self.requests_served = 0
        self._lock = threading.Lock()
        if latency_s < 0:
            raise ValueError(f"latency must be >= 0, got {latency_s}")
        self.latency_s = latency_s  # a wait before each answer, like a remote model's (benchmarks)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> SimServer:
        """Serve from a background thread (tests, notebooks): ``with SimServer() as srv: srv.base_url``."""
        threading.Thread(target=self.serve_forever, name="sim-server", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def count(self) -> None:
        with self._lock:
            self.requests_served += 1


class RequestError(Exception):
    """A request the API refuses: an OpenAI-shaped error body with its status code."""

    def __init__(
        self,
        message: str,
        param: str | None = None,
        code: str | None = None,
        status: int = 400,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status, self.kind = message, param, code, status, kind

    def payload(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class Answer:
    """A validated request's answer: the ``chat.completion`` object and how to deliver it."""

    completion: dict[str, Any]
    stream: bool = False
    include_usage: bool = False


# -- validation ---------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _missing(param: str, hint: str = "") -> RequestError:
    return RequestError(f"Missing required parameter: '{param}'{hint}.", param, "missing_required_parameter")


def _wrong_type(param: str, expected: str, value: Any) -> RequestError:
    return RequestError(
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.", param, "invalid_type"
    )


def _supported(param: str, value: Any, allowed: tuple[str, ...]) -> RequestError:
    shown = ", ".join(f"'{a}'" for a in allowed)
    return RequestError(
        f"Invalid value for '{param}': {json.dumps(value)}. Supported values are: {shown}.", param, "invalid_value"
    )


def _number(
    body: dict[str, Any], name: str, lo: float | None = None, hi: float | None = None, integer: bool = False
) -> Any:
    """An optional numeric field (``None`` when absent or null), type- and range-checked."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise _wrong_type(name, "an integer" if integer else "a number", value)
    kind = "integer" if integer else "decimal"
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"Invalid '{name}': expected a finite number, but got {value}.", name, "invalid_value")
    if lo is not None and value < lo:
        raise RequestError(
            f"Invalid '{name}': {kind} below minimum value. Expected a value >= {lo}, but got {value} instead.",
            name,
            f"{kind}_below_min_value",
        )
    if hi is not None and value > hi:
        raise RequestError(
            f"Invalid '{name}': {kind} above maximum value. Expected a value <= {hi}, but got {value} instead.",
            name,
            f"{kind}_above_max_value",
        )
    return value


def _boolean(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise _wrong_type(name, "a boolean", value)
    return value


def _content(value: Any, param: str, role: str) -> None:
    """``content``: a string or a non-empty list of typed parts the role may send."""
    if isinstance(value, str):
        return
    parts = PART_TYPES[role]
    if not isinstance(value, list):
        raise _wrong_type(param, "a string or an array of content parts", value)
    for j, part in enumerate(value):
        where = f"{param}[{j}]"
        if not isinstance(part, dict):
            raise _wrong_type(where, "an object", part)
        if part.get("type") not in parts:
            raise _supported(f"{where}.type", part.get("type"), parts)
        field = part["type"]
        if field in ("text", "refusal") and not isinstance(part.get(field), str):
            raise _wrong_type(f"{where}.{field}", "a string", part.get(field))


def _tool_calls(value: Any, param: str) -> None:
    if not isinstance(value, list):
        raise _wrong_type(param, "an array of tool calls", value)
    for j, call in enumerate(value):
        where = f"{param}[{j}]"
        if not isinstance(call, dict):
            raise _wrong_type(where, "an object", call)
        if not isinstance(call.get("id"), str):
            raise (
                _missing(f"{where}.id")
                if call.get("id") is None
                else _wrong_type(f"{where}.id", "a string", call["id"])
            )
        if call.get("type") != "function":
            raise _supported(f"{where}.type", call.get("type"), ("function",))
        fn = call.get("function")
        if not isinstance(fn, dict):
            raise _missing(f"{where}.function") if fn is None else _wrong_type(f"{where}.function", "an object", fn)
        for key in ("name", "arguments"):
            if not isinstance(fn.get(key), str):
                name = f"{where}.function.{key}"
                raise _missing(name) if fn.get(key) is None else _wrong_type(name, "a string", fn[key])


def _text(content: Any) -> str:
    """Message content as text (the OpenAI API also allows a list of typed parts)."""
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _empty_array(field: str) -> RequestError:
    return RequestError(
        f"Invalid '{field}': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        field,
        "empty_array",
    )


def _messages(value: Any) -> list[dict[str, Any]]:
    if value is None:
        raise _missing("messages")
    if not isinstance(value, list):
        raise _wrong_type("messages", "an array of message objects", value)
    if not value:
        raise _empty_array("messages")
    messages = []
    for i, m in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise _wrong_type(where, "an object with a 'role'", m)
        role = m.get("role")
        if role is None:
            raise _missing(f"{where}.role", f" (one of {', '.join(ROLES)})")
        if role not in ROLES:
            raise _supported(f"{where}.role", role, ROLES)
        content = m.get("content")
        if role == "assistant" and m.get("tool_calls") is not None:
            _tool_calls(m["tool_calls"], f"{where}.tool_calls")
        if content is None:
            if role != "assistant" or not m.get("tool_calls"):
                hint = " (an assistant message needs content or tool_calls)" if role == "assistant" else ""
                raise _missing(f"{where}.content", hint)
        else:
            _content(content, f"{where}.content", role)
        if role == "tool" and not isinstance(m.get("tool_call_id"), str):
            raise (
                _missing(f"{where}.tool_call_id")
                if m.get("tool_call_id") is None
                else _wrong_type(f"{where}.tool_call_id", "a string", m["tool_call_id"])
            )
        if m.get("name") is not None and not isinstance(m["name"], str):
            raise _wrong_type(f"{where}.name", "a string", m["name"])
        messages.append({**m, "content": _text(content)} if content is not None else dict(m))
    return messages


def _tools(value: Any) -> list[dict[str, Any]]:
    """The offered functions (``function`` objects) of a ``tools`` list."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong_type("tools", "an array of tool objects", value)
    if not value:
        raise _empty_array("tools")
    functions = []
    for i, tool in enumerate(value):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise _wrong_type(where, "an object {'type': 'function', 'function': {'name', ...}}", tool)
        if tool.get("type") != "function":
            raise _supported(f"{where}.type", tool.get("type"), ("function",))
        fn = tool.get("function")
        if not isinstance(fn, dict):
            raise _missing(f"{where}.function") if fn is None else _wrong_type(f"{where}.function", "an object", fn)
        name = fn.get("name")
        if name is None:
            raise _missing(f"{where}.function.name")
        if not isinstance(name, str):
            raise _wrong_type(f"{where}.function.name", "a string", name)
        if not TOOL_NAME.fullmatch(name):
            raise RequestError(
                f"Invalid '{where}.function.name': string does not match pattern. Expected a string that matches "
                f"the pattern '^[a-zA-Z0-9_-]{{1,64}}$', but got {name!r}.",
                f"{where}.function.name",
                "invalid_value",
            )
        if fn.get("description") is not None and not isinstance(fn["description"], str):
            raise _wrong_type(f"{where}.function.description", "a string", fn["description"])
        if fn.get("parameters") is not None and not isinstance(fn["parameters"], dict):
            raise _wrong_type(f"{where}.function.parameters", "an object (a JSON schema)", fn["parameters"])
        functions.append(fn)
    return functions


def _tool_choice(value: Any, functions: list[dict[str, Any]]) -> str | None:
    """``tool_choice`` checked against the offered tools; its mode (``None`` when absent)."""
    if value is None:
        return None
    if not functions:
        raise RequestError(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            "tool_choice",
            "invalid_value",
        )
    if isinstance(value, str):
        if value not in TOOL_CHOICES:
            raise _supported("tool_choice", value, TOOL_CHOICES)
        return value
    if not isinstance(value, dict):
        raise _wrong_type("tool_choice", "a string or an object {'type': 'function', 'function': {'name'}}", value)
    if value.get("type") != "function":
        raise _supported("tool_choice.type", value.get("type"), ("function",))
    fn = value.get("function")
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise _missing("tool_choice.function.name")
    offered = [str(f["name"]) for f in functions]
    if fn["name"] not in offered:
        raise _supported("tool_choice.function.name", fn["name"], tuple(offered))
    return "function"


def _stream_options(body: dict[str, Any], stream: bool) -> bool:
    """Whether the stream ends with a usage chunk."""
    options = body.get("stream_options")
    if options is None:
        return False
    if not stream:
        raise RequestError(
            "Invalid value for 'stream_options': 'stream_options' is only allowed when 'stream' is enabled.",
            "stream_options",
            "invalid_value",
        )
    if not isinstance(options, dict):
        raise _wrong_type("stream_options", "an object {'include_usage': bool}", options)
    include = options.get("include_usage")
    if include is not None and not isinstance(include, bool):
        raise _wrong_type("stream_options.include_usage", "a boolean", include)
    return bool(include)


def _stop(value: Any) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise _wrong_type("stop", "a string or an array of strings", value)
    if len(value) > 4:
        raise RequestError(
            f"Invalid 'stop': array too long. Expected an array with maximum length 4, but got {len(value)}.",
            "stop",
            "array_above_max_length",
        )


# -- answering ----------------------------------------------------------------------


def answer(server: SimServer, body: Any) -> Answer:
    """One ``POST /v1/chat/completions`` body: its answer, or a ``RequestError``."""
    if not isinstance(body, dict):
        raise RequestError(f"the body must be a JSON object, got {_json_type(body)}")
    model = body.get("model")
    if model is None:
        raise _missing("model")
    if not isinstance(model, str):
        raise _wrong_type("model", "a string", model)
    messages = _messages(body.get("messages"))
    functions = _tools(body.get("tools"))
    choice = _tool_choice(body.get("tool_choice"), functions)
    temperature = _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    _number(body, "presence_penalty", -2, 2)
    _number(body, "frequency_penalty", -2, 2)
    max_tokens = _number(body, "max_tokens", 1, integer=True)
    max_completion_tokens = _number(body, "max_completion_tokens", 1, integer=True)
    seed = _number(body, "seed", *INT64, integer=True)
    n = _number(body, "n", 1, MAX_N, integer=True) or 1
    stream = bool(_boolean(body, "stream"))
    include_usage = _stream_options(body, stream)
    _boolean(body, "parallel_tool_calls")
    _stop(body.get("stop"))
    if body.get("user") is not None and not isinstance(body["user"], str):
        raise _wrong_type("user", "a string", body["user"])
    meta = body.get("arise_meta")
    if meta is not None and not isinstance(meta, dict):
        raise _wrong_type("arise_meta", "an object (the task context)", meta)
    backend = server.backends.get(model)
    if backend is None:
        raise RequestError(
            f"model {model!r} not found; available: {', '.join(sorted(server.backends))}",
            code="model_not_found",
            status=404,
        )
    request = ChatRequest(
        model=model,
        messages=messages,
        tools=[] if choice == "none" else functions,  # "none": nothing on offer, so it answers in text
        temperature=temperature,
        max_tokens=max_tokens if max_tokens is not None else max_completion_tokens,
        seed=None if seed is None else seed % 2**64,  # the sim's seeds are non-negative; OpenAI's are int64
        meta=meta or {},
    )
    try:
        response = backend.complete(request)
    except ContextLengthError as exc:
        raise RequestError(str(exc), "messages", "context_length_exceeded") from None
    message: dict[str, Any] = {"role": "assistant", "content": response.text or None, "refusal": None}
    if response.tool_calls:
        message["tool_calls"] = [
            {"id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": tc.raw_arguments}}
            for tc in response.tool_calls
        ]
    choices = [
        {"index": i, "message": message, "finish_reason": response.finish_reason, "logprobs": None} for i in range(n)
    ]
    tokens_in, tokens_out = response.usage.tokens_in or 0, (response.usage.tokens_out or 0) * n
    completion = {
        "id": f"chatcmpl-sim-{len(messages)}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "system_fingerprint": SIM_FINGERPRINT,
        "choices": choices,
        "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out},
    }
    return Answer(completion, stream, include_usage)


def _pieces(text: str, parts: int = STREAM_PIECES) -> list[str]:
    """``text`` cut into at most ``parts`` consecutive pieces (none for an empty text)."""
    size = max(1, math.ceil(len(text) / parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream_chunks(completion: dict[str, Any], include_usage: bool = False) -> Iterator[dict[str, Any]]:
    """A ``chat.completion`` as the ``chat.completion.chunk`` objects OpenAI streams for it."""
    head = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}

    def chunk(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        out = {
            **head,
            "object": "chat.completion.chunk",
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        return {**out, "usage": None} if include_usage else out

    for choice in completion["choices"]:
        i, message = choice["index"], choice["message"]
        text = message.get("content") or ""
        yield chunk(i, {"role": "assistant", "content": "" if text else None, "refusal": None})
        for piece in _pieces(text):
            yield chunk(i, {"content": piece})
        for k, call in enumerate(message.get("tool_calls") or []):
            fn = call["function"]
            start = {
                "index": k,
                "id": call["id"],
                "type": "function",
                "function": {"name": fn["name"], "arguments": ""},
            }
            yield chunk(i, {"tool_calls": [start]})
            for piece in _pieces(fn["arguments"]):
                yield chunk(i, {"tool_calls": [{"index": k, "function": {"arguments": piece}}]})
        yield chunk(i, {}, choice["finish_reason"])
    if include_usage:
        yield {**head, "object": "chat.completion.chunk", "choices": [], "usage": completion["usage"]}


# -- HTTP ---------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: SimServer
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: with Nagle's algorithm the body waited for the client's
    # delayed ACK on a kept-alive connection, about 40 ms per answer (55 ms per call over 5 ms of work).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet; the client records everything

    def handle(self) -> None:
        # A client may reset its keep-alive connection between requests (the SDK does after a stream).
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            super().handle()

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            if self.close_connection:
                self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left; nothing to tell it

    def _fail(self, error: RequestError) -> None:
        self._send(error.status, error.payload())

    def _stream(self, events: Iterator[dict[str, Any]]) -> None:
        """Server-Sent Events, chunked (HTTP/1.1: the connection stays usable) or closed after (HTTP/1.0)."""
        chunked = self.request_version != "HTTP/1.0"
        try:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("cache-control", "no-cache")
            if chunked:
                self.send_header("transfer-encoding", "chunked")
            else:
                self.close_connection = True
                self.send_header("connection", "close")
            self.end_headers()
            lines = [json.dumps(e, separators=(",", ":")) for e in events] + ["[DONE]"]
            for line in lines:
                data = f"data: {line}\n\n".encode()
                self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data) if chunked else data)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading the stream

    def _body(self) -> bytes | None:
        """The request body (``content-length`` or chunked); ``None`` after answering a 400."""
        try:
            if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                parts = []
                while size := int(self.rfile.readline(1 << 16).split(b";")[0].strip(), 16):
                    parts.append(self.rfile.read(size))
                    self.rfile.readline(1 << 16)
                while self.rfile.readline(1 << 16).strip():  # trailers, up to the blank line
                    pass
                return b"".join(parts)
            length = int(self.headers.get("content-length") or 0)
            if length < 0:
                raise ValueError(f"negative content-length {length}")
        except ValueError as exc:
            self.close_connection = True  # the rest of the stream cannot be framed
            self._fail(RequestError(f"cannot read the request body: {exc}"))
            return None
        return self.rfile.read(length)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/v1/models":
            models = [_model(name) for name in sorted(PROFILES)]
            self._send(200, {"object": "list", "data": models})
        elif path.startswith("/v1/models/"):
            name = unquote(path.removeprefix("/v1/models/"))
            if name in PROFILES:
                self._send(200, _model(name))
            else:
                available = ", ".join(sorted(PROFILES))
                self._fail(
                    RequestError(f"model {name!r} not found; available: {available}", None, "model_not_found", 404)
                )
        else:
            self._fail(
                RequestError(f"no route GET {self.path}; try POST /v1/chat/completions or GET /v1/models", status=404)
            )

    def do_POST(self) -> None:
        raw = self._body()
        if raw is None:
            return
        if urlsplit(self.path).path.rstrip("/") != "/v1/chat/completions":
            self._fail(RequestError(f"no route POST {self.path}; try POST /v1/chat/completions", status=404))
            return
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._fail(RequestError(f"the body is not valid JSON: {exc}"))
            return
        self.server.count()
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        try:
            result = answer(self.server, body)
        except RequestError as exc:
            self._fail(exc)
            return
        except Exception as exc:  # a bug in the sim: an OpenAI-shaped 500, never a dropped connection
            self._fail(RequestError(f"the simulated model failed: {exc!r}", code=None, status=500, kind="server_error"))
            return
        if result.stream:
            self._stream(stream_chunks(result.completion, result.include_usage))
        else:
            self._send(200, result.completion)


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "arise-gym"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m agents.serve_sim",
        description="Serve the simulated model as an OpenAI-compatible Chat Completions API on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free port)")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="wait this long before each answer, like a remote model (default 0)",
    )
    args = parser.parse_args(argv)
    try:
        server = SimServer(args.host, args.port, latency_s=args.latency_ms / 1000)
    except (ValueError, OSError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"sim models {', '.join(sorted(PROFILES))} at {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
