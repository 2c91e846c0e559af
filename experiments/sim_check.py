"""Does the simulated model behave as its mechanism says? Runs the LLM baselines and checks.

    python -m experiments.sim_check                      # AcmeCorp rigorous, seeds 1..5
    python -m experiments.sim_check --world datacorp --seeds 1 2

Runs ``no_evolution`` and ``fixed_tools`` with both shipped profiles over the seeds
(test split, one world per seed, one instance per family), prints success by phase,
and checks the orderings the mechanism implies:

* fixed_tools beats no_evolution overall and on every phase whose data sits behind an
  API or in large files;
* the strong profile beats the weak one in both conditions.

Exit status 1 when an ordering fails. Records go to ``--out`` (default: a temp dir).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from envs.cli import sigterm_unwinds
from envs.registry import WORLDS, get_world
from experiments.config import compose_run_config
from experiments.run import run_job

WEAK, STRONG = "sim-4o-mini-like", "sim-sonnet-like"
CONDITIONS = ("no_evolution", "fixed_tools")

ProfileTable = dict[tuple[str, str], dict[str, Any]]


def measure(world: str, seeds: list[int], out: Path) -> ProfileTable:
    """Success overall and by phase for every (profile, condition), pooled over ``seeds``; a line per finished
    job on stderr (the whole check takes minutes)."""
    table: ProfileTable = {}
    n_jobs, done, t0 = 2 * len(CONDITIONS) * len(seeds), 0, time.perf_counter()
    for profile in (WEAK, STRONG):
        for condition in CONDITIONS:
            by_phase: dict[str, list[bool]] = {}
            wall = cost = 0.0
            for seed in seeds:
                overrides = [f"world={world}", f"condition={condition}", f"llm={profile}", f"seed={seed}"]
                run_dir = out / f"{world}-{profile}-{condition}-s{seed}"
                result = run_job(compose_run_config([*overrides, "progress=false"]), run_dir)
                wall += result["wall_s"]
                cost += result["cost_usd"] or 0.0
                for line in (run_dir / "episodes.jsonl").read_text(encoding="utf-8").splitlines():
                    rec = json.loads(line)
                    by_phase.setdefault(rec["task"]["phase"], []).append(bool(rec["success"]))
                done += 1
                print(f"[{done}/{n_jobs}] {profile} {condition} seed {seed}: success {result['success_rate']:.1%} "
                      f"({result['wall_s']:.0f} s; {time.perf_counter() - t0:.0f} s elapsed)",
                      file=sys.stderr, flush=True)  # fmt: skip
            pooled = [s for v in by_phase.values() for s in v]
            table[(profile, condition)] = {
                "overall": sum(pooled) / len(pooled),
                "by_phase": {p: sum(v) / len(v) for p, v in by_phase.items()},
                "n": len(pooled),
                "wall_s": round(wall, 1),
                "cost_usd": round(cost, 2),
            }
    return table


def violations(table: ProfileTable, world: str) -> list[str]:
    """The mechanism's orderings that ``table`` breaks (empty = all hold)."""
    bad = []
    for profile in (WEAK, STRONG):
        fixed, none = table[(profile, "fixed_tools")], table[(profile, "no_evolution")]
        if not fixed["overall"] > none["overall"]:
            bad.append(f"{profile}: fixed_tools {fixed['overall']:.2f} <= no_evolution {none['overall']:.2f} overall")
        for phase in get_world(world).tool_phases:
            if not fixed["by_phase"][phase] > none["by_phase"][phase]:
                bad.append(
                    f"{profile}: fixed_tools {fixed['by_phase'][phase]:.2f} <= no_evolution "
                    f"{none['by_phase'][phase]:.2f} on {phase}"
                )
    for condition in CONDITIONS:
        strong, weak = table[(STRONG, condition)], table[(WEAK, condition)]
        if not strong["overall"] > weak["overall"]:
            bad.append(f"{condition}: strong {strong['overall']:.2f} <= weak {weak['overall']:.2f}")
    return bad


def render(table: ProfileTable) -> str:
    phases = list(next(iter(table.values()))["by_phase"])
    head = f"{'profile':<18} {'condition':<13} " + " ".join(f"{p:>10}" for p in phases)
    lines = [head + f" {'overall':>8} {'n':>4} {'wall s':>7} {'cost $':>7}"]
    for (profile, condition), row in table.items():
        cells = " ".join(f"{row['by_phase'][p]:>10.0%}" for p in phases)
        lines.append(
            f"{profile:<18} {condition:<13} {cells} {row['overall']:>8.1%} {row['n']:>4} "
            f"{row['wall_s']:>7} {row['cost_usd']:>7}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.sim_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", default="acmecorp", choices=sorted(WORLDS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, default=None, help="where run directories go (default: a temp dir)")
    args = parser.parse_args(argv)
    with sigterm_unwinds(), tempfile.TemporaryDirectory(prefix="sim_check-") as tmp:
        table = measure(args.world, args.seeds, args.out or Path(tmp))
    print(f"simulated model, {args.world} rigorous test split, seeds {args.seeds} (success pooled over seeds)")
    print(render(table))
    bad = violations(table, args.world)
    for line in bad:
        print(f"VIOLATED: {line}", file=sys.stderr)
    print("all mechanism orderings hold" if not bad else f"{len(bad)} ordering(s) violated")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
