"""Run one experiment job: ``python -m experiments.run world=acmecorp protocol=rigorous condition=oracle seed=42``.

Writes into the Hydra output directory:

* ``episodes.jsonl`` - one full, deterministic record per episode (append + fsync);
* ``timings.jsonl``  - wall-clock timings per episode (kept apart so records stay byte-identical);
* ``result.json``    - the summary (world, protocol, condition, llm, seed, n_episodes,
  success_rate, mean_score, by_phase, by_family, by_difficulty, wall_s, ...).

Re-running into a directory that already holds records keeps them: complete records
whose tasks match the planned ones are skipped, a torn last line is dropped.
Sweeps: ``python -m experiments.run -m protocol=rigorous,arise_v1 condition=oracle,null_empty``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym
import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from agents.llm import AuthError, ChatBackend, make_backend
from agents.llm.replay import MODES, ReplayBackend
from agents.policy import Policy
from agents.react import DEFAULT_SYSTEM_PROMPT, ReActAgent
from agents.scripted import make_scripted
from agents.serve_sim import SIM_FINGERPRINT
from envs import ENV_IDS  # importing envs registers the Gymnasium environments
from envs.registry import all_phases
from envs.tasks import SPLITS, TaskInstance, get_suite
from envs.tools import ToolRunner
from evolution.code_agent import CodeRunner
from evolution.library import Library
from evolution.pipeline import EvolutionSettings, Evolver
from evolution.sandbox.runner import Limits, Sandbox, SandboxError
from experiments.config import ConfigError, register_configs
from experiments.downstream import diagnose_job, settings_hash
from experiments.episodes import RecordWriter, dumps_record, load_records, run_episode, write_json_atomic

TOOL_SOURCES = ("none", "reference", "library", "code")
# llm keys that only throttle requests; a job resumed with other values is the same job.
THROTTLE_KEYS = ("max_concurrency", "shared_limit_dir", "timeout_s", "max_attempts", "backoff_base_s", "backoff_max_s")


def _check(cfg: DictConfig) -> None:
    if cfg.split not in SPLITS:
        raise ConfigError(f"split must be one of {list(SPLITS)}, got {cfg.split!r}")
    if cfg.world.name not in ENV_IDS:
        raise ConfigError(f"world must be one of {sorted(ENV_IDS)}, got {cfg.world.name!r}")
    for key in ("n_worlds", "per_family", "max_steps"):
        if int(cfg[key]) < 1:
            raise ConfigError(f"{key} must be >= 1, got {cfg[key]}")
    if int(cfg.seed) < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {cfg.seed}")
    if cfg.condition.kind not in ("scripted", "llm"):
        raise ConfigError(f"condition kind {cfg.condition.kind!r} is not known; accepted: scripted, llm")
    if cfg.condition.kind == "llm" and not cfg.llm:
        raise ConfigError(
            f"condition {cfg.condition.name!r} needs an LLM: add llm=sim-4o-mini-like (offline), llm=openai, "
            f"llm=anthropic or llm=local (see conf/llm/)"
        )
    if cfg.replay.mode not in MODES:
        raise ConfigError(f"replay.mode must be one of {', '.join(MODES)}, got {cfg.replay.mode!r}")
    if cfg.condition.tool_top_k is not None and int(cfg.condition.tool_top_k) < 0:
        raise ConfigError(f"condition.tool_top_k must be >= 0 or null, got {cfg.condition.tool_top_k}")
    if cfg.condition.tools not in TOOL_SOURCES:
        raise ConfigError(f"condition.tools must be one of {', '.join(TOOL_SOURCES)}, got {cfg.condition.tools!r}")
    if cfg.condition.tools in ("library", "code") and cfg.condition.kind != "llm":
        raise ConfigError(f"condition.tools={cfg.condition.tools} needs kind: llm (an agent that uses the tools)")
    if cfg.evolution.protocol not in ("online", "train_test"):
        raise ConfigError(f"evolution.protocol must be 'online' or 'train_test', got {cfg.evolution.protocol!r}")
    if cfg.sandbox.isolation not in ("auto", "bwrap", "rlimits-only"):
        raise ConfigError(f"sandbox.isolation must be auto, bwrap or rlimits-only, got {cfg.sandbox.isolation!r}")
    _sandbox_limits(cfg)


def _sandbox_limits(cfg: DictConfig) -> Limits:
    """The sandbox's limits from ``cfg.sandbox``; a bad value is a config error naming the key and range."""
    try:
        return Limits(wall_s=cfg.sandbox.wall_s, cpu_s=cfg.sandbox.wall_s, memory_mb=cfg.sandbox.memory_mb)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _check_plan(out_dir: Path, plan_hash: str) -> None:
    """Refuse a directory holding records of another plan (never overwrite them)."""
    episodes, plan_file = out_dir / "episodes.jsonl", out_dir / "plan.json"
    if plan_file.exists():
        recorded = json.loads(plan_file.read_text(encoding="utf-8")).get("plan_hash")
        if recorded != plan_hash:
            raise ConfigError(
                f"{out_dir} holds records of a different plan (another config or seed: plan hash {recorded} "
                f"!= {plan_hash}); use a fresh output directory"
            )
    elif episodes.exists() and episodes.stat().st_size:
        raise ConfigError(f"{episodes} exists without plan.json, so it cannot be resumed safely; use a fresh directory")


def _finished_result(out_dir: Path, plan_hash: str) -> dict[str, Any] | None:
    """result.json of a finished job of this plan, or None."""
    path = out_dir / "result.json"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):  # written atomically: damaged only by hand
        return None
    return result if isinstance(result, dict) and result.get("config_hash") == plan_hash else None


def _rates(records: list[dict[str, Any]], key: str) -> dict[str, float]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        groups[r["task"][key]].append(bool(r["success"]))
    return {k: sum(v) / len(v) for k, v in groups.items()}


def _make_llm(cfg: DictConfig, out_dir: Path) -> ChatBackend:
    llm_cfg = OmegaConf.to_container(cfg.llm, resolve=True)
    if not isinstance(llm_cfg, dict):
        raise ConfigError(f"llm must be a mapping with a 'provider' key (see conf/llm/), got {llm_cfg!r}")
    backend = make_backend({str(k): v for k, v in llm_cfg.items()})  # ValueError -> ConfigError upstream
    if cfg.replay.mode != "off":
        backend = ReplayBackend(backend, cfg.replay.cache_dir, mode=cfg.replay.mode)
    elif cfg.replay.job_cache and cfg.llm.provider != "sim":
        backend = ReplayBackend(backend, out_dir / "llm_cache", mode="record")
    return backend


def _llm_summary(cfg: DictConfig, records: list[dict[str, Any]], backend: ChatBackend | None) -> dict[str, Any]:
    """result.json's LLM fields: which model, and calls, tokens and cost summed over the records."""
    if cfg.condition.kind != "llm":
        return {
            "llm": None,
            "model": None,
            "simulated": False,
            "llm_calls": 0,
            "tokens_in": 0,
            "tokens_out": 0,
            "cost_usd": 0.0,
        }
    usage = [r.get("llm", {}).get("usage", {}) for r in records]
    costs = [u.get("cost_usd") for u in usage]
    inner = backend.inner if isinstance(backend, ReplayBackend) else backend
    out: dict[str, Any] = {
        "llm": cfg.llm.provider,
        "model": str(getattr(inner, "model", "") or cfg.llm.get("model") or ""),
        # From what answered, not from the config: the sim in process or behind agents.serve_sim.
        "simulated": cfg.llm.provider == "sim" or any(_simulated(resp) for r in records for resp in _responses(r)),
        "llm_calls": sum(int(u.get("llm_calls", 0)) for u in usage),
        "tokens_in": sum(int(u.get("tokens_in", 0)) for u in usage),
        "tokens_out": sum(int(u.get("tokens_out", 0)) for u in usage),
        # None when no call had a price (add the model to the llm config's `prices`).
        "cost_usd": round(sum(c for c in costs if c is not None), 8) if any(c is not None for c in costs) else None,
        "llm_errors": sum(1 for r in records if r.get("llm", {}).get("error")),
    }
    if isinstance(backend, ReplayBackend):
        out["replay"] = {"mode": backend.mode, "cache_dir": str(backend.cache_dir), **backend.stats()}
    return out


def _responses(record: dict[str, Any]) -> list[dict[str, Any]]:
    return list(record.get("llm", {}).get("responses") or [])


def _simulated(response: dict[str, Any]) -> bool:
    raw = response.get("raw") or {}
    return bool(raw.get("simulated")) or raw.get("system_fingerprint") == SIM_FINGERPRINT


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("arise-gym", "gymnasium", "numpy", "httpx", "respx", "hydra-core"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _make_evolver(
    cfg: DictConfig, out_dir: Path, backend: ChatBackend, sandbox: Sandbox, suite: Any, options: dict[str, Any]
) -> Evolver:
    raw = OmegaConf.to_container(cfg.evolution, resolve=True)
    assert isinstance(raw, dict)
    try:
        settings = EvolutionSettings(**{str(k): v for k, v in raw.items() if k not in ("protocol", "name")})
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    db = out_dir / "library.sqlite"
    for suffix in ("", "-wal", "-shm"):  # rebuilt from the kept records (see run_job)
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    inner = backend.inner if isinstance(backend, ReplayBackend) else backend
    return Evolver(
        settings,
        backend,
        Library(db),
        sandbox,
        suite,
        int(cfg.seed),
        model=str(getattr(inner, "model", "") or ""),
        temperature=cfg.agent.temperature,
        world_options=options,
    )


def _evolution_summary(evolver: Evolver | None, out_dir: Path, sandbox: Sandbox | None, n_train: int) -> dict[str, Any]:
    """result.json's evolution fields (zeros for conditions without a library)."""
    out: dict[str, Any] = {"sandbox": sandbox.isolation if sandbox is not None else None}
    if evolver is None:
        return out
    stats = evolver.stats.to_json()
    active = evolver.library.active()
    evolver.library.export(out_dir / "library")
    out.update(
        {
            "tools_promoted": stats["promoted"],
            "candidates": stats["candidates"],
            "rejections": stats["rejections"],
            "evolution_llm_calls": stats["llm_calls"],
            "evolution_tokens_in": stats["tokens_in"],
            "evolution_tokens_out": stats["tokens_out"],
            "evolution_cost_usd": stats["cost_usd"],
            "evolution": {**stats, "train_episodes": n_train, "library": [f"{t.name} v{t.version}" for t in active]},
        }
    )
    evolver.library.close()
    return out


def _diagnostics_settings(cfg: DictConfig) -> dict[str, Any] | None:
    """The diagnostics settings of an arise job (None: none run for this job)."""
    if cfg.condition.tools != "library" or not cfg.diagnostics.enabled:
        return None
    raw = OmegaConf.to_container(cfg.diagnostics, resolve=True)
    assert isinstance(raw, dict)
    settings = {str(k): v for k, v in raw.items() if k != "enabled"}
    if int(settings["per_family"]) < 1 or int(settings["edge_per_tool"]) < 0:
        raise ConfigError(
            f"diagnostics.per_family must be >= 1 and diagnostics.edge_per_tool >= 0, got "
            f"{settings['per_family']} and {settings['edge_per_tool']}"
        )
    for key in ("threshold", "behaviour_weight"):
        if not 0.0 <= float(settings[key]) <= 1.0:
            raise ConfigError(f"diagnostics.{key} must be in [0, 1], got {settings[key]}")
    return settings


def _result(
    cfg: DictConfig,
    records: list[dict[str, Any]],
    backend: ChatBackend | None,
    evolution: dict[str, Any],
    t0: float,
    resolved: dict[str, Any],
    plan_hash: str,
    env: gym.Env[str, str],
) -> dict[str, Any]:
    """result.json's content (diagnostics are added by run_job)."""
    n = len(records)
    return {
        "world": cfg.world.name,
        "protocol": cfg.protocol.name,
        "condition": cfg.condition.name,
        **_llm_summary(cfg, records, backend),
        "seed": int(cfg.seed),
        "split": cfg.split,
        "n_episodes": n,
        "n_families": len({r["task"]["family"] for r in records}),
        "success_rate": sum(r["success"] for r in records) / n if n else 0.0,
        "mean_score": sum(r["score"] for r in records) / n if n else 0.0,
        "by_phase": _rates(records, "phase"),
        "by_family": _rates(records, "family"),
        "by_difficulty": _rates(records, "difficulty"),
        "tasks": [{"id": r["task"]["id"], "success": r["success"], "score": r["score"]} for r in records],
        **evolution,
        "wall_s": round(time.perf_counter() - t0, 3),
        "config": resolved,
        "config_hash": plan_hash,
        "versions": _versions(),
        "env_spec": env.spec.to_json() if env.spec is not None else None,
    }


def run_job(cfg: DictConfig, out_dir: Path) -> dict[str, Any]:
    """Run the job described by ``cfg`` into ``out_dir``; returns result.json's content."""
    _check(cfg)
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_options = OmegaConf.to_container(cfg.world.options, resolve=True) or {}
    assert isinstance(raw_options, dict)
    options = {str(k): v for k, v in raw_options.items()}
    try:
        suite = get_suite(cfg.world.name, cfg.protocol.name)
        planned = suite.instances(
            int(cfg.seed),
            cfg.split,
            n_worlds=int(cfg.n_worlds),
            per_family=int(cfg.per_family),
            families=list(cfg.families) or None,
            options=options,
        )
        backend: ChatBackend | None = None
        policy: Policy
        if cfg.condition.kind == "llm":
            backend = _make_llm(cfg, out_dir)
            policy = ReActAgent(
                backend,
                system_prompt=cfg.world.system_prompt or DEFAULT_SYSTEM_PROMPT,
                temperature=cfg.agent.temperature,
                max_tokens=cfg.agent.max_tokens,
                seed=int(cfg.seed),
                max_steps=int(cfg.max_steps),
                tool_top_k=cfg.condition.tool_top_k,
            )
        else:
            policy = make_scripted(
                cfg.condition.name,
                suite,
                int(cfg.seed),
                int(cfg.train_worlds),
                options,
                evaluated=(cfg.split, int(cfg.n_worlds)),
            )
        affordances = cfg.condition.affordances
        if affordances is None:
            affordances = cfg.protocol.condition_affordances.get(cfg.condition.name)
        env = gym.make(
            ENV_IDS[cfg.world.name],
            protocol=cfg.protocol.name,
            world_options=options,
            affordances=tuple(affordances) if affordances is not None else None,
            max_observation_chars=cfg.max_observation_chars,
            max_episode_steps=int(cfg.max_steps),
        )
    except KeyError as exc:  # unknown protocol/family: KeyError quotes its message
        raise ConfigError(str(exc.args[0]) if exc.args else str(exc)) from None
    except ValueError as exc:  # bad world options, NoInstance, unknown policy
        raise ConfigError(str(exc)) from None
    train: list[TaskInstance] = []
    if cfg.condition.tools == "library" and cfg.evolution.protocol == "train_test":
        train = suite.instances(
            int(cfg.seed),
            "train",
            n_worlds=int(cfg.n_worlds),
            per_family=int(cfg.per_family),
            families=list(cfg.families) or None,
            options=options,
        )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    # Everything that changes what an episode record holds is in the plan hash (not `progress`, and
    # not `replay`: a replayed run holds exactly the records of the recorded one; not `experiment`,
    # the preset's label: the same job reached from another preset is the same job).
    # Nor `diagnostics`: they only read the finished job (result.json records their settings' hash).
    planned_cfg = {k: v for k, v in resolved.items() if k not in ("progress", "replay", "experiment", "diagnostics")}
    if isinstance(planned_cfg.get("llm"), dict):  # how calls are throttled does not change what they return
        planned_cfg["llm"] = {k: v for k, v in planned_cfg["llm"].items() if k not in THROTTLE_KEYS}
    plan = {"config": planned_cfg, "tasks": [p.id for p in planned]}
    if train:
        plan["train_tasks"] = [p.id for p in train]
    plan_hash = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:16]
    _check_plan(out_dir, plan_hash)
    train_records = (
        load_records(out_dir / "train_episodes.jsonl", train, out_dir / "train_timings.jsonl") if train else []
    )
    records = load_records(out_dir / "episodes.jsonl", planned, out_dir / "timings.jsonl")
    finished = _finished_result(out_dir, plan_hash)
    diag_settings = _diagnostics_settings(cfg)
    stale = diag_settings is not None and (  # missing diagnostics or other settings: run them again
        (finished or {}).get("diagnostics") or {}
    ).get("settings_hash") != settings_hash(diag_settings)
    if stale:
        finished = None
    if finished is not None and len(records) == len(planned) and len(train_records) == len(train):
        env.close()  # a complete job: nothing to do (re-running a sweep skips what it finished)
        return {**finished, "skipped": True}
    write_json_atomic(
        out_dir / "plan.json", {"plan_hash": plan_hash, **{k: v for k, v in plan.items() if k != "config"}}
    )
    label = f"{cfg.world.name}/{cfg.protocol.name}/{cfg.condition.name}/seed={cfg.seed}"
    sandbox: Sandbox | None = None
    evolver: Evolver | None = None
    try:
        if cfg.condition.tools in ("library", "code"):
            sandbox = Sandbox(_sandbox_limits(cfg), isolation=str(cfg.sandbox.isolation))
            sandbox.start()
        by_id = {inst.id: inst for inst in [*train, *planned]}

        def tools() -> str | ToolRunner:
            if evolver is not None:
                return evolver.runner()
            if cfg.condition.tools == "code":
                assert sandbox is not None
                return CodeRunner(sandbox)
            return str(cfg.condition.tools)

        if cfg.condition.tools == "library":
            assert backend is not None and sandbox is not None
            evolver = _make_evolver(cfg, out_dir, backend, sandbox, suite, options)
            evolver.replay = lambda task_id, runner: run_episode(env, policy, by_id[task_id], runner)[0]
            # Resume: the library is rebuilt by observing the kept records again (deterministic on the
            # simulated or replayed model), so it is exactly the library those episodes left behind.
            for i, rec in enumerate([*train_records, *(records if not train else [])]):
                evolver.observe(i, rec)
        phases = [("train", train, train_records, "train_episodes.jsonl", True)] if train else []
        phases.append(("test", planned, records, "episodes.jsonl", evolver is not None and not train))
        offset = 0
        for phase, instances, done, filename, evolving in phases:
            todo = instances[len(done) :]
            path = out_dir / filename
            timing_path = path.with_name(filename.replace("episodes", "timings"))
            desc = f"{label} [{phase}]" if train else label
            with RecordWriter(path) as writer, RecordWriter(timing_path) as timings:
                for inst in tqdm(todo, desc=desc, disable=not cfg.progress, leave=False, file=sys.stderr):
                    try:
                        record, timing = run_episode(env, policy, inst, tools())
                    except AuthError as exc:  # a config problem: stop, keeping every record already written
                        raise ConfigError(f"{exc} ({len(done)} complete episode records kept in {out_dir})") from None
                    record = {"episode": len(done), "condition": cfg.condition.name, "seed": int(cfg.seed), **record}
                    if train:
                        record["protocol_phase"] = phase
                    writer.write(record)
                    # From here on the record is what a resume reads back from the file (key order, JSON
                    # types), so the evolver sees the same thing either way and prompts stay identical.
                    record = json.loads(dumps_record(record))
                    timings.write({"episode": len(done), "task": inst.id, **timing})
                    done.append(record)
                    if evolving:
                        assert evolver is not None
                        evolver.observe(offset + len(done) - 1, record)
            offset += len(instances)
        evolution = _evolution_summary(evolver, out_dir, sandbox, len(train_records))
        result = _result(cfg, records, backend, evolution, t0, {str(k): v for k, v in resolved.items()}, plan_hash, env)
        if diag_settings is not None and evolver is not None:
            assert sandbox is not None
            # result.json is written once, with them: a job killed here reruns its diagnostics (L4 resumes
            # from its records) and sweep progress counts it as done only when it is.
            result["diagnostics"] = diagnose_job(
                out_dir, env=env, policy=policy, suite=suite, sandbox=sandbox, seed=int(cfg.seed),
                settings=diag_settings, options=options, families=list(cfg.families) or None,
                progress=bool(cfg.progress), label=label,
            )  # fmt: skip
            if isinstance(backend, ReplayBackend):  # the cache served the L4 episodes too
                result["replay"] = {**result["replay"], **backend.stats()}
            result["wall_s"] = round(time.perf_counter() - t0, 3)
    except SandboxError as exc:
        raise ConfigError(f"sandbox: {exc}") from None
    finally:
        env.close()
        if sandbox is not None:
            sandbox.close()
    write_json_atomic(out_dir / "result.json", result)
    return result


register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        result = run_job(cfg, out_dir)
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None
    except KeyboardInterrupt:
        raise SystemExit(
            f"interrupted: complete records are kept in {out_dir}; run the same command with "
            f"hydra.run.dir={out_dir} to continue"
        ) from None
    order = {p: i for i, p in enumerate(all_phases())}
    phases = "  ".join(
        f"{p}={v:.0%}" for p, v in sorted(result["by_phase"].items(), key=lambda kv: order.get(kv[0], 99))
    )
    llm = ""
    if result["llm"]:
        cost = "n/a" if result["cost_usd"] is None else f"${result['cost_usd']:.4f}"
        sim = " simulated" if result["simulated"] else ""
        llm = f"  llm={result['llm']}:{result['model']}{sim} calls={result['llm_calls']} cost={cost}"
    print(
        f"{result['world']}/{result['protocol']}/{result['condition']} seed={result['seed']}: "
        f"success {result['success_rate']:.1%} over {result['n_episodes']} episodes  [{phases}]{llm}  -> {out_dir}"
        + ("  (complete: skipped)" if result.get("skipped") else "")
    )


if __name__ == "__main__":
    main()
