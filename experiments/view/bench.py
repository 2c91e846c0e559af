"""The viewer at scale: a 50-job / 5,000-episode sweep, its build time, page load times and size.

The sweep is synthesised from real records (the given directories' jobs, each reused for
several synthetic jobs with its own plan hash and seed, libraries included), so pages are as
large as real ones. Each figure is printed with its target and whether it was met.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.report.jobs import load_jobs
from experiments.view.browser import dump_dom, file_url
from experiments.view.build import build_site

N_JOBS = 50
EPISODES_PER_JOB = 100
BUILD_TARGET_S = 30.0
PAGE_TARGET_S = 1.0


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: float | None  # None: reported, no target

    def line(self) -> str:
        verdict = "" if self.target is None else (" met" if self.value < self.target else " NOT met")
        target = "" if self.target is None else f" (target < {self.target:g} {self.unit})"
        return f"{self.name}: {self.value:,.2f} {self.unit}{target}{verdict}"


def synthesise(dirs: list[Path], out: Path, n_jobs: int = N_JOBS, per_job: int = EPISODES_PER_JOB) -> Path:
    """A sweep of ``n_jobs`` jobs of ``per_job`` episodes under ``out``, made of the records of ``dirs``."""
    templates = [j for j in load_jobs(dirs, progress=False, with_records=False) if (j.path / "episodes.jsonl").exists()]
    if not templates:
        raise FileNotFoundError(f"no job with episodes.jsonl under {', '.join(map(str, dirs))}: run `make run` first")
    for k in range(n_jobs):
        template = templates[k % len(templates)]
        lines = [ln for ln in (template.path / "episodes.jsonl").read_text(encoding="utf-8").splitlines() if ln.strip()]
        job = out / f"job{k:03d}"
        job.mkdir(parents=True)
        records = []
        for i in range(per_job):
            record: dict[str, Any] = json.loads(lines[i % len(lines)])
            record.update(episode=i, seed=1000 + k)
            records.append(json.dumps(record, sort_keys=True))
        (job / "episodes.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
        result = {**template.result, "seed": 1000 + k, "config_hash": f"bench{k:03d}", "n_episodes": per_job}
        (job / "result.json").write_text(json.dumps(result), encoding="utf-8")
        if (template.path / "library.sqlite").is_file():
            shutil.copyfile(template.path / "library.sqlite", job / "library.sqlite")
    return out


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def page_figures(site: Path) -> list[Figure]:
    """Load times of the heaviest page of each kind, as the page measured them (navigation start to load,
    lazy data included) and as a user waits for them (a fresh headless browser, start-up included)."""
    jobs = sorted((site / "jobs").glob("*.html"))
    episodes = sorted((site / "episodes").rglob("*.html"), key=lambda p: p.stat().st_size)
    evolution = sorted((site / "evolution").glob("*.html"), key=lambda p: p.stat().st_size)
    compare = sorted((site / "compare").glob("*.html"), key=lambda p: p.stat().st_size)
    pages = {
        "runs index": site / "index.html",
        "all episodes (every job's data)": site / "episodes.html",
        "a job's episodes": jobs[0] if jobs else None,
        "largest episode page": episodes[-1] if episodes else None,
        "largest evolution page": evolution[-1] if evolution else None,
        "largest compare page": compare[-1] if compare else None,
    }
    figures = []
    for name, path in pages.items():
        if path is None:
            continue
        page = dump_dom(file_url(path))
        marker = 'data-load-ms="'
        if marker not in page.dom:
            raise RuntimeError(f"{path} did not finish loading in the browser (no load time recorded)")
        load_ms = int(page.dom.split(marker, 1)[1].split('"', 1)[0])
        figures.append(
            Figure(f"page: {name} ({path.stat().st_size / 1e3:,.0f} kB)", load_ms / 1000, "s", PAGE_TARGET_S)
        )
        figures.append(Figure("  with browser start-up", page.wall_s, "s", None))
    return figures


def run_bench(dirs: list[Path], out: Path | None, progress: bool = True) -> int:
    """Synthesise, build, load; print every figure. Returns 0 when every target was met."""
    work = Path(tempfile.mkdtemp(prefix="arise-view-bench-")) if out is None else out
    try:
        sweep = synthesise(dirs, work / "sweep")
        start = time.perf_counter()
        stats = build_site([sweep], work / "view", progress=progress)
        build_s = time.perf_counter() - start
        figures = [
            Figure(f"build: {stats.jobs} jobs, {stats.episodes:,} episodes, {stats.pages:,} pages", build_s, "s",
                   BUILD_TARGET_S),
            Figure("output size", _size(work / "view") / 1e6, "MB", None),
            Figure("records' size (episodes.jsonl)", sum(
                (p / "episodes.jsonl").stat().st_size for p in sweep.iterdir()) / 1e6, "MB", None),
            *page_figures(work / "view"),
        ]  # fmt: skip
        for f in figures:
            print(f.line())
        return 0 if all(f.target is None or f.value < f.target for f in figures) else 1
    finally:
        if out is None:
            shutil.rmtree(work, ignore_errors=True)


__all__ = ["Figure", "page_figures", "run_bench", "synthesise"]
