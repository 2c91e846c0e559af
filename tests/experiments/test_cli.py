"""End-to-end tests through the command lines a researcher uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from envs.registry import WORLDS
from envs.tasks import get_suite

# Every registered world with a rigorous suite (tests/conftest.py imports the example plugin world too).
RIGOROUS_WORLDS = sorted(w for w, entry in WORLDS.items() if "rigorous" in entry.suites)
FAMILIES = "families=[logs.severity_count,metrics.window_value,config.effective_replicas,incidents.root_cause]"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def job(out: Path, *overrides: str) -> dict:
    run("-m", "experiments.run", f"hydra.run.dir={out}", "progress=false", *overrides)
    return json.loads((out / "result.json").read_text())


def test_run_writes_records_and_result(tmp_path: Path):
    result = job(tmp_path / "a", "condition=oracle", "seed=3", "n_worlds=2", FAMILIES)
    for key in ("world", "protocol", "condition", "llm", "seed", "n_episodes", "success_rate", "by_phase", "wall_s"):
        assert key in result
    assert result["world"] == "acmecorp" and result["protocol"] == "rigorous" and result["llm"] is None
    assert result["n_episodes"] == 8 and result["success_rate"] == 1.0
    assert set(result["by_phase"]) == {"logs", "metrics", "config", "incidents"}
    lines = (tmp_path / "a" / "episodes.jsonl").read_text().splitlines()
    assert len(lines) == 8
    rec = json.loads(lines[0])
    assert rec["task"]["truth"] is not None and rec["grade"]["success"] and rec["tools_called"]
    assert rec["tools_offered"][:5] == ["http_get", "http_post", "list_files", "read_file", "read_doc"]


def _first_family_per_phase(world: str) -> str:
    suite = get_suite(world, "rigorous")
    firsts = {f.phase: f.name for f in reversed(suite.families)}
    return f"families=[{','.join(firsts[p] for p in suite.phases())}]"


@pytest.mark.parametrize("world", RIGOROUS_WORLDS)
def test_same_config_and_seed_give_byte_identical_records(tmp_path: Path, world: str):
    families = _first_family_per_phase(world)
    job(tmp_path / "a", f"world={world}", "condition=null_random", "seed=5", families)
    job(tmp_path / "b", f"world={world}", "condition=null_random", "seed=5", families)
    job(tmp_path / "c", f"world={world}", "condition=null_random", "seed=6", families)
    a, b, c = ((tmp_path / d / "episodes.jsonl").read_bytes() for d in "abc")
    assert a == b and a != c


def test_rerun_keeps_records_and_drops_a_torn_line(tmp_path: Path):
    out = tmp_path / "r"
    job(out, "condition=oracle", "seed=2", FAMILIES)
    full = (out / "episodes.jsonl").read_bytes()
    lines = full.split(b"\n")
    (out / "episodes.jsonl").write_bytes(b"\n".join(lines[:2]) + b"\n" + lines[2][:40])  # a kill mid-write
    result = job(out, "condition=oracle", "seed=2", FAMILIES)
    assert (out / "episodes.jsonl").read_bytes() == full and result["n_episodes"] == 4


def test_rerun_into_a_directory_of_another_plan_is_refused(tmp_path: Path):
    out = tmp_path / "x"
    job(out, "condition=oracle", "seed=2", FAMILIES)
    before = (out / "episodes.jsonl").read_bytes()
    proc = run("-m", "experiments.run", f"hydra.run.dir={out}", "seed=9", FAMILIES, check=False)
    assert proc.returncode != 0 and "different plan" in proc.stderr + proc.stdout
    assert (out / "episodes.jsonl").read_bytes() == before  # nothing recorded is lost


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("split=dev", "Invalid value 'dev', expected one of [train, test]"),
        ("condition.tools=lib", "expected one of [none, reference, library, code]"),
        ("sandbox.isolation=docker", "expected one of [auto, bwrap, rlimits-only]"),
        ("replay.mode=replay", "expected one of [off, record, replay-only]"),
        ("evolution.protocol=offline", "expected one of [online, train_test]"),
        ("llm.max_attemps=2", "max_attemps"),
        ("condition=nope", "condition"),
        ("n_worlds=0", "n_worlds must be >= 1"),
        ("world.options.log_linez=5", "log_linez"),
    ],
)
def test_bad_config_gives_a_clear_error(tmp_path: Path, override: str, fragment: str):
    proc = run("-m", "experiments.run", f"hydra.run.dir={tmp_path}", override, FAMILIES, check=False)
    assert proc.returncode != 0
    assert fragment in proc.stderr + proc.stdout


def test_inspect_hash_is_stable_across_processes_and_differs_across_seeds():
    def world_hash(seed: int) -> str:
        out = run("-m", "envs.inspect", "world=acmecorp", f"seed={seed}").stdout.strip().splitlines()
        assert out[-1].startswith("world-hash: ")
        return out[-1].split()[-1]

    h42 = world_hash(42)
    assert h42 == world_hash(42) and h42 != world_hash(43) and len(h42) == 64


@pytest.mark.parametrize("module", ["envs.inspect", "envs.serve"])
def test_world_clis_reject_bad_arguments(module: str):
    proc = run("-m", module, "world=nowhere", check=False)
    assert proc.returncode == 2 and "unknown world 'nowhere'" in proc.stderr
    proc = run("-m", module, "bare", check=False)
    assert proc.returncode == 2 and "expected key=value" in proc.stderr
    proc = run("-m", module, "log_lines=3", check=False)
    assert proc.returncode == 2 and "log_lines" in proc.stderr


def test_summary_prints_a_table(tmp_path: Path):
    job(tmp_path / "s" / "one", "condition=oracle", "seed=1", FAMILIES)
    llm = job(tmp_path / "s" / "two", "condition=fixed_tools", "llm=sim-sonnet-like", "seed=1", FAMILIES)
    out = run("-m", "experiments.summary", str(tmp_path / "s")).stdout
    assert "| acmecorp | rigorous | oracle | - | 1 | 4 |" in out and "100.0%" in out
    row = next(line for line in out.splitlines() if "fixed_tools" in line)
    assert row.startswith("| acmecorp | rigorous | fixed_tools | sim-sonnet-like (sim) | 1 | 4 |")
    assert f"| {llm['cost_usd']:.2f} |" in row


@pytest.mark.parametrize("world", RIGOROUS_WORLDS)
def test_world_yaml_documents_every_generator_knob(world: str):
    defaults = get_suite(world, "rigorous").default_options
    text = (Path(__file__).parents[2] / "conf" / "world" / f"{world}.yaml").read_text()
    for key, value in defaults.items():
        assert f"#   {key}: {str(value).lower() if isinstance(value, bool) else value}" in text, key
    package = WORLDS[world].package
    if not package.startswith("envs."):  # a plugin world: the job imports its package first
        assert f"\nmodule: {package}\n" in text


def test_world_options_flow_from_the_command_line(tmp_path: Path):
    result = job(tmp_path / "o", "condition=oracle", "+world.options.log_lines=3000", "families=[logs.malformed_lines]")
    assert result["config"]["world"]["options"]["log_lines"] == 3000 and result["success_rate"] == 1.0


def test_rerun_with_another_condition_is_refused(tmp_path: Path):
    out = tmp_path / "c"
    job(out, "condition=oracle", FAMILIES)
    before = (out / "episodes.jsonl").read_bytes()
    proc = run("-m", "experiments.run", f"hydra.run.dir={out}", "condition=null_empty", FAMILIES, check=False)
    assert proc.returncode != 0 and "different plan" in proc.stderr + proc.stdout
    assert (out / "episodes.jsonl").read_bytes() == before


def test_rerun_repairs_torn_timings_too(tmp_path: Path):
    out = tmp_path / "t"
    job(out, "condition=oracle", FAMILIES)
    lines = (out / "timings.jsonl").read_bytes().split(b"\n")
    (out / "timings.jsonl").write_bytes(b"\n".join(lines[:2]) + b"\n" + lines[2][:10])
    ep = (out / "episodes.jsonl").read_bytes().split(b"\n")
    (out / "episodes.jsonl").write_bytes(b"\n".join(ep[:2]) + b"\n")
    job(out, "condition=oracle", FAMILIES)
    for name in ("timings.jsonl", "episodes.jsonl"):
        rows = [json.loads(x) for x in (out / name).read_text().splitlines()]
        assert [r["episode"] for r in rows] == [0, 1, 2, 3], name


def test_rate_limited_world_runs_end_to_end(tmp_path: Path):
    result = job(
        tmp_path / "rl",
        "condition=oracle",
        "+world.options.metrics_rate_limit_every=3",
        "families=[metrics.window_value,metrics.peak_error_minute,incidents.report]",
    )
    assert result["success_rate"] == 1.0


def test_datacorp_runs_for_both_protocols(tmp_path: Path):
    r = job(tmp_path / "dc", "world=datacorp", "condition=oracle", "families=[csv.valid_rows,query.count_where]")
    assert r["world"] == "datacorp" and r["success_rate"] == 1.0 and set(r["by_phase"]) == {"csv", "query"}
    v1 = job(tmp_path / "dcv1", "world=datacorp", "protocol=arise_v1", "condition=null_blob")
    assert v1["n_episodes"] == 30 and v1["success_rate"] >= 25 / 30


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("condition.name=oracl", "unknown scripted policy"),
        ("condition.affordances=[read_file,bogus]", "unknown affordance"),
        ("+world.options.metrics_auth=maybe", "must be true/false"),
        ("+world.options.hours=3", "hours must be in"),
        ("sandbox.memory_mb=-5", "sandbox.memory_mb = -5 is out of range: accepted 64 to"),
        ("sandbox.wall_s=0", "sandbox.wall_s = 0.0 is out of range: accepted 0.05 to 3600.0 seconds"),
        ("evolution.pruning=random", "evolution.pruning must be one of none, least_used"),
        ("evolution.max_repairs=-1", "evolution.max_repairs must be >= 0, got -1"),
    ],
)
def test_more_bad_configs_give_clear_errors(tmp_path: Path, override: str, fragment: str):
    proc = run("-m", "experiments.run", f"hydra.run.dir={tmp_path}", override, FAMILIES, check=False)
    assert proc.returncode != 0 and fragment in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
