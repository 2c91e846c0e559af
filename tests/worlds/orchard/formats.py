"""Orchard's formats, shared by the reference tools (the bundler inlines what a tool uses from here)."""

from __future__ import annotations

MARKET = "http://market.orchard.internal"
TREES_PATH = "registry/trees.csv"


def parse_csv(text: str) -> list[dict[str, str]]:
    """Rows of a comma-separated file with a header line (Orchard's files quote nothing)."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return []
    head = lines[0].split(",")
    return [dict(zip(head, line.split(","))) for line in lines[1:]]


def harvest_path(month: str) -> str:
    return f"harvest/{month}.csv"
