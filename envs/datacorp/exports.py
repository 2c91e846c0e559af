"""Rendering DataCorp's generated tables to ``.dc`` exports, with injected malformed records."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs import seeding
from envs.datacorp import dialect
from envs.datacorp.datagen import TABLES, GeneratedTable
from envs.datacorp.dialect import Column, header_lines
from envs.datacorp.vocabulary import pick

# -- rendering with injected malformed records -------------------------------------------

INJECTED_MALFORMATIONS = (
    "missing_field",
    "extra_field",
    "bad_type",
    "null_required",
    "stray_quote",
    "text_after_quote",
)
_BAD_TEXT = {
    "int": ("12a", "1,200", "12.0", "", "0x1F"),
    "ts": ("2024-05-01T10:00:00Z", "-5", "17e8", "yesterday"),
    "decimal": ("12.5", "12,50", "$12.50", "1.234", "NaN"),
    "bool": ("yes", "TRUE", "1", "Y"),
}


def _corrupt(r: np.random.Generator, cols: tuple[Column, ...], fields: list[str], kind: str) -> str | None:
    """One damaged record line, or None when this row cannot take this kind of damage."""
    f = list(fields)
    if kind == "missing_field":
        del f[int(r.integers(len(f)))]
        return "|".join(f)
    if kind == "extra_field":
        f.insert(int(r.integers(len(f) + 1)), pick(r, ("x", "", "0", "N/A")))
        return "|".join(f)
    if kind == "bad_type":
        k = int(r.integers(len(cols)))
        c = cols[k]
        if c.type == "str":
            return None
        if c.type == "enum":
            v = fields[k] if fields[k] in c.values else c.values[0]
            bad = v.upper() if v.upper() != v else v.lower() + "_x"
        else:
            bad = pick(r, _BAD_TEXT[c.type])
        f[k] = bad
        return "|".join(f)
    if kind == "null_required":
        req = [i for i, c in enumerate(cols) if not c.nullable]
        f[req[int(r.integers(len(req)))]] = dialect.NULL
        return "|".join(f)
    strs = [i for i, c in enumerate(cols) if c.type == "str" and fields[i] != dialect.NULL and '"' not in fields[i]]
    if not strs:
        return None
    k = strs[int(r.integers(len(strs)))]
    text = fields[k] or "x"
    if kind == "stray_quote":
        cut = int(r.integers(1, len(text) + 1))
        f[k] = text[:cut] + '"' + text[cut:]
    elif kind == "text_after_quote":
        f[k] = f'"{text}"{pick(r, ("x", " ", "jr", "!"))}'
    else:  # unterminated: only ever used on a file's last record
        f[k] = '"' + text
    return "|".join(f)


def _render_file(
    r: np.random.Generator,
    schema: str,
    cols: tuple[Column, ...],
    rows: list[list[Any]],
    now: int,
    rate: float,
    meta: dict[str, str],
) -> tuple[str, list[str]]:
    """(file text, keys of the damaged rows)."""
    encoders = [dialect.column_encoder(c) for c in cols]
    encoded = [[enc(v) for enc, v in zip(encoders, row, strict=True)] for row in rows]
    lines = ["|".join(f) for f in encoded]
    damaged: list[str] = []
    if rate > 0 and rows:
        single = [i for i, ln in enumerate(lines) if "\n" not in ln]
        k = min(len(single) // 3, int(r.poisson(rate * len(rows))) + 1)
        picks = sorted(int(x) for x in r.choice(single, size=k, replace=False)) if k else []
        for i in picks:
            for _ in range(8):
                text = _corrupt(r, cols, encoded[i], pick(r, INJECTED_MALFORMATIONS))
                if text is not None:
                    lines[i] = text
                    damaged.append(str(rows[i][0]))
                    break
        last = len(lines) - 1
        if last not in picks and "\n" not in lines[last] and r.random() < 0.35:
            text = _corrupt(r, cols, encoded[last], "unterminated")
            if text is not None:
                lines[last] = text
                damaged.append(str(rows[last][0]))
    head = header_lines(schema, cols, now, meta)
    return "\n".join(head + lines) + "\n", damaged


def render_exports(
    seed: int, opts: dict[str, Any], tables: dict[str, GeneratedTable], now: int
) -> tuple[dict[str, str], dict[str, list[str]]]:
    r = seeding.rng(seed, "malformed")
    files: dict[str, str] = {}
    damaged: dict[str, list[str]] = {}
    per = opts["rows_per_part"]
    for name in TABLES:
        t = tables[name]
        damaged[name] = []
        if len(t.rows) <= per:
            text, bad = _render_file(r, name, t.columns, t.rows, now, opts["malformed_rate"], {})
            files[f"{dialect.EXPORT_DIR}/{name}.dc"] = text
            damaged[name].extend(bad)
            continue
        n_parts = -(-len(t.rows) // per)
        for p in range(n_parts):
            chunk = t.rows[p * per : (p + 1) * per]
            meta = {"part": f"{p + 1}/{n_parts}"}
            text, bad = _render_file(r, name, t.columns, chunk, now, opts["malformed_rate"], meta)
            files[f"{dialect.EXPORT_DIR}/{name}/part-{p + 1:03d}.dc"] = text
            damaged[name].extend(bad)
    return files, damaged
