"""Links from the report into the viewer (``python -m experiments.view``): each job's episodes, its
failures by taxonomy category, and single episodes. Addresses come from ``experiments.view.paths``,
the module the viewer names its pages with, so the two cannot drift apart."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from experiments.report.jobs import Job
from experiments.taxonomy import LABELS, classify
from experiments.view import paths


class ViewerLinks:
    """Relative links from the report's directory to a viewer built at ``viewer``."""

    def __init__(self, report_dir: Path, viewer: Path) -> None:
        self.base = Path(os.path.relpath(viewer.resolve(), report_dir.resolve())).as_posix()

    def job(self, job: Job, fragment: str = "") -> str:
        page = f"{self.base}/{paths.job_page(paths.job_slug(job.result, job.path))}"
        return f"{page}#{fragment}" if fragment else page

    def episode(self, job: Job, record: dict[str, Any]) -> str:
        return f"{self.base}/{paths.episode_page(paths.job_slug(job.result, job.path), paths.episode_key(record))}"

    def section(self, jobs: list[Job]) -> list[str]:
        """report.md lines: a table of every job with links to its episodes, its failures and, for LLM
        agents, its failures of each taxonomy category (the episodes behind Table 5's counts)."""
        lines = [
            "| job | world/protocol | seed | success | episodes | failures by category |",
            "|---|---|---|---|---|---|",
        ]
        for j in jobs:
            failed = [r for r in [*j.records, *j.llm_failures] if not r.get("success")]
            by_category: Counter[str] = Counter(classify(r).category for r in failed) if j.llm else Counter()
            categories = ", ".join(
                f"[{LABELS.get(c, c)}: {n}]({self.job(j, f'category={c}')})" for c, n in sorted(by_category.items())
            )
            lines.append(
                f"| [{j.label.replace('|', '/')}]({self.job(j)}) | {j.world}/{j.protocol} | {j.seed} | "
                f"{100 * float(j.result.get('success_rate') or 0):.1f}% | "
                f"[all {len(j.records)}]({self.job(j)}), [failed {len(failed)}]({self.job(j, 'success=false')}) | "
                f"{categories or '-'} |"
            )
        return lines
