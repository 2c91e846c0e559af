"""Arms of a sweep: jobs grouped into rows (condition x model), their order, and success per arm."""

from __future__ import annotations

from envs.registry import all_phases
from experiments import stats
from experiments.report.jobs import Job

N_BOOT = 2000  # bootstrap resamples per interval: enough for 0.5-point stable bounds, fast on 2 cores
LLM_ORDER = ("arise", "code_agent", "fixed_tools", "no_evolution")


def row_order(label: str) -> tuple[int, str]:
    base = label.split("[")[0].split(" (")[0].strip()
    if base == "oracle":
        return (0, label)
    if base in LLM_ORDER:
        return (1 + LLM_ORDER.index(base), label)
    return (10, label)  # null baselines last


def phases_of(jobs: list[Job]) -> list[str]:
    seen = {p for j in jobs for p in j.result.get("by_phase", {})}
    known = all_phases()
    return [p for p in known if p in seen] + sorted(seen - set(known))


def task_outcomes(job: Job, phase: str | None = None) -> list[float]:
    """Per-task success (0/1) of a job, optionally of one phase."""
    if job.records:
        return [float(r["success"]) for r in job.records if phase is None or r["task"]["phase"] == phase]
    # Without records (an edited sweep): result.json's task list has no phases.
    return [float(t["success"]) for t in job.result.get("tasks", [])] if phase is None else []


def success_interval(jobs: list[Job], phase: str | None = None, seed: int = 0) -> stats.Interval | None:
    # Sorted by seed: the resampling (seeded) must not depend on the order jobs were found in. Jobs
    # sharing a seed (other models or presets pooled on purpose) add their tasks to that seed's group.
    groups: dict[int, list[float]] = {}
    for j in sorted(jobs, key=lambda j: (j.seed, str(j.path))):
        groups.setdefault(j.seed, []).extend(task_outcomes(j, phase))
    groups = {s: v for s, v in groups.items() if v}
    if not groups:
        return None
    # Seeds as random (t interval over per-seed rates); a single seed falls back to the tasks-only
    # bootstrap, which covers that seed's worlds only (method "tasks", marked in the tables).
    return stats.seed_interval(groups, n_boot=N_BOOT, seed=seed)


def paired_outcomes(a: list[Job], b: list[Job]) -> tuple[list[float], list[float]]:
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


def paired_by_seed(a: list[Job], b: list[Job]) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    """The same pairs as :func:`paired_outcomes`, grouped by seed (for the seed-level comparison)."""
    bmap = {(j.seed, r["task"]["id"]): float(r["success"]) for j in b for r in j.records}
    xs: dict[int, list[float]] = {}
    ys: dict[int, list[float]] = {}
    for j in sorted(a, key=lambda j: j.seed):
        for r in j.records:
            key = (j.seed, r["task"]["id"])
            if key in bmap:
                xs.setdefault(j.seed, []).append(float(r["success"]))
                ys.setdefault(j.seed, []).append(bmap[key])
    return xs, ys
