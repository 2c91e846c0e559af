"""Running episodes and recording them.

``run_episode`` drives one policy through one task instance and returns a record
that is *deterministic*: everything in it follows from the config and the seed
(timings go to a separate dict, so ``episodes.jsonl`` is byte-identical across
reruns). ``RecordWriter`` appends one JSON line per episode and fsyncs it, so an
interrupted run never loses or tears what it already wrote.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.policy import Policy
from envs.tasks import TaskInstance
from envs.toolenv import ToolUseEnv
from envs.tools import ToolRunner
from experiments.config import ConfigError
from experiments.records import EpisodeRecord, ToolCallRecord


def run_episode(
    env: gym.Env[str, str], policy: Policy, instance: TaskInstance, tools: str | ToolRunner
) -> tuple[EpisodeRecord, dict[str, Any]]:
    """Play one episode; returns (deterministic record, timings)."""
    t0 = time.perf_counter()
    obs, info = env.reset(options={"instance": instance, "tools": tools})
    unwrapped = env.unwrapped
    assert isinstance(unwrapped, ToolUseEnv)
    policy.reset(unwrapped, obs, info)
    steps: list[dict[str, Any]] = []
    step_s: list[float] = []
    terminated = truncated = False
    final: dict[str, Any] = {}
    while not (terminated or truncated):
        action = policy.act(obs)
        obs, reward, terminated, truncated, sinfo = env.step(action)
        step_s.append(unwrapped.last_step_duration_s)
        if sinfo.get("kind") == "answer":
            final = sinfo
            # The answer and its grade are the record's own fields: stored once, not again per step.
            sinfo = {k: v for k, v in sinfo.items() if k not in ("answer", "grade")}
        steps.append({"action": action, "observation": obs, "reward": reward, "info": sinfo})
    grade = final.get("grade") or {"score": 0.0, "success": False, "detail": {"note": "no answer (truncated)"}}
    record = EpisodeRecord(
        task=instance.to_json(),
        prompt=instance.prompt,
        policy=policy.name,
        tools_offered=[t["name"] for t in info["tools"]],
        tools_called=[
            ToolCallRecord(s["info"]["tool"], s["info"]["args"], s["info"]["ok"], s["info"]["error"])
            for s in steps
            if s["info"].get("kind") == "tool"
        ],
        steps=steps,
        n_steps=len(steps),
        # Out of steps without an answer (TimeLimit also flags truncation when the last step answers).
        truncated=bool(truncated and not terminated),
        answer=final.get("answer"),
        grade=grade,
        score=grade["score"],
        success=grade["success"],
        llm_failure=policy.llm_failure(),
        cut_off=policy.answer_cut_off(),
        extras=policy.episode_extras(),  # RecordError if they name a core field
    )
    return record, {"wall_s": time.perf_counter() - t0, "step_s": step_s}


def dumps_record(record: dict[str, Any]) -> str:
    """One record as a JSON line. Always valid, UTF-8-encodable JSON: values an agent may
    produce that JSON cannot hold (NaN/inf, lone surrogates) are stored as strings."""
    try:
        text = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
        text.encode("utf-8")
        return text
    except (ValueError, UnicodeEncodeError):
        return json.dumps(_jsonable(record), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_jsonable(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class RecordWriter:
    """Append-only JSONL writer: each record is written whole, flushed and fsynced."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict[str, Any]) -> None:
        self._fh.write(dumps_record(record) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rewrite_records(path: Path, records: list[dict[str, Any]]) -> None:
    """Replace a JSONL file with ``records`` atomically (temp file, fsync, rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(dumps_record(r) + "\n" for r in records)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def supersede(path: Path, records: list[dict[str, Any]]) -> None:
    """Keep records about to be replaced (LLM failures retried, and what followed them in an
    evolving phase) in ``superseded_<name>``: nothing recorded is ever lost."""
    if records:
        with RecordWriter(path.with_name(f"superseded_{path.name}")) as writer:
            for r in records:
                writer.write(r)


def cut_at_first_failure(
    path: Path, records: list[dict[str, Any]], failed_evolution: int | None = None
) -> list[dict[str, Any]]:
    """Kept records up to the first whose model failed (``llm_failure``); the file and its timings
    are cut there and the cut records kept in ``superseded_<file>``, never lost. For episodes that
    depend on every earlier one (an evolving phase), or where replaying a few is cheap (L4)."""
    first = next((i for i, r in enumerate(records) if r.get("llm_failure")), None)
    if failed_evolution is not None:  # the evolution after that episode failed: replay it and what follows
        first = min(first if first is not None else len(records), failed_evolution + 1)
    if first is None or first >= len(records):
        return records
    supersede(path, records[first:])
    rewrite_records(path, records[:first])
    timings = path.with_name(path.name.replace("episodes", "timings"))
    if timings.exists():
        rewrite_records(timings, [json.loads(line) for line in complete_lines(timings)][:first])
    return records[:first]


def write_json_atomic(path: str | Path, payload: dict[str, Any]) -> None:
    """Write JSON via a temp file and rename, so readers never see a torn file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def complete_lines(path: Path) -> list[str]:
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


def load_records(episodes: Path, planned: list[TaskInstance], timings: Path | None = None) -> list[dict[str, Any]]:
    """Complete records in ``episodes`` matching the start of ``planned``; ``timings`` is trimmed to match."""
    records = []
    for i, line in enumerate(complete_lines(episodes)):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{episodes} line {i + 1} is not valid JSON ({exc.msg}); the file was edited or damaged"
            ) from None
        if i >= len(planned) or rec.get("task", {}).get("id") != planned[i].id:
            raise ConfigError(f"{episodes} record {i} does not match the plan; use a fresh output directory")
        records.append(rec)
    if timings is not None and timings.exists():  # keep timings in step with the records that survive
        kept = complete_lines(timings)[: len(records)]
        tmp = timings.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, timings)
    return records
