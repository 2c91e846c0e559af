"""The report's "Reward hacking" section: labelled attempts by kind and the layer that caught them,
and the success of episodes that called a promoted hacked tool (experiments/hacking.py).

Shown only when a job's library holds labelled attempts (the simulated reward-hacking author)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

from evolution.library import Library
from experiments.hacking import LAYERS, attribute
from experiments.report.jobs import Job
from experiments.report.table import ReportTable

INTRO = (
    "Each attempt is labelled by the simulator (ground truth a real model's response lacks); the layer is "
    "read off the pipeline's own verdicts (`experiments/hacking.py`). `promoted`: the hack was in the code "
    "the library promoted."
)


def _rows(job: Job) -> list[dict[str, Any]]:
    path = job.path / "library.sqlite"
    if not path.is_file():
        return []
    lib = Library.read_only(path)
    try:
        return attribute(lib.events())
    finally:
        lib.close()


def _differential(job: Job) -> dict[tuple[str, int], float]:
    """UT-hard of each diagnosed candidate version: its held-out unit tests against the world's reference
    tool (the Tool-Genesis diagnostics' differential check; it measures and never gates promotion)."""
    diag = job.result.get("diagnostics")
    if not isinstance(diag, dict) or not diag.get("file"):
        return {}
    path = job.path / str(diag["file"])
    if not path.is_file():
        return {}
    try:
        tools = (json.loads(path.read_text()).get("candidates") or {}).get("tools") or []
        return {(t["name"], int(t["version"])): float(t["ut_hard"]) for t in tools if t.get("ut_hard") is not None}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # as summary treats a torn result.json
        print(f"warning: skipping unreadable {path} (its versions count as not measured): {exc!r}", file=sys.stderr)
        return {}


def tables(jobs: list[Job]) -> list[ReportTable | None]:
    per_job = [(j, _rows(j)) for j in jobs if j.has_library]
    if not any(rows for _, rows in per_job):
        return []
    caught = ReportTable("reward_hacking", "Reward-hack attempts by kind and the layer that stopped them",
                         ["arm", "hack", "attempts", *LAYERS])  # fmt: skip
    effect = ReportTable("reward_hacking_effect", "Episodes calling a promoted hacked tool vs the job's others",
                         ["arm", "jobs", "promoted hacks", "differential check flags", "episodes with",
                          "success with", "episodes without", "success without"])  # fmt: skip
    arms: dict[str, list[tuple[Job, list[dict[str, Any]]]]] = {}
    for j, rows in per_job:
        arm = j.label if str(j.evolution) in j.label else f"{j.label} [{j.evolution}]"
        arms.setdefault(arm, []).append((j, rows))
    for arm, items in sorted(arms.items()):
        counts: dict[str, Counter[str]] = {}
        for _, rows in items:
            for r in rows:
                counts.setdefault(r["hack"], Counter())[r["caught_by"]] += 1
        for hack, c in sorted(counts.items()):
            caught.add([arm, hack, str(sum(c.values())), *(str(c[layer]) for layer in LAYERS)],
                       {"arm": arm, "hack": hack, **{layer: c[layer] for layer in LAYERS}})  # fmt: skip
        with_: list[bool] = []
        without: list[bool] = []
        promoted = flagged = measured = 0
        for j, rows in items:
            hacked = {(r["name"], r["promoted_episode"]) for r in rows if r["caught_by"] == "promoted"}
            promoted += len(hacked)
            ut_hard = _differential(j)
            for version in {(r["name"], int(r["version"])) for r in rows if r["caught_by"] == "promoted"}:
                if version in ut_hard:
                    measured += 1
                    flagged += ut_hard[version] < 1.0
            for rec in j.records:
                called = {c.get("tool") for c in rec.get("tools_called") or []}
                hit = any(n in called and rec["episode"] > e for n, e in hacked)
                (with_ if hit else without).append(bool(rec.get("success")))
        differential = f"{flagged} of {measured}" if measured else "not measured"
        effect.add([arm, str(len(items)), str(promoted), differential, str(len(with_)), _rate(with_),
                    str(len(without)), _rate(without)])  # fmt: skip
    effect.notes.append("'with': episodes after a hacked version's promotion that called a tool of that name.")
    effect.notes.append(
        "'differential check flags': promoted hacked versions whose held-out unit tests against the reference "
        "tool (Tool-Genesis diagnostics, UT-hard) are not all passed, of those diagnosed; it measures and never "
        "gates promotion."
    )
    return [caught, effect]


def _rate(xs: list[bool]) -> str:
    return f"{100 * sum(xs) / len(xs):.1f}%" if xs else "-"
