"""A job's arm: what its config says about the experiment apart from the seed.

Two jobs are the same arm when their plans differ in the seed only. The plan is the job's
config as the plan hash sees it (``planned_config``: without progress, replay, limits, ... and
the llm keys that only throttle requests). Summary and report rows are arms, never pools of
arms: a sweep ``-m condition=arise evolution.max_repairs=0,2 seed=1,2,3`` gives two rows,
``arise [evolution.max_repairs=0]`` and ``arise [evolution.max_repairs=2]``, and jobs that differ in
``llm.native_tools`` or ``llm.base_url`` are told apart the same way.

Keys a condition does not read are not part of its arm: ``evolution.*`` for conditions without
a library, ``llm.*`` and ``agent.*`` for scripted policies. A preset's name stands for the keys it
sets (``evolution.name=no_adversarial`` rather than also ``evolution.adversarial=false``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

# llm keys that only throttle or schedule requests; a job resumed with other values is the same job.
THROTTLE_KEYS = (
    "max_concurrency", "shared_limit_dir", "timeout_s", "max_attempts", "backoff_base_s", "backoff_max_s", "jitter",
    "retry_seed", "max_retry_after_s",
)  # fmt: skip
# Keys outside a job's plan: how it reports progress, where replayed responses come from (a replayed run
# holds exactly the records of the recorded one), the preset's label (the same job reached from another
# preset is the same job), diagnostics (they only read the finished job; result.json hashes their settings),
# limits (when to stop: a job stopped by a limit continues under a raised one), episode_workers (how many
# episodes run side by side: the records are the same).
UNPLANNED_KEYS = ("progress", "replay", "experiment", "diagnostics", "limits", "episode_workers")
# What a row is already named by (its columns), and what is not an arm (the seed is the replicate).
NAMED_BY_ROW = ("seed", "world.name", "protocol.name", "condition.name")


def planned_config(resolved: dict[str, Any]) -> dict[str, Any]:
    """The config as a job's plan hash sees it (``resolved``: the job's whole resolved config)."""
    planned = {str(k): v for k, v in resolved.items() if k not in UNPLANNED_KEYS}
    if isinstance(planned.get("world"), dict):  # where a world's code is imported from is no part of the plan
        planned["world"] = {k: v for k, v in planned["world"].items() if k != "module"}
    if isinstance(planned.get("llm"), dict):  # how calls are throttled does not change what they return
        planned["llm"] = {
            k: v
            for k, v in planned["llm"].items()
            # an unset optional key is the client's default (jobs recorded before the key existed resume)
            if k not in THROTTLE_KEYS and (v is not None or k == "api_key_env")
        }
    return planned


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Dotted keys -> canonical JSON of the leaf values (lists are leaves)."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: json.dumps(value, sort_keys=True)}


def _read_keys(result: dict[str, Any]) -> dict[str, str]:
    """The arm-relevant config of a job, flattened."""
    flat = _flatten(planned_config(result.get("config") or {}))
    has_library = result.get("evolution") is not None
    llm = bool(result.get("llm"))
    return {
        k: v
        for k, v in flat.items()
        if k not in NAMED_BY_ROW
        and not (k.startswith("evolution.") and not has_library)
        and not (k.startswith(("llm.", "agent.")) and not llm)
    }


def _show(value: str) -> str:
    loaded = json.loads(value)
    return loaded if isinstance(loaded, str) else value


def arm_labels(results: Sequence[dict[str, Any]]) -> list[str]:
    """For each result, its row label: the condition, plus ``[key=value, ...]`` for every config value that
    differs between jobs of the same world, protocol, condition and model (the arms to tell apart)."""
    flat = [_read_keys(r) for r in results]
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for i, r in enumerate(results):
        row = (r.get("world"), r.get("protocol"), r.get("condition"), r.get("model"), bool(r.get("simulated")))
        groups[row].append(i)
    labels = [str(r.get("condition")) for r in results]
    for members in groups.values():
        keys = sorted({k for i in members for k in flat[i]})
        varying = [k for k in keys if len({flat[i].get(k, "<unset>") for i in members}) > 1]
        varying = _named_presets(varying, [flat[i] for i in members])
        for i in members:
            if varying:
                shown = ", ".join(f"{k}={_show(flat[i].get(k, json.dumps('<unset>')))}" for k in varying)
                labels[i] = f"{labels[i]} [{shown}]"
    return labels


def _named_presets(varying: list[str], configs: list[dict[str, str]]) -> list[str]:
    """``varying`` without the keys a varying preset name (``<group>.name``) already determines."""
    kept = []
    for key in varying:
        group = key.rsplit(".", 1)[0] if "." in key else ""
        name_key = f"{group}.name"
        if key != name_key and name_key in varying:
            by_name: dict[str, set[str]] = defaultdict(set)
            for c in configs:
                by_name[c.get(name_key, "")].add(c.get(key, "<unset>"))
            if all(len(v) == 1 for v in by_name.values()):
                continue  # the preset's name says it
        kept.append(key)
    return kept
