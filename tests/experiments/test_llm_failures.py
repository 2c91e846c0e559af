"""A job against a failing endpoint (tests/agents/fault_server.py, real loopback HTTP): failures are
recorded as what they are, never scored, never a finished job; the breaker stops a dead endpoint's
job; a re-run retries exactly the failed episodes and loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.config import ConfigError, compose_run_config
from experiments.episodes import cut_at_first_failure, load_records
from experiments.limits import BudgetReached, JobStopped
from experiments.run import plan_job, run_job
from tests.agents.fault_server import HUGE_ANSWER, FaultServer

FAMS = "families=[logs.severity_count,metrics.current_value,config.effective_replicas,incidents.root_cause]"


def overrides(server: FaultServer, *extra: str) -> list[str]:
    return [
        "condition=no_evolution", "llm=openai", f"llm.base_url={server.base_url}/v1", "llm.api_key_env=null",
        "llm.model=m", "llm.max_attempts=1", "llm.timeout_s=5", "llm.shared_limit_dir=null", "seed=3", FAMS,
        "per_family=3", "progress=false", "episode_workers=1", *extra,
    ]  # fmt: skip


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_dead_endpoint_trips_the_breaker_and_a_rerun_retries_exactly_the_failed_episodes(tmp_path: Path):
    out = tmp_path / "job"
    with FaultServer(default="drop") as server:
        cfg = compose_run_config(overrides(server, "limits.max_consecutive_llm_failures=3"))
        n = len(plan_job(cfg).planned)
        assert n >= 8
        with pytest.raises(JobStopped, match=r"stopped after 3 consecutive episodes whose LLM calls failed"):
            run_job(cfg, out)
        assert len(server.requests) == 3  # one attempt each, then the breaker: not n episodes of failures
        stopped = lines(out / "episodes.jsonl")
        assert len(stopped) == 3 and all("connection failed" in r["llm_failure"] for r in stopped)
        assert all(r["success"] is False and r["llm"]["usage"]["failed_calls"] == 1 for r in stopped)
        assert not (out / "result.json").exists()  # not a finished job

        server.default, server.requests = "ok", []  # the endpoint is back: the same command continues
        result = run_job(compose_run_config(overrides(server)), out)
        assert len(server.requests) == n  # the 3 failed episodes again, then the ones never played
    final = lines(out / "episodes.jsonl")
    assert [r["episode"] for r in final] == list(range(n)) and not any("llm_failure" in r for r in final)
    assert [r["task"]["id"] for r in final] == [p.id for p in plan_job(cfg).planned]
    assert lines(out / "superseded_episodes.jsonl") == stopped  # nothing recorded is lost
    assert result["llm_failures"] == 0 and result["n_episodes"] == n
    assert len(lines(out / "timings.jsonl")) == n


def test_a_sporadic_failure_is_not_a_wrong_answer_and_only_it_is_retried(tmp_path: Path):
    out = tmp_path / "job"
    with FaultServer(["ok", "ok", "http_500"], default="ok") as server:
        cfg = compose_run_config(overrides(server))
        n = len(plan_job(cfg).planned)
        first = run_job(cfg, out)
        assert first["llm_failures"] == 1 and first["n_episodes"] == n - 1  # the failure is not a result
        assert len(first["tasks"]) == n - 1
        failed = [r for r in lines(out / "episodes.jsonl") if "llm_failure" in r]
        assert [r["episode"] for r in failed] == [2] and "answered 500" in failed[0]["llm_failure"]
        server.requests = []
        again = run_job(compose_run_config(overrides(server)), out)  # not skipped: the job was not finished
        assert len(server.requests) == 1  # exactly the failed episode
        assert again["llm_failures"] == 0 and again["n_episodes"] == n and not again.get("skipped")
        server.requests = []
        assert run_job(compose_run_config(overrides(server)), out)["skipped"] is True
        assert server.requests == []


def test_an_evolving_phase_replays_from_its_first_failure(tmp_path: Path):
    path = tmp_path / "episodes.jsonl"
    recs = [{"task": {"id": f"t{i}"}, "episode": i, **({"llm_failure": "x"} if i == 2 else {})} for i in range(5)]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    (tmp_path / "timings.jsonl").write_text("".join(json.dumps({"episode": i}) + "\n" for i in range(5)))
    kept = cut_at_first_failure(path, recs)
    assert kept == recs[:2] and lines(path) == recs[:2]
    assert lines(tmp_path / "superseded_episodes.jsonl") == recs[2:]
    assert lines(tmp_path / "timings.jsonl") == [{"episode": 0}, {"episode": 1}]
    assert cut_at_first_failure(path, kept) == kept


def test_breaker_limit_is_validated(tmp_path: Path):
    with FaultServer() as server, pytest.raises(ConfigError, match="max_consecutive_llm_failures must be >= 1"):
        run_job(compose_run_config(overrides(server, "limits.max_consecutive_llm_failures=0")), tmp_path)


def test_load_records_roundtrip_keeps_failure_flags(tmp_path: Path):
    with FaultServer(default="drop") as server:
        cfg = compose_run_config(overrides(server, "limits.max_consecutive_llm_failures=1"))
        with pytest.raises(JobStopped):
            run_job(cfg, tmp_path)
    kept = load_records(tmp_path / "episodes.jsonl", plan_job(cfg).planned)
    assert len(kept) == 1 and kept[0]["llm_failure"].startswith("LLMError: openai:")


def test_a_long_response_is_stored_once(tmp_path: Path):
    """A 1 MiB answer: the response once (raw points at its text), the env's action and the parsed
    answer; no copy in the raw payload, the step's info or the grader's note (7 copies before)."""
    with FaultServer(["huge"]) as server:
        result = run_job(compose_run_config(overrides(server, "per_family=1")), tmp_path)
    line = (tmp_path / "episodes.jsonl").read_text().splitlines()[0]
    assert line.count(HUGE_ANSWER) == 3 and len(line) < 3.1 * len(HUGE_ANSWER)
    record = json.loads(line)
    response = record["llm"]["responses"][0]
    assert response["text"] == HUGE_ANSWER and response["raw"]["choices"][0]["message"]["content"] == "<text>"
    assert record["answer"] == HUGE_ANSWER and "characters)" in record["grade"]["detail"]["note"]
    assert result["usage"]["agent"]["llm_calls"] == result["usage"]["total"]["llm_calls"] > 0


PRICED = "+llm.prices.m={input:1.0,output:2.0}"  # the fault server's answers: 11 + 3 tokens per call


def test_a_token_budget_stops_the_job_and_a_raised_one_continues_it(tmp_path: Path):
    out = tmp_path / "job"
    with FaultServer() as server:
        with pytest.raises(BudgetReached, match=r"reached limits.max_tokens=30 \(spent \$0\.0001, 42 tokens, 3 calls"):
            run_job(compose_run_config(overrides(server, PRICED, "limits.max_tokens=30")), out)
        assert len(lines(out / "episodes.jsonl")) == 3 and not (out / "result.json").exists()
        with pytest.raises(BudgetReached, match="112 tokens, 8 calls"):
            run_job(compose_run_config(overrides(server, PRICED, "limits.max_tokens=100")), out)
        assert len(server.requests) == 8  # the kept episodes were not played again
        result = run_job(compose_run_config(overrides(server, PRICED)), out)
    assert result["n_episodes"] == len(lines(out / "episodes.jsonl")) > 8
    assert result["usage"]["total"]["tokens_in"] == 11 * result["n_episodes"]


def test_a_cost_budget_needs_a_known_cost(tmp_path: Path):
    with FaultServer() as server:
        with pytest.raises(BudgetReached, match=r"no price in llm.prices\), so limits.max_cost_usd=1 cannot"):
            run_job(compose_run_config(overrides(server, "limits.max_cost_usd=1")), tmp_path / "a")
        with pytest.raises(BudgetReached, match=r"reached limits.max_cost_usd=5e-05 \(spent \$0\.0001, 42 tokens"):
            run_job(compose_run_config(overrides(server, PRICED, "limits.max_cost_usd=0.00005")), tmp_path / "b")
    with pytest.raises(ConfigError, match=r"limits.max_tokens must be > 0 or null"):
        run_job(compose_run_config(overrides(server, "limits.max_tokens=0")), tmp_path / "c")


def test_a_sweep_budget_holds_across_jobs(tmp_path: Path):
    sweep = tmp_path / "sweep"
    with FaultServer() as server:
        limit = "limits.sweep_max_tokens=50"
        with pytest.raises(BudgetReached, match=r"the sweep .* reached limits.sweep_max_tokens=50 \(spent .*56 tokens"):
            run_job(compose_run_config(overrides(server, limit)), sweep / "seed=3", sweep)
        with pytest.raises(BudgetReached, match="56 tokens, 4 calls"):  # the next job starts nothing
            run_job(compose_run_config(overrides(server, limit, "seed=4")), sweep / "seed=4", sweep)
        assert len(server.requests) == 4 and not (sweep / "seed=4" / "episodes.jsonl").exists()
        assert json.loads((sweep / ".spend" / "seed=3.json").read_text())["tokens"] == 56


ARISE = ["condition=arise", "evolution.failure_threshold=2", "diagnostics.per_family=1"]


def test_a_job_limit_covers_the_l4_episodes_and_the_ledger_counts_them(tmp_path: Path):
    with FaultServer() as server:
        free = run_job(compose_run_config(overrides(server, *ARISE)), tmp_path / "free")
        used = free["usage"]
        assert used["diagnostics"]["llm_calls"] > 0 and used["evolution"]["llm_calls"] > 0
        before_l4 = used["agent"]["tokens_in"] + used["agent"]["tokens_out"]
        before_l4 += used["evolution"]["tokens_in"] + used["evolution"]["tokens_out"]
        sweep = tmp_path / "sweep"
        limit = f"limits.max_tokens={before_l4 + 30}"  # reached inside L4, not before
        with pytest.raises(BudgetReached, match=rf"reached limits.max_tokens={before_l4 + 30:,}"):
            run_job(compose_run_config(overrides(server, *ARISE, limit)), sweep / "job", sweep)
    assert any((sweep / "job" / "diagnostics").glob("l4_*.jsonl"))
    ledger = json.loads((sweep / ".spend" / "job.json").read_text())
    assert before_l4 + 30 <= ledger["tokens"] < before_l4 + 30 + 2 * 14  # L4 spend is in the sweep's ledger


def test_failed_tool_author_calls_leave_the_job_unfinished_and_are_replayed(tmp_path: Path):
    out = tmp_path / "job"
    with FaultServer(author="drop") as server:
        first = run_job(compose_run_config(overrides(server, *ARISE, "diagnostics.enabled=false")), out)
        assert first["evolution_llm_failures"] > 0 and first["llm_failures"] == 0
        assert first["usage"]["evolution"]["failed_calls"] == first["evolution_llm_failures"]
        kept = lines(out / "episodes.jsonl")
        server.author = "ok"  # the tool author's endpoint is back
        again = run_job(compose_run_config(overrides(server, *ARISE, "diagnostics.enabled=false")), out)
    assert again["evolution_llm_failures"] == 0 and not again.get("skipped")
    superseded = lines(out / "superseded_episodes.jsonl")
    assert superseded and superseded == kept[len(kept) - len(superseded) :]  # replayed from the failed evolution
    assert len(lines(out / "episodes.jsonl")) == len(kept)


def test_the_tool_author_failing_in_a_row_trips_the_breaker(tmp_path: Path):
    with FaultServer(author="drop") as server:
        cfg = compose_run_config(overrides(server, *ARISE, "limits.max_consecutive_llm_failures=2"))
        with pytest.raises(JobStopped, match="stopped after 2 consecutive tool-author calls failed"):
            run_job(cfg, tmp_path)


def test_a_context_overflow_is_a_result_not_a_failure_to_retry(tmp_path: Path):
    with FaultServer(["context_overflow"]) as server:
        result = run_job(compose_run_config(overrides(server, "per_family=1")), tmp_path)
    first = lines(tmp_path / "episodes.jsonl")[0]
    assert "llm_failure" not in first and first["success"] is False and first["llm"]["context_overflow"] is True
    assert result["llm_failures"] == 0 and "ContextLengthError" in first["llm"]["error"]


def test_a_token_limit_with_unknown_usage_says_it_cannot_be_enforced(tmp_path: Path):
    with (
        FaultServer(default="usage_missing") as server,
        pytest.raises(
            BudgetReached, match=r"1 call\(s\) came back without usable token counts\), so limits.max_tokens"
        ),
    ):
        run_job(compose_run_config(overrides(server, "limits.max_tokens=1000")), tmp_path)


def test_a_dead_anthropic_endpoint_stops_the_job_and_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ARISE_TEST_ANTHROPIC_KEY", "sk-ant-test")
    with FaultServer(default="provider_error_200") as server:  # overloaded_error sent as 200, every time
        anthropic = ["condition=no_evolution", "llm=anthropic", f"llm.base_url={server.base_url}", "llm.model=m",
                     "llm.api_key_env=ARISE_TEST_ANTHROPIC_KEY", "llm.max_attempts=2", "llm.backoff_base_s=0.01",
                     "llm.shared_limit_dir=null", "seed=3", FAMS, "progress=false",
                     "limits.max_consecutive_llm_failures=2", "episode_workers=1"]  # fmt: skip
        with pytest.raises(JobStopped, match=r"2 consecutive episodes .*overloaded_error: Overloaded"):
            run_job(compose_run_config(anthropic), tmp_path)
        stopped = lines(tmp_path / "episodes.jsonl")
        assert [len(r["llm"]["error_attempts"]) for r in stopped] == [2, 2] and len(server.requests) == 4
        server.default = "ok"
        result = run_job(compose_run_config(anthropic), tmp_path)
    assert result["llm_failures"] == 0 and result["llm"] == "anthropic"
    assert lines(tmp_path / "superseded_episodes.jsonl") == stopped


def test_a_sweep_with_an_unfinished_job_exits_non_zero(tmp_path: Path):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    with FaultServer(["ok", "http_500"], default="ok") as server:
        args = [a for a in overrides(server) if not a.startswith(("seed=", "per_family="))]
        proc = subprocess.run(
            [sys.executable, "-m", "experiments.run", "-m", *args, "seed=3,4", "per_family=1",
             f"hydra.sweep.dir={tmp_path}", "hydra/job_logging=none", "hydra/hydra_logging=none"],
            cwd=repo, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "1 job(s) have LLM failures and are not finished" in proc.stderr
    assert "| LLM failures |" in proc.stdout  # the summary table has the column
