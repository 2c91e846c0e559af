"""The report's Tool-Genesis section: L1-L4 per setting, the layer funnel, and whether cheap layers predict L4.

Reads ``result.json["diagnostics"]`` of arise jobs (written by ``experiments.downstream`` at the end of
every job). Used by ``experiments.report.build.build_report``.

Columns of the Tool-Genesis table and where they come from:

* compliance, exec: L1 over every **candidate** the pipeline produced (final code after repairs),
  since promoted tools passed the pipeline's checks by construction;
* Schema-F1: tool-level F1 of the library's matching to the reference tools (L2), with the
  argument-level F1 of the matched pairs next to it;
* UT-soft, UT-hard: the library's held-out unit tests (L3), unmatched reference tools counted as 0;
* SR: oracle-normalised downstream success (L4).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from experiments import published, stats
from experiments.report.arms import row_order
from experiments.report.figures import Figures, palette
from experiments.report.jobs import Job, group_by
from experiments.report.table import ReportTable, mean_sd

GENESIS_INTRO = (
    "Every arise job ends with a diagnosis of what it evolved against the world's reference tools "
    "(`experiments/diagnostics.py`, `experiments/downstream.py`): L1 compliance and executability, "
    "L2 Schema-F1, L3 held-out unit tests, L4 oracle-normalised success on held-out instances."
)
METRICS = ("compliance", "exec", "schema_f1", "arg_f1", "ut_soft", "ut_hard", "sr")
STAGES = ("evolved", "compliant", "executable", "matched", "ut_hard_ge_0_5")
STAGE_LABELS = {
    "evolved": "candidates",
    "compliant": "L1 compliant",
    "executable": "L1 executable",
    "matched": "L2 matched",
    "ut_hard_ge_0_5": "L3 UT-hard >= 0.5",
}
LAYER_LABELS = {
    "l1": "L1 compliant and executable",
    "l2": "L2 argument F1",
    "l3_soft": "L3 UT-soft",
    "l3_hard": "L3 UT-hard",
}


def diagnosed(jobs: Sequence[Job]) -> list[Job]:
    return [j for j in jobs if isinstance(j.result.get("diagnostics"), dict)]


def metrics(job: Job) -> dict[str, float | None]:
    """The Tool-Genesis columns of one job (None where a layer was not run or is undefined)."""
    d = job.result["diagnostics"]
    cand_l1 = (d.get("candidates") or {}).get("l1") or {}  # absent with diagnostics.candidates=false
    return {
        "compliance": cand_l1.get("compliance"),
        "exec": cand_l1.get("exec"),
        "schema_f1": d["l2"]["tool_f1"],
        "arg_f1": d["l2"]["arg_f1"],
        "ut_soft": d["l3"]["ut_soft"],
        "ut_hard": d["l3"]["ut_hard"],
        "sr": (d.get("l4") or {}).get("sr"),
    }


def _l4_failures(job: Job) -> int:
    """L4 episodes whose model failed (not results; left out of SR)."""
    arms = ((job.result["diagnostics"].get("l4") or {}).get("arms")) or {}
    return sum(int(a.get("llm_failures") or 0) for a in arms.values())


def _repairs(job: Job) -> int | None:
    value = ((job.result.get("config") or {}).get("evolution") or {}).get("max_repairs")
    return int(value) if value is not None else None


def _groups(jobs: Sequence[Job]) -> list[tuple[tuple[str, str, str], list[Job]]]:
    return sorted(
        group_by(list(jobs), lambda j: (f"{j.world}/{j.protocol}", j.label, j.model)).items(),
        key=lambda kv: (kv[0][0], row_order(kv[0][1]), kv[0][2]),
    )


def _fmt3(values: list[float]) -> str:
    return mean_sd(values, "{:.3f}")


def genesis_table(jobs: Sequence[Job]) -> ReportTable | None:
    """Compliance, exec, Schema-F1, UT-soft, UT-hard, SR per setting, next to the published Tool-Genesis rows."""
    diag = diagnosed(jobs)
    if not diag:
        return None
    table = ReportTable(
        name="tool_genesis",
        title="Tool-Genesis diagnostics of evolved tools (mean ± sd over jobs)",
        headers=[
            "setting",
            "condition",
            "model",
            "repairs",
            "jobs",
            "compliance",
            "exec",
            "Schema-F1",
            "arg-F1",
            "UT-soft",
            "UT-hard",
            "SR (L4)",
            "L4 LLM failures",
        ],
        notes=[
            "compliance and exec: L1 over every candidate the pipeline produced (final code after repairs); "
            "Schema-F1: tool-level F1 of the library's match to the reference tools, arg-F1 over matched pairs "
            "(L2); UT-soft / UT-hard: held-out differential tests of the library, unmatched reference tools "
            "count as 0 (L3); SR: (library - affordances) / (reference - affordances) success on held-out "
            "instances (L4). Published rows: Tool-Genesis (MCP servers from abstract requirements; "
            "Direct = one-shot, Code-Agent = closed repair loop); a different task, the same layers. "
            "L4 LLM failures: held-out episodes whose model failed, left out of SR.",
        ],
    )
    for (setting, label, model), rjobs in _groups(diag):
        ms = [metrics(j) for j in rjobs]
        cols = {k: [float(v) for m in ms if (v := m[k]) is not None] for k in METRICS}
        repairs = sorted({r for j in rjobs if (r := _repairs(j)) is not None})
        table.add(
            [
                setting,
                label,
                model,
                "/".join(map(str, repairs)) or "-",
                str(len(rjobs)),
                *(_fmt3(cols[k]) for k in METRICS),
                str(sum(_l4_failures(j) for j in rjobs)),
            ],
            {
                "setting": setting,
                "condition": label,
                "model": model,
                "jobs": len(rjobs),
                "repairs": repairs[0] if len(repairs) == 1 else None,
                "published": False,
                **{k: float(np.mean(v)) if v else None for k, v in cols.items()},
            },
        )
    for row in published.TOOL_GENESIS:
        vals = {
            "compliance": row.compliance,
            "exec": row.exec,
            "schema_f1": row.schema_f1,
            "arg_f1": None,
            "ut_soft": None,
            "ut_hard": row.ut_hard,
            "sr": row.sr,
        }
        table.add(
            [
                "Tool-Genesis (published)",
                row.setting,
                row.model,
                "0" if row.setting == "Direct" else "loop",
                "-",
                *("-" if vals[k] is None else f"{vals[k]:.3f}" for k in METRICS),
                "-",
            ],
            {
                "setting": "Tool-Genesis (published)",
                "condition": row.setting,
                "model": row.model,
                "jobs": None,
                "repairs": 0 if row.setting == "Direct" else None,
                "published": True,
                **vals,
            },
        )
    return table


def _pooled_funnel(rjobs: Sequence[Job]) -> list[int]:
    counts = [0] * len(STAGES)
    for j in rjobs:
        if not j.result["diagnostics"].get("candidates"):
            continue  # diagnostics.candidates=false: no candidate funnel
        funnel = {s["stage"]: s["count"] for s in j.result["diagnostics"]["candidates"]["funnel"]}
        for i, stage in enumerate(STAGES):
            counts[i] += int(funnel.get(stage, 0))
    return counts


def funnel_table(jobs: Sequence[Job]) -> ReportTable | None:
    """Candidates surviving each layer, pooled over jobs: count, share of candidates, rate given the stage before."""
    diag = diagnosed(jobs)
    if not diag:
        return None
    table = ReportTable(
        name="tool_genesis_funnel",
        title="Layer funnel of the candidates (pooled over jobs): count, share of candidates (rate given the "
        "previous layer)",
        headers=["setting", "condition", "model", "jobs", *(STAGE_LABELS[s] for s in STAGES)],
        notes=[
            "Published (Tool-Genesis): errors compound layer by layer; each layer keeps 30-50% of what passed "
            "the one before."
        ],
    )
    for (setting, label, model), rjobs in _groups(diag):
        counts = _pooled_funnel(rjobs)
        cells: list[str] = []
        data: dict[str, float] = {}
        for i, stage in enumerate(STAGES):
            share = counts[i] / counts[0] if counts[0] else 0.0
            rate = counts[i] / counts[i - 1] if i and counts[i - 1] else (1.0 if i == 0 else 0.0)
            cells.append(
                f"{counts[i]} ({100 * share:.0f}%)"
                if i == 0
                else f"{counts[i]}, {100 * share:.0f}% ({100 * rate:.0f}%)"
            )
            data[f"{stage}_count"], data[f"{stage}_share"], data[f"{stage}_rate"] = counts[i], share, rate
        table.add(
            [setting, label, model, str(len(rjobs)), *cells],
            {"setting": setting, "condition": label, "model": model, "jobs": len(rjobs), **data},
        )
    return table


def prediction_table(jobs: Sequence[Job], seed: int = 0) -> ReportTable | None:
    """Spearman's rho of each cheap layer with L4: per held-out family (pooled, bootstrap clustered by job),
    and per job (library-level layer vs SR)."""
    diag = [j for j in diagnosed(jobs) if (j.result["diagnostics"].get("l4") or {}).get("units") is not None]
    if not diag:
        return None
    table = ReportTable(
        name="tool_genesis_prediction",
        title="Do the cheap layers predict downstream success (L4)? Spearman's rho [95% bootstrap CI]",
        headers=["layer", "per family: rho", "families", "jobs", "per job: rho", "jobs with SR"],
        notes=[
            "Per family: one unit per held-out family of a job on which the reference tools beat the affordances; "
            "predictor = the layer's score averaged over the reference tools the family's oracle calls "
            "(unmatched = 0), outcome = the family's oracle-normalised success. The bootstrap resamples jobs, "
            "then families within them. Per job: the library-level figure of the Tool-Genesis table vs SR.",
        ],
    )
    units = [(str(j.path), u) for j in diag for u in j.result["diagnostics"]["l4"]["units"]]
    job_level = {"l1": "compliance", "l2": "arg_f1", "l3_soft": "ut_soft", "l3_hard": "ut_hard"}
    ms = [m for m in (metrics(j) for j in diag) if m["sr"] is not None]
    for k, layer in enumerate(LAYER_LABELS):
        fam = stats.spearman_ci(
            [u[layer] for _, u in units], [u["l4"] for _, u in units], clusters=[c for c, _ in units], seed=seed + k
        )
        pairs = [(float(x), float(m["sr"] or 0.0)) for m in ms if (x := m[job_level[layer]]) is not None]
        per_job = stats.spearman_ci([x for x, _ in pairs], [y for _, y in pairs], seed=seed + 100 + k)
        table.add(
            [
                LAYER_LABELS[layer],
                fam.fmt(),
                str(fam.n_units),
                str(fam.n_clusters),
                per_job.fmt(),
                str(per_job.n_units),
            ],
            {
                "layer": layer,
                "family_rho": fam.rho,
                "family_low": fam.low,
                "family_high": fam.high,
                "families": fam.n_units,
                "jobs": fam.n_clusters,
                "job_rho": per_job.rho,
                "job_low": per_job.low,
                "job_high": per_job.high,
                "jobs_with_sr": per_job.n_units,
            },
        )
    return table


def genesis_figure(jobs: Sequence[Job], figs: Figures) -> None:
    """Bars of the Tool-Genesis columns per setting and the candidates' funnel."""
    import matplotlib.pyplot as plt

    diag = diagnosed(jobs)
    if not diag:
        return
    groups = _groups(diag)
    names = [f"{s} {lbl}" for (s, lbl, _), _ in groups]
    colors = palette(names)
    cols = ("compliance", "exec", "schema_f1", "ut_soft", "ut_hard", "sr")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / max(1, len(groups))
    x = np.arange(len(cols))
    for i, ((_, rjobs), name) in enumerate(zip(groups, names)):
        ms = [metrics(j) for j in rjobs]
        present = [[float(v) for m in ms if (v := m[c]) is not None] for c in cols]
        means = [float(np.mean(v)) if v else np.nan for v in present]
        sds = [float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for v in present]
        ax.bar(
            x + (i - (len(groups) - 1) / 2) * width,
            means,
            width,
            yerr=sds,
            capsize=2,
            color=colors[name],
            label=f"{name} ({len(rjobs)} jobs)",
        )
        counts = _pooled_funnel(rjobs)
        if counts[0]:  # without candidates the shares are undefined: nothing drawn (not a line at 0)
            ax2.plot(range(len(STAGES)), [c / counts[0] for c in counts], marker="o", color=colors[name])
    ax.set_xticks(x, ["compliance", "exec", "Schema-F1", "UT-soft", "UT-hard", "SR"], fontsize=8)
    ax.set_ylabel("score")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_title("Tool-Genesis layers (mean ± sd over jobs)", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    ax2.set_xticks(range(len(STAGES)), [STAGE_LABELS[s] for s in STAGES], rotation=30, ha="right", fontsize=7)
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("share of candidates")
    ax2.set_title("Funnel of the candidates", fontsize=10)
    figs.save(
        fig,
        "tool_genesis",
        "Tool-Genesis layers and funnel",
        "Left: L1 (over candidates), L2 Schema-F1, L3 and L4 SR per setting (a missing bar: undefined, e.g. no "
        "candidates). Right: the share of all candidates that survive each layer, pooled over jobs (settings "
        "without candidates are not drawn).",
    )


def tables(jobs: Sequence[Job]) -> list[ReportTable | None]:
    return [genesis_table(jobs), funnel_table(jobs), prediction_table(jobs)]


__all__ = ["funnel_table", "genesis_figure", "genesis_table", "metrics", "prediction_table", "tables"]
