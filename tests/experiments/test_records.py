"""Typed records: today's JSON reads back into the types and writes back byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.config import compose_run_config
from experiments.episodes import dumps_record
from experiments.records import CORE_FIELDS, EpisodeRecord, JobResult, RecordError
from experiments.run import run_job

FAMILIES = "families=[logs.severity_count,config.effective_replicas]"


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("records")
    out = {}
    for condition in ("oracle", "no_evolution", "arise"):
        out[condition] = root / condition
        overrides = [f"condition={condition}", FAMILIES, "progress=false", "diagnostics.enabled=false"]
        if condition == "arise":
            overrides += ["per_family=3", "evolution.failure_threshold=1"]
        run_job(compose_run_config(overrides), out[condition])
    return out


def test_episode_records_round_trip_byte_for_byte(jobs: dict[str, Path]):
    for condition, out in jobs.items():
        for line in (out / "episodes.jsonl").read_text(encoding="utf-8").splitlines():
            record = EpisodeRecord.from_json(json.loads(line))
            assert dumps_record(record.to_json()) == line, condition
            assert record.condition == condition and record.seed == 42 and record.task_id


def test_agent_data_is_namespaced_in_extras(jobs: dict[str, Path]):
    line = (jobs["no_evolution"] / "episodes.jsonl").read_text(encoding="utf-8").splitlines()[0]
    record = EpisodeRecord.from_json(json.loads(line))
    assert set(record.extras) == {"llm", "tools_shown"} and record.llm["usage"]["llm_calls"] >= 1
    assert not set(record.extras) & CORE_FIELDS
    with pytest.raises(RecordError, match=r"episode extras \['success'\] that are core record fields"):
        EpisodeRecord(**{**vars(record), "extras": {"success": True}})


def test_job_results_round_trip_and_say_whether_they_have_a_library(jobs: dict[str, Path]):
    for condition, out in jobs.items():
        stored = json.loads((out / "result.json").read_text(encoding="utf-8"))
        result = JobResult.from_json(stored)
        assert result.to_json() == stored, condition
        assert result.has_library == (condition == "arise")
        assert ("tools_promoted" in stored) == result.has_library  # the layout older readers relied on


def test_readers_name_what_is_wrong():
    with pytest.raises(RecordError, match=r"without \['score', 'success'\]"):
        EpisodeRecord.from_json({"task": {"id": "x"}})
    with pytest.raises(RecordError, match="is a JSON object"):
        EpisodeRecord.from_json([1])
    with pytest.raises(RecordError, match=r"result.json without \['world'"):
        JobResult.from_json({"protocol": "rigorous"})


def test_a_record_of_an_older_version_reads_with_defaults():
    """Fields added later (n_steps, truncated, tools_offered...) get their defaults."""
    old = {"task": {"id": "acmecorp/t/0"}, "score": 1.0, "success": True, "steps": [{}, {}], "answer": 3}
    record = EpisodeRecord.from_json(old)
    assert record.n_steps == 2 and record.truncated is False and record.tools_called == [] and record.answer == 3
