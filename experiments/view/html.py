"""HTML building blocks of the viewer's pages: the page shell, escaping, tables, long text.

Pages are written by Python as finished HTML (they render without scripts); ``assets/app.js``
adds the filterable tables and loads each job's episode rows lazily from ``data/<job>.js``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

# Long observations are cut for the page (the record keeps them whole): most of the size of a
# sweep's records is file listings and log pages the agent read, which a reader skims.
TEXT_HEAD = 1500
TEXT_TAIL = 300


def esc(value: Any) -> str:
    return escape(str(value), quote=True)


def clip(text: str, where: str) -> str:
    """``text`` as a <pre>, cut in the middle when longer than the page shows (saying so and where
    the whole text is)."""
    if len(text) <= TEXT_HEAD + TEXT_TAIL + 200:
        return f"<pre>{esc(text)}</pre>"
    cut = len(text) - TEXT_HEAD - TEXT_TAIL
    return (
        f'<pre>{esc(text[:TEXT_HEAD])}<span class="cut">\n[... {cut:,} characters not shown; '
        f"the whole text is in {esc(where)} ...]\n</span>{esc(text[-TEXT_TAIL:])}</pre>"
    )


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return as_json(value).replace("</", "<\\/")


def link(href: str, text: Any, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<a href="{esc(href)}"{klass}>{esc(text)}</a>'


def badge(ok: bool | None, yes: str = "success", no: str = "failure") -> str:
    if ok is None:
        return '<span class="badge">-</span>'
    return f'<span class="badge {"ok" if ok else "bad"}">{yes if ok else no}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def kv_table(items: Iterable[tuple[str, str]], cls: str = "kv") -> str:
    """Two columns: escaped key, already-escaped value."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in items)
    return f'<table class="{cls}"><tbody>{body}</tbody></table>'


def page(title: str, body: str, depth: int, scripts: Sequence[str] = (), crumbs: Sequence[tuple[str, str]] = ()) -> str:
    """A whole page. ``depth``: how many directories below the site root it lives (for relative links,
    so the site opens from disk and from any server path)."""
    up = "../" * depth
    nav = " / ".join([link(up + "index.html", "runs"), *(link(up + h, t) if h else esc(t) for t, h in crumbs)])
    tags = "".join(f'<script src="{esc(up + s)}"></script>' for s in scripts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)} - arise-gym viewer</title>"
        f'<link rel="stylesheet" href="{up}assets/style.css">'
        f'<script src="{up}assets/app.js"></script>{tags}</head>'
        f'<body data-root="{up}"><nav>{nav}</nav><main><h1>{esc(title)}</h1>{body}</main></body></html>\n'
    )
