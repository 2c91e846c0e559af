"""A generated world: files, handbook, HTTP APIs and a clock, all derived from a seed.

A ``World`` is a coherent snapshot. Everything an agent can reach is in
``files`` (a virtual file system of UTF-8 text), ``docs`` (the handbook, read with
``read_doc``) and ``http`` (virtual hosts). ``facts`` holds generator-side
knowledge used to *sample* task parameters (which service had the incident, ...);
graders never read ``facts`` for ground truth, they recompute it from the files and
APIs (see ``envs.tasks``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from envs.http import WorldHttp


def normalize_path(path: str) -> str:
    """World paths are relative: strip whitespace, leading '/' and './'; '..' never resolves."""
    p = (path or "").strip()
    while p.startswith(("./", "/")):
        p = p[2:] if p.startswith("./") else p[1:]
    return p


@dataclass
class World:
    """One seeded snapshot of a simulated company."""

    name: str
    protocol: str
    seed: int
    now: int
    files: dict[str, str]
    docs: dict[str, str]
    http: WorldHttp
    facts: dict[str, Any] = field(default_factory=dict)
    # Extra bytes that define API state not visible in files (e.g. metric series),
    # so that the world hash covers everything an agent can observe.
    api_fingerprint: bytes = b""
    # Entity names (services, hosts, codes, ...) used by the null_names baseline.
    entities: list[str] = field(default_factory=list)
    # Generator knobs the world was built with (recorded for provenance).
    options: dict[str, Any] = field(default_factory=dict)
    # Memo for expensive derived views (e.g. parsed logs), keyed by the caller.
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def world_hash(self) -> str:
        """sha256 over every file, doc and the API fingerprint (stable across processes)."""
        h = hashlib.sha256()
        h.update(f"{self.name}|{self.protocol}|{self.now}\n".encode())
        for path in sorted(self.files):
            data = self.files[path].encode()
            h.update(f"F {path} {len(data)}\n".encode())
            h.update(data)
        for name in sorted(self.docs):
            data = self.docs[name].encode()
            h.update(f"D {name} {len(data)}\n".encode())
            h.update(data)
        h.update(b"A ")
        h.update(self.api_fingerprint)
        return h.hexdigest()

    def list_files(self, prefix: str = "") -> list[str]:
        prefix = normalize_path(prefix)
        if prefix and not prefix.endswith("/") and prefix not in self.files:
            prefix += "/"
        return sorted(p for p in self.files if p.startswith(prefix))

    def file_lines(self, path: str) -> list[str]:
        """The lines of a file (without the trailing empty line), memoised for paging."""
        key = ("lines", path)
        lines: list[str] | None = self.cache.get(key)
        if lines is None:
            lines = self.files[path].split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            self.cache[key] = lines
        return lines

    def base_urls(self) -> dict[str, str]:
        return {host: f"http://{host}" for host in self.http.hosts}

    def summary_lines(self) -> Iterable[str]:
        yield f"world: {self.name} (protocol {self.protocol}, seed {self.seed})"
        yield f"clock: now={self.now}"
        total = sum(len(v.encode()) for v in self.files.values())
        yield f"files: {len(self.files)} ({total:,} bytes)"
        for path in sorted(self.files):
            text = self.files[path]
            yield f"  {path}  {len(text.encode()):,} B  {text.count(chr(10)):,} lines"
        yield f"docs: {', '.join(sorted(self.docs))}"
        yield f"http: {', '.join(sorted(self.base_urls().values()))}"
