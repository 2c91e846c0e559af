"""The simulated model as an OpenAI-compatible Chat Completions server on loopback.

    python -m agents.serve_sim --port 8765
    python -m experiments.run condition=no_evolution llm=sim-http

Any OpenAI client can talk to it (``base_url=http://127.0.0.1:8765/v1``, any API key).
The request's ``model`` names the profile (``GET /v1/models`` lists them). The task
context the simulator needs travels in an extra body field ``arise_meta`` (the openai
backend sends it with ``send_meta: true``; the official client with
``extra_body={"arise_meta": ...}``); without it the model knows no task and answers
that it cannot tell. Errors use the OpenAI error shape: a body that is not JSON or
lacks ``messages`` is a 400, an unknown model a 404, a context overflow a 400 with
code ``context_length_exceeded``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agents.llm.types import ChatRequest, ContextLengthError
from agents.sim.backend import SimChat
from agents.sim.profiles import PROFILES

SIM_FINGERPRINT = "arise-gym-sim"  # how results recognise responses of the simulated model


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default listen backlog (5) refused concurrent clients

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


def _error(
    status: int, message: str, code: str | None = None, kind: str = "invalid_request_error"
) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _text(content: Any) -> str:
    """Message content as text (the OpenAI API also allows a list of typed parts)."""
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def handle_chat(server: SimServer, body: Any) -> tuple[int, dict[str, Any]]:
    """One ``POST /v1/chat/completions``: (status, JSON body)."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return _error(400, "the body must be a JSON object with a 'messages' list")
    model = str(body.get("model") or "")
    backend = server.backends.get(model)
    if backend is None:
        return _error(
            404, f"model {model!r} not found; available: {', '.join(sorted(server.backends))}", "model_not_found"
        )
    messages = []
    for m in body["messages"]:
        if not isinstance(m, dict) or "role" not in m:
            return _error(400, "each message must be an object with a 'role'")
        msg = {**m, "content": _text(m.get("content"))} if m.get("content") is not None else dict(m)
        messages.append(msg)
    tools = []
    for t in body.get("tools") or []:
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(fn, dict) or not fn.get("name"):
            return _error(
                400, "each tool must be {'type': 'function', 'function': {'name', 'description', 'parameters'}}"
            )
        tools.append(fn)
    meta = body.get("arise_meta") or {}
    if not isinstance(meta, dict):
        return _error(400, "'arise_meta' must be an object")
    seed = body.get("seed")
    request = ChatRequest(
        model=model,
        messages=messages,
        tools=tools,
        temperature=body.get("temperature"),
        max_tokens=body.get("max_tokens"),
        seed=int(seed) if isinstance(seed, int) else None,
        meta=meta,
    )
    try:
        response = backend.complete(request)
    except ContextLengthError as exc:
        return _error(400, str(exc), "context_length_exceeded")
    message: dict[str, Any] = {"role": "assistant", "content": response.text or None}
    if response.tool_calls:
        message["tool_calls"] = [
            {"id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": tc.raw_arguments}}
            for tc in response.tool_calls
        ]
    usage = response.usage
    return 200, {
        "id": f"chatcmpl-sim-{len(messages)}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "system_fingerprint": SIM_FINGERPRINT,
        "choices": [{"index": 0, "message": message, "finish_reason": response.finish_reason, "logprobs": None}],
        "usage": {
            "prompt_tokens": usage.tokens_in,
            "completion_tokens": usage.tokens_out,
            "total_tokens": (usage.tokens_in or 0) + (usage.tokens_out or 0),
        },
    }


class _Handler(BaseHTTPRequestHandler):
    server: SimServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet; the client records everything

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            models = [{"id": n, "object": "model", "created": 0, "owned_by": "arise-gym"} for n in sorted(PROFILES)]
            self._send(200, {"object": "list", "data": models})
        else:
            self._send(*_error(404, f"no route GET {self.path}; try POST /v1/chat/completions or GET /v1/models"))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(*_error(404, f"no route POST {self.path}; try POST /v1/chat/completions"))
            return
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._send(*_error(400, f"the body is not valid JSON: {exc}"))
            return
        self.server.count()
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        self._send(*handle_chat(self.server, body))


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
