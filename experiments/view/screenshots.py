"""PNGs of a built site for the README: the runs index, an episode page and an evolution timeline.

The episode shown is the first failed and classified episode of an evolving job with a short story
(1-8 tool calls), relaxing those wishes in reverse order when no episode meets them all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from experiments.view.browser import file_url, screenshot


def _pick_episode(site: Path) -> Path | None:
    """An instructive episode page: failed, from a job with an evolution page, with calls to library tools."""
    candidates: list[tuple[int, Path]] = []
    for data in sorted((site / "data").glob("*.js")):
        if data.name == "runs.js":
            continue
        slug = data.stem
        text = data.read_text(encoding="utf-8")
        payload = json.loads(text[text.index(",") + 1 : text.rindex(")")])
        cols = payload["columns"]
        evolving = (site / "evolution" / f"{slug}.html").exists()
        for row in payload["rows"]:
            r = dict(zip(cols, row))
            # a failed, classified episode of an evolving job, short enough (1-8 calls) to fit one screen
            rank = (8 if r["success"] else 0) + (0 if evolving else 4) + (0 if r["category"] else 2)
            rank += 0 if 1 <= r["n_calls"] <= 8 else 1
            candidates.append((rank, site / "episodes" / slug / f"{r['key']}.html"))
    candidates.sort(key=lambda c: c[0])
    return candidates[0][1] if candidates else None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def take_screenshots(site: Path, out: Path) -> list[Path]:
    """Screenshots of ``site`` into ``out`` (viewer-index.png, viewer-episode.png, viewer-evolution.png)."""
    shots = [("viewer-index", site / "index.html", "")]
    episode = _pick_episode(site)
    if episode is not None:
        shots.append(("viewer-episode", episode, ""))
    # the timeline with the most repair diffs (libraries of earlier versions kept none)
    timelines = sorted(site.glob("evolution/*.html"))
    evolution = max(timelines, key=lambda p: p.read_text(encoding="utf-8").count('class="diff"'), default=None)
    if evolution is not None:
        shots.append(("viewer-evolution", evolution, ""))
    return [screenshot(file_url(page, frag), out / f"{_slug(name)}.png", height=1600) for name, page, frag in shots]
