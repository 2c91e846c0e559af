"""The example plugin world (tests/worlds/orchard/) slots in without edits to generic code.

It is registered in one place (its package's ``register_world`` call, imported by tests/conftest.py and,
for jobs, through ``world.module`` in conf/world/orchard.yaml), passes the sanity gates, runs through
``experiments.run`` (a joblib multirun: the workers import the plugin too) and appears in the report.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envs.bundle import bundle_tool
from envs.reference_cases import edge_cases, nominal_cases
from envs.registry import WORLDS
from envs.tasks import get_suite
from envs.tools import tool_spec
from evolution.sandbox.runner import Sandbox
from evolution.static_policy import check_source
from experiments.config import ConfigError, compose_run_config
from experiments.differential import differential
from experiments.run import plan_job

# The sanity gates themselves, run here for Orchard (tests/envs/test_sanity_gates.py also runs them for
# every registered world, Orchard included); the `world` fixture below picks the world.
from tests.envs.test_sanity_gates import (  # noqa: F401
    outcomes,
    suite,
    test_families_cover_every_phase_with_at_least_eight_each,
    test_null_policies_score_near_zero,
    test_oracle_scores_100_percent_on_every_family,
    test_truth_is_never_constant_across_seeds,
)

ROOT = Path(__file__).resolve().parents[2]
CONDITIONS = ("oracle", "null_random", "fixed_tools", "arise")


@pytest.fixture(scope="module")
def world() -> str:
    return "orchard"


def test_orchard_is_registered_by_its_own_package_only():
    entry = WORLDS["orchard"]
    assert entry.package == "tests.worlds.orchard" and entry.env_id == "arise_gym/Orchard-v0"
    assert entry.phases == ("inventory", "sales") and entry.constant_blob_ref is None
    assert "orchard" not in (ROOT / "envs" / "__init__.py").read_text()


def test_reference_tools_bundle_from_the_plugin_package_and_match_the_reference_in_the_sandbox(suite):  # noqa: F811
    for fn in suite.reference_tools():
        src = bundle_tool(fn)
        assert check_source(src).ok, fn.__name__
        imported = {n.module for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom)}
        assert imported <= {"__future__", "envs.toolkit", "json", "collections.abc", "typing"}, imported
    assert "def parse_csv" in bundle_tool(suite.reference_tools()[0])  # inlined from tests.worlds.orchard.formats
    nominal = nominal_cases(suite, 2)
    cases = nominal + edge_cases([tool_spec(f) for f in suite.reference_tools()], nominal, 2)
    with Sandbox() as sandbox:
        for fn in suite.reference_tools():
            result = differential(sandbox, suite, fn.__name__, bundle_tool(fn), cases)
            assert result.n >= 2 and result.all_passed, (fn.__name__, result.failures)


def test_null_blob_needs_a_constant_blob_and_world_module_is_not_planned():
    with pytest.raises(ConfigError, match="registers none"):
        plan_job(compose_run_config(["world=orchard", "condition=null_blob"]))
    with pytest.raises(ConfigError, match=r"world\.module 'tests\.worlds\.nowhere'"):
        plan_job(compose_run_config(["world=orchard", "world.module=tests.worlds.nowhere"]))
    # Where a world's code comes from is not part of the plan: built-in jobs keep their hashes.
    base = plan_job(compose_run_config(["condition=oracle", "families=[logs.severity_count]"]))
    named = plan_job(compose_run_config(["condition=oracle", "families=[logs.severity_count]", "world.module=envs"]))
    assert base.hash == named.hash


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def test_a_joblib_multirun_and_the_report_include_orchard(tmp_path: Path):
    sweep = tmp_path / "sweep"
    t0 = time.perf_counter()
    out = _python(
        "-m", "experiments.run", "-m", "world=orchard", f"condition={','.join(CONDITIONS)}", "seed=1",
        "evolution.failure_threshold=2", f"hydra.sweep.dir={sweep}", "progress=false",
        "hydra/job_logging=none", "hydra/hydra_logging=none", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
    ).stdout  # fmt: skip
    results = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/result.json")}
    assert len(results) == len(CONDITIONS)
    n_families = len(get_suite("orchard", "rigorous").families)
    by_condition = {r["condition"]: r for r in results.values()}
    assert set(by_condition) == set(CONDITIONS)
    for r in by_condition.values():
        assert (
            r["world"] == "orchard" and r["n_episodes"] == n_families and set(r["by_phase"]) == {"inventory", "sales"}
        )
        assert r["config"]["world"]["module"] == "tests.worlds.orchard"
    assert by_condition["oracle"]["success_rate"] == 1.0 and by_condition["null_random"]["success_rate"] <= 0.25
    assert by_condition["arise"]["tools_promoted"] >= 1  # the sim authored tools bundled from the plugin's code
    assert "| orchard | rigorous | oracle | - | 1 | 6 | 100% | 100% | 100.0% |" in out  # the sweep's summary

    _python("-m", "experiments.report", str(sweep), "--no-progress")  # a fresh process: imports world.module
    report = (sweep / "report" / "report.md").read_text()
    assert f"{len(CONDITIONS)} jobs, {len(CONDITIONS) * n_families} episodes" in report and "worlds orchard" in report
    assert "Success by phase, orchard / rigorous" in report
    header = "| condition | model | seeds | tasks | inventory | sales | overall | LLM failures | tools evolved |"
    assert header in report
    for condition in CONDITIONS:
        row = next(line for line in report.splitlines() if line.startswith(f"| {condition} | "))
        assert f" | 1 | {n_families} | " in row, row
    assert (sweep / "report" / "tables" / "success_orchard_rigorous.csv").exists()
    print(f"orchard multirun + report: {time.perf_counter() - t0:.1f} s")
