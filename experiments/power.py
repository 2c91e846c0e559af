"""How many seeds does a comparison of two conditions need? ``python -m experiments.power <sweep_dir> --a X --b Y``.

Reads every result.json under a sweep directory, pairs the task instances of conditions a and b by task id
within each seed, estimates the power-analysis inputs from this pilot (success rates, between-seed sd of the
rates and of the difference, within-task correlation; see experiments.stats.pilot_estimates), tests the
observed difference with seeds as random (t test and exact sign-flip over per-seed differences: what the
report uses for seeds in general) and on these worlds only (task-level sign-flip permutation test and
McNemar), and simulates how many seeds of the same size give the seed-level test the target power for the
observed difference and for a difference of interest (--delta).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envs.cli import run_main
from experiments.stats import (
    mcnemar,
    paired_permutation,
    pilot_estimates,
    required_size,
    seed_comparison,
    seed_interval,
)
from experiments.summary import find_results

EPILOG = """\
example:
  python -m experiments.power runs/sweep/20261122-023038 --a arise --b no_evolution \\
      --world acmecorp --protocol rigorous --delta 0.10

The power simulation (experiments.stats.power_paired) draws, per seed, a shared offset ~ Normal(0, seed sd)
on both conditions' success rates and a seed x condition effect ~ Normal(0, diff sd) on their difference,
and per task a correlated pair of outcomes with the pilot's phi correlation; the test is the seed-level t
test over per-seed mean differences, so more tasks per seed cannot replace seeds when diff sd > 0.
Scripted conditions (no LLM) are kept by --model; filter LLM runs with it when a sweep has several models.
"""


class DataError(Exception):
    """The sweep directory does not support the requested comparison; the message says why."""


def load_results(root: Path) -> list[dict[str, Any]]:
    """Every readable result.json under ``root``, each job once (see experiments.summary.find_results)."""
    return [{**result, "_path": str(job / "result.json")} for job, result in find_results(root)]


def _values(results: Sequence[dict[str, Any]], key: str) -> list[str]:
    return sorted({str(r.get(key)) for r in results})


def select(
    results: Sequence[dict[str, Any]],
    *,
    a: str,
    b: str,
    world: str | None = None,
    protocol: str | None = None,
    model: str | None = None,
) -> list[dict[str, Any]]:
    """The results of conditions a and b that pass the filters; raises DataError explaining what is missing."""
    kept = [
        r
        for r in results
        if (world is None or r.get("world") == world)
        and (protocol is None or r.get("protocol") == protocol)
        and (model is None or not r.get("llm") or r.get("model") == model)
    ]
    if not kept:
        raise DataError(
            f"no result.json matches world={world}, protocol={protocol}, model={model}; present: "
            f"worlds {_values(results, 'world')}, protocols {_values(results, 'protocol')}, "
            f"models {_values([r for r in results if r.get('llm')], 'model')}"
        )
    present = _values(kept, "condition")
    for name in (a, b):
        if name not in present:
            raise DataError(f"condition {name!r} not found; conditions present: {', '.join(present)}")
    chosen = [r for r in kept if r.get("condition") in (a, b)]
    for key, flag in (("world", "--world"), ("protocol", "--protocol")):
        seen = _values(chosen, key)
        if len(seen) > 1:
            raise DataError(f"conditions {a!r} and {b!r} were run on several {key}s ({', '.join(seen)}): pass {flag}")
    return chosen


def pair_tasks(
    results: Sequence[dict[str, Any]], a: str, b: str
) -> tuple[dict[int, list[bool]], dict[int, list[bool]], int]:
    """Outcomes of a and b on the task instances both ran, by seed and sorted by task id; also the unpaired count.

    Raises DataError if one (condition, seed, task id) appears in two result.json files (e.g. two models of an
    LLM condition) or if no task is paired.
    """
    outcomes: dict[str, dict[tuple[int, str], bool]] = {a: {}, b: {}}
    source: dict[tuple[str, int, str], str] = {}
    for r in results:
        try:
            cond, seed = r["condition"], int(r["seed"])
            tasks = [(str(t["id"]), bool(t["success"])) for t in r["tasks"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{r['_path']}: not a result.json with condition, seed and tasks ({exc!r})") from exc
        for task_id, success in tasks:
            key = (seed, task_id)
            if key in outcomes[cond]:
                raise DataError(
                    f"task {key[1]!r} of condition {cond!r}, seed {seed} appears in two runs "
                    f"({source[(cond, *key)]} and {r['_path']}); narrow the selection with --model/--world/--protocol"
                )
            outcomes[cond][key] = success
            source[(cond, *key)] = r["_path"]
    common = sorted(set(outcomes[a]) & set(outcomes[b]))
    if not common:
        raise DataError(
            f"no paired tasks: conditions {a!r} and {b!r} share no (seed, task id) "
            f"(seeds of {a}: {sorted({s for s, _ in outcomes[a]})}, of {b}: {sorted({s for s, _ in outcomes[b]})})"
        )
    a_by_seed: dict[int, list[bool]] = {}
    b_by_seed: dict[int, list[bool]] = {}
    for key in common:
        a_by_seed.setdefault(key[0], []).append(outcomes[a][key])
        b_by_seed.setdefault(key[0], []).append(outcomes[b][key])
    unpaired = len(outcomes[a]) + len(outcomes[b]) - 2 * len(common)
    return a_by_seed, b_by_seed, unpaired


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def report(args: argparse.Namespace) -> str:
    """The full text printed by the command (raises DataError on unusable data)."""
    results = load_results(args.sweep_dir)
    if not results:
        raise DataError(f"no result.json under {args.sweep_dir}")
    chosen = select(results, a=args.a, b=args.b, world=args.world, protocol=args.protocol, model=args.model)
    a_by_seed, b_by_seed, unpaired = pair_tasks(chosen, args.a, args.b)
    pilot = pilot_estimates(a_by_seed, b_by_seed)
    seeds = sorted(a_by_seed)
    a_all = [x for s in seeds for x in a_by_seed[s]]
    b_all = [x for s in seeds for x in b_by_seed[s]]
    float_a = {s: [float(x) for x in a_by_seed[s]] for s in seeds}
    float_b = {s: [float(x) for x in b_by_seed[s]] for s in seeds}
    ci_a = seed_interval(float_a, seed=args.seed)
    ci_b = seed_interval(float_b, seed=args.seed)
    cmp = seed_comparison(float_a, float_b, seed=args.seed)
    perm = paired_permutation(a_all, b_all, seed=args.seed)
    mc = mcnemar(a_all, b_all)
    tasks_per_seed = args.tasks_per_seed or max(1, round(statistics.median(len(v) for v in a_by_seed.values())))

    where = "/".join(_values(chosen, "world") + _values(chosen, "protocol"))
    one = len(seeds) == 1
    lines = [
        f"pilot ({where}): {args.a} vs {args.b}, {pilot['n_tasks']} paired tasks over {len(seeds)} "
        f"seed{'s' if len(seeds) > 1 else ''} ({', '.join(map(str, seeds))})"
        + (f"; {unpaired} unpaired tasks ignored" if unpaired else ""),
        f"  p({args.a}) = {ci_a.fmt()}    p({args.b}) = {ci_b.fmt()}    "
        + (
            "(95% bootstrap CIs over tasks: this seed's worlds only)"
            if one
            else f"(95% t intervals over {len(seeds)} seeds, seeds as random)"
        ),
        f"  seed sd = {pilot['seed_sd']:.3f} (observed sd of per-seed rates {pilot['seed_sd_observed']:.3f}, "
        f"minus sampling noise)    within-task correlation rho (phi) = {pilot['rho']:.3f}",
        f"  diff sd = {pilot['diff_sd']:.3f} (between-seed sd of the difference a - b; observed sd of per-seed "
        f"differences {pilot['diff_sd_observed']:.3f}, minus sampling noise)",
        *(["  (one seed: the between-seed sds cannot be estimated and are taken as 0)"] if one else []),
        "observed, seeds as random (does a beat b on new seeds?):",
        (
            "  no seed-level test with one seed"
            if one
            else f"  difference a - b = {100 * cmp.mean_diff:+.1f} pts [{100 * cmp.low:+.1f}, {100 * cmp.high:+.1f}] "
            f"(95% t interval over seeds), seed-level p = {cmp.p_value:.4g}, exact sign-flip over seeds p = "
            f"{cmp.p_signflip:.4g} (cannot go below {cmp.min_p_signflip:.3g})"
        ),
        f"  generalises to: {cmp.scope(args.alpha)}",
        "observed, these worlds only (tasks as the unit; not evidence about other seeds):",
        f"  paired permutation: mean diff = {perm.mean_diff:+.3f}, p = {perm.p_value:.4g} ({perm.method}), "
        f"d_z = {perm.effect_size:.3f}",
        f"  McNemar: b01 = {mc.b01} ({args.b} only), b10 = {mc.b10} ({args.a} only), p = {mc.p_value:.4g} "
        f"({mc.method})",
        "",
        f"seeds needed for {_pct(args.target)} power of the seed-level t test (alpha = {args.alpha}, "
        f"{tasks_per_seed} tasks per seed, seed sd = {pilot['seed_sd']:.3f}, diff sd = {pilot['diff_sd']:.3f}, "
        f"rho = {pilot['rho']:.3f}, {args.n_sim} simulations):",
    ]
    rows: list[tuple[str, float]] = [("observed", pilot["diff"])]
    if args.delta is not None and abs(args.delta - pilot["diff"]) > 1e-12:
        rows.append(("--delta", args.delta))
    head = ("effect", "a - b", f"p({args.a})", f"p({args.b})", "seeds", "tasks total", "power")
    table = [head]
    for label, delta in rows:
        p_b = pilot["p_b"]
        p_a = p_b + delta
        if not 0.0 <= p_a <= 1.0:
            table.append((label, f"{100 * delta:+.1f} pts", "-", _pct(p_b), "impossible (rate outside 0-100%)", "", ""))
            continue
        plan = required_size(
            p_a,
            p_b,
            target=args.target,
            seed_sd=pilot["seed_sd"],
            diff_sd=pilot["diff_sd"],
            rho=pilot["rho"],
            alpha=args.alpha,
            tasks_per_seed=tasks_per_seed,
            max_seeds=args.max_seeds,
            seed=args.seed,
            n_sim=args.n_sim,
        )
        seeds_cell = str(plan.n_seeds) if plan.reached else f"> {plan.n_seeds}"
        table.append(
            (
                label,
                f"{100 * delta:+.1f} pts",
                _pct(p_a),
                _pct(p_b),
                seeds_cell,
                str(plan.n_tasks_total) if plan.reached else f"> {plan.n_tasks_total}",
                f"{plan.power:.2f}",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m experiments.power",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("sweep_dir", type=Path, help="a run or sweep directory; every result.json below it is read")
    ap.add_argument("--a", required=True, metavar="CONDITION", help="the condition of interest (e.g. arise)")
    ap.add_argument("--b", required=True, metavar="CONDITION", help="the baseline condition (e.g. no_evolution)")
    ap.add_argument(
        "--delta",
        type=float,
        default=None,
        help="difference in success rate a - b to plan for, as a fraction (0.10 = 10 points); "
        "default: only the observed difference",
    )
    ap.add_argument("--world", help="only results of this world (required if the sweep has several)")
    ap.add_argument("--protocol", help="only results of this protocol (required if the sweep has several)")
    ap.add_argument("--model", help="only LLM runs of this model (runs without an LLM are always kept)")
    ap.add_argument("--target", type=float, default=0.8, help="target power (default 0.8)")
    ap.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    ap.add_argument(
        "--tasks-per-seed",
        type=int,
        default=None,
        metavar="N",
        help="paired tasks per seed in the planned experiment (default: the pilot's median per seed)",
    )
    ap.add_argument("--max-seeds", type=int, default=200, help="largest number of seeds considered (default 200)")
    ap.add_argument("--n-sim", type=int, default=2000, help="simulated experiments per power estimate (default 2000)")
    ap.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap and simulations (default 0)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not args.sweep_dir.is_dir():
        ap.error(f"{args.sweep_dir} is not a directory")
    if args.a == args.b:
        ap.error("--a and --b must name two different conditions")
    if not 0.0 < args.target < 1.0:
        ap.error("--target must be in (0, 1)")
    if not 0.0 < args.alpha < 1.0:
        ap.error("--alpha must be in (0, 1)")
    if args.tasks_per_seed is not None and args.tasks_per_seed < 1:
        ap.error("--tasks-per-seed must be >= 1")
    if args.max_seeds < 1 or args.n_sim < 1:
        ap.error("--max-seeds and --n-sim must be >= 1")
    try:
        text = report(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(text)
    return 0


if __name__ == "__main__":
    run_main(main)
