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
import os
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

from agents.scripted import make_scripted
from envs import ENV_IDS  # importing envs registers the Gymnasium environments
from envs.tasks import SPLITS, TaskInstance, get_suite
from experiments.config import register_configs
from experiments.episodes import RecordWriter, run_episode, write_json_atomic


class ConfigError(ValueError):
    pass


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
    if cfg.condition.kind != "scripted":
        raise ConfigError(f"condition kind {cfg.condition.kind!r} is not available yet; accepted: scripted")
    if cfg.condition.tools not in ("none", "reference"):
        raise ConfigError(f"condition.tools must be 'none' or 'reference', got {cfg.condition.tools!r}")


def _complete_lines(path: Path) -> list[str]:
    """Complete lines of a JSONL file; a torn tail (a kill mid-write) is cut off atomically."""
    if not path.exists():
        return []
    raw = path.read_text(encoding="utf-8")
    lines = raw.split("\n")
    if lines[-1]:  # text after the last newline never holds a complete record
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text("".join(line + "\n" for line in lines[:-1]), encoding="utf-8")
        os.replace(tmp, path)
    return lines[:-1]


def _load_existing(out_dir: Path, planned: list[TaskInstance], plan_hash: str) -> list[dict[str, Any]]:
    """Records already in ``out_dir`` for exactly this plan; anything else is refused, never overwritten."""
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
    records = []
    for i, line in enumerate(_complete_lines(episodes)):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{episodes} line {i + 1} is not valid JSON ({exc.msg}); the file was edited or damaged"
            ) from None
        if i >= len(planned) or rec.get("task", {}).get("id") != planned[i].id:
            raise ConfigError(f"{episodes} record {i} does not match the plan; use a fresh output directory")
        records.append(rec)
    timings = out_dir / "timings.jsonl"
    if timings.exists():  # keep timings in step with the records that survive
        kept = _complete_lines(timings)[: len(records)]
        tmp = timings.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, timings)
    return records


def _rates(records: list[dict[str, Any]], key: str) -> dict[str, float]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        groups[r["task"][key]].append(bool(r["success"]))
    return {k: sum(v) / len(v) for k, v in groups.items()}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("arise-gym", "gymnasium", "numpy", "httpx", "respx", "hydra-core"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


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
        policy = make_scripted(
            cfg.condition.name,
            suite,
            int(cfg.seed),
            int(cfg.train_worlds),
            options,
            evaluated=(cfg.split, int(cfg.n_worlds)),
        )
        env = gym.make(
            ENV_IDS[cfg.world.name],
            protocol=cfg.protocol.name,
            world_options=options,
            affordances=tuple(cfg.condition.affordances) if cfg.condition.affordances is not None else None,
            max_observation_chars=cfg.max_observation_chars,
            max_episode_steps=int(cfg.max_steps),
        )
    except KeyError as exc:  # unknown protocol/family: KeyError quotes its message
        raise ConfigError(str(exc.args[0]) if exc.args else str(exc)) from None
    except ValueError as exc:  # bad world options, NoInstance, unknown policy
        raise ConfigError(str(exc)) from None
    episodes_path = out_dir / "episodes.jsonl"
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    # Everything that changes what an episode record holds is in the plan hash (not `progress`).
    planned_cfg = {k: v for k, v in resolved.items() if k != "progress"}
    plan_hash = hashlib.sha256(
        json.dumps({"config": planned_cfg, "tasks": [p.id for p in planned]}, sort_keys=True).encode()
    ).hexdigest()[:16]
    records = _load_existing(out_dir, planned, plan_hash)
    write_json_atomic(out_dir / "plan.json", {"plan_hash": plan_hash, "tasks": [p.id for p in planned]})
    todo = planned[len(records) :]
    label = f"{cfg.world.name}/{cfg.protocol.name}/{cfg.condition.name}/seed={cfg.seed}"
    with RecordWriter(episodes_path) as writer, RecordWriter(out_dir / "timings.jsonl") as timings:
        for inst in tqdm(todo, desc=label, disable=not cfg.progress, leave=False, file=sys.stderr):
            record, timing = run_episode(env, policy, inst, cfg.condition.tools)
            record = {"episode": len(records), "condition": cfg.condition.name, "seed": int(cfg.seed), **record}
            writer.write(record)
            timings.write({"episode": len(records), "task": inst.id, **timing})
            records.append(record)
    env.close()
    n = len(records)
    result = {
        "world": cfg.world.name,
        "protocol": cfg.protocol.name,
        "condition": cfg.condition.name,
        "llm": cfg.llm,
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
        "wall_s": round(time.perf_counter() - t0, 3),
        "config": resolved,
        "config_hash": plan_hash,
        "versions": _versions(),
        "env_spec": env.spec.to_json() if env.spec is not None else None,
    }
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
    phases = "  ".join(f"{p}={v:.0%}" for p, v in result["by_phase"].items())
    print(
        f"{result['world']}/{result['protocol']}/{result['condition']} seed={result['seed']}: "
        f"success {result['success_rate']:.1%} over {result['n_episodes']} episodes  [{phases}]  -> {out_dir}"
    )


if __name__ == "__main__":
    main()
