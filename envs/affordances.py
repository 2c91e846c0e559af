"""The built-in affordances as the agent sees them: tool schemas and observation text.

Each method's signature and docstring are its schema (``envs.tools.tool_spec``);
``WorldAccess`` does the work, this module only formats results for an LLM.
"""

from __future__ import annotations

from typing import Any

from envs.access import WorldAccess
from envs.tools import ToolSpec, tool_spec
from envs.world import normalize_path


def _format_http(resp: dict[str, Any]) -> str:
    head = [f"HTTP {resp['status']}"] + [f"{k}: {v}" for k, v in sorted(resp["headers"].items())]
    return "\n".join(head) + "\n\n" + resp["body"]


class Affordances:
    """Agent-facing affordances over one ``WorldAccess``."""

    def __init__(self, access: WorldAccess, page_lines: int = 100) -> None:
        self.access = access
        self.page_lines = page_lines

    def http_get(self, url: str, params: dict | None = None, headers: dict | None = None) -> str:  # type: ignore[type-arg]
        """Send an HTTP GET request to one of the world's APIs.

        Args:
            url: Absolute URL, e.g. http://<host>/<path>.
            params: Query parameters as an object.
            headers: Extra request headers as an object.
        """
        return _format_http(self.access.http_get(url, params=params, headers=headers))

    def http_post(self, url: str, body: Any = None, headers: dict | None = None) -> str:  # type: ignore[type-arg]
        """Send an HTTP POST request with a JSON body to one of the world's APIs.

        Args:
            url: Absolute URL, e.g. http://<host>/<path>.
            body: The JSON request body.
            headers: Extra request headers as an object.
        """
        return _format_http(self.access.http_post(url, json=body, headers=headers))

    def list_files(self, path: str = "") -> str:
        """List the world's files under a directory, with sizes and line counts.

        Args:
            path: Directory prefix such as 'logs/' ('' lists everything).
        """
        paths = self.access.list_files(path)
        if not paths:
            return f"no files under {path!r}"
        world = self.access.world
        return "\n".join(
            f"{p}\t{len(world.files[p].encode()):,} bytes\t{len(world.file_lines(p)):,} lines" for p in paths
        )

    def read_file(self, path: str, offset: int = 0, limit: int = 100) -> str:
        """Read a page of lines from a world file.

        Args:
            path: File path as shown by list_files.
            offset: Index of the first line to return (0-based).
            limit: Maximum number of lines to return (at most 500).
        """
        if offset < 0:
            raise ValueError("offset must be >= 0")
        if not 1 <= limit <= 500:
            raise ValueError("limit must be between 1 and 500")
        self.access.read_file(path)  # policy check, counting and the clear not-found error
        lines = self.access.world.file_lines(normalize_path(path))
        end = min(offset + limit, len(lines))
        more = f"; next offset={end}" if end < len(lines) else "; end of file"
        header = f"[{path}: lines {offset}-{end - 1} of {len(lines)}{more}]"
        if offset >= len(lines):
            return f"[{path}: offset {offset} is past the end ({len(lines)} lines)]"
        return header + "\n" + "\n".join(lines[offset:end])

    def read_doc(self, name: str = "") -> str:
        """Read a page of the world's handbook.

        Args:
            name: Page name such as 'logging' ('' lists the pages).
        """
        return self.access.read_doc(name)

    def specs(self, names: tuple[str, ...]) -> list[ToolSpec]:
        return [tool_spec(getattr(self, n), n) for n in names]

    def call(self, name: str, args: dict[str, Any]) -> str:
        return str(getattr(self, name)(**args))
