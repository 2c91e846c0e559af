"""The viewer's addresses: one place that names a job's, an episode's and a task's pages.

The report links into the viewer with these same functions, so the two always agree. A job is
named by its plan hash (``config_hash``), not by where it was found: the same job reached from
two sweep directories has one page, and the name does not depend on which directories a site
was built from.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def job_slug(result: dict[str, Any], path: Path) -> str:
    """``<condition>-s<seed>-<plan hash prefix>``: readable, unique per job, safe as a file name."""
    ident = str(result.get("config_hash") or hashlib.sha256(str(path.resolve()).encode()).hexdigest())
    readable = _UNSAFE.sub("_", f"{result.get('condition', 'job')}-s{result.get('seed', '')}")
    return f"{readable}-{ident[:12]}"


def episode_key(record: dict[str, Any]) -> str:
    """An episode's name within its job: its phase file (train/test, when the job has phases) and its
    position there; records without a position (a bare ``run_episode``) are named by their task."""
    episode = record.get("episode")
    if episode is None:
        return _UNSAFE.sub("_", str((record.get("task") or {}).get("id", "episode")))
    phase = record.get("protocol_phase")
    return f"{phase}-{episode}" if phase else str(episode)


def task_slug(task_id: str) -> str:
    return hashlib.sha256(task_id.encode()).hexdigest()[:16]


def job_page(slug: str) -> str:
    return f"jobs/{slug}.html"


def job_data(slug: str) -> str:
    return f"data/{slug}.js"


def episode_page(slug: str, key: str) -> str:
    return f"episodes/{slug}/{key}.html"


def evolution_page(slug: str) -> str:
    return f"evolution/{slug}.html"


def compare_page(task_id: str) -> str:
    return f"compare/{task_slug(task_id)}.html"
