"""LLM conditions in experiments.run: configs, result fields, determinism, replay, errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from agents.serve_sim import SimServer
from envs.acmecorp.arise_v1 import PAPER_TOOLS
from experiments.config import compose_run_config
from experiments.run import ConfigError, run_job

FAMS = "families=[logs.severity_count,metrics.current_value,config.effective_replicas,incidents.root_cause]"


def job(out: Path, *overrides: str) -> dict:
    return run_job(compose_run_config([*overrides, "progress=false"]), out)


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]


def test_no_evolution_and_fixed_tools_record_llm_usage_and_offer_the_right_tools(tmp_path: Path):
    none = job(tmp_path / "none", "condition=no_evolution", "seed=3", FAMS)
    fixed = job(tmp_path / "fixed", "condition=fixed_tools", "seed=3", FAMS)
    for result in (none, fixed):
        assert result["llm"] == "sim" and result["model"] == "sim-4o-mini-like" and result["simulated"] is True
        assert result["llm_calls"] > 0 and result["tokens_in"] > result["tokens_out"] > 0
        assert result["cost_usd"] == pytest.approx(
            (result["tokens_in"] * 0.15 + result["tokens_out"] * 0.60) / 1e6, rel=1e-6
        )
        assert result["n_episodes"] == 4
    recs_none, recs_fixed = records(tmp_path / "none"), records(tmp_path / "fixed")
    assert recs_none[0]["tools_offered"] == ["http_get", "http_post", "list_files", "read_file", "read_doc"]
    assert "log_count" in recs_fixed[0]["tools_offered"] and "acmeconf_effective" in recs_fixed[0]["tools_offered"]
    rec = recs_fixed[0]  # what the error taxonomy needs is all there
    for key in ("tools_offered", "tools_shown", "tools_called", "answer", "grade", "llm"):
        assert key in rec
    assert rec["llm"]["usage"]["llm_calls"] == len(rec["llm"]["responses"])
    assert sum(r["llm"]["usage"]["llm_calls"] for r in recs_fixed) == fixed["llm_calls"]


def test_arise_v1_conditions_are_the_papers(tmp_path: Path):
    fams = "families=[v1.metrics.02,v1.logs.04]"
    job(tmp_path / "none", "protocol=arise_v1", "condition=no_evolution", fams)
    job(tmp_path / "fixed", "protocol=arise_v1", "condition=fixed_tools", fams)
    assert all(r["tools_offered"] == [] for r in records(tmp_path / "none"))
    offered = records(tmp_path / "fixed")[0]["tools_offered"]
    assert offered == ["http_get", *[f.__name__ for f in PAPER_TOOLS]] and len(offered) == 8


def test_identical_seeds_give_byte_identical_records_across_processes(tmp_path: Path):
    def cli(out: Path) -> bytes:
        subprocess.run(
            [sys.executable, "-m", "experiments.run", "condition=fixed_tools", "llm=sim-sonnet-like", "seed=5",
             FAMS, f"hydra.run.dir={out}", "progress=false"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        return (out / "episodes.jsonl").read_bytes()

    assert cli(tmp_path / "a") == cli(tmp_path / "b")


def test_adaptive_tool_injection_offers_the_top_k(tmp_path: Path):
    job(tmp_path / "k", "condition=fixed_tools", "condition.tool_top_k=2", "families=[metrics.current_value]")
    rec = records(tmp_path / "k")[0]
    shown = rec["tools_shown"]
    assert shown[:5] == ["http_get", "http_post", "list_files", "read_file", "read_doc"] and len(shown) == 7
    assert "metrics_get" in shown  # the relevant one survives
    assert len(rec["tools_offered"]) > len(shown)


@pytest.fixture
def sim_server() -> Iterator[SimServer]:
    with SimServer("127.0.0.1", 0) as srv:
        yield srv


def test_record_over_the_sim_server_then_replay_only_with_zero_backend_requests(tmp_path: Path, sim_server: SimServer):
    cache = tmp_path / "cache"
    common = ["condition=fixed_tools", "llm=sim-http", f"llm.base_url={sim_server.base_url}", "seed=2", FAMS,
              f"replay.cache_dir={cache}"]  # fmt: skip
    recorded = job(tmp_path / "rec", *common, "replay.mode=record")
    served = sim_server.requests_served
    assert recorded["replay"]["backend_requests"] == served == recorded["llm_calls"] > 0
    assert recorded["simulated"] is True
    sim_server.shutdown()  # replay must not need the server at all
    replayed = job(tmp_path / "rep", *common, "replay.mode=replay-only")
    assert replayed["replay"]["backend_requests"] == 0 and replayed["replay"]["hits"] == recorded["llm_calls"]
    assert (tmp_path / "rec" / "episodes.jsonl").read_bytes() == (tmp_path / "rep" / "episodes.jsonl").read_bytes()
    for key in ("success_rate", "llm_calls", "tokens_in", "tokens_out", "cost_usd", "tasks"):
        assert replayed[key] == recorded[key]
    # A request the cache has never seen stops the job naming it (it is not a wrong answer, nor a
    # finished job), and the records written so far are kept.
    with pytest.raises(ConfigError, match=r"replay-only: no cached response .*\(0 complete episode records kept"):
        job(tmp_path / "miss", *common[:-2], "seed=9", f"replay.cache_dir={cache}", "replay.mode=replay-only")
    assert not (tmp_path / "miss" / "result.json").exists()


def test_bad_llm_configs_are_clear_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="needs an LLM: add llm=sim-4o-mini-like"):
        job(tmp_path / "a", "condition=no_evolution", "~llm")
    with pytest.raises(ConfigCompositionException) as composing:
        job(tmp_path / "b", "condition=no_evolution", "replay.mode=replay")
    assert "expected one of [off, record, replay-only]" in str(composing.value.__cause__)
    with pytest.raises(ConfigError, match=r"unknown config key 'llm.temprature'; accepted keys of llm: provider, "):
        job(tmp_path / "c", "condition=no_evolution", "+llm.temprature=0")
    with pytest.raises(ConfigError, match=r"unknown config key 'foo'; accepted keys of the run config: world, "):
        job(tmp_path / "c", "condition=no_evolution", "+foo=1")
    with pytest.raises(ConfigError, match="p_slip must be a probability"):
        job(tmp_path / "d", "condition=no_evolution", "+llm.overrides.p_slip=2")
    with pytest.raises(ConfigError, match="tool_top_k must be >= 0"):
        job(tmp_path / "e", "condition=fixed_tools", "condition.tool_top_k=-1")


def test_missing_api_key_stops_with_a_clear_error_and_writes_no_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ARISE_NO_SUCH_KEY", raising=False)
    with pytest.raises(ConfigError, match="ARISE_NO_SUCH_KEY"):
        job(tmp_path / "k", "condition=no_evolution", "llm=openai", "llm.api_key_env=ARISE_NO_SUCH_KEY",
            "llm.base_url=http://127.0.0.1:9/v1", "families=[config.effective_replicas]")  # fmt: skip


def library_events(out: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(f"file:{out / 'library.sqlite'}?mode=ro", uri=True)) as db:
        return db.execute("SELECT kind, payload FROM events ORDER BY id").fetchall()


def test_a_real_model_job_resumes_from_its_own_cache_without_asking_again(tmp_path: Path, sim_server: SimServer):
    # llm=sim-http is the openai backend, so the job records every response in <job>/llm_cache.
    out = tmp_path / "job"
    common = ["condition=arise", "protocol=arise_v1", "llm=sim-http", f"llm.base_url={sim_server.base_url}", "seed=42"]
    first = job(out, *common)
    assert first["replay"]["mode"] == "record" and first["replay"]["cache_dir"] == str(out / "llm_cache")
    assert first["replay"]["backend_requests"] == sim_server.requests_served > first["llm_calls"]  # + evolution
    full = (out / "episodes.jsonl").read_bytes()
    events = library_events(out)
    assert [kind for kind, _ in events].count("trigger") >= 2  # evolution ran and asked the model
    lines = full.split(b"\n")
    (out / "episodes.jsonl").write_bytes(b"\n".join(lines[:30]) + b"\n" + lines[30][:50])  # killed mid-write
    (out / "result.json").unlink()
    sim_server.shutdown()  # the resume must not need the model: every call it repeats is in the job's cache
    resumed = job(out, *common)
    assert (out / "episodes.jsonl").read_bytes() == full
    assert library_events(out) == events  # the library was rebuilt from the cache, step for step
    assert resumed["replay"]["backend_requests"] == 0 and resumed["llm_failures"] == 0
    for key in ("success_rate", "llm_calls", "tokens_in", "evolution_llm_calls", "evolution_tokens_in", "tasks"):
        assert resumed[key] == first[key], key


@pytest.mark.parametrize("preset", ["openai", "anthropic", "local", "sim-http"])
def test_every_http_preset_takes_the_same_retry_and_timeout_overrides(preset: str):
    """llm=local had no max_attempts, so `llm.max_attempts=2` failed with Hydra's 'not in struct'."""
    cfg = compose_run_config([f"llm={preset}", "llm.max_attempts=2", "llm.timeout_s=5"])
    assert cfg.llm.max_attempts == 2 and cfg.llm.timeout_s == 5
