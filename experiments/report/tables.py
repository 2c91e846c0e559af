"""The report's tables: success by phase, paired comparisons, the published side by side, error
taxonomy, cost, tool quality, pass^k and the protocol comparison."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from experiments import published, stats
from experiments.report.arms import paired_by_seed, paired_outcomes, phases_of, row_order, success_interval
from experiments.report.jobs import Job, group_by
from experiments.report.table import ONE_SEED_MARK, Cell, ReportTable, mean_sd
from experiments.taxonomy import CATEGORIES, LABELS, LLM_FAILURE, classify

BASELINE = "no_evolution"


def success_tables(jobs: list[Job]) -> list[ReportTable]:
    """Per (world, protocol): success by phase and overall with 95% CIs, one row per condition x model."""
    tables = []
    for (world, protocol), setting in sorted(group_by(jobs, lambda j: (j.world, j.protocol)).items()):
        phases = phases_of(setting)
        table = ReportTable(
            name=f"success_{world}_{protocol}",
            title=f"Success by phase, {world} / {protocol} (95% CI over seeds)",
            headers=["condition", "model", "seeds", "tasks", *phases, "overall", "LLM failures", "tools evolved"],
            notes=[SUCCESS_CI_NOTE],
        )
        rows = group_by(setting, lambda j: (j.label, j.model))
        for (label, model), rjobs in sorted(rows.items(), key=lambda kv: (row_order(kv[0][0]), kv[0][1])):
            cells = {p: success_interval(rjobs, p) for p in phases}
            overall = success_interval(rjobs)
            promoted = [float(j.result["tools_promoted"]) for j in rjobs if j.has_library]
            n_tasks = sum(j.result["n_episodes"] for j in rjobs)
            table.add(
                [
                    label,
                    model,
                    str(len({j.seed for j in rjobs})),
                    str(n_tasks),
                    *(str(Cell(cells[p])) for p in phases),
                    str(Cell(overall)),
                    str(sum(len(j.llm_failures) for j in rjobs)) if any(j.llm for j in rjobs) else "-",
                    mean_sd(promoted) if promoted else "-",
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
                    "llm_failures": sum(len(j.llm_failures) for j in rjobs),
                },
            )
        tables.append(table)
    return tables


SUCCESS_CI_NOTE = (
    "Success is the mean of the per-seed rates; the interval is a t interval over seeds (seeds as random: "
    "it speaks for new seeds' worlds, and with 3 seeds its t quantile has 2 degrees of freedom, so it is wide). "
    f"{ONE_SEED_MARK}: one seed - the spread over seeds is unknown, and the interval (bootstrap over its tasks) "
    "speaks for that seed's worlds only."
)

COMPARISON_INTRO = (
    "Each row answers one of two questions, and says which. *Seeds in general*: would the condition beat the "
    "baseline on new seeds' worlds? The seed-level test (one paired difference per seed) answers it; with "
    "fewer than 6 seeds it leans on the per-seed differences being roughly normal, which so few seeds cannot "
    "check, and no distribution-free test can reach p < 0.05. *These worlds*: do the two differ on these very "
    "task instances? The task-level tests answer it, and only it; a small task-level p with 3 seeds is a claim "
    "about three worlds."
)

COMPARISON_NOTE = (
    "Paired by task instance (same seed, same task id). Two questions. Seeds as random - does the condition "
    "help on seeds (worlds) in general? Per seed, the mean paired difference over its tasks; diff is their mean "
    "over seeds with a 95% t interval, p seeds the two-sided t test on them (S - 1 df; interval and test are "
    "never more precise than the tasks' own sampling noise allows), Holm-corrected across this table's rows "
    "(* : p seeds Holm < 0.05); sign-flip is the exact sign-flip test over seeds, which assumes no distribution "
    "but cannot go below 2/2^S (0.25 with 3 seeds, 0.0625 with 5, 0.031 with 6). Tasks as the unit - do the "
    "conditions differ on these very worlds and task instances? p tasks: sign-flip permutation test on per-task "
    "differences, Holm-corrected; McNemar: exact binomial on discordant pairs below 25, else chi-square with "
    "continuity correction. The task-level tests are not evidence about other seeds: when the effect varies by "
    "seed they reject a true null far more often than alpha (in simulation, 11-32% at alpha 0.05 with 3-10 "
    "seeds, depending on how much the effect varies). 'generalises to' says which question the row can answer."
)


def comparison_tables(jobs: list[Job]) -> list[ReportTable]:
    """Paired comparisons of every LLM condition against the baseline of its setting, seed- and task-level.

    The baseline is ``no_evolution`` when the setting has it; in a sweep of evolution presets
    (ablations) it is the default pipeline, so each ablation is tested against it. Each row has the
    seed-level comparison (seeds as random: t test and interval over per-seed differences, exact
    sign-flip over seeds; Holm across rows) and the task-level tests (these worlds only), and says what
    it generalises to (:func:`experiments.stats.seed_scope`).
    """
    tables = []
    settings = group_by([j for j in jobs if j.llm], lambda j: (j.world, j.protocol, j.model))
    for (world, protocol, model), setting in sorted(settings.items()):
        by_label = group_by(setting, lambda j: j.label)
        labels = sorted(by_label, key=row_order)
        variants = [lbl for lbl in labels if "[" in lbl]
        default_pipeline = [v for v in variants if "evolution.name=default" in v]
        if len(default_pipeline) == 1:  # a sweep of evolution presets: each against the default pipeline
            base = default_pipeline[0]
            others = [v for v in variants if v != base]
        elif BASELINE in by_label:
            base = BASELINE
            others = [lbl for lbl in labels if lbl != BASELINE]
        else:
            continue
        tests = []
        for other in others:
            xs, ys = paired_outcomes(by_label[other], by_label[base])
            if not xs:
                continue
            a_seed, b_seed = paired_by_seed(by_label[other], by_label[base])
            cmp = stats.seed_comparison(a_seed, b_seed, seed=0)
            perm = stats.paired_permutation(xs, ys, seed=0)
            mc = stats.mcnemar([bool(x) for x in xs], [bool(y) for y in ys])
            tests.append((other, len(xs), cmp, perm, mc))
        if not tests:
            continue
        task_holm = stats.holm([t[3].p_value for t in tests])
        seeded = [i for i, t in enumerate(tests) if t[2].n_seeds > 1]
        seed_holm: dict[int, float] = dict(zip(seeded, stats.holm([tests[i][2].p_value for i in seeded])))
        table = ReportTable(
            name=f"compare_{world}_{protocol}_{_slug(model)}",
            title=f"Paired comparisons against {base}, {world} / {protocol} / {model}",
            headers=[
                "condition",
                f"vs {base}",
                "seeds",
                "paired tasks",
                "diff (pts) [95% CI over seeds]",
                "p seeds",
                "p seeds Holm",
                "sign-flip over seeds",
                "p tasks Holm (these worlds)",
                "McNemar p (these worlds)",
                "generalises to",
            ],
            notes=[COMPARISON_NOTE],
        )
        for i, (other, n, cmp, perm, mc) in enumerate(tests):
            has_seeds = cmp.n_seeds > 1
            p_holm = seed_holm.get(i)
            table.add(
                [
                    other,
                    base,
                    str(cmp.n_seeds),
                    str(n),
                    f"{100 * cmp.mean_diff:+.1f}"
                    + (f" [{100 * cmp.low:+.1f}, {100 * cmp.high:+.1f}]" if has_seeds else " (1 seed: no CI)"),
                    _p(cmp.p_value) if has_seeds else "-",
                    "-" if p_holm is None else _p(p_holm) + (" *" if p_holm < 0.05 else ""),
                    f"{_p(cmp.p_signflip)} (min {cmp.min_p_signflip:.3g})" if has_seeds else "-",
                    _p(task_holm[i]),
                    _p(mc.p_value),
                    cmp.scope(),
                ],
                {
                    "world": world,
                    "protocol": protocol,
                    "model": model,
                    "condition": other,
                    "baseline": base,
                    "n": n,
                    "seeds": cmp.n_seeds,
                    "mean_diff": cmp.mean_diff,
                    "diff_low": cmp.low if has_seeds else None,
                    "diff_high": cmp.high if has_seeds else None,
                    "p_seeds": cmp.p_value if has_seeds else None,
                    "p_seeds_holm": p_holm,
                    "p_seeds_signflip": cmp.p_signflip if has_seeds else None,
                    "min_p_seeds_signflip": cmp.min_p_signflip,
                    "too_few_seeds": cmp.too_few_seeds(),
                    "generalises_to": cmp.scope(),
                    "pooled_mean_diff": perm.mean_diff,
                    "effect_size": perm.effect_size,
                    "p_tasks": perm.p_value,
                    "p_tasks_holm": task_holm[i],
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


def published_tables(jobs: list[Job]) -> list[ReportTable]:
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
        table = ReportTable(
            name=f"published_{pub.key}",
            title=f"{pub.title}: published vs this sweep",
            headers=["condition", "source", "seeds", *phases, "overall", "tools evolved"],
            notes=[
                f"Ours: {pub.world} / {pub.protocol}; 'simulated' rows come from the offline simulated model "
                f"({pub.profile}) standing in for {pub.model} - they test the pipeline, not the model. "
                "Ours are the mean of per-seed rates [95% t interval over seeds; † one seed: over its tasks, "
                "for that seed's worlds only]; published are mean ± sd over seeds where the paper gives it."
            ],
        )
        by_cond = group_by(matching, lambda j: j.condition)
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
            promoted = [float(j.result["tools_promoted"]) for j in ours if j.has_library]
            cells = {p: success_interval(ours, p) for p in phases}
            overall = success_interval(ours)
            table.add(
                [
                    row.condition,
                    f"ours, {'simulated ' if sim else ''}{ours[0].profile}",
                    ",".join(str(s) for s in sorted({j.seed for j in ours})),
                    *(str(Cell(cells[p])) for p in phases),
                    str(Cell(overall)),
                    mean_sd(promoted) if promoted else ("7 (hand-written)" if row.condition == "fixed_tools" else "0"),
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


def taxonomy_table(
    jobs: list[Job], episode_link: Callable[[Job, dict[str, Any]], str] | None = None
) -> tuple[ReportTable | None, dict[str, Counter[str]]]:
    """Table 5: failed episodes of LLM agents by error category (automatic classifier).

    ``episode_link(job, record)``: where the viewer shows an episode; the examples in the notes link there."""
    counts: dict[str, Counter[str]] = {}
    examples: dict[str, list[str]] = defaultdict(list)
    # One row per arm and setting: failure modes differ by world and protocol (never pooled across them).
    settings: dict[str, dict[str, str]] = {}
    for label, ljobs in sorted(
        group_by([j for j in jobs if j.llm], lambda j: f"{j.label} ({j.world}/{j.protocol}, {j.model})").items()
    ):
        first = ljobs[0]
        settings[label] = {"condition": first.label, "world": first.world, "protocol": first.protocol,
                           "model": first.model}  # fmt: skip
        c: Counter[str] = Counter({k: 0 for k in (*CATEGORIES, LLM_FAILURE)})
        for j in ljobs:
            for r in [*j.records, *j.llm_failures]:
                if not r["success"]:
                    verdict = classify(r)
                    c[verdict.category] += 1
                    if len(examples[label]) < 3:
                        task_id = r["task"]["id"]
                        shown = f"[{task_id}]({episode_link(j, r)})" if episode_link else task_id
                        examples[label].append(f"{shown}: {verdict.reason}")
        counts[label] = c
    if not counts:
        return None, counts
    table = ReportTable(
        name="error_taxonomy",
        title="Error taxonomy of failed episodes (automatic classifier, experiments/taxonomy.py)",
        headers=["condition", "failures", *(LABELS[k] for k in CATEGORIES), LABELS[LLM_FAILURE]],
        notes=[
            "Published: ARISE Table 5, 30 failed ARISE trajectories of GPT-4o-mini, hand-labelled.",
            "failures and shares count the agent's failures; episodes whose model failed (LLM failure) are "
            "counted apart: they are not results.",
        ],
    )
    pub_total = sum(published.ERROR_TAXONOMY.values())
    table.add(
        [
            "arise (published)",
            str(pub_total),
            *(f"{v} ({100 * v / pub_total:.0f}%)" for v in (published.ERROR_TAXONOMY[k] for k in CATEGORIES)),
            "-",
        ],
        {"condition": "arise", "source": "published", "failures": pub_total, **published.ERROR_TAXONOMY},
    )
    for label, c in sorted(counts.items(), key=lambda kv: row_order(kv[0])):
        total = sum(c[k] for k in CATEGORIES)
        table.add(
            [
                label,
                str(total),
                *(f"{c[k]} ({100 * c[k] / total:.0f}%)" if total else "0" for k in CATEGORIES),
                str(c[LLM_FAILURE]),
            ],
            {
                **settings[label],
                "source": "ours",
                "failures": total,
                **{k: c[k] for k in CATEGORIES},
                LLM_FAILURE: c[LLM_FAILURE],
            },
        )
    for label, exs in sorted(examples.items()):
        table.notes.append(f"{label}, first failures: " + "; ".join(exs))
    return table, counts


def cost_table(jobs: list[Job]) -> ReportTable | None:
    """Table 6: per job, wall time, LLM calls (agent + evolution), tokens and cost."""
    llm_jobs = [j for j in jobs if j.llm]
    if not llm_jobs:
        return None
    table = ReportTable(
        name="cost",
        title="Cost and time per job (mean ± sd over jobs; agent, evolution and L4 calls together)",
        headers=[
            "setting",
            "condition",
            "model",
            "jobs",
            "episodes/job",
            "wall s/job",
            "LLM calls",
            "failed calls",
            "LLM failures",
            "cut off",
            "tokens in",
            "tokens out",
            "cost $",
            "published (per 60-episode run)",
        ],
        notes=[
            "Simulated models answer in microseconds, so wall time is the harness' own (sandbox, worlds); "
            "calls, tokens and the cost the mimicked model would charge are what a real run would spend.",
            "failed calls: calls that never answered (every retry failed), summed over jobs; LLM failures: "
            "episodes those ended (not results: left out of every success rate); cut off: episodes whose final "
            "answer stopped at the output-token limit (graded as it stands).",
        ],
    )
    for (setting, label, model), rjobs in sorted(
        group_by(llm_jobs, lambda j: (f"{j.world}/{j.protocol}", j.label, j.model)).items(),
        key=lambda kv: (kv[0][0], row_order(kv[0][1]), kv[0][2]),
    ):
        res = [j.result for j in rjobs]
        totals = [_total_usage(r) for r in res]
        calls = [t["llm_calls"] for t in totals]
        tin = [t["tokens_in"] for t in totals]
        tout = [t["tokens_out"] for t in totals]
        failed = [t.get("failed_calls") or 0 for t in totals]
        known = [t["cost_usd"] for t in totals if t["cost_usd"] is not None]
        costs = known if len(known) == len(totals) else []  # a mean over some jobs would understate it
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
                mean_sd([float(r["n_episodes"]) for r in res], "{:.0f}"),
                mean_sd([float(r["wall_s"]) for r in res]),
                mean_sd([float(c) for c in calls], "{:.0f}"),
                str(sum(failed)),
                str(sum(len(j.llm_failures) for j in rjobs)),
                str(sum(int(j.result.get("cut_off") or 0) for j in rjobs)),
                mean_sd([float(t) for t in tin], "{:.0f}"),
                mean_sd([float(t) for t in tout], "{:.0f}"),
                mean_sd(costs, "{:.2f}") if costs else "unknown",
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
                "cost_usd": float(np.mean(costs)) if costs else None,
                "failed_calls": sum(failed),
                "llm_failures": sum(len(j.llm_failures) for j in rjobs),
                "cut_off": sum(int(j.result.get("cut_off") or 0) for j in rjobs),
            },
        )
    return table


def _total_usage(result: dict[str, Any]) -> dict[str, Any]:
    """A job's LLM use over every role (agent, evolution, diagnostics); results of earlier versions
    have agent and evolution fields only."""
    if result.get("usage"):
        return dict(result["usage"]["total"])
    cost = [result.get("cost_usd"), result.get("evolution_cost_usd")]
    return {
        "llm_calls": result.get("llm_calls", 0) + (result.get("evolution_llm_calls") or 0),
        "tokens_in": result.get("tokens_in", 0) + (result.get("evolution_tokens_in") or 0),
        "tokens_out": result.get("tokens_out", 0) + (result.get("evolution_tokens_out") or 0),
        "cost_usd": sum(c or 0.0 for c in cost),
    }


def tool_quality_table(jobs: list[Job]) -> ReportTable | None:
    lib_jobs = [j for j in jobs if j.has_library]
    if not lib_jobs:
        return None
    reasons = sorted({k for j in lib_jobs for k in j.result.get("rejections", {})})
    pub = published.TOOL_QUALITY
    table = ReportTable(
        name="tool_quality",
        title="Tool quality per job: candidates, promotions and why candidates were rejected",
        headers=[
            "setting",
            "condition",
            "model",
            "jobs",
            "candidates (per job)",
            "promoted (per job)",
            "promotion rate (pooled)",
            "active at end (per job)",
            "rejections (pooled)",
            *(f"{r} % (pooled)" for r in reasons),
        ],
        notes=[
            "per job: mean ± sd over the jobs of the row; pooled: summed over them (promotion rate = all "
            "promoted / all candidates; undefined without candidates).",
            f"Published (ARISE, GPT-4o-mini): {pub.candidates} candidates, promotion rate "
            f"about {pub.promotion_rate:.0f}%, {pub.active_tools} active tools; rejections: "
            + ", ".join(f"{k} {v:.0f}%" for k, v in pub.rejections.items())
            + ".",
        ],
    )
    for (setting, label, model), rjobs in sorted(
        group_by(lib_jobs, lambda j: (f"{j.world}/{j.protocol}", j.label, j.model)).items(),
        key=lambda kv: (kv[0][0], row_order(kv[0][1]), kv[0][2]),
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
                mean_sd(cand),
                mean_sd(prom),
                f"{100 * rate:.0f}%" if rate is not None else "undefined (0 candidates)",
                mean_sd(active),
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


def pass_k_table(jobs: list[Job]) -> ReportTable | None:
    """pass^k over seeds: a task family counts as reliable at k when k of its runs all succeed."""
    rows = []
    for (world, protocol, label, model), rjobs in sorted(
        group_by(jobs, lambda j: (j.world, j.protocol, j.label, j.model)).items(),
        key=lambda kv: (kv[0][0], kv[0][1], row_order(kv[0][2])),
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
    table = ReportTable(
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


def protocol_table(jobs: list[Job]) -> ReportTable | None:
    """Overall success of every condition under each protocol, nulls included: what a protocol measures."""
    protocols = sorted({j.protocol for j in jobs})
    worlds = sorted({j.world for j in jobs})
    if len(protocols) < 2 and not any(j.condition.startswith("null_") for j in jobs):
        return None
    headers = ["world", "condition", "model", *protocols]
    table = ReportTable(
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
        groups = group_by(wjobs, lambda j: (j.label, j.model))
        best_null: dict[str, float] = {}
        for (label, model), rjobs in sorted(groups.items(), key=lambda kv: (row_order(kv[0][0]), kv[0][1])):
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
