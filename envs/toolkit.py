"""What a tool sees of the world: the affordance functions.

Tools are plain Python functions. They reach the world only through these five
functions, which forward to the ``WorldAccess`` the tool runner binds for the
duration of a call (a context variable, so concurrent envs do not mix). The
sandbox runner injects functions with the same names and signatures.

Inside a tool::

    from envs.toolkit import read_file, http_get
    text = read_file("logs/acme.log")
    resp = http_get("http://metrics.acme.internal/services")  # {"status", "headers", "body"}
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from envs.access import ALL_AFFORDANCES, WorldAccess

_current: ContextVar[WorldAccess | None] = ContextVar("arise_gym_world_access", default=None)


class NoWorldBound(RuntimeError):
    pass


def _access() -> WorldAccess:
    acc = _current.get()
    if acc is None:
        raise NoWorldBound("tool called outside a tool runner: no world is bound")
    return acc


@contextlib.contextmanager
def bound(access: WorldAccess) -> Iterator[None]:
    """Bind ``access`` as the world for tool calls made inside the block."""
    token = _current.set(access)
    try:
        yield
    finally:
        _current.reset(token)


def http_get(url: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """GET ``url`` (query ``params``); returns {"status": int, "headers": dict, "body": str}."""
    return _access().http_get(url, params=params, headers=headers)


def http_post(url: str, json: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """POST ``json`` as the body to ``url``; returns {"status": int, "headers": dict, "body": str}."""
    return _access().http_post(url, json=json, headers=headers)


def list_files(path: str = "") -> list[str]:
    """Paths of the files under the directory ``path`` ('' lists every file)."""
    return _access().list_files(path)


def read_file(path: str) -> str:
    """The whole text of the file ``path``."""
    return _access().read_file(path)


def read_doc(name: str = "") -> str:
    """The handbook page ``name`` (e.g. 'logging'); '' lists the pages."""
    return _access().read_doc(name)


def api_reference() -> str:
    """The toolkit as prompts document it, rendered from the functions themselves.

    One line per affordance, ``name(arg: type = default, ...) -> type: summary``, in
    ``envs.access.ALL_AFFORDANCES`` order, so a prompt cannot drift from the code.
    """
    lines = []
    for name in ALL_AFFORDANCES:
        fn = globals()[name]
        sig = inspect.signature(fn)  # annotations stay strings (postponed evaluation)
        params = ", ".join(
            f"{p.name}: {p.annotation}" + ("" if p.default is p.empty else f" = {p.default!r}")
            for p in sig.parameters.values()
        )
        summary = (inspect.getdoc(fn) or "").splitlines()[0].replace("``", "`")
        lines.append(f"- {name}({params}) -> {sig.return_annotation}: {summary}")
    return "\n".join(lines)
