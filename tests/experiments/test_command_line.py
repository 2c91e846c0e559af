"""experiments.run's command line before Hydra (experiments/command_line.py) and --plan (experiments/plan.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import HydraException

from experiments.command_line import UsageError, check_override_keys, parse_command_line
from experiments.config import compose_run_config
from experiments.plan import plan_command, render_plan

ROOT = Path(__file__).resolve().parents[2]


def test_flags_anywhere_are_moved_before_the_overrides():
    command = parse_command_line(["condition=oracle", "-m", "seed=1,2", "--cfg", "job", "--plan", "n_worlds=2"])
    assert command.multirun and command.plan
    assert command.flags == ["--cfg", "job"]
    assert command.overrides == ["condition=oracle", "seed=1,2", "n_worlds=2"]
    assert command.hydra_argv() == ["-m", "--cfg", "job", "condition=oracle", "seed=1,2", "n_worlds=2"]
    info = parse_command_line(["--info", "defaults", "seed=3"])
    assert info.flags == ["--info", "defaults"] and info.overrides == ["seed=3"]
    assert parse_command_line(["--info", "seed=3"]).overrides == ["seed=3"]  # --info's value is optional


def test_unknown_flags_and_missing_values_are_named():
    with pytest.raises(UsageError, match=r"unknown option '--bogus'; accepted options: .*--plan") as exc:
        parse_command_line(["seed=1", "--bogus"])
    assert "usage: python -m experiments.run" in str(exc.value)
    with pytest.raises(UsageError, match="--cfg needs a value"):
        parse_command_line(["--cfg"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("+foo=1", "unknown config key 'foo'; accepted keys of the run config: world, protocol"),
        ("foo=1", "unknown config key 'foo'"),
        ("+hydra.foo=1", "unknown config key 'hydra.foo'; accepted keys of hydra: defaults, mode"),
        ("hydra.sweep.dri=x", "unknown config key 'hydra.sweep.dri'; accepted keys of hydra.sweep: dir, subdir"),
        ("++condition.toolz=1", "unknown config key 'condition.toolz'; accepted keys of condition: name, kind"),
        ("~evolution.adversariall", "unknown config key 'evolution.adversariall'"),
        ("conditions/x=y", "unknown config group 'conditions/x'; config groups: condition, evolution"),
    ],
)
def test_unknown_keys_are_refused_with_the_accepted_ones(override: str, message: str):
    with pytest.raises(UsageError) as exc:
        check_override_keys([override])
    assert message in str(exc.value)


def test_known_keys_pass():
    check_override_keys(
        ["+experiment=default", "condition=arise", "evolution.max_repairs=0", "+world.options.log_lines=100",
         "+llm.overrides.p_wrong_tool=0", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweep.dir=x"]
    )  # fmt: skip
    check_override_keys(["llm=openai", "llm.model=gpt-4o-mini", "+llm.prices.m={input: 1, output: 2}"])
    # llm.* keys are typed by the chosen preset's provider
    with pytest.raises(UsageError, match=r"unknown config key 'llm\.overrides\.p_wrong_tool'; accepted keys of llm"):
        check_override_keys(["llm=openai", "+llm.overrides.p_wrong_tool=0"])


def test_schemas_are_not_choices_of_their_groups():
    for group, schema in (("condition", "schema_condition"), ("world", "schema_world"), ("llm", "schema_llm_sim")):
        with pytest.raises(HydraException, match=f"Could not find '{group}/{schema}'"):
            compose_run_config([f"{group}={schema}"])
    # ... yet every preset is typed by its schema
    with pytest.raises(HydraException, match="kind"):
        compose_run_config(["condition=arise", "condition.kind=bogus"])


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_plan_lists_the_jobs_a_sweep_runs_and_writes_nothing(tmp_path: Path):
    sweep = tmp_path / "sweep"
    overrides = [
        "condition=null_empty,oracle",
        "seed=1,2",
        "families=[logs.severity_count]",
        f"hydra.sweep.dir={sweep}",
    ]
    jobs = plan_command(overrides, multirun=True)
    assert not sweep.exists()  # nothing written
    assert [j.label for j in jobs] == [
        "acmecorp/rigorous/null_empty/seed=1", "acmecorp/rigorous/null_empty/seed=2",
        "acmecorp/rigorous/oracle/seed=1", "acmecorp/rigorous/oracle/seed=2",
    ]  # fmt: skip
    assert all(j.episodes == 1 and j.status == "new" for j in jobs)
    # The real sweep writes exactly where the plan said, and the plan then sees the jobs complete.
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.run", "-m", *overrides, "progress=false"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    job_dirs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert job_dirs == sorted(j.out_dir for j in jobs)
    before = _tree(sweep)
    again = plan_command(overrides, multirun=True)
    assert [j.status for j in again] == ["complete: would be skipped"] * 4
    assert [j.plan_hash for j in again] == [j.plan_hash for j in jobs]
    assert _tree(sweep) == before
    assert render_plan(again, True).splitlines()[-1] == (
        "plan: 4 job(s), 4 episodes, 4 complete; a sweep (-m), nothing was run"
    )


def test_plan_of_a_preset_expands_its_sweep_params():
    jobs = plan_command(["+experiment=default"], multirun=True)
    assert len(jobs) == 9
    assert {str(j.out_dir) for j in jobs} >= {"runs/default/condition=arise,seed=42"}
    assert {j.episodes for j in jobs} == {41}


def test_plan_names_what_is_wrong():
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.run", "condition=oracle", "n_worlds=0", "--plan"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 1 and proc.stderr.strip() == "error: n_worlds must be >= 1, got 0"
