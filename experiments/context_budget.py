"""How much context each setup needs: prompt sizes measured from the records of a run.

    python -m experiments.context_budget runs/budget [--markdown]

For every world / protocol / condition in the run (jobs of a setup pooled over seeds): the
first turn (system prompt, tools and the task: what the job-start check compares with the
context window), the largest prompt of a typical episode (median over episodes of each
episode's largest) and of the largest episode, and the tool author's largest request (arise).
Sizes are the prompt tokens each answer reported: exact for a real model (its tokenizer),
``ceil(characters / 4)`` for the simulated model. The README's context-budget table is this
output over the ``context_budget`` sweep (``python -m experiments.run +experiment=context_budget -m``),
with a column of first requests counted by Gemma 3's tokenizer at the job-start check (README).
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from envs.cli import run_main
from experiments.report.jobs import Job, load_jobs


def _peaks(record: dict[str, Any]) -> tuple[int | None, int | None]:
    """(first turn, largest prompt) of an episode, in reported prompt tokens."""
    sizes = [r.get("usage", {}).get("tokens_in") for r in record.get("llm", {}).get("responses", [])]
    known = [s for s in sizes if isinstance(s, int)]
    return (sizes[0] if sizes and isinstance(sizes[0], int) else None), (max(known) if known else None)


def budget_rows(jobs: list[Job]) -> list[dict[str, Any]]:
    """One row per (world, protocol, condition, model) of the LLM jobs, sizes in prompt tokens."""
    groups: dict[tuple[str, str, str, str], list[Job]] = defaultdict(list)
    for job in jobs:
        if job.llm:
            groups[(job.world, job.protocol, job.condition, job.model)].append(job)
    rows = []
    for (world, protocol, condition, model), group in sorted(groups.items()):
        firsts, peaks = [], []
        for job in group:
            for record in job.records:
                first, peak = _peaks(record)
                if first is not None:
                    firsts.append(first)
                if peak is not None:
                    peaks.append(peak)
        author = [(j.result.get("evolution") or {}).get("largest_request_tokens") for j in group if j.has_library]
        author_known = [a for a in author if isinstance(a, int)]
        rows.append(
            {
                "world": world, "protocol": protocol, "condition": condition, "model": model,
                "jobs": len(group), "episodes": len(peaks),
                "first_turn_median": int(statistics.median(firsts)) if firsts else None,
                "first_turn_max": max(firsts) if firsts else None,
                "episode_peak_median": int(statistics.median(peaks)) if peaks else None,
                "episode_peak_max": max(peaks) if peaks else None,
                "author_max": max(author_known) if author_known else None,
            }
        )  # fmt: skip
    return rows


COLUMNS = (
    ("world", "world"), ("protocol", "protocol"), ("condition", "condition"),
    ("first_turn_median", "first turn (median)"), ("first_turn_max", "first turn (max)"),
    ("episode_peak_median", "episode peak (median)"), ("episode_peak_max", "episode peak (max)"),
    ("author_max", "tool author (max)"),
)  # fmt: skip


def render(rows: list[dict[str, Any]], markdown: bool) -> str:
    def cell(value: Any) -> str:
        return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)

    header = [title for _, title in COLUMNS]
    body = [[cell(row[key]) for key, _ in COLUMNS] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    return "\n".join("  ".join(c.rjust(w) if i > 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in [header, *body])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.context_budget",
        description="Prompt tokens each setup needs (first turn, episode peaks, tool author), from a run's records.",
    )
    parser.add_argument("runs", nargs="+", type=Path, help="run or sweep directories")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table (the README's)")
    args = parser.parse_args(argv)
    jobs = load_jobs(args.runs, progress=False)
    rows = budget_rows(jobs)
    if not rows:
        print(f"no LLM jobs under {', '.join(map(str, args.runs))}")
        return 1
    models = sorted({r["model"] for r in rows})
    print(f"prompt tokens as reported by {', '.join(models)} ({sum(r['jobs'] for r in rows)} jobs)")
    print(render(rows, args.markdown))
    return 0


if __name__ == "__main__":
    run_main(main)
