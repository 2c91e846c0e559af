"""Report of a sweep: ``python -m experiments.report <sweep dir> [<sweep dir> ...] [--out DIR]``.

Reads every job under the directories (``result.json`` + ``episodes.jsonl``) and writes, into
``<first dir>/report`` unless ``--out`` says otherwise:

* ``report.md`` - every table and figure below, with n (seeds, tasks) stated;
* ``tables/*.{md,tex,csv}`` - success by phase with two-level bootstrap CIs (the analogue of the
  ARISE paper's Tables 2-4) and paired tests against the baseline (permutation, Holm, McNemar),
  the side-by-side with the published numbers (simulated rows marked), the error taxonomy of
  failures (Table 5), cost and time (Table 6), tool quality, pass^k, the protocol comparison with
  the null-policy scores, and ablations against the default pipeline when the sweep has them;
* ``figures/*.{png,pdf}`` - per-phase bars with CIs, learning curves with bands and the phase
  boundaries of the actual task stream, library growth, tools vs success, error taxonomy.

Everything is recomputed from the raw records; nothing is typed in by hand but the published
numbers (experiments/published.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from envs.access import ALL_AFFORDANCES
from envs.registry import all_phases
from experiments import published, stats
from experiments.summary import find_results
from experiments.tables import Table
from experiments.taxonomy import CATEGORIES, LABELS, classify

N_BOOT = 2000  # bootstrap resamples per interval: enough for 0.5-point stable bounds, fast on 2 cores
GENESIS_INTRO = (
    "Every arise job ends with a diagnosis of what it evolved against the world's reference tools "
    "(`experiments/diagnostics.py`, `experiments/downstream.py`): L1 compliance and executability, "
    "L2 Schema-F1, L3 held-out unit tests, L4 oracle-normalised success on held-out instances."
)
LLM_ORDER = ("arise", "code_agent", "fixed_tools", "no_evolution")
BASELINE = "no_evolution"


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


@dataclass
class Job:
    """One job directory of a sweep: its result and its episode records."""

    path: Path
    result: dict[str, Any]
    records: list[dict[str, Any]]
    show_preset: bool = False  # set by load_jobs when the sweep has several evolution presets to tell apart

    @property
    def world(self) -> str:
        return str(self.result["world"])

    @property
    def protocol(self) -> str:
        return str(self.result["protocol"])

    @property
    def seed(self) -> int:
        return int(self.result["seed"])

    @property
    def condition(self) -> str:
        return str(self.result["condition"])

    @property
    def evolution(self) -> str | None:
        """The evolution preset of a library job (None for conditions without a library)."""
        if "tools_promoted" not in self.result:
            return None
        return str((self.result.get("config") or {}).get("evolution", {}).get("name") or "default")

    @property
    def label(self) -> str:
        """The row name: the condition, with the evolution preset when the sweep has several."""
        return f"{self.condition}[{self.evolution}]" if self.show_preset else self.condition

    @property
    def llm(self) -> bool:
        return bool(self.result.get("llm"))

    @property
    def profile(self) -> str:
        return str(self.result.get("model") or "-") if self.llm else "-"

    @property
    def simulated(self) -> bool:
        return bool(self.result.get("simulated"))

    @property
    def model(self) -> str:
        return f"{self.profile} (sim)" if self.simulated else self.profile


def load_jobs(dirs: Iterable[Path], progress: bool = True) -> list[Job]:
    """Every job below ``dirs`` (each once), with its episode records, in a fixed order."""
    found = find_results(*dirs)
    jobs = []
    for path, result in tqdm(
        found, desc="reading jobs", unit="job", disable=None if progress else True, file=sys.stderr
    ):
        episodes = path / "episodes.jsonl"
        records = []
        if episodes.exists():
            for line in episodes.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    records.append(json.loads(line))
        if len(records) != result.get("n_episodes"):
            print(
                f"warning: {path}: {len(records)} records for n_episodes={result.get('n_episodes')}; "
                "the job is incomplete or was edited (using result.json's task outcomes)",
                file=sys.stderr,
            )
        jobs.append(Job(path, result, records))
    jobs.sort(key=lambda j: (j.world, j.protocol, j.condition, j.seed, str(j.path)))
    presets = _group([j for j in jobs if j.evolution], lambda j: (j.world, j.protocol, j.condition, j.model))
    for group in presets.values():
        if len({j.evolution for j in group}) > 1:
            for j in group:
                j.show_preset = True
    return jobs


def _row_order(label: str) -> tuple[int, str]:
    base = label.split("[")[0]
    if base == "oracle":
        return (0, label)
    if base in LLM_ORDER:
        return (1 + LLM_ORDER.index(base), label)
    return (10, label)  # null baselines last


def _phases(jobs: list[Job]) -> list[str]:
    seen = {p for j in jobs for p in j.result.get("by_phase", {})}
    known = all_phases()
    return [p for p in known if p in seen] + sorted(seen - set(known))


def _outcomes(job: Job, phase: str | None = None) -> list[float]:
    """Per-task success (0/1) of a job, optionally of one phase."""
    if job.records:
        return [float(r["success"]) for r in job.records if phase is None or r["task"]["phase"] == phase]
    # Without records (an edited sweep): result.json's task list has no phases.
    return [float(t["success"]) for t in job.result.get("tasks", [])] if phase is None else []


def _group(jobs: list[Job], key: Callable[[Job], Any]) -> dict[Any, list[Job]]:
    out: dict[Any, list[Job]] = defaultdict(list)
    for j in jobs:
        out[key(j)].append(j)
    return dict(out)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


@dataclass
class Cell:
    interval: stats.Interval | None

    def __str__(self) -> str:
        return "-" if self.interval is None else self.interval.fmt()


def success_interval(jobs: list[Job], phase: str | None = None, seed: int = 0) -> stats.Interval | None:
    # Sorted by seed: the resampling (seeded) must not depend on the order jobs were found in. Jobs
    # sharing a seed (other models or presets pooled on purpose) add their tasks to that seed's group.
    groups: dict[int, list[float]] = {}
    for j in sorted(jobs, key=lambda j: (j.seed, str(j.path))):
        groups.setdefault(j.seed, []).extend(_outcomes(j, phase))
    groups = {s: v for s, v in groups.items() if v}
    if not groups:
        return None
    return stats.bootstrap_ci(groups, n_boot=N_BOOT, seed=seed)


def _mean_sd(values: list[float], fmt: str = "{:.1f}") -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(float(np.mean(values)))} ± {fmt.format(float(np.std(values, ddof=1)))}"


def success_tables(jobs: list[Job]) -> list[Table]:
    """Per (world, protocol): success by phase and overall with 95% CIs, one row per condition x model."""
    tables = []
    for (world, protocol), setting in sorted(_group(jobs, lambda j: (j.world, j.protocol)).items()):
        phases = _phases(setting)
        table = Table(
            name=f"success_{world}_{protocol}",
            title=f"Success by phase, {world} / {protocol} (95% two-level bootstrap CI over seeds and tasks)",
            headers=["condition", "model", "seeds", "tasks", *phases, "overall", "tools evolved"],
        )
        rows = _group(setting, lambda j: (j.label, j.model))
        for (label, model), rjobs in sorted(rows.items(), key=lambda kv: (_row_order(kv[0][0]), kv[0][1])):
            cells = {p: success_interval(rjobs, p) for p in phases}
            overall = success_interval(rjobs)
            promoted = [float(j.result["tools_promoted"]) for j in rjobs if "tools_promoted" in j.result]
            n_tasks = sum(j.result["n_episodes"] for j in rjobs)
            table.add(
                [
                    label,
                    model,
                    str(len({j.seed for j in rjobs})),
                    str(n_tasks),
                    *(str(Cell(cells[p])) for p in phases),
                    str(Cell(overall)),
                    _mean_sd(promoted) if promoted else "-",
                ],
                {
                    "world": world,
                    "protocol": protocol,
                    "condition": label,
                    "model": model,
                    "simulated": any(j.simulated for j in rjobs),
                    "seeds": len({j.seed for j in rjobs}),
                    "tasks": n_tasks,
                    **{
                        f"{p}_{k}": getattr(cells[p], k) if cells[p] else None
                        for p in phases
                        for k in ("mean", "low", "high")
                    },
                    **{f"overall_{k}": getattr(overall, k) if overall else None for k in ("mean", "low", "high")},
                    "tools_promoted_mean": float(np.mean(promoted)) if promoted else None,
                },
            )
        tables.append(table)
    return tables


def _paired(a: list[Job], b: list[Job]) -> tuple[list[float], list[float]]:
    """Outcomes of the task instances both sets of jobs ran (paired by seed and task id)."""
    bmap = {(j.seed, r["task"]["id"]): float(r["success"]) for j in b for r in j.records}
    xs, ys = [], []
    for j in sorted(a, key=lambda j: j.seed):
        for r in j.records:
            key = (j.seed, r["task"]["id"])
            if key in bmap:
                xs.append(float(r["success"]))
                ys.append(bmap[key])
    return xs, ys


def comparison_tables(jobs: list[Job]) -> list[Table]:
    """Paired tests of every LLM condition against the baseline of its setting, Holm-corrected.

    The baseline is ``no_evolution`` when the setting has it; in a sweep of evolution presets
    (ablations) it is the default pipeline, so each ablation is tested against it.
    """
    tables = []
    settings = _group([j for j in jobs if j.llm], lambda j: (j.world, j.protocol, j.model))
    for (world, protocol, model), setting in sorted(settings.items()):
        by_label = _group(setting, lambda j: j.label)
        labels = sorted(by_label, key=_row_order)
        variants = [lbl for lbl in labels if "[" in lbl]
        if variants and "arise[default]" in by_label:
            base = "arise[default]"
            others = [v for v in variants if v != base]
        elif BASELINE in by_label:
            base = BASELINE
            others = [lbl for lbl in labels if lbl != BASELINE]
        else:
            continue
        tests = []
        for other in others:
            xs, ys = _paired(by_label[other], by_label[base])
            if not xs:
                continue
            perm = stats.paired_permutation(xs, ys, seed=0)
            mc = stats.mcnemar([bool(x) for x in xs], [bool(y) for y in ys])
            tests.append((other, len(xs), perm, mc))
        if not tests:
            continue
        adjusted = stats.holm([t[2].p_value for t in tests])
        table = Table(
            name=f"compare_{world}_{protocol}_{_slug(model)}",
            title=f"Paired comparisons against {base}, {world} / {protocol} / {model}",
            headers=["condition", f"vs {base}", "paired tasks", "diff (pts)", "d_z", "p perm", "p Holm", "McNemar p"],
            notes=[
                "Paired by task instance (same seed, same task id). p perm: two-sided sign-flip permutation test "
                "on per-task success differences; p Holm: Holm-corrected across the rows of this table; d_z: mean "
                "difference / sd of differences; McNemar: exact binomial on discordant pairs below 25, else "
                "chi-square with continuity correction."
            ],
        )
        for (other, n, perm, mc), p_holm in zip(tests, adjusted):
            table.add(
                [
                    other,
                    base,
                    str(n),
                    f"{100 * perm.mean_diff:+.1f}",
                    f"{perm.effect_size:.2f}",
                    _p(perm.p_value),
                    _p(p_holm) + (" *" if p_holm < 0.05 else ""),
                    _p(mc.p_value),
                ],
                {
                    "world": world,
                    "protocol": protocol,
                    "model": model,
                    "condition": other,
                    "baseline": base,
                    "n": n,
                    "mean_diff": perm.mean_diff,
                    "effect_size": perm.effect_size,
                    "p_perm": perm.p_value,
                    "p_holm": p_holm,
                    "p_mcnemar": mc.p_value,
                    "mcnemar_method": mc.method,
                    "b01": mc.b01,
                    "b10": mc.b10,
                },
            )
        tables.append(table)
    return tables


def _pct(interval: stats.Interval | None) -> float | None:
    return None if interval is None else 100 * interval.mean


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text).strip("_")


def published_tables(jobs: list[Job]) -> list[Table]:
    """Ours next to each published ARISE table whose setting the sweep covers."""
    tables = []
    for pub in published.TABLES:
        phases = list(published.ACME) if pub.world == "acmecorp" else []
        matching = [
            j
            for j in jobs
            if j.world == pub.world
            and j.protocol == pub.protocol
            and j.llm
            and j.profile in (pub.profile, pub.model)
            and j.evolution in (None, "default", "paper")
        ]
        if any(j.evolution == "paper" for j in matching):  # the paper's own pipeline, not also the default
            matching = [j for j in matching if j.evolution != "default"]
        if not matching:
            continue
        table = Table(
            name=f"published_{pub.key}",
            title=f"{pub.title}: published vs this sweep",
            headers=["condition", "source", "seeds", *phases, "overall", "tools evolved"],
            notes=[
                f"Ours: {pub.world} / {pub.protocol}; 'simulated' rows come from the offline simulated model "
                f"({pub.profile}) standing in for {pub.model} - they test the pipeline, not the model. "
                "Ours are mean [95% CI]; published are mean ± sd over seeds where the paper gives it."
            ],
        )
        by_cond = _group(matching, lambda j: j.condition)
        for row in pub.rows:
            sd = row.sd
            table.add(
                [
                    row.condition,
                    f"published ({pub.model})",
                    pub.seeds,
                    *(
                        f"{row.by_phase[p]:.0f}" + (f" ± {sd[p]:.0f}" if p in sd else "") if p in row.by_phase else "-"
                        for p in phases
                    ),
                    f"{row.overall:.0f}" + (f" ± {sd['overall']:.0f}" if "overall" in sd else ""),
                    row.tools or "-",
                ],
                {
                    "table": pub.key,
                    "condition": row.condition,
                    "source": "published",
                    "model": pub.model,
                    **{p: row.by_phase.get(p) for p in phases},
                    "overall": row.overall,
                },
            )
            ours = by_cond.get(row.condition)
            if not ours:
                continue
            sim = all(j.simulated for j in ours)
            promoted = [float(j.result["tools_promoted"]) for j in ours if "tools_promoted" in j.result]
            cells = {p: success_interval(ours, p) for p in phases}
            overall = success_interval(ours)
            table.add(
                [
                    row.condition,
                    f"ours, {'simulated ' if sim else ''}{ours[0].profile}",
                    ",".join(str(s) for s in sorted({j.seed for j in ours})),
                    *(str(Cell(cells[p])) for p in phases),
                    str(Cell(overall)),
                    _mean_sd(promoted) if promoted else ("7 (hand-written)" if row.condition == "fixed_tools" else "0"),
                ],
                {
                    "table": pub.key,
                    "condition": row.condition,
                    "source": "simulated" if sim else "ours",
                    "model": ours[0].profile,
                    **{p: _pct(cells[p]) for p in phases},
                    "overall": _pct(overall),
                },
            )
        tables.append(table)
    return tables


def taxonomy_table(jobs: list[Job]) -> tuple[Table | None, dict[str, Counter[str]]]:
    """Table 5: failed episodes of LLM agents by error category (automatic classifier)."""
    counts: dict[str, Counter[str]] = {}
    examples: dict[str, list[str]] = defaultdict(list)
    for label, ljobs in sorted(_group([j for j in jobs if j.llm], lambda j: j.label).items()):
        c: Counter[str] = Counter({k: 0 for k in CATEGORIES})
        for j in ljobs:
            for r in j.records:
                if not r["success"]:
                    verdict = classify(r)
                    c[verdict.category] += 1
                    if len(examples[label]) < 3:
                        examples[label].append(f"{r['task']['id']}: {verdict.reason}")
        counts[label] = c
    if not counts:
        return None, counts
    table = Table(
        name="error_taxonomy",
        title="Error taxonomy of failed episodes (automatic classifier, experiments/taxonomy.py)",
        headers=["condition", "failures", *(LABELS[k] for k in CATEGORIES)],
        notes=["Published: ARISE Table 5, 30 failed ARISE trajectories of GPT-4o-mini, hand-labelled."],
    )
    pub_total = sum(published.ERROR_TAXONOMY.values())
    table.add(
        [
            "arise (published)",
            str(pub_total),
            *(f"{v} ({100 * v / pub_total:.0f}%)" for v in (published.ERROR_TAXONOMY[k] for k in CATEGORIES)),
        ],
        {"condition": "arise", "source": "published", "failures": pub_total, **published.ERROR_TAXONOMY},
    )
    for label, c in sorted(counts.items(), key=lambda kv: _row_order(kv[0])):
        total = sum(c.values())
        table.add(
            [label, str(total), *(f"{c[k]} ({100 * c[k] / total:.0f}%)" if total else "0" for k in CATEGORIES)],
            {"condition": label, "source": "ours", "failures": total, **{k: c[k] for k in CATEGORIES}},
        )
    for label, exs in sorted(examples.items()):
        table.notes.append(f"{label}, first failures: " + "; ".join(exs))
    return table, counts


def cost_table(jobs: list[Job]) -> Table | None:
    """Table 6: per job, wall time, LLM calls (agent + evolution), tokens and cost."""
    llm_jobs = [j for j in jobs if j.llm]
    if not llm_jobs:
        return None
    table = Table(
        name="cost",
        title="Cost and time per job (mean ± sd over jobs; agent and evolution calls together)",
        headers=[
            "setting",
            "condition",
            "model",
            "jobs",
            "episodes/job",
            "wall s/job",
            "LLM calls",
            "tokens in",
            "tokens out",
            "cost $",
            "published (per 60-episode run)",
        ],
        notes=[
            "Simulated models answer in microseconds, so wall time is the harness' own (sandbox, worlds); "
            "calls, tokens and the cost the mimicked model would charge are what a real run would spend."
        ],
    )
    for (setting, label, model), rjobs in sorted(
        _group(llm_jobs, lambda j: (f"{j.world}/{j.protocol}", j.label, j.model)).items(),
        key=lambda kv: (kv[0][0], _row_order(kv[0][1]), kv[0][2]),
    ):
        res = [j.result for j in rjobs]
        calls = [r.get("llm_calls", 0) + r.get("evolution_llm_calls", 0) for r in res]
        tin = [r.get("tokens_in", 0) + r.get("evolution_tokens_in", 0) for r in res]
        tout = [r.get("tokens_out", 0) + r.get("evolution_tokens_out", 0) for r in res]
        costs = [(r.get("cost_usd") or 0.0) + (r.get("evolution_cost_usd") or 0.0) for r in res]
        pub_model = published.PROFILE_MODEL.get(rjobs[0].profile, rjobs[0].profile)
        pub = next((c for c in published.COST if c.model == pub_model and c.condition == label), None)
        if setting != "acmecorp/arise_v1":  # the paper's figures are for its own task set
            pub = None
        pub_s = f"{pub.duration}, {pub.llm_calls} calls, ${pub.cost_usd:.2f} ({pub.model})" if pub else "-"
        table.add(
            [
                setting,
                label,
                model,
                str(len(rjobs)),
                _mean_sd([float(r["n_episodes"]) for r in res], "{:.0f}"),
                _mean_sd([float(r["wall_s"]) for r in res]),
                _mean_sd([float(c) for c in calls], "{:.0f}"),
                _mean_sd([float(t) for t in tin], "{:.0f}"),
                _mean_sd([float(t) for t in tout], "{:.0f}"),
                _mean_sd(costs, "{:.2f}"),
                pub_s,
            ],
            {
                "setting": setting,
                "condition": label,
                "model": model,
                "jobs": len(rjobs),
                "episodes": float(np.mean([r["n_episodes"] for r in res])),
                "wall_s": float(np.mean([r["wall_s"] for r in res])),
                "llm_calls": float(np.mean(calls)),
                "tokens_in": float(np.mean(tin)),
                "tokens_out": float(np.mean(tout)),
                "cost_usd": float(np.mean(costs)),
            },
        )
    return table


def tool_quality_table(jobs: list[Job]) -> Table | None:
    lib_jobs = [j for j in jobs if "tools_promoted" in j.result]
    if not lib_jobs:
        return None
    reasons = sorted({k for j in lib_jobs for k in j.result.get("rejections", {})})
    pub = published.TOOL_QUALITY
    table = Table(
        name="tool_quality",
        title="Tool quality per job: candidates, promotions and why candidates were rejected",
        headers=[
            "setting",
            "condition",
            "model",
            "jobs",
            "candidates",
            "promoted",
            "promotion rate",
            "active at end",
            "rejections",
            *(f"{r} %" for r in reasons),
        ],
        notes=[
            f"Published (ARISE, GPT-4o-mini): {pub.candidates} candidates, promotion rate "
            f"about {pub.promotion_rate:.0f}%, {pub.active_tools} active tools; rejections: "
            + ", ".join(f"{k} {v:.0f}%" for k, v in pub.rejections.items())
            + "."
        ],
    )
    for (setting, label, model), rjobs in sorted(
        _group(lib_jobs, lambda j: (f"{j.world}/{j.protocol}", j.label, j.model)).items(),
        key=lambda kv: (kv[0][0], _row_order(kv[0][1]), kv[0][2]),
    ):
        res = [j.result for j in rjobs]
        cand = [float(r.get("candidates", 0)) for r in res]
        prom = [float(r.get("tools_promoted", 0)) for r in res]
        active = [float(len(r.get("evolution", {}).get("library", []))) for r in res]
        rej: Counter[str] = Counter()
        for r in res:
            rej.update(r.get("rejections", {}))
        n_rej = sum(rej.values())
        rate = sum(prom) / sum(cand) if sum(cand) else None
        table.add(
            [
                setting,
                label,
                model,
                str(len(rjobs)),
                _mean_sd(cand),
                _mean_sd(prom),
                f"{100 * rate:.0f}%" if rate is not None else "-",
                _mean_sd(active),
                str(n_rej),
                *(f"{100 * rej[k] / n_rej:.0f}" if n_rej else "-" for k in reasons),
            ],
            {
                "setting": setting,
                "condition": label,
                "model": model,
                "jobs": len(rjobs),
                "candidates": float(np.mean(cand)),
                "promoted": float(np.mean(prom)),
                "promotion_rate": rate,
                "active": float(np.mean(active)),
                **{f"rejected_{k}": rej[k] for k in reasons},
            },
        )
    return table


def pass_k_table(jobs: list[Job]) -> Table | None:
    """pass^k over seeds: a task family counts as reliable at k when k of its runs all succeed."""
    rows = []
    for (world, protocol, label, model), rjobs in sorted(
        _group(jobs, lambda j: (j.world, j.protocol, j.label, j.model)).items(),
        key=lambda kv: (kv[0][0], kv[0][1], _row_order(kv[0][2])),
    ):
        by_family: dict[str, list[bool]] = defaultdict(list)
        for j in rjobs:
            for r in j.records:
                by_family[r["task"]["family"]].append(bool(r["success"]))
        if not by_family:
            continue
        k_max = min(len(v) for v in by_family.values())
        if k_max < 2:
            continue
        curve = stats.pass_hat_k_curve(by_family, range(1, min(k_max, 5) + 1))
        rows.append((world, protocol, label, model, len(by_family), k_max, curve))
    if not rows:
        return None
    ks_all = sorted({k for *_, curve in rows for k in curve})
    table = Table(
        name="pass_k",
        title="Reliability: pass^k over repeated runs of each task family (seeds x worlds x instances)",
        headers=[
            "world",
            "protocol",
            "condition",
            "model",
            "families",
            "runs/family",
            *(f"pass^{k}" for k in ks_all),
        ],
        notes=[
            "pass^k = mean over families of C(c, k) / C(n, k): the chance that k runs of the family, drawn "
            "without replacement, all succeed (tau-bench). pass^1 = pass@1, the plain success rate."
        ],
    )
    for world, protocol, label, model, n_fam, k_max, curve in rows:
        table.add(
            [
                world,
                protocol,
                label,
                model,
                str(n_fam),
                f">= {k_max}",
                *(f"{100 * curve[k]:.1f}%" if k in curve else "-" for k in ks_all),
            ],
            {
                "world": world,
                "protocol": protocol,
                "condition": label,
                "model": model,
                "families": n_fam,
                **{f"pass_hat_{k}": curve.get(k) for k in ks_all},
            },
        )
    return table


def protocol_table(jobs: list[Job]) -> Table | None:
    """Overall success of every condition under each protocol, nulls included: what a protocol measures."""
    protocols = sorted({j.protocol for j in jobs})
    worlds = sorted({j.world for j in jobs})
    if len(protocols) < 2 and not any(j.condition.startswith("null_") for j in jobs):
        return None
    headers = ["world", "condition", "model", *protocols]
    table = Table(
        name="protocols",
        title="Protocol comparison: overall success under each protocol, with the null-policy scores",
        headers=headers,
        notes=[
            "Null policies answer without looking (empty, echo, names, numbers, random, majority, blob). A protocol "
            "whose nulls score well cannot tell a working agent from a guess; 'best null' is the highest of them."
        ],
    )
    for world in worlds:
        wjobs = [j for j in jobs if j.world == world]
        groups = _group(wjobs, lambda j: (j.label, j.model))
        best_null: dict[str, float] = {}
        for (label, model), rjobs in sorted(groups.items(), key=lambda kv: (_row_order(kv[0][0]), kv[0][1])):
            cells, data = [], {}
            for protocol in protocols:
                pj = [j for j in rjobs if j.protocol == protocol]
                ci = success_interval(pj)
                cells.append(f"{100 * ci.mean:.1f}%" if ci else "-")
                data[protocol] = ci.mean if ci else None
                if ci and label.startswith("null_"):
                    best_null[protocol] = max(best_null.get(protocol, 0.0), ci.mean)
            table.add([world, label, model, *cells], {"world": world, "condition": label, "model": model, **data})
        if best_null:
            table.add(
                [
                    world,
                    "**best null**",
                    "-",
                    *(f"{100 * best_null[p]:.1f}%" if p in best_null else "-" for p in protocols),
                ],
                {"world": world, "condition": "best_null", "model": "-", **best_null},
            )
    return table


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


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


def _colors(labels: list[str]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {lbl: cmap(i % 10) for i, lbl in enumerate(labels)}


def phase_bar_figures(jobs: list[Job], figs: Figures) -> None:
    import matplotlib.pyplot as plt

    for (world, protocol), setting in sorted(_group(jobs, lambda j: (j.world, j.protocol)).items()):
        llm = [j for j in setting if j.llm or j.condition == "oracle"]
        if not llm:
            continue
        phases = [*_phases(llm), "overall"]
        groups = sorted(_group(llm, lambda j: (j.label, j.model)).items(), key=lambda kv: _row_order(kv[0][0]))
        fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(phases) * max(1, len(groups)) / 2.5), 3.8))
        width = 0.8 / len(groups)
        colors = _colors([f"{lbl} {m}" for (lbl, m), _ in groups])
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
            "Bars: pooled success; whiskers: 95% two-level bootstrap CI (seeds, then tasks).",
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
        _group([j for j in jobs if j.llm], lambda j: (j.world, j.protocol)).items()
    ):
        groups = sorted(_group(setting, lambda j: (j.label, j.model)).items(), key=lambda kv: _row_order(kv[0][0]))
        n = min((len(j.records) for j in setting if j.records), default=0)
        if n < 4:
            continue
        window = max(3, n // 8)
        fig, ax = plt.subplots(figsize=(8, 3.8))
        colors = _colors([f"{lbl} {m}" for (lbl, m), _ in groups])
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

    lib = [j for j in jobs if "tools_promoted" in j.result and j.records]
    if not lib:
        return
    groups = sorted(_group(lib, lambda j: (j.world, j.protocol, j.label, j.model)).items())
    fig, ax = plt.subplots(figsize=(8, 3.8))
    colors = _colors([" ".join(k) for k, _ in groups])
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

    lib = [j for j in jobs if "tools_promoted" in j.result]
    if not lib:
        return
    groups = sorted(_group(lib, lambda j: (j.world, j.protocol, j.label)).items())
    fig, ax = plt.subplots(figsize=(6.5, 4))
    colors = _colors([" ".join(k) for k, _ in groups])
    xs_all, ys_all = [], []
    for key, rjobs in groups:
        xs = [len(j.result.get("evolution", {}).get("library", [])) for j in rjobs]
        ys = [100 * j.result["success_rate"] for j in rjobs]
        xs_all += xs
        ys_all += ys
        ax.scatter(xs, ys, color=colors[" ".join(key)], label=f"{key[0]}/{key[1]} {key[2]}", alpha=0.8)
    note = ""
    if len(set(xs_all)) > 2 and len(set(ys_all)) > 1:
        from scipy.stats import spearmanr

        rho = spearmanr(xs_all, ys_all).statistic
        note = f" (Spearman rho = {rho:.2f} over {len(xs_all)} jobs)"
    ax.set_xlabel("active tools at the end of the job")
    ax.set_ylabel("success %")
    ax.set_title("Tools vs success" + note, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figs.save(fig, "tools_vs_success", "Tools vs success", "One point per job." + note)


def taxonomy_figure(counts: dict[str, Counter[str]], figs: Figures) -> None:
    import matplotlib.pyplot as plt

    rows = [(lbl, c) for lbl, c in sorted(counts.items(), key=lambda kv: _row_order(kv[0])) if sum(c.values())]
    pub_total = sum(published.ERROR_TAXONOMY.values())
    rows.append(("arise (published)", Counter(published.ERROR_TAXONOMY)))
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.6))
    colors = _colors(list(CATEGORIES))
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


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def build_report(dirs: list[Path], out: Path, progress: bool = True) -> Path:
    """Write report.md, tables/ and figures/ into ``out``; returns report.md's path.

    Figures are drawn and closed without being shown, so any matplotlib backend works (the command
    line selects Agg; a notebook keeps its own)."""
    from experiments import report_diagnostics  # imports this module's helpers

    jobs = load_jobs(dirs, progress=progress)
    if not jobs:
        raise FileNotFoundError(f"no result.json under {', '.join(str(d) for d in dirs)}: run a sweep first")
    out.mkdir(parents=True, exist_ok=True)
    tables_dir, figs = out / "tables", Figures(out / "figures")
    sections: list[tuple[str, str, list[Table]]] = []
    steps: list[tuple[str, Callable[[], None]]] = []
    taxonomy_counts: dict[str, Counter[str]] = {}

    def add(title: str, intro: str, tables: list[Table | None]) -> None:
        kept = [t for t in tables if t is not None]
        if kept:
            sections.append((title, intro, kept))

    def tax() -> None:
        table, counts = taxonomy_table(jobs)
        taxonomy_counts.update(counts)
        add("Error taxonomy (Table 5)", "Every failed episode of an LLM agent, classified from its record.", [table])

    steps = [
        ("success", lambda: add("Success by phase (Tables 2-4)", "", list(success_tables(jobs)))),
        ("comparisons", lambda: add("Paired comparisons", "", list(comparison_tables(jobs)))),
        ("published", lambda: add("Side by side with the published numbers", "", list(published_tables(jobs)))),
        ("taxonomy", tax),
        ("cost", lambda: add("Cost and time (Table 6)", "", [cost_table(jobs)])),
        ("tool quality", lambda: add("Tool quality", "", [tool_quality_table(jobs)])),
        ("pass^k", lambda: add("Reliability (pass^k)", "", [pass_k_table(jobs)])),
        ("protocols", lambda: add("Protocols and null policies", "", [protocol_table(jobs)])),
        (
            "tool-genesis",
            lambda: add(
                "Tool-Genesis diagnostics of evolved tools (L1-L4)", GENESIS_INTRO, report_diagnostics.tables(jobs)
            ),
        ),
        ("figures: phases", lambda: phase_bar_figures(jobs, figs)),
        ("figures: learning curves", lambda: learning_curve_figures(jobs, figs)),
        ("figures: library", lambda: library_growth_figure(jobs, figs)),
        ("figures: tools vs success", lambda: tools_vs_success_figure(jobs, figs)),
        ("figures: tool-genesis", lambda: report_diagnostics.genesis_figure(jobs, figs)),
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
        "Intervals are 95% two-level bootstrap CIs (resampling seeds, then tasks within seeds; "
        f"{N_BOOT} resamples). Tables are also in `tables/` as Markdown, LaTeX and CSV; figures in `figures/` "
        "as PNG and PDF.",
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m experiments.report",
        description="Tables, statistics and figures of one or more sweep directories (every result.json below them).",
        epilog="example: python -m experiments.run -m +experiment=paper_table2 && "
        "python -m experiments.report runs/paper_table2",
    )
    ap.add_argument("dirs", nargs="+", type=Path, help="sweep or job directories")
    ap.add_argument("--out", type=Path, default=None, help="where to write (default: <first dir>/report)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    for d in args.dirs:
        if not d.is_dir():
            ap.error(f"{d} is not a directory")
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    out = args.out or args.dirs[0] / "report"
    try:
        path = build_report(args.dirs, out, progress=not args.no_progress)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
