"""The end-of-job diagnostics of an arise job: Tool-Genesis L1-L3 (``experiments.diagnostics``) and L4.

**L4, oracle-normalised downstream success.** The job's agent (same model, prompt, affordances,
step budget, seed) plays held-out instances, from a world no episode of the job saw, in three
arms that differ only in the tools offered:

* ``library``: the evolved library as the job left it, frozen (no evolution);
* ``reference``: the world's hand-written reference tools (what ``fixed_tools`` gets);
* ``affordances``: no tools beyond the job's affordances (what the agent had before evolving).

``SR = (library - affordances) / (reference - affordances)`` over the success rates: 0 means the
evolved tools add nothing, 1 that they are as useful as the reference tools. It is undefined
(None) when the reference tools do not beat the affordances on these instances, and it is not
clipped (a library may hurt, or beat the reference).

**Do the cheap layers predict L4?** One unit per held-out family on which the reference tools
beat the affordances: the family's reference tools (those its oracle plans call) give the
predictors (per reference tool: L1 = its matched evolved tool is compliant and executable,
L2 = the pair's argument F1, L3 = its UT-soft / UT-hard; unmatched = 0; averaged over the
family's tools) and the family's oracle-normalised success is the outcome. The report pools
units across jobs and gives Spearman's rho with a bootstrap CI (``experiments.stats``).

Everything lands in ``<job>/diagnostics/``: ``plan.json`` (settings, held-out instances),
``l4_<arm>.jsonl`` (one record per episode, appended and fsynced like ``episodes.jsonl``, so an
interrupted job resumes them) and ``diagnostics.json`` (every per-tool detail). ``result.json``
gets the summary under ``"diagnostics"``. Diagnostics with other settings move an older
``diagnostics/`` aside to ``diagnostics.<hash>/``, never overwrite it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
from tqdm import tqdm

from agents.llm import UsageMeter
from agents.policy import Policy
from envs.oracle import run_oracle
from envs.tasks import Suite, TaskInstance
from envs.tools import ToolRunner, ToolSpec
from evolution.sandbox.runner import Sandbox, SandboxRunner
from experiments.config import DiagnosticsConfig
from experiments.diagnostics import default_held_out_seed, diagnose_library, read_tools
from experiments.episodes import (
    RecordWriter,
    cut_at_first_failure,
    dumps_record,
    load_records,
    run_episode,
    write_json_atomic,
)

ARMS = ("affordances", "reference", "library")
LAYERS = ("l1", "l2", "l3_soft", "l3_hard")  # predictors of L4, per family


def oracle_normalised(library: float | None, reference: float | None, affordances: float | None) -> float | None:
    """(library - affordances) / (reference - affordances); None unless the reference tools help (or
    when an arm has no result)."""
    if library is None or reference is None or affordances is None:
        return None
    gap = reference - affordances
    return (library - affordances) / gap if gap > 0 else None


def held_out_instances(
    suite: Suite,
    held_out_seed: int,
    *,
    per_family: int = 1,
    families: Sequence[str] | None = None,
    options: dict[str, Any] | None = None,
) -> list[TaskInstance]:
    """The test-split instances of the held-out world (the same world L3's cases come from)."""
    return suite.instances(held_out_seed, "test", n_worlds=1, per_family=per_family, families=families,
                           options=options)  # fmt: skip


def family_reference_tools(suite: Suite, instances: Sequence[TaskInstance]) -> dict[str, list[str]]:
    """Per family, the reference tools its oracle plans call on ``instances`` (sorted)."""
    names = {fn.__name__ for fn in suite.reference_tools()}
    out: dict[str, set[str]] = defaultdict(set)
    for inst in instances:
        out[inst.family] |= {c.tool for c in run_oracle(suite, inst)[1] if c.tool in names}
    return {f: sorted(v) for f, v in out.items()}


def library_runner(job_dir: Path, sandbox: Sandbox) -> SandboxRunner:
    """The job's final library (library.sqlite, read-only) as a tool runner over ``sandbox``."""
    tools = read_tools(job_dir)
    specs = {t.name: (ToolSpec(t.name, t.description or f"Evolved tool {t.name} (v{t.version}).", t.parameters),
                      t.code) for t in tools}  # fmt: skip
    return SandboxRunner(sandbox, specs)


def predictors(library_diag: dict[str, Any], refs: Sequence[str]) -> dict[str, float] | None:
    """L1/L2/L3 of a family's reference tools, averaged (None: the family calls no reference tool)."""
    if not refs:
        return None
    per_ref = library_diag["l3"]["per_reference"]
    tools, matching = library_diag["tools"], library_diag["matching"]
    rows = []
    for ref in refs:
        entry = per_ref.get(ref) or {}
        ev = entry.get("matched")
        info = tools.get(ev) if ev else None
        rows.append({
            "l1": float(bool(info and info["compliance"] and info["exec"])),
            "l2": float(matching[ev]["arg_f1"]) if ev else 0.0,
            "l3_soft": float(entry.get("ut_soft") or 0.0),
            "l3_hard": float(entry.get("ut_hard") or 0.0),
        })  # fmt: skip
    return {k: sum(r[k] for r in rows) / len(rows) for k in LAYERS}


def _rate(records: Sequence[dict[str, Any]]) -> float | None:
    """Success over the episodes that are results (an episode whose model failed is not one);
    None when there is none (undefined, not 0)."""
    results = [r for r in records if not r.get("llm_failure")]
    return sum(bool(r["success"]) for r in results) / len(results) if results else None


def summarise_l4(
    records: dict[str, list[dict[str, Any]]], fam_refs: dict[str, list[str]], library_diag: dict[str, Any]
) -> dict[str, Any]:
    """Success per arm (overall and per family), SR, and the per-family prediction units."""
    arms = {
        a: {
            "n": sum(1 for r in rs if not r.get("llm_failure")),
            "success_rate": _rate(rs),
            "llm_failures": sum(1 for r in rs if r.get("llm_failure")),
        }
        for a, rs in records.items()
    }
    by_family: dict[str, dict[str, Any]] = {}
    for fam in sorted({r["task"]["family"] for rs in records.values() for r in rs}):
        rates = {a: _rate([r for r in rs if r["task"]["family"] == fam]) for a, rs in records.items()}
        by_family[fam] = {**rates, "sr": oracle_normalised(rates["library"], rates["reference"],
                          rates["affordances"]), "reference_tools": fam_refs.get(fam, [])}  # fmt: skip
    units = []
    for fam, row in by_family.items():
        pred = predictors(library_diag, row["reference_tools"])
        if pred is not None and row["sr"] is not None:
            units.append({"family": fam, **pred, "l4": row["sr"]})
    usage = UsageMeter.summed(r.get("llm", {}).get("usage", {}) for rs in records.values() for r in rs)
    return {
        "arms": arms,
        "sr": oracle_normalised(*(arms[a]["success_rate"] for a in ("library", "reference", "affordances"))),
        "by_family": by_family,
        "units": units,
        **usage.to_dict(),  # the L4 episodes' LLM use: the job's "diagnostics" role
    }


def settings_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _diag_dir(job_dir: Path, plan: dict[str, Any]) -> Path:
    """``<job>/diagnostics`` for ``plan``; one of other settings is moved aside, never overwritten."""
    out = job_dir / "diagnostics"
    plan_file = out / "plan.json"
    if out.exists():
        try:
            old = json.loads(plan_file.read_text(encoding="utf-8")).get("settings_hash")
        except (FileNotFoundError, json.JSONDecodeError):
            old = "unknown"
        if old != plan["settings_hash"]:
            aside, k = job_dir / f"diagnostics.{old}", 1
            while aside.exists():
                aside, k = job_dir / f"diagnostics.{old}.{k}", k + 1
            os.replace(out, aside)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(plan_file, plan)
    return out


def diagnose_job(
    job_dir: Path,
    *,
    env: gym.Env[str, str],
    policy: Policy,
    suite: Suite,
    sandbox: Sandbox,
    seed: int,
    settings: dict[str, Any],
    options: dict[str, Any] | None = None,
    families: Sequence[str] | None = None,
    progress: bool = False,
    label: str = "",
    after_episode: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """L1-L4 of a finished arise job in ``job_dir`` (its library.sqlite and records); returns the summary.

    ``after_episode(record)`` is called after each new L4 episode is written (the job's breaker and
    spending limits: it may raise to stop).

    ``settings``: any keys of ``experiments.config.DiagnosticsConfig`` but ``enabled`` (the
    rest take its defaults); an unknown key is a ValueError.
    """
    defaults = {k: v for k, v in asdict(DiagnosticsConfig()).items() if k != "enabled"}
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ValueError(f"unknown diagnostics settings {unknown}; accepted: {sorted(defaults)}")
    settings = {**defaults, **settings}
    ho_seed = settings["held_out_seed"]
    ho_seed = default_held_out_seed(seed) if ho_seed is None else int(ho_seed)
    instances = held_out_instances(suite, ho_seed, per_family=int(settings["per_family"]),
                                   families=families, options=options)  # fmt: skip
    plan = {"settings_hash": settings_hash(settings), "settings": settings, "held_out_seed": ho_seed,
            "instances": [i.id for i in instances]}  # fmt: skip
    out = _diag_dir(job_dir, plan)
    diag = diagnose_library(
        job_dir, world=suite.world, protocol=suite.protocol, seed=seed, sandbox=sandbox, options=options,
        candidates=bool(settings["candidates"]), held_out_seed=ho_seed, edge_per_tool=int(settings["edge_per_tool"]),
        threshold=float(settings["threshold"]), behaviour_weight=float(settings["behaviour_weight"]),
    )  # fmt: skip
    diag.pop("job")  # paths: the file stays byte-identical wherever the job directory lives
    summary: dict[str, Any] = {
        "settings": settings,
        "settings_hash": plan["settings_hash"],
        "held_out_seed": ho_seed,
        "file": "diagnostics/diagnostics.json",
        "l1": diag["l1"],
        "l2": diag["l2"],
        "l3": diag["l3"]["library"],
        "funnel": diag["funnel"],
        "sandbox_calls": diag["sandbox_calls"],
    }
    if "candidates" in diag:
        c = diag["candidates"]
        summary["candidates"] = {"n": c["n"], "l1": c["l1"], "funnel": c["funnel"], "by_status": c["by_status"]}
    if settings["downstream"]:
        tools: dict[str, Callable[[], str | ToolRunner]] = {
            "affordances": lambda: "none",
            "reference": lambda: "reference",
            "library": lambda: library_runner(job_dir, sandbox),
        }
        records = {arm: _play(out / f"l4_{arm}.jsonl", env, policy, instances, tools[arm], progress,
                              f"{label} [L4 {arm}]", after_episode) for arm in ARMS}  # fmt: skip
        fam_refs = family_reference_tools(suite, instances)
        summary["l4"] = summarise_l4(records, fam_refs, diag)
        diag["l4"] = summary["l4"]
    write_json_atomic(out / "diagnostics.json", diag)
    return summary


def _play(
    path: Path,
    env: gym.Env[str, str],
    policy: Policy,
    instances: Sequence[TaskInstance],
    tools: Callable[[], str | ToolRunner],
    progress: bool,
    desc: str,
    after_episode: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Play ``instances`` into ``path``, continuing after the records it already holds (from the
    first whose model failed)."""
    done = cut_at_first_failure(path, load_records(path, list(instances)))
    runner = tools()
    with RecordWriter(path) as writer:
        for inst in tqdm(instances[len(done) :], desc=desc, disable=not progress, leave=False, file=sys.stderr):
            record, _ = run_episode(env, policy, inst, runner)
            record.episode, record.arm = len(done), path.stem.removeprefix("l4_")
            writer.write(record.to_json())
            done.append(json.loads(dumps_record(record.to_json())))
            if after_episode is not None:
                after_episode(done[-1])
    return done
