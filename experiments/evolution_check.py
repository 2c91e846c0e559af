"""Does evolution work, and does each safeguard matter? The acceptance measurement of the pipeline.

    python -m experiments.evolution_check                 # AcmeCorp rigorous, seeds 1..5, sim-4o-mini-like
    python -m experiments.evolution_check --seeds 1 2 --variants arise no_evolution

Runs ``no_evolution`` and three ``arise`` variants (default, ``evolution.adversarial=false``,
``evolution.max_repairs=0``) over the seeds and reports, pooled over seeds:

* success on the phases that need tools (logs, metrics, incidents) and overall;
* candidates, promoted tools and rejections by reason;
* the share of promoted tool versions that fail the reference differential tests
  (``experiments.differential``: the reference tool's behaviour on a held-out world,
  the seed's train world, nominal plus edge cases);
* an audit of every promotion against the event log (``audit_promotions``).

Checks: arise beats no_evolution on tool phases by >= 15 points; without adversarial
validation more promoted tools fail the differential tests; with 0 repair rounds
fewer candidates are promoted; no promotion lacks a passing full check. Exit 1 if any fails.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from envs.cli import sigterm_unwinds
from envs.reference_cases import Case, edge_cases, nominal_cases
from envs.registry import WORLDS, get_world
from envs.tasks import get_suite
from envs.tools import tool_spec
from evolution.library import Library
from evolution.pipeline import audit_promotions
from evolution.sandbox.runner import Sandbox
from experiments.config import compose_run_config
from experiments.differential import differential
from experiments.run import run_job

VARIANTS: dict[str, list[str]] = {
    "no_evolution": ["condition=no_evolution"],
    "arise": ["condition=arise"],
    "arise_no_adversarial": ["condition=arise", "evolution.adversarial=false"],
    "arise_no_repair": ["condition=arise", "evolution.max_repairs=0"],
}


@functools.cache
def held_out_cases(world: str, seed: int) -> tuple[Case, ...]:
    """Differential cases on the seed's train world (held out from the test stream), shared by all variants."""
    suite = get_suite(world, "rigorous")
    nominal = nominal_cases(suite, seed, "train")
    return tuple(nominal + edge_cases([tool_spec(f) for f in suite.reference_tools()], nominal, seed))


def differential_failures(library: Library, world: str, seed: int, sandbox: Sandbox) -> tuple[int, int, list[str]]:
    """(promoted versions failing any differential case, promoted versions checked, which)."""
    suite = get_suite(world, "rigorous")
    cases = held_out_cases(world, seed)
    failing, checked, names = 0, 0, []
    for event in library.events("promoted"):
        tool = library.get(event["name"], event["version"])
        result = differential(sandbox, suite, tool.name, tool.code, cases)
        if result.n == 0:
            continue
        checked += 1
        if not result.all_passed:
            failing += 1
            names.append(f"{tool.name} v{tool.version} ({result.passed}/{result.n})")
    return failing, checked, names


def measure(world: str, profile: str, seeds: list[int], variants: list[str], out: Path) -> dict[str, dict[str, Any]]:
    """One row per variant, pooled over ``seeds``; a line per finished job on stderr (the whole check takes minutes)."""
    table: dict[str, dict[str, Any]] = {}
    n_jobs, done, t0 = len(variants) * len(seeds), 0, time.perf_counter()
    with Sandbox() as sandbox:
        for variant in variants:
            by_phase: dict[str, list[bool]] = {}
            row: dict[str, Any] = dict(candidates=0, promoted=0, rejections=Counter(), diff_failing=0, diff_checked=0,
                                       audit=[], wall_s=0.0, evolution_cost_usd=0.0)  # fmt: skip
            for seed in seeds:
                run_dir = out / f"{world}-{variant}-s{seed}"
                overrides = [*VARIANTS[variant], f"world={world}", f"llm={profile}", f"seed={seed}", "progress=false"]
                result = run_job(compose_run_config(overrides), run_dir)
                row["wall_s"] += result["wall_s"]
                for line in (run_dir / "episodes.jsonl").read_text(encoding="utf-8").splitlines():
                    rec = json.loads(line)
                    by_phase.setdefault(rec["task"]["phase"], []).append(bool(rec["success"]))
                done += 1
                print(f"[{done}/{n_jobs}] {variant} seed {seed}: success {result['success_rate']:.1%} "
                      f"({result['wall_s']:.0f} s; {time.perf_counter() - t0:.0f} s elapsed)",
                      file=sys.stderr, flush=True)  # fmt: skip
                if "tools_promoted" not in result:
                    continue
                row["candidates"] += result["candidates"]
                row["promoted"] += result["tools_promoted"]
                row["rejections"].update(result["rejections"])
                row["evolution_cost_usd"] += result.get("evolution_cost_usd") or 0.0  # absent: no author call
                with Library(run_dir / "library.sqlite") as lib:
                    row["audit"] += [f"seed {seed}: {b}" for b in audit_promotions(lib)]
                    failing, checked, _ = differential_failures(lib, world, seed, sandbox)
                row["diff_failing"] += failing
                row["diff_checked"] += checked
            tool_runs = [s for p in get_world(world).tool_phases for s in by_phase.get(p, [])]
            pooled = [s for v in by_phase.values() for s in v]
            row.update(
                by_phase={p: sum(v) / len(v) for p, v in by_phase.items()},
                tool_phases=sum(tool_runs) / len(tool_runs) if tool_runs else 0.0,
                overall=sum(pooled) / len(pooled) if pooled else 0.0,
                diff_fail_share=row["diff_failing"] / row["diff_checked"] if row["diff_checked"] else 0.0,
            )
            table[variant] = row
    return table


def violations(table: dict[str, dict[str, Any]]) -> list[str]:
    bad = []
    if "arise" in table and "no_evolution" in table:
        gain = table["arise"]["tool_phases"] - table["no_evolution"]["tool_phases"]
        if gain < 0.15:
            bad.append(f"arise beats no_evolution on tool phases by {gain:.1%} (< 15 points)")
    if "arise" in table and "arise_no_adversarial" in table:
        on, off = table["arise"]["diff_fail_share"], table["arise_no_adversarial"]["diff_fail_share"]
        if not off > on:
            bad.append(f"without adversarial tests the differential-failure share {off:.1%} is not above {on:.1%}")
    if (
        "arise" in table
        and "arise_no_repair" in table
        and not table["arise_no_repair"]["promoted"] < table["arise"]["promoted"]
    ):
        bad.append(
            f"with 0 repair rounds {table['arise_no_repair']['promoted']} tools were promoted, "
            f"not fewer than {table['arise']['promoted']}"
        )
    for variant, row in table.items():
        bad += [f"{variant}: {a}" for a in row["audit"]]
    return bad


def render(table: dict[str, dict[str, Any]]) -> str:
    phases = list(next(iter(table.values()))["by_phase"])
    head = f"{'variant':<22}" + "".join(f"{p:>10}" for p in phases)
    head += (
        f"{'tool ph.':>9}{'overall':>8}{'cand.':>6}{'prom.':>6}{'diff-fail':>10}{'evo $':>7}{'wall s':>7}  rejections"
    )
    lines = [head]
    for variant, r in table.items():
        cells = "".join(f"{r['by_phase'][p]:>10.0%}" for p in phases)
        diff = f"{r['diff_failing']}/{r['diff_checked']}" if r["diff_checked"] else "-"
        rej = ", ".join(f"{k} {v}" for k, v in sorted(r["rejections"].items())) or "-"
        lines.append(
            f"{variant:<22}{cells}{r['tool_phases']:>9.1%}{r['overall']:>8.1%}{r['candidates']:>6}{r['promoted']:>6}"
            f"{diff:>10}{r['evolution_cost_usd']:>7.2f}{r['wall_s']:>7.0f}  {rej}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.evolution_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", default="acmecorp", choices=sorted(WORLDS))
    parser.add_argument("--profile", default="sim-4o-mini-like")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=None, help="where run directories go (default: a temp dir)")
    args = parser.parse_args(argv)
    with sigterm_unwinds(), tempfile.TemporaryDirectory(prefix="evolution_check-") as tmp:
        table = measure(args.world, args.profile, args.seeds, args.variants, args.out or Path(tmp))
    print(f"{args.profile} (simulated), {args.world} rigorous test split, seeds {args.seeds}, pooled over seeds")
    print(render(table))
    bad = violations(table)
    for line in bad:
        print(f"VIOLATED: {line}", file=sys.stderr)
    print("all evolution checks hold" if not bad else f"{len(bad)} check(s) violated")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
