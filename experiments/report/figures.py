"""The report's figures: per-phase bars, learning curves, library growth, tools vs success, error taxonomy.

matplotlib is imported where a figure is drawn, so loading the report costs nothing without figures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from envs.access import ALL_AFFORDANCES
from experiments import published
from experiments.report.arms import phases_of, row_order, success_interval
from experiments.report.jobs import Job, group_by
from experiments.taxonomy import CATEGORIES, LABELS


@dataclass
class Figures:
    directory: Path
    written: list[tuple[str, str, str]] = field(default_factory=list)  # (stem, title, caption)

    def save(self, fig: Any, stem: str, title: str, caption: str) -> None:
        import matplotlib.pyplot as plt

        self.directory.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        # Fixed metadata: the same records give byte-identical figure files.
        fig.savefig(self.directory / f"{stem}.png", dpi=130, metadata={"Software": None})
        fig.savefig(self.directory / f"{stem}.pdf", metadata={"CreationDate": None, "Producer": None})
        plt.close(fig)
        self.written.append((stem, title, caption))


def _legend(label: str, model: str, jobs: list[Job]) -> str:
    n = len({j.seed for j in jobs})
    return f"{label} ({model + ', ' if model != '-' else ''}{n} seed{'s' if n != 1 else ''})"


def palette(labels: list[str]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {lbl: cmap(i % 10) for i, lbl in enumerate(labels)}


def phase_bar_figures(jobs: list[Job], figs: Figures) -> None:
    import matplotlib.pyplot as plt

    for (world, protocol), setting in sorted(group_by(jobs, lambda j: (j.world, j.protocol)).items()):
        llm = [j for j in setting if j.llm or j.condition == "oracle"]
        if not llm:
            continue
        phases = [*phases_of(llm), "overall"]
        groups = sorted(group_by(llm, lambda j: (j.label, j.model)).items(), key=lambda kv: row_order(kv[0][0]))
        fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(phases) * max(1, len(groups)) / 2.5), 3.8))
        width = 0.8 / len(groups)
        colors = palette([f"{lbl} {m}" for (lbl, m), _ in groups])
        for i, ((label, model), rjobs) in enumerate(groups):
            cis = [success_interval(rjobs, None if p == "overall" else p) for p in phases]
            means = [100 * c.mean if c else 0.0 for c in cis]
            err = np.array(
                [[100 * (c.mean - c.low) if c else 0 for c in cis], [100 * (c.high - c.mean) if c else 0 for c in cis]]
            )
            xs = np.arange(len(phases)) + (i - (len(groups) - 1) / 2) * width
            ax.bar(
                xs,
                means,
                width,
                yerr=err,
                capsize=2,
                color=colors[f"{label} {model}"],
                label=_legend(label, model, rjobs),
            )
        ax.set_xticks(np.arange(len(phases)), phases)
        ax.set_ylabel("success %")
        ax.set_ylim(0, 105)
        ax.set_title(f"Success by phase, {world} / {protocol} (95% CI)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        figs.save(
            fig,
            f"phases_{world}_{protocol}",
            f"Success by phase, {world} / {protocol}",
            "Bars: mean of per-seed success; whiskers: 95% t interval over seeds (seeds as random; with one "
            "seed, a bootstrap over its tasks, for that seed's worlds only).",
        )


def phase_boundaries(jobs: list[Job]) -> list[tuple[int, int, str]]:
    """Contiguous phase segments (start, end exclusive, phase) of the task stream, if all jobs agree.

    Derived from the records, so they are right for any number of tasks per phase; an interleaved
    stream (or jobs that disagree) has no boundaries to draw.
    """
    seqs = {tuple(r["task"]["phase"] for r in j.records) for j in jobs if j.records}
    if len(seqs) != 1:
        return []
    seq = next(iter(seqs))
    segments: list[tuple[int, int, str]] = []
    for i, phase in enumerate(seq):
        if segments and segments[-1][2] == phase:
            segments[-1] = (segments[-1][0], i + 1, phase)
        else:
            segments.append((i, i + 1, phase))
    return segments if len({s[2] for s in segments}) == len(segments) else []


def _rolling(x: np.ndarray, window: int) -> np.ndarray:
    kernel = np.ones(window)
    num = np.convolve(x, kernel, mode="full")[: len(x)]
    den = np.convolve(np.ones_like(x), kernel, mode="full")[: len(x)]
    return num / den


def learning_curve_figures(jobs: list[Job], figs: Figures) -> None:
    import matplotlib.pyplot as plt

    for (world, protocol), setting in sorted(
        group_by([j for j in jobs if j.llm], lambda j: (j.world, j.protocol)).items()
    ):
        groups = sorted(group_by(setting, lambda j: (j.label, j.model)).items(), key=lambda kv: row_order(kv[0][0]))
        n = min((len(j.records) for j in setting if j.records), default=0)
        if n < 4:
            continue
        window = max(3, n // 8)
        fig, ax = plt.subplots(figsize=(8, 3.8))
        colors = palette([f"{lbl} {m}" for (lbl, m), _ in groups])
        for (label, model), rjobs in groups:
            curves = np.array(
                [
                    _rolling(np.array([float(r["success"]) for r in j.records[:n]]), window)
                    for j in rjobs
                    if len(j.records) >= n
                ]
            )
            if not len(curves):
                continue
            mean = 100 * curves.mean(axis=0)
            xs = np.arange(1, n + 1)
            c = colors[f"{label} {model}"]
            ax.plot(xs, mean, color=c, label=_legend(label, model, rjobs))
            if len(curves) > 1:  # band: mean ± one standard error over seeds
                se = 100 * curves.std(axis=0, ddof=1) / np.sqrt(len(curves))
                ax.fill_between(xs, mean - se, mean + se, color=c, alpha=0.2, linewidth=0)
        for start, end, phase in phase_boundaries(setting):
            if start:
                ax.axvline(start + 0.5, color="grey", linestyle=":", linewidth=1)
            ax.text((start + end + 1) / 2, 102, phase, ha="center", va="bottom", fontsize=8, color="grey")
        ax.set_xlim(1, n)
        ax.set_ylim(0, 110)
        ax.set_xlabel("episode")
        ax.set_ylabel(f"success % (trailing {window} episodes)")
        ax.set_title(f"Learning curves, {world} / {protocol}", pad=14)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        figs.save(
            fig,
            f"learning_{world}_{protocol}",
            f"Learning curves, {world} / {protocol}",
            f"Trailing {window}-episode success, mean over seeds; band: ± one standard error over seeds; "
            "dotted lines: phase boundaries of the task stream.",
        )


def library_size(record: dict[str, Any]) -> int:
    """Evolved tools offered in an episode (everything offered that is not a built-in affordance)."""
    return sum(1 for t in record.get("tools_offered", []) if t not in ALL_AFFORDANCES)


def library_growth_figure(jobs: list[Job], figs: Figures) -> None:
    import matplotlib.pyplot as plt

    lib = [j for j in jobs if j.has_library and j.records]
    if not lib:
        return
    groups = sorted(group_by(lib, lambda j: (j.world, j.protocol, j.label, j.model)).items())
    fig, ax = plt.subplots(figsize=(8, 3.8))
    colors = palette([" ".join(k) for k, _ in groups])
    for key, rjobs in groups:
        n = min(len(j.records) for j in rjobs)
        sizes = np.array([[library_size(r) for r in j.records[:n]] for j in rjobs], dtype=float)
        mean = sizes.mean(axis=0)
        xs = np.arange(1, n + 1)
        c = colors[" ".join(key)]
        ax.step(xs, mean, where="post", color=c, label=f"{key[0]}/{key[1]} {key[2]} ({len(rjobs)} seeds)")
        if len(rjobs) > 1:
            ax.fill_between(xs, sizes.min(axis=0), sizes.max(axis=0), step="post", color=c, alpha=0.15, linewidth=0)
    ax.set_xlabel("episode")
    ax.set_ylabel("tools in the library")
    ax.set_title("Library growth")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figs.save(
        fig,
        "library_growth",
        "Library growth",
        "Evolved tools offered per episode, mean over seeds; band: min-max over seeds.",
    )


def tools_vs_success_figure(jobs: list[Job], figs: Figures) -> None:
    import matplotlib.pyplot as plt

    lib = [j for j in jobs if j.has_library]
    if not lib:
        return
    groups = sorted(group_by(lib, lambda j: (j.world, j.protocol, j.label)).items())
    fig, ax = plt.subplots(figsize=(6.5, 4))
    colors = palette([" ".join(k) for k, _ in groups])
    rhos = []
    for key, rjobs in groups:
        xs = [len(j.result.get("evolution", {}).get("library", [])) for j in rjobs]
        ys = [100 * j.result["success_rate"] for j in rjobs]
        # Within one setting and arm only: across settings the slope is the setting, not the tools.
        rho = _spearman(xs, ys)
        rhos.append(
            f"{key[0]}/{key[1]} {key[2]}: "
            + (
                f"rho = {rho:.2f} over {len(xs)} jobs"
                if rho is not None
                else f"undefined ({len(xs)} jobs, too few distinct values)"
            )
        )
        ax.scatter(xs, ys, color=colors[" ".join(key)], label=f"{key[0]}/{key[1]} {key[2]}", alpha=0.8)
    ax.set_xlabel("active tools at the end of the job")
    ax.set_ylabel("success %")
    ax.set_title("Tools vs success (one point per job)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    note = " Spearman correlations within each world/protocol/arm (never pooled across them): " + "; ".join(rhos) + "."
    figs.save(fig, "tools_vs_success", "Tools vs success", "One point per job." + note)


def _spearman(xs: list[int], ys: list[float]) -> float | None:
    """Spearman's rho, or None when it is undefined (fewer than 3 jobs, or a constant variable)."""
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    from scipy.stats import spearmanr

    return float(spearmanr(xs, ys).statistic)


def taxonomy_figure(counts: dict[str, Counter[str]], figs: Figures) -> None:
    import matplotlib.pyplot as plt

    # the agent's failures only (LLM failures are not results; the taxonomy table counts them)
    agent = {lbl: Counter({k: c[k] for k in CATEGORIES}) for lbl, c in counts.items()}
    rows = [(lbl, c) for lbl, c in sorted(agent.items(), key=lambda kv: row_order(kv[0])) if sum(c.values())]
    pub_total = sum(published.ERROR_TAXONOMY.values())
    rows.append(("arise (published)", Counter(published.ERROR_TAXONOMY)))
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.6))
    colors = palette(list(CATEGORIES))
    left = np.zeros(len(rows))
    for cat in CATEGORIES:
        shares = np.array([100 * c[cat] / sum(c.values()) for _, c in rows])
        ax.barh([lbl for lbl, _ in rows], shares, left=left, color=colors[cat], label=LABELS[cat])
        left += shares
    ax.set_xlabel("% of failed episodes")
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3)
    ax.set_title(f"Error taxonomy of failures (published: {pub_total} hand-labelled ARISE failures)", fontsize=10)
    figs.save(fig, "error_taxonomy", "Error taxonomy", "Share of failed episodes per category.")
