"""The static site: runs index, each job's episodes table and episode pages, evolution timelines,
compare pages. ``build_site(dirs, out)`` writes it all; it opens from disk (no server, no CDN).

Layout under ``out`` (addresses from ``experiments.view.paths``):

    index.html                     every job (the report's loader): arm, headline numbers, links
    episodes.html                  every episode of every job in one filterable table
    jobs/<job>.html                one job's episodes (rows loaded lazily from data/<job>.js)
    episodes/<job>/<episode>.html  one episode's story
    evolution/<job>.html           an arise job's evolution timeline (library.sqlite)
    compare/<task>.html            one task instance across every job that played it
    data/runs.js, data/<job>.js    the tables' rows, as scripts (file:// forbids fetch)
    assets/app.js, assets/style.css

Jobs are read one at a time (the report's ``load_jobs`` without records, then each job's
``episodes.jsonl`` streamed), so memory holds one job's records, not the sweep's.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from experiments.report.jobs import Job, load_jobs
from experiments.view import episode as ep
from experiments.view import evolution, paths
from experiments.view.html import badge, esc, link, page, script_json, table

ASSETS = Path(__file__).parent / "assets"
RUN_COLUMNS = (
    "slug", "world", "protocol", "arm", "condition", "seed", "model", "episodes", "success_rate", "mean_score",
    "llm_failures", "cost_usd", "tools_promoted", "evolution", "path",
)  # fmt: skip


@dataclass
class SiteStats:
    jobs: int = 0
    episodes: int = 0
    pages: int = 0
    bytes: int = 0
    compare_pages: int = 0
    evolution_pages: int = 0


@dataclass
class _Played:
    """One episode of one job, as a compare page shows it."""

    slug: str
    label: str
    seed: int
    key: str
    success: bool
    score: Any
    answer: str
    n_steps: Any
    tools: str
    cost: float | None
    llm_failure: bool


@dataclass
class _Site:
    out: Path
    stats: SiteStats = field(default_factory=SiteStats)

    def write(self, rel: str, text: str) -> None:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(data)
        self.stats.pages += rel.endswith(".html")
        self.stats.bytes += len(data)


def _data_script(name: str, columns: tuple[str, ...], rows: list[list[Any]], extra: dict[str, Any]) -> str:
    payload = {"columns": list(columns), "rows": rows, **extra}
    return f"ARISE_VIEW.loaded({json.dumps(name)}, {script_json(payload)});\n"


def _read_records(job: Job) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) of every episode of the job, failed models included (they are shown, flagged)."""
    path = job.path / "episodes.jsonl"
    if not path.exists():
        return []
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                out.append((n, json.loads(line)))
    return out


def _classifier(enabled: bool) -> Any:
    if not enabled:
        return None
    from experiments.taxonomy import classify

    return classify


def _keys(records: list[tuple[int, dict[str, Any]]]) -> list[str]:
    """Each record's page name; a repeated name (records edited by hand) gets its line number."""
    seen: set[str] = set()
    keys = []
    for n, r in records:
        key = paths.episode_key(r)
        if key in seen:
            key = f"{key}-line{n}"
        seen.add(key)
        keys.append(key)
    return keys


def build_site(dirs: list[Path], out: Path, *, taxonomy: bool = True, progress: bool = True) -> SiteStats:
    """Write the viewer for every job below ``dirs`` into ``out``; returns what was written."""
    jobs = load_jobs(dirs, progress=progress, with_records=False)
    if not jobs:
        raise FileNotFoundError(f"no result.json under {', '.join(str(d) for d in dirs)}: run a sweep first")
    classify = _classifier(taxonomy)
    site = _Site(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "assets").mkdir(parents=True, exist_ok=True)
    for name in ("app.js", "style.css"):
        shutil.copyfile(ASSETS / name, out / "assets" / name)
    by_task: dict[str, list[_Played]] = defaultdict(list)
    runs = []
    compared = _compared_tasks(jobs)
    for job in tqdm(jobs, desc="viewer", unit="job", disable=None if progress else True, file=sys.stderr):
        slug = paths.job_slug(job.result, job.path)
        records = _read_records(job)
        keys = _keys(records)
        ctx = ep.JobContext(slug, job.label, job.condition, job.seed, str(job.path),
                            (job.path / "library.sqlite").is_file() and job.has_library)  # fmt: skip
        rows, refs = [], []
        categories: list[tuple[str, str] | None] = []
        for _, r in records:
            verdict = None
            if classify is not None and job.llm and not r.get("success"):
                c = classify(r)
                verdict = (c.category, c.reason)
            categories.append(verdict)
        for (_, r), key, verdict in zip(records, keys, categories):
            task_id = str((r.get("task") or {}).get("id"))
            rows.append(ep.row(r, key, ctx, verdict[0] if verdict else None))
            by_task[task_id].append(
                _Played(slug, job.label, job.seed, key, bool(r.get("success")), r.get("score"),
                        ep.short(r.get("answer"), 200), r.get("n_steps"), " ".join(ep.called_tools(r)), ep.cost(r),
                        bool(r.get("llm_failure")))
            )  # fmt: skip
            calls: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for c in r.get("tools_called") or []:
                calls[str(c.get("tool"))][0] += 1
                calls[str(c.get("tool"))][1] += int(not c.get("ok"))
            refs.append(evolution.EpisodeRef(key, r.get("episode"), task_id, bool(r.get("success")),
                                             {k: (v[0], v[1]) for k, v in calls.items()}))  # fmt: skip
        for i, ((line, r), key) in enumerate(zip(records, keys)):
            neighbours = (keys[i - 1] if i else None, keys[i + 1] if i + 1 < len(keys) else None)
            task_id = str((r.get("task") or {}).get("id"))
            site.write(paths.episode_page(slug, key), ep.render(r, key, ctx, line, categories[i], neighbours,
                                                                task_id in compared))  # fmt: skip
        site.write(paths.job_data(slug), _data_script(slug, ep.COLUMNS, rows, {"label": job.label}))
        site.write(paths.job_page(slug), _job_page(job, ctx))
        if ctx.has_evolution:
            hist = evolution.LibraryHistory.read(job.path / "library.sqlite")
            site.write(paths.evolution_page(slug), evolution.render(hist, slug, job.label, str(job.path), refs))
            site.stats.evolution_pages += 1
        runs.append(_run_row(job, slug, len(records), ctx.has_evolution))
        site.stats.jobs += 1
        site.stats.episodes += len(records)
    for task_id in sorted(compared):
        site.write(paths.compare_page(task_id), _compare_page(task_id, by_task[task_id]))
        site.stats.compare_pages += 1
    site.write("compare/index.html", _compare_index(compared, by_task))
    site.write(paths.job_data("runs"), _data_script("runs", RUN_COLUMNS, runs, {}))
    site.write("index.html", _index_page(len(runs), site.stats.episodes))
    site.write("episodes.html", _all_episodes_page())
    site.stats.bytes += sum((out / "assets" / n).stat().st_size for n in ("app.js", "style.css"))
    return site.stats


def _compared_tasks(jobs: list[Job]) -> set[str]:
    """Task instances that more than one job played (from each result.json's task list, so episode pages
    can link to their compare page as they are written, one job at a time)."""
    seen: dict[str, set[int]] = defaultdict(set)
    for i, job in enumerate(jobs):
        for t in job.result.get("tasks") or []:
            if isinstance(t, dict) and "id" in t:
                seen[str(t["id"])].add(i)
    return {t for t, js in seen.items() if len(js) > 1}


def _run_row(job: Job, slug: str, n_records: int, has_evolution: bool) -> list[Any]:
    r = job.result
    values = {
        "slug": slug,
        "world": job.world,
        "protocol": job.protocol,
        "arm": job.label,
        "condition": job.condition,
        "seed": job.seed,
        "model": job.model,
        "episodes": n_records,
        "success_rate": r.get("success_rate"),
        "mean_score": r.get("mean_score"),
        "llm_failures": r.get("llm_failures", 0),
        "cost_usd": r.get("cost_usd"),
        "tools_promoted": r.get("tools_promoted"),
        "evolution": has_evolution,
        "path": str(job.path),
    }
    return [values[c] for c in RUN_COLUMNS]


_FILTERS = '<div class="filters" id="filters"></div><p id="count" class="count"></p><div id="table"></div>'


def _index_page(n_jobs: int, n_episodes: int) -> str:
    body = (
        f"<p>{n_jobs} jobs, {n_episodes} episodes. "
        f"{link('episodes.html', 'All episodes')} | {link('compare/index.html', 'Same task across jobs')}</p>"
        + _FILTERS
        + "<script>ARISE_VIEW.runsPage();</script>"
    )
    return page("Runs", body, depth=0, scripts=[paths.job_data("runs")])


def _all_episodes_page() -> str:
    body = "<p>Every episode of every job (each job's rows are loaded as the page opens).</p>" + _FILTERS
    body += "<script>ARISE_VIEW.allEpisodesPage();</script>"
    return page("All episodes", body, depth=0, scripts=[paths.job_data("runs")])


def _job_page(job: Job, ctx: ep.JobContext) -> str:
    r = job.result
    facts = [
        f"{esc(job.world)}/{esc(job.protocol)}, seed {esc(job.seed)}, model {esc(job.model)}",
        f"success {esc(_pct(r.get('success_rate')))} over {esc(r.get('n_episodes'))} scored episodes",
        f"directory <code>{esc(job.path)}</code>",
    ]
    if ctx.has_evolution:
        facts.append(link("../" + paths.evolution_page(ctx.slug), "evolution timeline"))
    body = f"<p>{' | '.join(facts)}</p>" + _FILTERS
    body += f"<script>ARISE_VIEW.jobPage({json.dumps(ctx.slug)});</script>"
    return page(job.label, body, depth=1, crumbs=[(job.label, "")])


def _pct(value: Any) -> str:
    return f"{100 * float(value):.1f}%" if isinstance(value, (int, float)) else "-"


def _compare_page(task_id: str, played: list[_Played]) -> str:
    cols = [f"{link('../' + paths.job_page(p.slug), p.label)}<br>seed {esc(p.seed)}" for p in played]
    rows = [
        ["episode", *(link("../" + paths.episode_page(p.slug, p.key), p.key) for p in played)],
        [
            "verdict",
            *(badge(p.success) + (' <span class="bad">LLM failure</span>' if p.llm_failure else "") for p in played),
        ],
        ["score", *(esc(p.score) for p in played)],
        ["answer", *(f"<code>{esc(p.answer)}</code>" for p in played)],
        ["steps", *(esc(p.n_steps) for p in played)],
        ["tools called", *(f"<code>{esc(p.tools or '-')}</code>" for p in played)],
        ["cost (USD)", *(esc(f"{p.cost:.4f}") if p.cost is not None else "-" for p in played)],
    ]
    head = "<tr><th></th>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
    body_rows = "".join(f"<tr><th>{esc(r[0])}</th>" + "".join(f"<td>{c}</td>" for c in r[1:]) + "</tr>" for r in rows)
    body = (
        f'<p><code>{esc(task_id)}</code> in {len(played)} jobs</p><div class="wide"><table class="compare">'
        f"<thead>{head}</thead><tbody>{body_rows}</tbody></table></div>"
    )
    return page("Same task across jobs", body, depth=1, crumbs=[("compare", "compare/index.html")])


def _compare_index(compared: set[str], by_task: dict[str, list[_Played]]) -> str:
    rows = [
        [link(paths.compare_page(t).split("/", 1)[1], t), esc(len(by_task[t])),
         esc(sum(p.success for p in by_task[t]))]
        for t in sorted(compared)
    ]  # fmt: skip
    body = f"<p>{len(rows)} task instances played by more than one job.</p>" + table(
        ["task", "jobs", "successes"], rows
    )
    return page("Same task across jobs", body, depth=1)


__all__ = ["SiteStats", "build_site"]
