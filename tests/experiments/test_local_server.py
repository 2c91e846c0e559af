"""A real model server in the loop: llama-cpp-python's OpenAI-compatible server with Gemma 3 270M
(agents/llm/llamacpp_server.py; `make test` builds it once per machine, outside the checkout).

These tests assert plumbing, never answers (a 270M model solves nothing here): every condition runs
under both protocols to a complete job whose records, usage, finish reasons and flags agree with
each other and with what the server reported; the server's quirks are detected, not assumed; a
replay-only rerun with the server stopped is identical; a run with the server down is not complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from agents.llm import ChatRequest, ContextLengthError, ReplayBackend
from agents.llm.llamacpp_server import MODEL_ALIAS, LlamaServer, is_built
from agents.llm.openai_client import OpenAIChat
from agents.llm.server_check import ServerFacts, identify, probe_tools
from experiments.config import ConfigError, compose_run_config
from experiments.limits import JobStopped
from experiments.run import plan_job, run_job

if not is_built():
    if os.environ.get("ARISE_LOCAL_SERVER"):  # make exported where it built it: it must be there
        raise RuntimeError(f"make local-server did not build {os.environ['ARISE_LOCAL_SERVER']}")
    pytest.skip("no local llama-cpp-python server: `make local-server` builds it", allow_module_level=True)

# Few, short episodes: arise_v1 prompts run to 5-7k tokens, each a few seconds of prompt processing on 2 cores.
FAMILIES = {
    "rigorous": "[logs.severity_count,metrics.current_value]",
    "arise_v1": "[v1.metrics.01]",
}
CONDITIONS = ("no_evolution", "fixed_tools", "code_agent", "arise")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with LlamaServer(n_ctx=8192, log_file=log) as srv:
        yield srv


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replay") / "cache"


def chat_posts(server: LlamaServer) -> int:
    assert server.log_file is not None
    return server.log_file.read_text(errors="replace").count("POST /v1/chat/completions")


def job_overrides(base_url: str, condition: str, protocol: str, *extra: str) -> list[str]:
    return [
        f"condition={condition}", f"protocol={protocol}", "world=acmecorp", "llm=llamacpp",
        f"llm.base_url={base_url}", "llm.shared_limit_dir=null", "llm.max_attempts=1", "llm.timeout_s=120",
        "agent.max_tokens=32", "evolution.max_tokens=64", "max_steps=2", "per_family=1",
        f"families={FAMILIES[protocol]}", "seed=5", "progress=false",
        # arise: evolve after the first failure, one gap, no repairs; no Tool-Genesis diagnostics (tested apart)
        "evolution.failure_threshold=1", "evolution.max_gaps=1", "evolution.max_repairs=0",
        "diagnostics.enabled=false", *extra,
    ]  # fmt: skip


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def check_plumbing(result: dict[str, Any], records: list[dict[str, Any]], n_planned: int, condition: str) -> None:
    """What must hold whatever the model answered."""
    assert result["n_episodes"] == n_planned == len(records)
    assert result["llm_failures"] == 0 and not any(r.get("llm_failure") for r in records)
    facts = result["llm_server"]
    assert facts["served_models"] == [MODEL_ALIAS]
    # The probe found what the server does: no tool calls, so the job fell back to JSON actions.
    assert facts["tool_calls"] is False and facts["probe_action"] == "fell back to JSON actions"
    assert facts["context_window"] == 8192 and facts["context_source"] == "config"
    assert facts["first_request_counted"] == "tokenizer" and 200 < facts["first_request_tokens"] < 8192
    responses = [resp for r in records for resp in r["llm"]["responses"]]
    assert responses and all(resp["finish_reason"] in ("stop", "length") for resp in responses)
    # Real token counts on every answer, summed the same way everywhere.
    assert all(resp["usage"]["tokens_in"] > 0 and resp["usage"]["tokens_out"] >= 0 for resp in responses)
    agent = result["usage"]["agent"]
    assert agent["llm_calls"] == len(responses) == result["llm_calls"]
    assert agent["tokens_in"] == sum(resp["usage"]["tokens_in"] for resp in responses)
    assert agent["unknown_usage_calls"] == 0 and agent["failed_calls"] == 0 and agent["cost_usd"] is None
    roles = {k: v for k, v in result["usage"].items() if k != "total"}
    assert result["usage"]["total"]["llm_calls"] == sum(v["llm_calls"] for v in roles.values())
    assert roles["probe"]["llm_calls"] == 1  # the probe's one question (no tool call came back)
    for r in records:
        finals = r["llm"]["responses"][-1:]
        cut = bool(finals and finals[0]["finish_reason"] == "length" and not finals[0]["tool_calls"])
        assert bool(r.get("cut_off")) == cut  # an answer stopped at max_tokens is flagged, and only it
        assert r["llm"]["error"] is None and len(r["llm"]["responses"]) <= 2
        if condition == "code_agent":
            assert "run_python" in r["tools_shown"]
    assert (result.get("cut_off") or 0) == sum(bool(r.get("cut_off")) for r in records)
    if condition == "arise":  # the pipeline ran after the failures and its tool author was asked
        assert result["evolution"]["evolutions"] and result["evolution_llm_failures"] == 0
        assert result["usage"]["evolution"]["llm_calls"] == result["evolution_llm_calls"] >= 1


@pytest.mark.parametrize("protocol", ["rigorous", "arise_v1"])
@pytest.mark.parametrize("condition", CONDITIONS)
def test_every_condition_completes_against_the_real_server_and_replays_without_it(
    server: LlamaServer, cache: Path, tmp_path: Path, condition: str, protocol: str
):
    args = job_overrides(server.base_url, condition, protocol, f"replay.cache_dir={cache}")
    cfg = compose_run_config([*args, "replay.mode=record"])
    result = run_job(cfg, tmp_path / "live")
    records = lines(tmp_path / "live" / "episodes.jsonl")
    check_plumbing(result, records, len(plan_job(cfg).planned), condition)
    assert result["replay"]["backend_requests"] >= 1

    # The same job from the cache alone, the server not asked once: identical records.
    before = chat_posts(server)
    replayed = run_job(compose_run_config([*args, "replay.mode=replay-only"]), tmp_path / "replayed")
    assert chat_posts(server) == before
    assert (tmp_path / "replayed" / "episodes.jsonl").read_bytes() == (
        tmp_path / "live" / "episodes.jsonl"
    ).read_bytes()
    assert replayed["replay"]["backend_requests"] == 0 and replayed["usage"] == result["usage"]
    assert replayed["llm_server"] == result["llm_server"]


def test_a_server_that_is_down_never_yields_a_complete_job(tmp_path: Path):
    dead = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    # With the probe: the job stops before any episode, saying what it could not reach.
    with pytest.raises(ConfigError, match=r"tool-calling probe got no answer from http://127.0.0.1:9/v1"):
        run_job(compose_run_config(job_overrides(dead, "no_evolution", "rigorous")), tmp_path / "probe")
    assert not (tmp_path / "probe" / "result.json").exists()
    # Without it: failed episodes (not wrong answers), the breaker stops the job, nothing complete.
    cfg = compose_run_config(
        job_overrides(dead, "no_evolution", "rigorous", "llm.tool_probe=off", "limits.max_consecutive_llm_failures=2")
    )
    with pytest.raises(JobStopped):
        run_job(cfg, tmp_path / "episodes")
    failed = lines(tmp_path / "episodes" / "episodes.jsonl")
    assert len(failed) == 2 and all("connection failed" in r["llm_failure"] for r in failed)
    assert not (tmp_path / "episodes" / "result.json").exists()


def test_the_probe_detects_ignored_tools_and_stops_or_warns_as_configured(server: LlamaServer, tmp_path: Path):
    args = job_overrides(server.base_url, "no_evolution", "rigorous", "families=[logs.severity_count]")
    with pytest.raises(ConfigError, match=r"returned no tool call when asked to call a tool.*native_tools=false"):
        run_job(compose_run_config([*args, "llm.tool_probe=stop"]), tmp_path / "stop")
    assert not (tmp_path / "stop" / "episodes.jsonl").exists()
    result = run_job(compose_run_config([*args, "llm.tool_probe=warn"]), tmp_path / "warn")
    assert result["llm_server"]["probe_action"] == "warned" and "ignores tools" in result["llm_server"]["warnings"][0]
    record = lines(tmp_path / "warn" / "episodes.jsonl")[0]
    # What the issue saw: native episodes end in one reply without a tool call.
    assert len(record["llm"]["responses"]) == 1 and record["llm"]["responses"][0]["tool_calls"] == []


def test_a_forced_tool_call_comes_back_but_its_result_never_reaches_the_model(server: LlamaServer):
    """Why the probe also checks results: llama-cpp-python drops role 'tool' messages (gemma format)."""
    forced = {"agent": {"tool_choice": {"type": "function", "function": {"name": "get_codeword"}}}}
    backend = OpenAIChat(model=MODEL_ALIAS, base_url=server.base_url, api_key_env=None, request_options=forced)
    facts = ServerFacts()
    probe_tools(backend, MODEL_ALIAS, facts)
    assert facts.tool_calls is True and facts.tool_results is False


def test_the_system_prompt_is_lost_without_folding_and_kept_with_it(server: LlamaServer):
    system = "You are the on-call assistant of AcmeCorp. " * 20
    request = ChatRequest(
        model="", messages=[{"role": "system", "content": system}, {"role": "user", "content": "Hi"}], max_tokens=1
    )
    plain = OpenAIChat(model=MODEL_ALIAS, base_url=server.base_url, api_key_env=None).complete(request)
    folded = OpenAIChat(
        model=MODEL_ALIAS, base_url=server.base_url, api_key_env=None, fold_system_prompt=True
    ).complete(request)
    assert plain.usage.tokens_in is not None and folded.usage.tokens_in is not None
    assert plain.usage.tokens_in < 30 < 150 < folded.usage.tokens_in  # the gemma template drops the system role


def test_a_job_that_does_not_fit_the_context_stops_before_any_call(server: LlamaServer, tmp_path: Path):
    before = chat_posts(server)
    cfg = compose_run_config([*job_overrides(server.base_url, "fixed_tools", "rigorous"), "llm.context_window=1024"])
    with pytest.raises(ConfigError, match=r"needs \d+ prompt tokens \(counted by the server's tokenizer\).*1024"):
        run_job(cfg, tmp_path / "job")
    assert chat_posts(server) == before  # not one completion was spent
    assert not (tmp_path / "job" / "episodes.jsonl").exists()


def test_replay_keys_name_the_served_weights_and_a_cached_overflow_is_asked_again(tmp_path: Path):
    cache = tmp_path / "cache"
    long_prompt = "log line " * 900  # ~1.8k tokens: over a 1024-token context, within 8192
    request = ChatRequest(model="", messages=[{"role": "user", "content": long_prompt}], max_tokens=1, temperature=0.0)
    with LlamaServer(n_ctx=1024) as small:
        inner = OpenAIChat(model="whatever", base_url=small.base_url, api_key_env=None)
        facts = ServerFacts()
        identify(inner, facts)
        assert facts.weights == MODEL_ALIAS  # the server answers with its weights whatever `model` says
        inner.weights = facts.weights
        backend = ReplayBackend(inner, cache, mode="record")
        with pytest.raises(ContextLengthError):
            backend.complete(request)
        port = small.port
    entry = json.loads(next(cache.rglob("*.json")).read_text())
    assert entry["request"]["weights"] == MODEL_ALIAS and entry["error"]["type"] == "ContextLengthError"
    with pytest.raises(ContextLengthError):  # replay-only: the recorded verdict (server down)
        ReplayBackend(inner, cache, mode="replay-only").complete(request)
    # The same server restarted with a larger context: recording asks again and gets an answer.
    with LlamaServer(port=port, n_ctx=8192):
        answer = ReplayBackend(inner, cache, mode="record").complete(request)
    assert answer.usage.tokens_in and answer.usage.tokens_in > 1024
    assert ReplayBackend(inner, cache, mode="replay-only").complete(request) == answer
