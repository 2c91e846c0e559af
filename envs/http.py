"""The world's HTTP services: respx routers behind one httpx transport, and a loopback server.

A world registers each of its APIs as a *virtual host* (``metrics.acme.internal``)
with a ``respx.MockRouter`` whose routes produce ``httpx.Response`` objects. The same
routers serve two ways, with the same bytes:

* in-process: ``WorldHttp.transport`` is an ``httpx.MockTransport`` over the routers
  (``WorldHttp.client()`` wraps it in an ``httpx.Client``); the env's affordances call
  the transport directly, which skips ~200 us of client overhead per request;
* over a real socket: ``WorldHttp.serve(host)`` starts a ``ThreadingHTTPServer`` on
  127.0.0.1 with an ephemeral port that feeds every request through the same router.

Per-episode state (request counters for deterministic rate limiting) is counter-based,
never wall-clock based, so runs stay reproducible. Each ``WorldAccess`` carries its own
``Session`` to every request as the ``arise`` request extension, so envs sharing a cached
world never share counters; requests without one (loopback clients) use
``WorldHttp.session``. The extension can also mark a request *privileged* (ground-truth
computation): APIs skip rate limits and auth for it. Agents cannot set extensions, only
URLs, params, headers and bodies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import respx

Handler = Callable[..., httpx.Response]


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """A compact, key-sorted JSON response (stable bytes)."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    hdrs = {"content-type": "application/json"}
    hdrs.update(headers or {})
    return httpx.Response(status, content=body, headers=hdrs)


def error_response(status: int, message: str, **extra: Any) -> httpx.Response:
    return json_response(status, {"error": message, **extra})


@dataclass
class Session:
    """Mutable per-episode HTTP state (request counters)."""

    requests: int = 0
    per_route: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, key: str) -> int:
        with self.lock:
            self.requests += 1
            n = self.per_route.get(key, 0) + 1
            self.per_route[key] = n
            return n


def is_privileged(request: httpx.Request) -> bool:
    """True for ground-truth requests (they bypass rate limits and auth)."""
    return bool(request.extensions.get("arise", {}).get("privileged"))


class _Router(respx.MockRouter):
    """A respx router that keeps no call history: respx records every request and response for
    test assertions, which in a world served for hundreds of episodes grew memory without bound
    (+0.42 MB per episode)."""

    def record(
        self, request: httpx.Request, *, response: httpx.Response | None = None, route: respx.Route | None = None
    ) -> None:
        pass


class VirtualHost:
    """One API of the world: a host name and a respx router of its routes."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.router = _Router(assert_all_called=False, assert_all_mocked=True, base_url=f"http://{host}")
        self._fallback_added = False

    def route(self, method: str, path: str | None = None, path_regex: str | None = None) -> respx.Route:
        if path_regex is not None:
            return self.router.route(method=method, path__regex=path_regex)
        return self.router.route(method=method, path=path)

    def finalize(self) -> None:
        """Add the catch-all 404/405 route (must be the last route)."""
        if not self._fallback_added:
            self.router.route().mock(
                side_effect=lambda request: error_response(
                    404, f"no route for {request.method} {request.url.path}", host=self.host
                )
            )
            self._fallback_added = True


class WorldHttp:
    """All virtual hosts of a world, reachable in-process or over loopback."""

    def __init__(self) -> None:
        self.hosts: dict[str, VirtualHost] = {}
        self.session = Session()
        self.transport = httpx.MockTransport(self._dispatch)
        self._servers: list[_LoopbackServer] = []
        self._lock = threading.Lock()

    def add_host(self, host: str) -> VirtualHost:
        if host in self.hosts:
            raise ValueError(f"virtual host {host!r} already registered")
        vh = VirtualHost(host)
        self.hosts[host] = vh
        return vh

    def reset_session(self) -> None:
        """Reset the shared session (used by requests that carry none, e.g. over loopback)."""
        with self._lock:
            self.session = Session()

    def count_request(self, key: str, request: httpx.Request | None = None) -> int:
        """Increment and return the counter for ``key`` in the request's session (thread-safe)."""
        session = request.extensions.get("arise", {}).get("session") if request is not None else None
        return (session or self.session).count(key)

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        vh = self.hosts.get(request.url.host)
        if vh is None:
            known = ", ".join(sorted(self.hosts)) or "(none)"
            return error_response(502, f"unknown host {request.url.host!r}; this world serves: {known}")
        vh.finalize()
        return vh.router.handler(request)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        session: Session | None = None,
        privileged: bool = False,
    ) -> httpx.Response:
        """Send one request in-process (fast path, no httpx.Client)."""
        content = None
        hdrs = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
            hdrs.setdefault("content-type", "application/json")
        ext = {"arise": {"session": session, "privileged": privileged}}
        req = httpx.Request(method, url, params=params, headers=hdrs, content=content, extensions=ext)
        resp = self.transport.handle_request(req)
        resp.read()
        return resp

    def client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` whose requests go to this world in-process."""
        return httpx.Client(transport=self.transport, **kwargs)

    # -- loopback -------------------------------------------------------------
    def serve(self, host: str, port: int = 0) -> str:
        """Serve virtual ``host`` on 127.0.0.1:``port`` (0: an ephemeral port); returns its base URL.
        A port already in use raises OSError."""
        if host not in self.hosts:
            raise KeyError(f"unknown virtual host {host!r}; known: {sorted(self.hosts)}")
        srv = _LoopbackServer(self, host, port)
        self._servers.append(srv)
        return srv.base_url

    def close(self) -> None:
        for srv in self._servers:
            srv.close()
        self._servers.clear()


class _LoopbackServer:
    def __init__(self, http: WorldHttp, host: str, port: int = 0) -> None:
        world_http = http

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall between

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                url = f"http://{host}{parts.path}" + (f"?{parts.query}" if parts.query else "")
                hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                req = httpx.Request(self.command, url, headers=hdrs, content=body)
                resp = world_http.transport.handle_request(req)
                data = resp.read()
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle
            do_PUT = _handle
            do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"loopback-{host}", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
