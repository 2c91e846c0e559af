"""A fault-injecting LLM endpoint on loopback, speaking OpenAI Chat Completions and Anthropic Messages.

``FaultServer(faults)`` answers each POST with the next entry of ``faults`` (then
``default``): a fault name from ``FAULTS`` or "ok". Good answers are minimal valid
completions of the protocol the path asks for (``/v1/chat/completions`` or
``/v1/messages``), so the same server exercises both clients. Real sockets, real HTTP:
what the clients' transport code meets in the field (trickled bytes, dropped connections,
bodies that are not what the headers promise).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = (
    "ok",
    "http_500",
    "http_429_retry_after",  # 429 with Retry-After: 7
    "drop",  # close the connection without an answer
    "trickle",  # a valid answer, one byte every 0.2 s
    "stall",  # headers, then nothing for 30 s
    "html_200",  # a proxy's HTML page with status 200
    "truncated_json",  # a 200 whose JSON body is cut short
    "provider_error_200",  # the provider's error object with status 200 (Anthropic's overloaded_error)
    "usage_na",  # usage counts as strings: "n/a" and "12.5"
    "usage_missing",  # no usage at all
    "length",  # finish_reason length / stop_reason max_tokens
    "huge",  # a 1 MB answer
    "context_overflow",  # 400 context_length_exceeded
    "bad_gzip",  # 200 with content-encoding gzip and a body that is not gzip
)
HUGE_ANSWER = "0123456789abcdef" * 65536  # 1 MiB


class FaultServer:
    """``author``: the fault for every request of the tool author (the evolution pipeline, told
    apart by its system prompt), instead of the queue; None = no difference."""

    def __init__(self, faults: Iterable[str] = (), default: str = "ok", author: str | None = None) -> None:
        for name in [*faults, default, *([author] if author else [])]:
            if name not in FAULTS:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        self.faults = list(faults)
        self.default = default
        self.author = author
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                with server._lock:
                    server.requests.append({"path": self.path, "body": body})
                    if server.author is not None and _from_author(body):
                        fault = server.author
                    else:
                        fault = server.faults.pop(0) if server.faults else server.default
                server._answer(self, fault)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- answers -------------------------------------------------------------------------
    def _answer(self, h: BaseHTTPRequestHandler, fault: str) -> None:
        anthropic = h.path.endswith("/messages")
        if fault == "drop":
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        if fault == "context_overflow":
            msg = b'{"error": {"code": "context_length_exceeded", "message": "maximum context length is 2048"}}'
            return _send(h, 400, msg)
        if fault == "bad_gzip":
            return _send(h, 200, b"this is not gzip", {"content-encoding": "gzip"})
        if fault == "http_500":
            return _send(h, 500, b'{"error": {"message": "internal"}}')
        if fault == "http_429_retry_after":
            return _send(h, 429, b'{"error": {"message": "slow down"}}', {"retry-after": "7"})
        if fault == "html_200":
            return _send(h, 200, b"<html><body>502 Bad Gateway</body></html>", ctype="text/html")
        if fault == "provider_error_200":
            err = (
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                if anthropic
                else {"error": {"type": "server_error", "message": "The server had an error"}}
            )
            return _send(h, 200, json.dumps(err).encode())
        good = json.dumps(_completion(anthropic, fault)).encode()
        if fault == "truncated_json":
            return _send(h, 200, good[: len(good) // 2])
        if fault == "trickle":
            h.send_response(200)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(good)))
            h.end_headers()
            for i in range(len(good)):
                try:
                    h.wfile.write(good[i : i + 1])
                    h.wfile.flush()
                except OSError:
                    return
                time.sleep(0.2)
            return
        if fault == "stall":
            h.send_response(200)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(good)))
            h.end_headers()
            h.wfile.flush()
            time.sleep(30)
            return
        _send(h, 200, good)


def _from_author(body: dict[str, Any]) -> bool:
    from evolution import prompts

    system = body.get("system")  # Anthropic
    if system is None:
        messages = body.get("messages") or [{}]
        system = messages[0].get("content") if messages[0].get("role") == "system" else ""
    return isinstance(system, str) and system.startswith(prompts.SYSTEM[:60])


def _completion(anthropic: bool, fault: str) -> dict[str, Any]:
    usage_in: Any = 11
    usage_out: Any = 3
    if fault == "usage_na":
        usage_in, usage_out = "n/a", "12.5"
    cut = fault == "length"
    text = "partial" if cut else HUGE_ANSWER if fault == "huge" else "42"
    if anthropic:
        data: dict[str, Any] = {
            "type": "message",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "max_tokens" if cut else "end_turn",
            "usage": {"input_tokens": usage_in, "output_tokens": usage_out},
        }
    else:
        data = {
            "choices": [
                {
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "length" if cut else "stop",
                }
            ],
            "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out},
        }
    if fault == "usage_missing":
        del data["usage"]
    return data


def _send(
    h: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    ctype: str = "application/json",
) -> None:
    h.send_response(status)
    h.send_header("content-type", ctype)
    h.send_header("content-length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)
