"""Rows are arms: jobs differing in any planned config value besides the seed are never pooled."""

from __future__ import annotations

import copy
from pathlib import Path

from experiments.arms import arm_labels, planned_config
from experiments.config import compose_run_config
from experiments.report.jobs import load_jobs
from experiments.run import run_job
from experiments.summary import load_results, table


def result(condition: str, seed: int, **config) -> dict:
    base = {
        "seed": seed, "world": {"name": "acmecorp"}, "protocol": {"name": "rigorous"},
        "condition": {"name": condition}, "llm": {"provider": "openai", "model": "m", "native_tools": True,
                                                 "timeout_s": 60, "base_url": "http://a/v1"},
        "evolution": {"name": "default", "max_repairs": 2, "adversarial": True}, "progress": True,
        "limits": {"max_cost_usd": None}, "max_steps": 30,
    }  # fmt: skip
    cfg = copy.deepcopy(base)
    for dotted, value in config.items():
        node = cfg
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    lib = condition == "arise"
    return {"world": "acmecorp", "protocol": "rigorous", "condition": condition, "model": "m", "llm": "openai",
            "seed": seed, "config": cfg, "evolution": {} if lib else None}  # fmt: skip


def test_values_that_differ_besides_the_seed_name_the_arm():
    results = [result("arise", s, evolution__max_repairs=r) for r in (0, 2) for s in (1, 2, 3)]
    results += [result("no_evolution", s, evolution__max_repairs=r) for r in (0, 2) for s in (1, 2)]
    labels = arm_labels(results)
    assert labels[:6] == ["arise [evolution.max_repairs=0]"] * 3 + ["arise [evolution.max_repairs=2]"] * 3
    assert labels[6:] == ["no_evolution"] * 4  # it never reads evolution.*: one arm


def test_endpoints_and_tool_modes_are_arms_but_throttles_and_progress_are_not():
    results = [
        result("no_evolution", 1),
        result("no_evolution", 2, llm__timeout_s=300, progress=False, limits__max_cost_usd=5),
        result("no_evolution", 1, llm__native_tools=False),
        result("no_evolution", 1, llm__base_url="http://b/v1"),
    ]
    labels = arm_labels(results)
    assert labels[0] == labels[1]
    assert labels[2] == "no_evolution [llm.base_url=http://a/v1, llm.native_tools=false]"
    assert labels[3] == "no_evolution [llm.base_url=http://b/v1, llm.native_tools=true]"


def test_a_preset_name_stands_for_the_switches_it_sets():
    results = [
        result("arise", 1),
        result("arise", 1, evolution__name="no_adversarial", evolution__adversarial=False),
    ]
    assert arm_labels(results) == ["arise [evolution.name=default]", "arise [evolution.name=no_adversarial]"]


def test_the_plan_view_drops_what_a_plan_hash_ignores():
    planned = planned_config(result("arise", 1, llm__timeout_s=5)["config"])
    assert "progress" not in planned and "limits" not in planned and "timeout_s" not in planned["llm"]


def test_the_readme_sweep_renders_two_rows_not_one_pooled_row(tmp_path: Path):
    """`-m condition=arise evolution.max_repairs=0,2 seed=1,2` came out as one 'arise' row."""
    for repairs in (0, 2):
        for seed in (1, 2):
            cfg = compose_run_config([
                "condition=arise", f"evolution.max_repairs={repairs}", f"seed={seed}", "families=[logs.severity_count]",
                "per_family=2", "progress=false", "diagnostics.enabled=false",
            ])  # fmt: skip
            run_job(cfg, tmp_path / f"repairs={repairs},seed={seed}")
    rows = [line for line in table(load_results(tmp_path)).splitlines()[2:]]
    assert len(rows) == 2
    assert "arise [evolution.max_repairs=0]" in rows[0] and "| 1,2 |" in rows[0]
    assert "arise [evolution.max_repairs=2]" in rows[1] and "| 1,2 |" in rows[1]
    jobs = load_jobs([tmp_path], progress=False)
    assert sorted({j.label for j in jobs}) == ["arise [evolution.max_repairs=0]", "arise [evolution.max_repairs=2]"]


def test_a_scripted_policy_is_one_arm_whatever_the_llm_config_says():
    oracle = [result("oracle", 1), result("oracle", 2, llm__native_tools=False, llm__base_url="http://b/v1")]
    for r in oracle:
        r["llm"] = None
    assert arm_labels(oracle) == ["oracle", "oracle"]
