"""The arise and code_agent conditions end to end through experiments.run (simulated model, real sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolution.library import Library
from evolution.pipeline import audit_promotions
from experiments.config import compose_run_config
from experiments.run import ConfigError, run_job

FAMILIES = (
    "[logs.severity_count,logs.errors_in_window,logs.top_error_service,logs.severity_breakdown,logs.stack_traces]"
)
BASE = ["condition=arise", "seed=2", f"families={FAMILIES}", "per_family=2", "progress=false",
        "evolution.failure_threshold=2", "evolution.per_episodes=2"]  # fmt: skip


def run(tmp: Path, name: str, *extra: str) -> dict:
    return run_job(compose_run_config([*BASE, *extra]), tmp / name)


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("arise")
    return tmp, run(tmp, "a")


def test_arise_evolves_promotes_and_reports(first: tuple[Path, dict]):
    tmp, result = first
    assert result["condition"] == "arise" and result["sandbox"] in ("bwrap", "rlimits-only")
    assert result["tools_promoted"] >= 1 and result["candidates"] >= result["tools_promoted"]
    assert result["evolution_llm_calls"] >= 3 and result["evolution_cost_usd"] > 0
    assert sum(result["rejections"].values()) + result["tools_promoted"] <= result["candidates"]
    with Library(tmp / "a" / "library.sqlite") as lib:
        assert audit_promotions(lib) == []
        active = {t.name for t in lib.active()}
    assert active and (tmp / "a" / "library").is_dir()
    records = [json.loads(line) for line in (tmp / "a" / "episodes.jsonl").read_text().splitlines()]
    used = {c["tool"] for r in records for c in r["tools_called"]} & active
    assert used, "promoted tools are offered to the agent and called"


def test_arise_is_deterministic_and_resumes_with_the_same_library(first: tuple[Path, dict]):
    tmp, result = first
    again = run(tmp, "b")
    a, b = (tmp / d / "episodes.jsonl" for d in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()
    assert again["evolution"]["library"] == result["evolution"]["library"]
    # Interrupt: keep the first 4 records (and a torn fifth), then run the same command again.
    lines = b.read_text().splitlines(keepends=True)
    b.write_text("".join(lines[:4]) + lines[4][:50])
    resumed = run(tmp, "b")
    assert b.read_bytes() == a.read_bytes()
    assert resumed["evolution"]["library"] == result["evolution"]["library"]
    assert resumed["tools_promoted"] == result["tools_promoted"]


def test_train_test_freezes_the_library_before_the_scored_episodes(tmp_path: Path):
    result = run(tmp_path, "tt", "evolution.protocol=train_test", "per_family=1")
    out = tmp_path / "tt"
    n_train = result["evolution"]["train_episodes"]
    assert n_train == 5 and (out / "train_episodes.jsonl").exists() and result["n_episodes"] == 5
    with Library(out / "library.sqlite") as lib:
        assert max(e["episode"] for e in lib.events()) < n_train  # nothing evolved while scoring
    train_ids = {json.loads(x)["task"]["id"] for x in (out / "train_episodes.jsonl").read_text().splitlines()}
    assert all("/train/" in t for t in train_ids) and all("/test/" in t["id"] for t in result["tasks"])


def test_code_agent_runs_snippets_in_the_sandbox(tmp_path: Path):
    result = run_job(
        compose_run_config(["condition=code_agent", "seed=2", f"families={FAMILIES}", "progress=false"]),
        tmp_path / "code",
    )
    records = [json.loads(line) for line in (tmp_path / "code" / "episodes.jsonl").read_text().splitlines()]
    assert all(r["tools_offered"][-1] == "run_python" for r in records)
    snippets = [c for r in records for c in r["tools_called"] if c["tool"] == "run_python"]
    assert snippets and any(c["ok"] for c in snippets)
    assert result["sandbox"] in ("bwrap", "rlimits-only") and "tools_promoted" not in result
    assert result["success_rate"] > 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("evolution.reward_signal=vibes", "reward_signal must be one of oracle, self, none"),
        ("evolution.max_repairs=-1", "max_repairs must be >= 0"),
    ],
)
def test_bad_evolution_settings_are_config_errors(tmp_path: Path, override: str, message: str):
    with pytest.raises(ConfigError, match=message):
        run_job(compose_run_config([*BASE, override]), tmp_path / "bad")


def test_arise_validates_on_the_configured_world_not_the_default_one(tmp_path: Path):
    """Tests the model writes assert values of the world it is evolving in (generator options included)."""
    result = run(tmp_path, "opts", "+world.options.log_lines=3000", "+world.options.log_lines_per_file=1000")
    assert result["tools_promoted"] >= 1
    with Library(tmp_path / "opts" / "library.sqlite") as lib:
        checks = lib.events("check")
        assert audit_promotions(lib) == []
    assert any(c["ok"] and c["tests"][1] >= 1 for c in checks)
