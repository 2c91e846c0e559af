"""Episodes played side by side: the same records as a sequential run, in plan order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.serve_sim import SimServer
from experiments.config import ConfigError, compose_run_config
from experiments.run import _episode_workers, run_job

FAMS = "families=[logs.severity_count,metrics.current_value,config.effective_replicas,incidents.root_cause]"


@pytest.mark.parametrize("condition", ["fixed_tools", "no_evolution"])
def test_side_by_side_records_are_the_sequential_ones(tmp_path: Path, condition: str):
    common = [f"condition={condition}", "seed=3", FAMS, "per_family=2", "progress=false"]
    seq = run_job(compose_run_config([*common, "episode_workers=1"]), tmp_path / "seq")
    par = run_job(compose_run_config([*common, "episode_workers=4"]), tmp_path / "par")
    assert (tmp_path / "seq" / "episodes.jsonl").read_bytes() == (tmp_path / "par" / "episodes.jsonl").read_bytes()
    assert seq["n_episodes"] == par["n_episodes"] >= 6 and seq["config_hash"] == par["config_hash"]
    assert seq["usage"] == par["usage"]


def test_over_http_the_replayed_concurrent_run_is_the_recorded_sequential_one(tmp_path: Path):
    cache = tmp_path / "cache"
    with SimServer() as server:
        common = ["condition=fixed_tools", "llm=sim-http", f"llm.base_url={server.base_url}", "seed=2", FAMS,
                  "per_family=2", "progress=false", f"replay.cache_dir={cache}"]  # fmt: skip
        run_job(compose_run_config([*common, "replay.mode=record", "episode_workers=1"]), tmp_path / "rec")
    replayed = run_job(
        compose_run_config([*common, "replay.mode=replay-only", "llm.max_concurrency=6"]), tmp_path / "rep"
    )
    assert replayed["replay"]["backend_requests"] == 0
    assert (tmp_path / "rec" / "episodes.jsonl").read_bytes() == (tmp_path / "rep" / "episodes.jsonl").read_bytes()


def test_how_many_side_by_side():
    assert _episode_workers(compose_run_config(["condition=fixed_tools"])) == 1  # the in-process sim
    assert _episode_workers(compose_run_config(["condition=fixed_tools", "llm=openai"])) == 4  # max_concurrency
    assert _episode_workers(compose_run_config(["condition=fixed_tools", "episode_workers=3"])) == 3
    assert _episode_workers(compose_run_config(["condition=oracle", "episode_workers=3"])) == 1  # scripted
    with pytest.raises(ConfigError, match="episode_workers must be >= 1"):
        run_job(compose_run_config(["condition=fixed_tools", "episode_workers=0"]), Path("/nonexistent"))


def test_side_by_side_a_dead_endpoint_still_stops_early_and_resumes(tmp_path: Path):
    from experiments.limits import JobStopped
    from tests.agents.fault_server import FaultServer

    with FaultServer(default="drop") as server:
        job = ["condition=no_evolution", "llm=openai", f"llm.base_url={server.base_url}/v1", "llm.api_key_env=null",
               "llm.model=m", "llm.max_attempts=1", "llm.shared_limit_dir=null", "seed=3", FAMS, "per_family=3",
               "progress=false", "episode_workers=4", "limits.max_consecutive_llm_failures=3"]  # fmt: skip
        with pytest.raises(JobStopped, match="stopped after 3 consecutive"):
            run_job(compose_run_config(job), tmp_path)
        assert 3 <= len(server.requests) <= 3 + 2 * 4 - 1  # at most a window (two per worker) beyond the breaker
        assert len((tmp_path / "episodes.jsonl").read_text().splitlines()) == 3
        server.default = "ok"
        result = run_job(compose_run_config(job), tmp_path)
    assert result["llm_failures"] == 0
    episodes = [json.loads(line)["episode"] for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert episodes == list(range(result["n_episodes"]))
