"""Assembling report.md: every table section and figure of a sweep, written under one directory."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from experiments.report import genesis, hacking
from experiments.report.arms import N_BOOT
from experiments.report.figures import (
    Figures,
    learning_curve_figures,
    library_growth_figure,
    phase_bar_figures,
    taxonomy_figure,
    tools_vs_success_figure,
)
from experiments.report.jobs import load_jobs
from experiments.report.table import ReportTable
from experiments.report.tables import (
    COMPARISON_INTRO,
    comparison_tables,
    cost_table,
    pass_k_table,
    protocol_table,
    published_tables,
    success_tables,
    taxonomy_table,
    tool_quality_table,
)
from experiments.report.viewer import ViewerLinks


def build_report(dirs: list[Path], out: Path, progress: bool = True, viewer: Path | None = None) -> Path:
    """Write report.md, tables/ and figures/ into ``out``; returns report.md's path.

    ``viewer``: where ``python -m experiments.view`` writes its site (default ``<first dir>/view``, its
    default too); the report links its jobs, failures and taxonomy examples to the pages there.

    Figures are drawn and closed without being shown, so any matplotlib backend works (the command
    line selects Agg; a notebook keeps its own)."""
    jobs = load_jobs(dirs, progress=progress)
    if not jobs:
        raise FileNotFoundError(f"no result.json under {', '.join(str(d) for d in dirs)}: run a sweep first")
    out.mkdir(parents=True, exist_ok=True)
    links = ViewerLinks(out, viewer or dirs[0] / "view")
    tables_dir, figs = out / "tables", Figures(out / "figures")
    sections: list[tuple[str, str, list[ReportTable]]] = []
    steps: list[tuple[str, Callable[[], None]]] = []
    taxonomy_counts: dict[str, Counter[str]] = {}

    def add(title: str, intro: str, tables: list[ReportTable | None]) -> None:
        kept = [t for t in tables if t is not None]
        if kept:
            sections.append((title, intro, kept))

    def tax() -> None:
        table, counts = taxonomy_table(jobs, links.episode)
        taxonomy_counts.update(counts)
        add("Error taxonomy (Table 5)", "Every failed episode of an LLM agent, classified from its record.", [table])

    steps = [
        ("success", lambda: add("Success by phase (Tables 2-4)", "", list(success_tables(jobs)))),
        ("comparisons", lambda: add("Paired comparisons", COMPARISON_INTRO, list(comparison_tables(jobs)))),
        ("published", lambda: add("Side by side with the published numbers", "", list(published_tables(jobs)))),
        ("taxonomy", tax),
        ("cost", lambda: add("Cost and time (Table 6)", "", [cost_table(jobs)])),
        ("tool quality", lambda: add("Tool quality", "", [tool_quality_table(jobs)])),
        ("pass^k", lambda: add("Reliability (pass^k)", "", [pass_k_table(jobs)])),
        ("protocols", lambda: add("Protocols and null policies", "", [protocol_table(jobs)])),
        (
            "tool-genesis",
            lambda: add(
                "Tool-Genesis diagnostics of evolved tools (L1-L4)", genesis.GENESIS_INTRO, genesis.tables(jobs)
            ),
        ),
        ("reward hacking", lambda: add("Reward hacking", hacking.INTRO, hacking.tables(jobs))),
        ("figures: phases", lambda: phase_bar_figures(jobs, figs)),
        ("figures: learning curves", lambda: learning_curve_figures(jobs, figs)),
        ("figures: library", lambda: library_growth_figure(jobs, figs)),
        ("figures: tools vs success", lambda: tools_vs_success_figure(jobs, figs)),
        ("figures: tool-genesis", lambda: genesis.genesis_figure(jobs, figs)),
        ("figures: taxonomy", lambda: taxonomy_figure(taxonomy_counts, figs) if taxonomy_counts else None),
    ]
    bar = tqdm(steps, desc="report", unit="part", disable=None if progress else True, file=sys.stderr)
    for name, step in bar:
        bar.set_postfix_str(name)
        step()
    sim = any(j.simulated for j in jobs)
    seeds = sorted({j.seed for j in jobs})
    lines = [
        "# arise-gym report",
        "",
        f"Sources: {', '.join(f'`{d}`' for d in dirs)} - {len(jobs)} jobs, "
        f"{sum(j.result['n_episodes'] for j in jobs)} episodes, seeds {', '.join(map(str, seeds))}; "
        f"worlds {', '.join(sorted({j.world for j in jobs}))}; "
        f"protocols {', '.join(sorted({j.protocol for j in jobs}))}.",
        "",
    ]
    if sim:
        lines += [
            "> Rows marked **(sim)** come from the offline simulated model: they exercise the testbed and its "
            "pipeline, they are not measurements of the model they imitate.",
            "",
        ]
    lines += [
        "Success intervals are 95% t intervals over seeds: seeds (worlds) are treated as random, so an interval "
        "speaks for new seeds, and with few seeds it is wide (2 degrees of freedom with 3 seeds). An interval "
        "marked † comes from a single seed: a bootstrap over its tasks "
        f"({N_BOOT} resamples) that speaks for that seed's worlds only. Comparisons give both the seed-level "
        "test (seeds in general) and the task-level tests (these worlds only) and say which question each row "
        "can answer. Tables are also in `tables/` as Markdown, LaTeX and CSV; figures in `figures/` as PNG and PDF.",
        "",
    ]
    for title, intro, tables in sections:
        lines += [f"## {title}", ""]
        if intro:
            lines += [intro, ""]
        for t in tables:
            t.write(tables_dir)
            lines += [f"**{t.title}** (`tables/{t.name}.csv`)", "", t.markdown(), ""]
            lines += [f"_{n}_\n" for n in t.notes]
    lines += [
        "## Episodes behind the tables (viewer)",
        "",
        "Each job's episodes, its failures and its failures of each taxonomy category, in the viewer "
        f"(`python -m experiments.view {' '.join(str(d) for d in dirs)}` builds it; `make run` does).",
        "",
        *links.section(jobs),
        "",
    ]
    if figs.written:
        lines += ["## Figures", ""]
        for stem, title, caption in figs.written:
            lines += [
                f"### {title}",
                "",
                f"![{title}](figures/{stem}.png)",
                "",
                f"_{caption}_ (`figures/{stem}.pdf`)",
                "",
            ]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
