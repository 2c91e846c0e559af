"""World access: the one gateway through which agents *and tools* reach a world.

``WorldAccess`` implements the built-in affordances as Python functions returning
plain, JSON-serialisable values (so a sandbox can forward them over a pipe later).
The env formats them as observations for agents (``envs.affordances``); tools call
them through ``envs.toolkit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from envs.http import Session
from envs.world import World, normalize_path

ALL_AFFORDANCES = ("http_get", "http_post", "list_files", "read_file", "read_doc")


class AccessError(Exception):
    """A request the world refuses (unknown path, method not allowed, ...)."""


@dataclass(frozen=True)
class AccessPolicy:
    """Which affordances are available (protocol arise_v1 allows GET only)."""

    allowed: tuple[str, ...] = ALL_AFFORDANCES

    def check(self, name: str) -> None:
        if name not in self.allowed:
            raise AccessError(f"{name} is not available in this setting; available: {', '.join(self.allowed)}")


class WorldAccess:
    """Affordance functions bound to one world (and, optionally, loopback URLs)."""

    def __init__(self, world: World, policy: AccessPolicy | None = None, privileged: bool = False) -> None:
        """``privileged`` access (ground truth only) bypasses API rate limits and auth."""
        self.world = world
        self.policy = policy or AccessPolicy()
        self.privileged = privileged
        self.session = Session()  # this access's own HTTP counters (one episode)
        self.calls = 0

    # -- HTTP -----------------------------------------------------------------
    def http_get(
        self, url: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """GET ``url``; returns ``{"status", "headers", "body"}`` (body as text)."""
        self.policy.check("http_get")
        return self._request("GET", url, params=params, headers=headers)

    def http_post(self, url: str, json: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """POST a JSON body to ``url``; returns ``{"status", "headers", "body"}``."""
        self.policy.check("http_post")
        return self._request("POST", url, headers=headers, json_body=json)

    def _request(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
    ) -> dict[str, Any]:
        self.calls += 1
        if not isinstance(url, str) or not url:
            raise AccessError("url must be a non-empty string like 'http://<host>/<path>'")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AccessError(f"url {url!r} is not an absolute http URL; hosts in this world: {self._hosts()}")
        if parts.scheme == "https":  # the world's services speak plain HTTP; models often write https
            url = "http" + url[len("https") :]
        if params is not None and not isinstance(params, dict):
            raise AccessError("params must be an object of query parameters")
        if headers is not None and not isinstance(headers, dict):
            raise AccessError("headers must be an object of header names to values")
        clean_params = {str(k): str(v) for k, v in (params or {}).items()}
        clean_headers = {str(k): str(v) for k, v in (headers or {}).items()}
        try:
            resp = self.world.http.request(
                method,
                url,
                params=clean_params or None,
                headers=clean_headers,
                json_body=json_body,
                session=self.session,
                privileged=self.privileged,
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError, TypeError) as exc:
            raise AccessError(f"cannot request {url!r}: {exc}") from None
        shown = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
        return {"status": resp.status_code, "headers": shown, "body": resp.content.decode("utf-8", "replace")}

    def _hosts(self) -> str:
        return ", ".join(f"http://{h}" for h in sorted(self.world.http.hosts))

    # -- files and docs -------------------------------------------------------
    def list_files(self, path: str = "") -> list[str]:
        """Paths of world files under ``path`` (a directory prefix; '' = all)."""
        self.policy.check("list_files")
        self.calls += 1
        return self.world.list_files(path)

    def read_file(self, path: str) -> str:
        """The whole text of a world file."""
        self.policy.check("read_file")
        self.calls += 1
        key = normalize_path(path)
        try:
            return self.world.files[key]
        except KeyError:
            near = [p for p in self.world.files if p.rsplit("/", 1)[0] == key.rsplit("/", 1)[0]][:8]
            hint = f"; files in that directory: {', '.join(near)}" if near else "; use list_files to see what exists"
            raise AccessError(f"no such file: {path!r}{hint}") from None

    def read_doc(self, name: str = "") -> str:
        """A handbook page by name (e.g. 'logging'); '' lists the pages."""
        self.policy.check("read_doc")
        self.calls += 1
        key = (name or "").strip().removeprefix("docs/").removesuffix(".md")
        if not key:
            return "Handbook pages: " + ", ".join(sorted(self.world.docs))
        try:
            return self.world.docs[key]
        except KeyError:
            raise AccessError(f"no handbook page {name!r}; pages: {', '.join(sorted(self.world.docs))}") from None
