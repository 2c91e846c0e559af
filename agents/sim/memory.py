"""What the simulated model has seen of the world, and nothing more.

``ObservedWorld`` is rebuilt from the transcript: every affordance call the model made
and the observation text it got back. It answers the same five affordance functions a
tool uses (``envs.toolkit``), so the model can run its built-in knowledge of a format
("in-context reasoning") over exactly the data it read. Anything it has not read
raises ``NeedData`` naming the affordance call that would fetch it; the model then
makes that call for real (one env step) or, out of steps, reasons over what it has.

It also measures how much raw data the reasoning consumed (plain and base64), which is
what makes in-context answers less reliable than tool calls.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from envs.access import AccessError
from envs.world import normalize_path

_PAGE_HEAD = re.compile(r"^\[(?P<path>.+?): lines (?P<a>\d+)-(?P<b>-?\d+) of (?P<n>\d+);[^\]]*\]$")
_PAST_END = re.compile(r"^\[(?P<path>.+?): offset \d+ is past the end \((?P<n>\d+) lines\)\]$")
_TRUNCATED = re.compile(r"\n\.\.\.\[truncated \d+ characters\]$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]{64,}$")


class NeedData(BaseException):
    """The reasoning needs data not yet observed: ``(tool, call_args)`` would fetch it.

    A ``BaseException`` so that tools' broad ``except Exception`` clauses cannot swallow it.
    """

    def __init__(self, tool: str, args: dict[str, Any]) -> None:
        super().__init__(f"{tool}({json.dumps(args, sort_keys=True)})")
        self.tool, self.call_args = tool, args


def _canonical(value: Any) -> str:
    return json.dumps(value or {}, sort_keys=True, ensure_ascii=False)


def http_key(method: str, url: str, params: Any = None, headers: Any = None, body: Any = None) -> str:
    if url.startswith("https://"):
        url = "http://" + url[len("https://") :]
    return f"{method} {url} {_canonical(params)} {_canonical(headers)} {_canonical(body)}"


@dataclass
class _File:
    n_lines: int | None = None
    lines: dict[int, str] = field(default_factory=dict)

    def first_missing(self) -> int:
        i = 0
        while i in self.lines:
            i += 1
        return i

    def complete(self) -> bool:
        return self.n_lines is not None and len(self.lines) >= self.n_lines


@dataclass
class ObservedWorld:
    """The world as observed through affordance calls (a duck-typed ``WorldAccess``)."""

    page_lines: int = 100
    partial: bool = False  # out of steps: reason over what was read instead of asking for more
    files: dict[str, _File] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # call key -> error text the model saw
    listings: dict[str, list[str]] = field(default_factory=dict)
    http: dict[str, dict[str, Any]] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)
    read_chars: int = 0  # raw data consumed by reasoning
    encoded_chars: int = 0  # of which base64 the model decoded in its head

    # -- recording observations ----------------------------------------------------
    def observe(self, tool: str, args: dict[str, Any], observation: str) -> None:
        """Remember what an affordance call returned."""
        key = self._key(tool, args)
        if observation.startswith("Error"):
            self.errors[key] = observation.removeprefix("Error: ")
            return
        self.errors.pop(key, None)
        if tool == "read_file":
            self._observe_page(normalize_path(str(args.get("path", ""))), observation)
        elif tool == "list_files":
            if not observation.startswith("no files under"):
                self.listings[key] = [ln.split("\t", 1)[0] for ln in observation.splitlines() if ln.strip()]
            else:
                self.listings[key] = []
        elif tool in ("http_get", "http_post"):
            self.http[key] = _parse_http(observation)
        elif tool == "read_doc":
            self.docs[key] = observation

    def _observe_page(self, path: str, text: str) -> None:
        head, _, body = text.partition("\n")
        f = self.files.setdefault(path, _File())
        past = _PAST_END.match(head)
        if past:
            f.n_lines = int(past.group("n"))
            return
        m = _PAGE_HEAD.match(head)
        if not m:
            return
        f.n_lines = int(m.group("n"))
        truncated = _TRUNCATED.search(body)
        lines = body[: truncated.start()].split("\n") if truncated else body.split("\n")
        if truncated and lines:
            lines.pop()  # the last line shown was cut mid-way
        start = int(m.group("a"))
        for i, line in enumerate(lines[: int(m.group("b")) - start + 1]):
            f.lines[start + i] = line

    @staticmethod
    def _key(tool: str, args: dict[str, Any]) -> str:
        if tool in ("http_get", "http_post"):
            method = "GET" if tool == "http_get" else "POST"
            return http_key(method, str(args.get("url", "")), args.get("params"), args.get("headers"), args.get("body"))
        if tool == "read_file":
            return f"read_file {normalize_path(str(args.get('path', '')))}"
        if tool == "list_files":
            return f"list_files {normalize_path(str(args.get('path', '')))}"
        return f"{tool} {_canonical(args)}"

    # -- the affordances, as tools call them -----------------------------------------
    def read_file(self, path: str) -> str:
        key = normalize_path(path)
        if f"read_file {key}" in self.errors:
            raise AccessError(self.errors[f"read_file {key}"])
        f = self.files.get(key)
        if f is not None and (f.complete() or (self.partial and f.lines)):
            n = f.first_missing()
            text = "\n".join(f.lines[i] for i in range(n)) + "\n"
            self.read_chars += len(text)
            return text
        offset = f.first_missing() if f is not None else 0
        raise NeedData("read_file", {"path": path, "offset": offset, "limit": self.page_lines})

    def list_files(self, path: str = "") -> list[str]:
        prefix = normalize_path(path) if path else ""
        key = f"list_files {prefix}"
        if key in self.errors:
            raise AccessError(self.errors[key])
        if key in self.listings:
            return list(self.listings[key])
        if prefix and "list_files " in self.listings:  # a full listing covers every prefix
            return [p for p in self.listings["list_files "] if p.startswith(prefix)]
        raise NeedData("list_files", {"path": path})

    def http_get(self, url: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        args: dict[str, Any] = {"url": url}
        if params:
            args["params"] = params
        if headers:
            args["headers"] = headers
        return self._http("http_get", args)

    def http_post(self, url: str, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        args: dict[str, Any] = {"url": url, "body": json}
        if headers:
            args["headers"] = headers
        return self._http("http_post", args)

    def _http(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        key = self._key(tool, args)
        if key in self.errors:
            raise AccessError(self.errors[key])
        resp = self.http.get(key)
        if resp is None or (resp["status"] == 429 and not self.partial):
            raise NeedData(tool, args)  # not seen yet, or rate-limited: (re)issue the request
        body = resp["body"]
        self.read_chars += len(body)
        if _BASE64.match(body):
            self.encoded_chars += len(body)
        return dict(resp)

    def read_doc(self, name: str = "") -> str:
        key = self._key("read_doc", {"name": name})
        if key in self.errors:
            raise AccessError(self.errors[key])
        if key not in self.docs:
            raise NeedData("read_doc", {"name": name})
        return self.docs[key]


def _parse_http(text: str) -> dict[str, Any]:
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        status = 0
    headers = {}
    for ln in lines[1:]:
        k, sep, v = ln.partition(": ")
        if sep:
            headers[k] = v
    return {"status": status, "headers": headers, "body": body}
