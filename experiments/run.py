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

import collections
import hashlib
import importlib
import itertools
import json
import logging
import os
import platform
import queue
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from agents.llm import AuthError, ChatBackend, ChatRequest, ReplayMissError, UsageMeter
from agents.llm.replay import ReplayBackend
from agents.policy import Policy
from agents.serve_sim import SIM_FINGERPRINT
from envs import registry  # importing envs registers the built-in worlds
from envs.cli import sigterm_unwinds
from envs.registry import all_phases, get_world
from envs.tasks import Suite, TaskInstance, get_suite
from envs.toolenv import ToolUseEnv
from evolution.pipeline import Evolver
from evolution.sandbox.runner import Sandbox, SandboxError
from experiments.arms import planned_config
from experiments.command_line import UsageError, check_override_keys, parse_command_line
from experiments.conditions import (
    Condition,
    another_policy,
    build_condition,
    check_condition,
    check_llm_server,
    model_name,
)
from experiments.config import ConfigError, ToolSource, check_keys, register_configs
from experiments.downstream import diagnose_job, settings_hash
from experiments.episodes import (
    RecordWriter,
    complete_lines,
    cut_at_first_failure,
    dumps_record,
    load_records,
    rewrite_records,
    run_episode,
    supersede,
    write_json_atomic,
)
from experiments.limits import Breaker, Budget, JobStopped
from experiments.plan import print_plan
from experiments.records import EpisodeRecord, JobResult, RecordError


def import_world_module(cfg: DictConfig) -> None:
    """Import a plugin world's module (``world.module``), which registers the world; an import failure is
    a ConfigError naming the module. Every process that runs a job calls it (launcher workers too)."""
    module = cfg.world.get("module")
    if not module:
        return
    try:
        importlib.import_module(str(module))
    except ImportError as exc:
        raise ConfigError(f"world.module {module!r} (world {cfg.world.name!r}) cannot be imported: {exc}") from None


def _check(cfg: DictConfig) -> None:
    """Checks the schema cannot express (closed choices are enums there: see experiments/config.py)."""
    # The registry is read through its module: launchers that pickle this module's functions by value
    # (joblib workers, when it runs as __main__) would otherwise carry a stale copy of its dicts.
    if cfg.world.name not in registry.WORLDS:
        raise ConfigError(
            f"world must be one of {sorted(registry.WORLDS)}, got {cfg.world.name!r} (a plugin world is registered "
            "by importing its module: world.module=...)"
        )
    for key in ("n_worlds", "per_family", "max_steps"):
        if int(cfg[key]) < 1:
            raise ConfigError(f"{key} must be >= 1, got {cfg[key]}")
    if int(cfg.seed) < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {cfg.seed}")
    if cfg.episode_workers is not None and int(cfg.episode_workers) < 1:
        raise ConfigError(f"episode_workers must be >= 1 or null (llm.max_concurrency), got {cfg.episode_workers}")
    if int(cfg.limits.max_consecutive_llm_failures) < 1:
        raise ConfigError(
            f"limits.max_consecutive_llm_failures must be >= 1, got {cfg.limits.max_consecutive_llm_failures}"
        )
    for key in ("agent.max_tokens", "evolution.max_tokens"):
        value = OmegaConf.select(cfg, key)
        if value is not None and int(value) < 1:
            raise ConfigError(f"{key} must be >= 1 or null (the provider's own limit), got {value}")
    check_condition(cfg)
    _diagnostics_settings(cfg)


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


PENDING_HYDRA = ".hydra-pending"  # hydra.output_subdir (conf/config.yaml)


def _adopt_hydra_files(out_dir: Path) -> None:
    """Hydra's copy of this run's config becomes the job's ``.hydra/`` (after the plan check passed)."""
    pending = out_dir / PENDING_HYDRA
    if pending.is_dir():
        final = out_dir / ".hydra"
        if final.is_dir():
            shutil.rmtree(final)
        os.replace(pending, final)


def _first_failed_evolution(out_dir: Path) -> int | None:
    """The first episode after which a tool-author call failed, from the library an earlier run left
    (read before the library is rebuilt): the evolving phase replays from the episode after it."""
    db = out_dir / "library.sqlite"
    if not db.exists():
        return None
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT min(episode) FROM events WHERE kind = 'llm_error'").fetchone()
    except sqlite3.Error:
        return None  # a damaged library: rebuilt from the records anyway
    return None if row is None or row[0] is None else int(row[0])


def _supersede_diagnostics(out_dir: Path) -> None:
    diag = out_dir / "diagnostics"
    if diag.is_dir():
        n = 1
        while (aside := out_dir / f"superseded_diagnostics_{n}").exists():
            n += 1
        os.replace(diag, aside)


def _library_intact(out_dir: Path, finished: dict[str, Any]) -> bool:
    """A finished job's evolved library opens and passes SQLite's integrity check. A damaged one is
    moved aside (``library.sqlite.damaged``, never deleted) and the job runs again: the library is
    rebuilt from the kept records (and the job's LLM cache), then diagnosed."""
    if not JobResult.from_json(finished).has_library:
        return True
    db = out_dir / "library.sqlite"
    problem = None
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
            conn.execute("SELECT count(*) FROM events").fetchone()
        if rows != [("ok",)]:
            problem = "; ".join(str(r[0]) for r in rows[:3])
    except sqlite3.Error as exc:
        problem = str(exc)
    if problem is None:
        return True
    aside, n = db.with_name("library.sqlite.damaged"), 1
    while aside.exists():  # an earlier damaged copy is kept too
        n += 1
        aside = db.with_name(f"library.sqlite.damaged-{n}")
    if db.exists():
        os.replace(db, aside)
    print(f"{db}: the library of this finished job is damaged ({problem}); kept as {aside.name}, rebuilding it",
          file=sys.stderr)  # fmt: skip
    return False


def _finished_result(out_dir: Path, plan_hash: str) -> dict[str, Any] | None:
    """result.json of a finished job of this plan, or None."""
    path = out_dir / "result.json"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
        JobResult.from_json(result)
    except (FileNotFoundError, json.JSONDecodeError, RecordError):  # written atomically: damaged only by hand
        return None
    l4_arms = ((result.get("diagnostics") or {}).get("l4") or {}).get("arms") or {}
    if (
        result.get("config_hash") != plan_hash
        or result.get("llm_failures")
        or result.get("evolution_llm_failures")
        or any(a.get("llm_failures") for a in l4_arms.values())
    ):
        return None  # another plan, or episodes whose model failed: not finished, they are retried
    return result


def _rates(records: list[dict[str, Any]], key: str) -> dict[str, float]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        groups[r["task"][key]].append(bool(r["success"]))
    return {k: sum(v) / len(v) for k, v in groups.items()}


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
    usage = UsageMeter.summed(r.get("llm", {}).get("usage", {}) for r in records).to_dict()
    out: dict[str, Any] = {
        "llm": cfg.llm.provider,
        "model": model_name(backend) or str(cfg.llm.get("model") or ""),
        # From what answered, not from the config: the sim in process or behind agents.serve_sim.
        "simulated": cfg.llm.provider == "sim" or any(_simulated(resp) for r in records for resp in _responses(r)),
        "llm_calls": usage["llm_calls"],
        "tokens_in": usage["tokens_in"],
        "tokens_out": usage["tokens_out"],
        "cost_usd": usage["cost_usd"],  # None when unknown (add the model to the llm config's `prices`)
        "cut_off": sum(1 for r in records if r.get("cut_off")),
    }
    if isinstance(backend, ReplayBackend):
        out["replay"] = {"mode": backend.mode, "cache_dir": str(backend.cache_dir), **backend.stats()}
    return out


def usage_by_role(roles: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """result.json's ``usage``: each role's recorded totals summed, and the total over roles."""
    meters = {role: UsageMeter.summed(totals) for role, totals in roles.items()}
    out = {role: meter.to_dict() for role, meter in meters.items()}
    out["total"] = UsageMeter.summed(out.values()).to_dict()
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
    raw = OmegaConf.to_container(cfg.diagnostics, resolve=True, enum_to_str=True)
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
) -> JobResult:
    """The job's result (diagnostics are added by run_job). Episodes whose model failed are counted
    (``llm_failures``) but are not results: rates and the task list cover the others."""
    failed = [r for r in records if r.get("llm_failure")]
    usage_records = records
    records = [r for r in records if not r.get("llm_failure")]
    n = len(records)
    return JobResult(
        world=str(cfg.world.name),
        protocol=str(cfg.protocol.name),
        condition=str(cfg.condition.name),
        **_llm_summary(cfg, usage_records, backend),
        llm_failures=len(failed),
        seed=int(cfg.seed),
        split=str(cfg.split),
        n_episodes=n,
        n_families=len({r["task"]["family"] for r in records}),
        success_rate=sum(r["success"] for r in records) / n if n else 0.0,
        mean_score=sum(r["score"] for r in records) / n if n else 0.0,
        by_phase=_rates(records, "phase"),
        by_family=_rates(records, "family"),
        by_difficulty=_rates(records, "difficulty"),
        tasks=[{"id": r["task"]["id"], "success": r["success"], "score": r["score"]} for r in records],
        **evolution,
        wall_s=round(time.perf_counter() - t0, 3),
        config=resolved,
        config_hash=plan_hash,
        versions=_versions(),
        env_spec=env.spec.to_json() if env.spec is not None else None,
    )


@dataclass
class JobPlan:
    """What a job will run: its suite, the task instances and the hash that names the plan."""

    suite: Suite
    options: dict[str, Any]  # world generator options
    planned: list[TaskInstance]  # the scored instances (cfg.split)
    train: list[TaskInstance]  # evolution's train stream (train_test protocol), else []
    resolved: dict[str, Any]  # the whole config, resolved (result.json "config")
    task_ids: dict[str, list[str]]  # plan.json's lists: "tasks" (and "train_tasks")
    hash: str
    label: str  # world/protocol/condition/seed, for progress bars and messages


InstanceCache = dict[str, list[TaskInstance]]


def _instances(
    cfg: DictConfig, suite: Suite, split: str, options: dict[str, Any], cache: InstanceCache | None = None
) -> list[TaskInstance]:
    """The task instances of ``split``; ``cache`` (optional) keeps them by everything they depend on, for a
    planner of many jobs that share seeds (an ablation sweep plans 8 arms per seed)."""
    if cache is not None:
        key = json.dumps(
            [cfg.world.name, cfg.protocol.name, int(cfg.seed), split, int(cfg.n_worlds), int(cfg.per_family),
             list(cfg.families), options],
            sort_keys=True, default=str,
        )  # fmt: skip
        if key not in cache:
            cache[key] = _instances(cfg, suite, split, options)
        return cache[key]
    return suite.instances(
        int(cfg.seed),
        split,
        n_worlds=int(cfg.n_worlds),
        per_family=int(cfg.per_family),
        families=list(cfg.families) or None,
        options=options,
    )


def plan_job(cfg: DictConfig, cache: InstanceCache | None = None) -> JobPlan:
    """The job's plan; a config that names no runnable job is a ConfigError. ``cache``: see ``_instances``."""
    check_keys(cfg)
    import_world_module(cfg)
    _check(cfg)
    raw_options = OmegaConf.to_container(cfg.world.options, resolve=True) or {}
    assert isinstance(raw_options, dict)
    options = {str(k): v for k, v in raw_options.items()}
    try:
        suite = get_suite(cfg.world.name, cfg.protocol.name)
        planned = _instances(cfg, suite, str(cfg.split), options, cache)
    except KeyError as exc:  # unknown protocol/family: KeyError quotes its message
        raise ConfigError(str(exc.args[0]) if exc.args else str(exc)) from None
    except ValueError as exc:  # bad world options, NoInstance
        raise ConfigError(str(exc)) from None
    evolves_on_train = cfg.condition.tools == ToolSource.library and cfg.evolution.protocol == "train_test"
    train = _instances(cfg, suite, "train", options, cache) if evolves_on_train else []
    resolved = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    assert isinstance(resolved, dict)
    planned_cfg = planned_config({str(k): v for k, v in resolved.items()})
    task_ids = {"tasks": [p.id for p in planned]}
    if train:
        task_ids["train_tasks"] = [p.id for p in train]
    plan = {"config": planned_cfg, **task_ids}
    return JobPlan(
        suite=suite,
        options=options,
        planned=planned,
        train=train,
        resolved={str(k): v for k, v in resolved.items()},
        task_ids=task_ids,
        hash=hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:16],
        label=f"{cfg.world.name}/{cfg.protocol.name}/{cfg.condition.name}/seed={cfg.seed}",
    )


def _make_env(cfg: DictConfig, options: dict[str, Any]) -> gym.Env[str, str]:
    affordances = cfg.condition.affordances
    if affordances is None:
        affordances = cfg.protocol.condition_affordances.get(cfg.condition.name)
    return gym.make(
        get_world(cfg.world.name).env_id,
        protocol=cfg.protocol.name,
        world_options=options,
        affordances=tuple(affordances) if affordances is not None else None,
        max_observation_chars=cfg.max_observation_chars,
        max_episode_steps=int(cfg.max_steps),
    )


@dataclass
class _Phase:
    """One stream of episodes of a job and the records kept of it."""

    name: str  # train | test
    instances: list[TaskInstance]
    records: list[dict[str, Any]]  # the kept records, then each new one
    filename: str
    evolving: bool  # the evolver observes each new record
    offset: int  # episodes before this phase (the evolver's clock)
    tagged: bool  # records say which phase they belong to (jobs with a train phase)


Player = tuple[gym.Env[str, str], Policy]  # an env and a policy that play one episode at a time


def _play(
    cfg: DictConfig, phase: _Phase, player: Player, condition: Condition, index: int, out_dir: Path
) -> tuple[EpisodeRecord, dict[str, Any]]:
    inst = phase.instances[index]
    env, policy = player
    try:
        record, timing = run_episode(env, policy, inst, condition.tools())
    except (AuthError, ReplayMissError) as exc:  # a config problem: stop, keeping every record already written
        kept = sum(1 for r in phase.records if not r.get("llm_failure"))
        raise ConfigError(f"{exc} ({kept} complete episode records kept in {out_dir})") from None
    record.episode, record.condition, record.seed = index, str(cfg.condition.name), int(cfg.seed)
    if phase.tagged:
        record.protocol_phase = phase.name
    return record, {"episode": index, "task": inst.id, **timing}


def _episodes(
    cfg: DictConfig, phase: _Phase, players: list[Player], condition: Condition, out_dir: Path, indices: list[int]
) -> Generator[tuple[int, EpisodeRecord, dict[str, Any]], None, None]:
    """(index, record, timing) of each episode of ``indices``, in that order.

    With several players and episodes that do not depend on each other (not an evolving phase),
    they run side by side in threads, each player playing one at a time; later episodes run while
    an earlier one is awaited, and the caller still sees plan order. Stopping the iteration (the
    breaker, a limit) waits for the running ones; nothing else starts.
    """
    if len(players) == 1 or phase.evolving or len(indices) < 2:
        for i in indices:
            yield (i, *_play(cfg, phase, players[0], condition, i, out_dir))
        return
    free: queue.SimpleQueue[Player] = queue.SimpleQueue()
    for player in players:
        free.put(player)

    def work(i: int) -> tuple[EpisodeRecord, dict[str, Any]]:
        player = free.get()
        try:
            return _play(cfg, phase, player, condition, i, out_dir)
        finally:
            free.put(player)

    # A window of twice as many episodes as players: a long episode at its head leaves the players
    # busy with later ones (a window of one per player idled them behind it: 8 players gave 3.4x on
    # the bench, 5.4x with this window); a limit or the breaker, seen in plan order, stops the job
    # with at most 2 * len(players) - 1 episodes beyond it played (and not recorded).
    pool = ThreadPoolExecutor(len(players), thread_name_prefix="episode")
    upcoming = iter(indices)
    window = collections.deque((i, pool.submit(work, i)) for i in itertools.islice(upcoming, 2 * len(players)))
    try:
        while window:
            i, future = window.popleft()
            outcome = future.result()
            yield (i, *outcome)
            nxt = next(upcoming, None)
            if nxt is not None:
                window.append((nxt, pool.submit(work, nxt)))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stored(record: EpisodeRecord) -> dict[str, Any]:
    # What a resume reads back from the file (key order, JSON types), so the evolver sees the same
    # thing either way and prompts stay identical.
    return cast(dict[str, Any], json.loads(dumps_record(record.to_json())))


def _run_phase(
    cfg: DictConfig,
    phase: _Phase,
    players: list[Player],
    condition: Condition,
    out_dir: Path,
    desc: str,
    check_spend: Callable[[], None],
) -> None:
    """Play the phase's episodes that have no result yet, each record written as soon as it exists.

    Episodes kept from an earlier run whose model failed are played again first (in place: records
    stay in plan order; the failed ones go to ``superseded_<file>``). In an evolving phase there are
    none: the resume cut the phase at its first failure (see ``experiments.episodes.cut_at_first_failure``).
    """
    path = out_dir / phase.filename
    timings_path = path.with_name(phase.filename.replace("episodes", "timings"))
    done = phase.records
    breaker = Breaker(int(cfg.limits.max_consecutive_llm_failures), out_dir)
    retry = [i for i, r in enumerate(done) if r.get("llm_failure")]
    if retry:
        assert not phase.evolving
        timings = [json.loads(line) for line in complete_lines(timings_path)]
        with closing(_episodes(cfg, phase, players, condition, out_dir, retry)) as replays:
            bar = tqdm(
                replays,
                total=len(retry),
                desc=f"{desc} [retry]",
                disable=not cfg.progress,
                leave=False,
                file=sys.stderr,
            )
            for i, record, timing in bar:
                # Kept at once (a kill between retries loses none): the old record to superseded_<file>
                # first, then both files replaced atomically.
                supersede(path, [done[i]])
                done[i] = _stored(record)
                if i < len(timings):
                    timings[i] = timing
                rewrite_records(path, done)
                rewrite_records(timings_path, timings)
                breaker.update(done[i])
                check_spend()
    todo = list(range(len(done), len(phase.instances)))
    with (
        RecordWriter(path) as writer,
        RecordWriter(timings_path) as timing_writer,
        closing(_episodes(cfg, phase, players, condition, out_dir, todo)) as played,
    ):
        for index, record, timing in tqdm(
            played, total=len(todo), desc=desc, disable=not cfg.progress, leave=False, file=sys.stderr
        ):
            writer.write(record.to_json())
            stored = _stored(record)
            timing_writer.write(timing)
            done.append(stored)
            if phase.evolving:
                assert condition.evolver is not None
                condition.evolver.observe(phase.offset + index, stored)
                breaker.update_evolution(condition.evolver)
            breaker.update(stored)
            check_spend()


def _episode_workers(cfg: DictConfig) -> int:
    """How many episodes a job plays side by side (``episode_workers``; see experiments/config.py)."""
    if cfg.condition.kind != "llm":
        return 1  # scripted baselines are instant, and some carry state from one episode to the next
    if cfg.episode_workers is not None:
        return int(cfg.episode_workers)
    return int(cfg.llm.get("max_concurrency") or 1) if cfg.llm.provider in ("openai", "anthropic") else 1


def _budget(cfg: DictConfig, out_dir: Path, sweep_dir: Path | None) -> Budget:
    ledger = None
    if sweep_dir is not None:
        try:
            name = out_dir.resolve().relative_to(sweep_dir.resolve()).as_posix().replace("/", "__")
        except ValueError:
            name = out_dir.name
        ledger = sweep_dir / ".spend" / f"{name}.json"
    try:
        return Budget(
            max_cost_usd=cfg.limits.max_cost_usd,
            max_tokens=cfg.limits.max_tokens,
            sweep_max_cost_usd=cfg.limits.sweep_max_cost_usd,
            sweep_max_tokens=cfg.limits.sweep_max_tokens,
            ledger=ledger,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _first_request(cfg: DictConfig, plan: JobPlan, condition: Condition) -> ChatRequest | None:
    """The request the job's first episode opens with (its size is checked against the context window)."""
    instances = plan.train or plan.planned
    next_request = getattr(condition.policy, "next_request", None)
    if not instances or not callable(next_request):
        return None
    first = instances[0]
    env = _make_env(cfg, plan.options)  # a fresh env: the job's own are untouched
    try:
        obs, info = env.reset(options={"instance": first, "tools": condition.tools()})
        unwrapped = env.unwrapped
        assert isinstance(unwrapped, ToolUseEnv)
        condition.policy.reset(unwrapped, obs, info)
        request = next_request()
        assert isinstance(request, ChatRequest)
        return request
    finally:
        env.close()


def run_job(cfg: DictConfig, out_dir: Path, sweep_dir: Path | None = None) -> dict[str, Any]:
    """Run the job described by ``cfg`` into ``out_dir``; returns result.json's content (``JobResult.to_json()``).

    Plan it, keep what an earlier run of the same plan recorded, build the condition, play the
    remaining episodes (train, then test), summarise, and diagnose an evolved library.
    ``sweep_dir``: the sweep this job belongs to (its spend counts towards ``limits.sweep_*``).
    """
    t0 = time.perf_counter()
    plan = plan_job(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_plan(out_dir, plan.hash)
    _adopt_hydra_files(out_dir)
    train_records = (
        load_records(out_dir / "train_episodes.jsonl", plan.train, out_dir / "train_timings.jsonl")
        if plan.train
        else []
    )
    records = load_records(out_dir / "episodes.jsonl", plan.planned, out_dir / "timings.jsonl")
    if cfg.condition.tools == ToolSource.library:  # the evolving phase replays from its first failure
        evolving_file = out_dir / ("train_episodes.jsonl" if plan.train else "episodes.jsonl")
        kept = train_records if plan.train else records
        cut = cut_at_first_failure(evolving_file, kept, _first_failed_evolution(out_dir))
        if len(cut) < len(kept):
            _supersede_diagnostics(out_dir)  # they measured a library the replay will rebuild
        if plan.train:
            train_records = cut
        else:
            records = cut
    finished = _finished_result(out_dir, plan.hash)
    diag_settings = _diagnostics_settings(cfg)
    stale = diag_settings is not None and (  # missing diagnostics or other settings: run them again
        (finished or {}).get("diagnostics") or {}
    ).get("settings_hash") != settings_hash(diag_settings)
    if (
        not stale
        and finished is not None
        and len(records) == len(plan.planned)
        and len(train_records) == len(plan.train)
        and _library_intact(out_dir, finished)
    ):
        return {**finished, "skipped": True}  # a complete job: nothing to do (a rerun sweep skips it)
    write_json_atomic(out_dir / "plan.json", {"plan_hash": plan.hash, **plan.task_ids})
    condition: Condition | None = None
    env: gym.Env[str, str] | None = None
    players: list[Player] = []
    try:
        try:
            env = _make_env(cfg, plan.options)
            condition = build_condition(cfg, plan.suite, plan.options, out_dir)
        except ValueError as exc:  # bad world options, unknown scripted policy
            raise ConfigError(str(exc)) from None
        evolver = condition.evolver
        server_facts = None
        if condition.backend is not None:  # before any episode: the server can run this job as configured
            job_condition = condition
            server_facts = check_llm_server(cfg, condition.backend, lambda: _first_request(cfg, plan, job_condition))
            for warning in server_facts.warnings if server_facts else []:
                print(f"warning: {plan.label}: {warning}", file=sys.stderr, flush=True)
        players.append((env, condition.policy))
        for _ in range(_episode_workers(cfg) - 1):
            players.append((_make_env(cfg, plan.options), another_policy(cfg, plan.suite, plan.options, condition)))
        budget = _budget(cfg, out_dir, sweep_dir)

        def spent() -> dict[str, Any]:
            roles = {"agent": [r.get("llm", {}).get("usage", {}) for r in [*train_records, *records]]}
            if evolver is not None:
                roles["evolution"] = [evolver.stats.usage.to_dict()]
            return usage_by_role(roles)["total"]

        def check_spend() -> None:
            if cfg.condition.kind == "llm":
                budget.check(spent())

        if evolver is not None:
            by_id = {inst.id: inst for inst in [*plan.train, *plan.planned]}
            policy, job_env = condition.policy, env
            evolver.replay = lambda task_id, runner: run_episode(job_env, policy, by_id[task_id], runner)[0].to_json()
            # Resume: the library is rebuilt by observing the kept records again (deterministic on the
            # simulated or replayed model), so it is exactly the library those episodes left behind.
            for i, rec in enumerate([*train_records, *(records if not plan.train else [])]):
                evolver.observe(i, rec)
        check_spend()  # a job (or sweep) already at its limit starts nothing
        tagged = bool(plan.train)
        phases = [_Phase("train", plan.train, train_records, "train_episodes.jsonl", True, 0, tagged)] if tagged else []
        evolving = evolver is not None and not tagged  # train_test: the library is frozen for the test phase
        phases.append(_Phase("test", plan.planned, records, "episodes.jsonl", evolving, len(plan.train), tagged))
        for phase in phases:
            desc = f"{plan.label} [{phase.name}]" if plan.train else plan.label
            _run_phase(cfg, phase, players, condition, out_dir, desc, check_spend)
        evolution = _evolution_summary(evolver, out_dir, condition.sandbox, len(train_records))
        result = _result(cfg, records, condition.backend, evolution, t0, plan.resolved, plan.hash, env)
        roles = {"agent": [r.get("llm", {}).get("usage", {}) for r in [*train_records, *records]]}
        if evolver is not None:
            roles["evolution"] = [evolver.stats.usage.to_dict()]
            result.evolution_llm_failures = len(evolver.failed_episodes)
        unfinished = result.llm_failures or (evolver is not None and evolver.failed_episodes)
        if diag_settings is not None and evolver is not None and not unfinished:
            assert condition.sandbox is not None
            check_spend()
            l4_usage: list[dict[str, Any]] = []
            l4_breaker = Breaker(int(cfg.limits.max_consecutive_llm_failures), out_dir)

            def after_l4_episode(record: dict[str, Any]) -> None:
                l4_breaker.update(record)
                l4_usage.append(record.get("llm", {}).get("usage", {}))
                roles["diagnostics"] = l4_usage
                budget.check(usage_by_role(roles)["total"])

            # result.json is written once, with them: a job killed here reruns its diagnostics (L4 resumes
            # from its records) and sweep progress counts it as done only when it is.
            result.diagnostics = diagnose_job(
                out_dir, env=env, policy=condition.policy, suite=plan.suite, sandbox=condition.sandbox,
                seed=int(cfg.seed), settings=diag_settings, options=plan.options,
                families=list(cfg.families) or None, progress=bool(cfg.progress), label=plan.label,
                after_episode=after_l4_episode,
            )  # fmt: skip
            roles["diagnostics"] = [(result.diagnostics or {}).get("l4") or {}]
            if isinstance(condition.backend, ReplayBackend):  # the cache served the L4 episodes too
                result.replay = {**(result.replay or {}), **condition.backend.stats()}
            result.wall_s = round(time.perf_counter() - t0, 3)
        if server_facts is not None:
            result.llm_server = server_facts.to_json()
            if server_facts.probe_usage.calls:
                roles["probe"] = [server_facts.probe_usage.to_dict()]
        if cfg.condition.kind == "llm":
            result.usage = usage_by_role(roles)
    except (AuthError, ReplayMissError) as exc:  # raised by the evolver's calls
        raise ConfigError(f"{exc} (every record is kept in {out_dir})") from None
    except SandboxError as exc:
        raise ConfigError(f"sandbox: {exc}") from None
    finally:
        for extra_env, _ in players[1:]:
            extra_env.close()
        if env is not None:
            env.close()
        if condition is not None:
            condition.close()
    write_json_atomic(out_dir / "result.json", result.to_json())
    return result.to_json()


register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request drowned the job's output
    out_dir = Path(hydra_cfg.runtime.output_dir)
    sweep_dir = Path(hydra_cfg.sweep.dir) if hydra_cfg.mode == RunMode.MULTIRUN else None
    try:
        result = run_job(cfg, out_dir, sweep_dir)
    except ConfigError as exc:
        shutil.rmtree(out_dir / PENDING_HYDRA, ignore_errors=True)  # a refused run leaves the job untouched
        raise SystemExit(f"error: {exc}") from None
    except OSError as exc:  # an unwritable or full path, a broken filesystem
        raise SystemExit(f"error: {exc}") from None
    except JobStopped as exc:
        raise SystemExit(f"stopped: {exc}") from None
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
        if result.get("cut_off"):
            llm += f" cut_off={result['cut_off']}"
    failures = ""
    if result.get("llm_failures") or result.get("evolution_llm_failures"):
        failures = (
            f"  LLM FAILURES: {result.get('llm_failures') or 0} episodes, {result.get('evolution_llm_failures') or 0} "
            "tool-author calls (not results; the job is not finished: run the same command again to retry them)"
        )
    print(
        f"{result['world']}/{result['protocol']}/{result['condition']} seed={result['seed']}: "
        f"success {result['success_rate']:.1%} over {result['n_episodes']} episodes  [{phases}]{llm}{failures}  "
        f"-> {out_dir}" + ("  (complete: skipped)" if result.get("skipped") else "")
    )
    if (result.get("llm_failures") or result.get("evolution_llm_failures")) and (
        HydraConfig.get().mode != RunMode.MULTIRUN
    ):
        raise SystemExit(3)  # not finished (a sweep goes on with its other jobs; its summary shows them)


def _check_output_dirs(argv: list[str]) -> None:
    """One clear line when the output directory cannot be written (Hydra fails with a traceback
    before the job starts). Tries ``hydra.run.dir`` / ``hydra.sweep.dir`` when given literally,
    else the working directory the default ones are under."""
    given = [a.split("=", 1)[1] for a in argv if a.split("=", 1)[0] in ("hydra.run.dir", "hydra.sweep.dir")]
    for raw in given or ["."]:
        if "${" in raw:
            continue  # resolved by Hydra
        path = Path(raw).expanduser().absolute()
        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            raise SystemExit(
                f"error: cannot write the output directory {path} ({exc.strerror or exc}); choose another "
                "with hydra.run.dir=... (hydra.sweep.dir=... with -m)"
            ) from None


def _command_line() -> None:
    """Read the command line before Hydra does (experiments/command_line.py): flags anywhere, override
    keys checked, ``--plan`` answered here; Hydra then gets ``-m``, its flags and the overrides in order."""
    try:
        command = parse_command_line(sys.argv[1:])
        if not {"-sc", "--shell-completion"} & set(command.flags):  # its "overrides" are install=bash etc.
            check_override_keys(command.overrides)
    except UsageError as exc:
        raise SystemExit(f"error: {exc}") from None
    if command.plan:
        raise SystemExit(print_plan(command.overrides, command.multirun))
    _check_output_dirs(command.overrides)
    sys.argv[1:] = command.hydra_argv()


if __name__ == "__main__":
    _command_line()
    with sigterm_unwinds():  # a killed job still closes its sandboxes (their scratch directories) and envs
        main()
