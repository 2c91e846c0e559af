"""Print one table of every result.json under a directory: ``python -m experiments.summary <dir>``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from envs.cli import run_main
from envs.registry import all_phases
from experiments.arms import arm_labels
from experiments.records import JobResult


def find_results(*roots: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(job directory, result) of every readable result.json below ``roots``, each job once.

    A job reached from two presets (e.g. ``default`` and ``protocols`` in ``make run``) has the
    same plan hash in both directories; it is one job and is counted once (the first path wins).
    Unreadable files are skipped with a warning. Used by the summary, the report and ``power``.
    """
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    repeated = 0
    for path in sorted({p for root in roots for p in Path(root).rglob("result.json")}):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"warning: skipping unreadable {path}: {exc}", file=sys.stderr)
            continue
        if not isinstance(result, dict):
            print(f"warning: skipping {path}: not a JSON object", file=sys.stderr)
            continue
        key = str(result.get("config_hash") or path)
        if key in found:
            repeated += 1
            continue
        found[key] = (path.parent, result)
    if repeated:
        print(f"note: {repeated} job(s) found twice (same plan hash) are counted once", file=sys.stderr)
    register_recorded_worlds(result for _, result in found.values())
    return list(found.values())


def register_recorded_worlds(results: Iterable[dict[str, Any]]) -> None:
    """Import the module of every plugin world the results were recorded in (their config's
    ``world.module``), so ``envs.registry`` knows those worlds (phases, suites) in this process too.
    A module that no longer imports is a warning: its jobs still count, with phases in seen order."""
    modules = {str(m) for r in results if (m := ((r.get("config") or {}).get("world") or {}).get("module"))}
    for module in sorted(modules - set(sys.modules)):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            print(f"warning: world module {module!r} of recorded jobs cannot be imported: {exc}", file=sys.stderr)


def load_results(root: Path) -> list[dict[str, Any]]:
    return [result for _, result in find_results(root)]


def table(results: list[dict[str, Any]]) -> str:
    """Markdown table: one row per arm (world, protocol, condition and every other config value that differs
    between jobs, experiments.arms), seeds pooled. Phase columns are means over jobs; episodes is a count."""
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for r, arm in zip(results, arm_labels(results)):  # a row per arm: jobs that differ only in the seed
        groups.setdefault((r["world"], r["protocol"], arm, _model(r)), []).append(r)
    seen = {p for r in results for p in r["by_phase"]}
    phases = [p for p in all_phases() if p in seen] + sorted(seen - set(all_phases()))
    head = [
        "world",
        "protocol",
        "condition",
        "model",
        "seeds",
        "episodes",
        *phases,
        "overall",
        "LLM failures",
        "cost $",
        "tools promoted/seed",
        "worst family",
    ]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = {"oracle": 0}
    for key in sorted(groups, key=lambda k: (k[0], k[1] != "rigorous", order.get(k[2], 1), k[2], k[3])):
        rs = groups[key]
        n = sum(r["n_episodes"] for r in rs)
        cells = []
        for p in phases:
            vals = [r["by_phase"][p] for r in rs if p in r["by_phase"]]
            cells.append(f"{100 * sum(vals) / len(vals):.0f}%" if vals else "-")
        overall = sum(r["success_rate"] * r["n_episodes"] for r in rs) / n if n else 0.0
        fam: dict[str, list[float]] = {}
        for r in rs:
            for f, v in r["by_family"].items():
                fam.setdefault(f, []).append(v)
        means = {f: sum(v) / len(v) for f, v in fam.items()}
        # The family that most deserves a look: the oracle's or an agent's lowest, a null baseline's highest.
        baseline = key[3] == "-" and key[2] != "oracle"
        pick = max if baseline else min
        worst = pick(means, key=lambda f: means[f]) if means else None
        if worst is None or means[worst] == (0.0 if baseline else 1.0):
            worst_s = "-"
        else:
            worst_s = f"{worst} {100 * means[worst]:.0f}%"
        seeds = ",".join(str(s) for s in sorted({r["seed"] for r in rs}))
        cost = _cost(rs)
        # Episodes whose model failed: not results (not in the rates), and their jobs are not finished.
        failures = (
            str(sum(int(r.get("llm_failures") or r.get("llm_errors") or 0) for r in rs)) if key[3] != "-" else "-"
        )
        promoted = [r["tools_promoted"] for r in rs if JobResult.from_json(r).has_library]
        tools = f"{sum(promoted) / len(promoted):.1f}" if promoted else "-"
        row = [*key, seeds, str(n), *cells, f"{100 * overall:.1f}%", failures, cost, tools, worst_s]
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


def _cost(results: list[dict[str, Any]]) -> str:
    """What the jobs spent over every LLM role ("?" when a cost is unknown, "-" without LLM calls)."""
    costs: list[float | None] = []
    for r in results:
        if r.get("usage"):
            costs.append(r["usage"]["total"]["cost_usd"] if r["usage"]["total"]["llm_calls"] else 0.0)
        else:  # results of earlier versions: agent and evolution calls
            costs += [c for c in (r.get("cost_usd"), r.get("evolution_cost_usd")) if c is not None]
    if not any(c is None or c > 0 for c in costs):
        return "-"
    return "?" if any(c is None for c in costs) else f"{sum(c for c in costs if c is not None):.2f}"


def _model(result: dict[str, Any]) -> str:
    if not result.get("llm"):
        return "-"
    return f"{result.get('model')}{' (sim)' if result.get('simulated') else ''}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.summary", description=__doc__)
    ap.add_argument("directory", type=Path, help="a run or sweep directory containing result.json files")
    args = ap.parse_args(argv)
    if not args.directory.is_dir():
        ap.error(f"{args.directory} is not a directory")
    results = load_results(args.directory)
    if not results:
        print(f"no result.json under {args.directory}", file=sys.stderr)
        return 1
    print(table(results))
    print(
        "\nworst family: the lowest-scoring family of the oracle or an LLM agent, the highest-scoring one of a "
        "null baseline ('-': none). (sim) marks the simulated model; its cost is what the mimicked model would charge."
    )
    return 0


if __name__ == "__main__":
    run_main(main)
