"""experiments.report on a small real sweep: every table and figure, numbers that match the records."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from experiments.config import compose_run_config
from experiments.report.build import build_report
from experiments.report.cli import main
from experiments.report.figures import phase_boundaries
from experiments.report.jobs import Job
from experiments.report.table import ReportTable
from experiments.report.tables import published_tables
from experiments.run import run_job
from experiments.summary import load_results

# Table 2's setting on two seeds, plus the oracle and a null policy under both protocols.
JOBS = [
    ("+experiment=paper_table2", f"condition={c}", f"seed={s}") for c in ("arise", "no_evolution") for s in (42, 123)
] + [("+experiment=protocols", "world=acmecorp", f"protocol={p}", f"condition={c}", "seed=42")
     for p in ("rigorous", "arise_v1") for c in ("oracle", "null_names")]  # fmt: skip


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    for overrides in JOBS:
        run_job(compose_run_config([*overrides, "progress=false"]), root / ",".join(o.lstrip("+") for o in overrides))
    return root


@pytest.fixture(scope="module")
def built(sweep: Path) -> Path:
    build_report([sweep], sweep / "report", progress=False)
    return sweep / "report"


def test_report_has_every_section_table_and_figure(built: Path):
    text = (built / "report.md").read_text()
    for heading in (
        "## Success by phase (Tables 2-4)",
        "## Paired comparisons",
        "## Side by side with the published numbers",
        "## Error taxonomy (Table 5)",
        "## Cost and time (Table 6)",
        "## Tool quality",
        "## Reliability (pass^k)",
        "## Protocols and null policies",
        "## Episodes behind the tables (viewer)",
        "## Figures",
    ):
        assert heading in text, heading
    tables = {p.stem for p in (built / "tables").glob("*.md")}
    assert {
        "success_acmecorp_arise_v1",
        "success_acmecorp_rigorous",
        "compare_acmecorp_arise_v1_sim-4o-mini-like__sim",
        "published_table2",
        "error_taxonomy",
        "cost",
        "tool_quality",
        "pass_k",
        "protocols",
    } <= tables
    for stem in tables:
        for suffix in (".tex", ".csv"):
            assert (built / "tables" / f"{stem}{suffix}").stat().st_size > 50
    figures = {p.stem for p in (built / "figures").glob("*.png")}
    assert {
        "phases_acmecorp_arise_v1",
        "learning_acmecorp_arise_v1",
        "library_growth",
        "tools_vs_success",
        "error_taxonomy",
    } <= figures
    for stem in figures:
        assert (built / "figures" / f"{stem}.png").stat().st_size > 10_000
        assert (built / "figures" / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
        assert f"figures/{stem}.png" in text


def test_success_table_matches_the_records(sweep: Path, built: Path):
    rows = list(csv.DictReader((built / "tables" / "success_acmecorp_arise_v1.csv").open()))
    arise = next(r for r in rows if r["condition"] == "arise")
    records = [
        json.loads(line)
        for d in sweep.glob("*condition=arise,seed=*")
        for line in (d / "episodes.jsonl").read_text().splitlines()
    ]
    assert int(arise["tasks"]) == len(records) == 120 and int(arise["seeds"]) == 2
    assert float(arise["overall_mean"]) == pytest.approx(sum(r["success"] for r in records) / 120, abs=1e-6)
    metrics = [r["success"] for r in records if r["task"]["phase"] == "metrics"]
    assert float(arise["metrics_mean"]) == pytest.approx(sum(metrics) / len(metrics), abs=1e-6)
    assert float(arise["overall_low"]) <= float(arise["overall_mean"]) <= float(arise["overall_high"])
    assert arise["simulated"] == "True"


def test_published_side_by_side_marks_simulated_rows(built: Path):
    text = (built / "tables" / "published_table2.md").read_text()
    assert "published (gpt-4o-mini)" in text and "ours, simulated sim-4o-mini-like" in text
    assert "18 ± 8" in text  # the paper's ARISE logs cell
    rows = list(csv.DictReader((built / "tables" / "published_table2.csv").open()))
    assert {r["source"] for r in rows} == {"published", "simulated"}


def test_comparisons_are_paired_and_holm_never_lowers_p(built: Path):
    rows = list(csv.DictReader((built / "tables" / "compare_acmecorp_arise_v1_sim-4o-mini-like__sim.csv").open()))
    assert [r["condition"] for r in rows] == ["arise"] and rows[0]["baseline"] == "no_evolution"
    assert int(rows[0]["n"]) == 120 and int(rows[0]["seeds"]) == 2  # both seeds' instances, paired by task id
    assert float(rows[0]["p_tasks_holm"]) >= float(rows[0]["p_tasks"])
    assert float(rows[0]["p_seeds_holm"]) >= float(rows[0]["p_seeds"])
    assert int(rows[0]["b01"]) + int(rows[0]["b10"]) <= 120
    # Seed level: the mean of the two per-seed differences (60 tasks each, so also the pooled one) and its
    # t interval; 2 seeds are too few for a sign-flip over seeds to reach 0.05, and the row says so.
    assert float(rows[0]["mean_diff"]) == pytest.approx(float(rows[0]["pooled_mean_diff"]), abs=1e-6)
    assert float(rows[0]["diff_low"]) <= float(rows[0]["mean_diff"]) <= float(rows[0]["diff_high"])
    assert float(rows[0]["p_seeds_signflip"]) >= float(rows[0]["min_p_seeds_signflip"]) == 0.5
    assert rows[0]["too_few_seeds"] == "True" and "2 < 6 seeds: too few" in rows[0]["generalises_to"]
    md = (built / "tables" / "compare_acmecorp_arise_v1_sim-4o-mini-like__sim.md").read_text()
    assert "generalises to" in md and "p tasks Holm (these worlds)" in md and "too few to check" in md
    text = (built / "report.md").read_text()
    assert "*Seeds in general*" in text and "a small task-level p with 3 seeds is a claim about three worlds" in text


def test_success_intervals_are_over_seeds_and_single_seeds_are_marked(built: Path):
    text = (built / "report.md").read_text()
    assert "t intervals over seeds" in text and "one seed - the spread over seeds is unknown" in text
    seen = set()
    for name in ("success_acmecorp_arise_v1", "success_acmecorp_rigorous"):
        for line in (built / "tables" / f"{name}.md").read_text().splitlines()[2:]:
            cells = line.strip("| ").split(" | ")
            seeds = int(cells[2])
            seen.add(seeds)
            if seeds > 1:  # t intervals over seeds
                assert not any(c.endswith("†") for c in cells), cells
            else:  # seed 42 alone (the protocol jobs): intervals over its tasks, marked as such
                intervals = [c for c in cells[4:] if "[" in c]
                assert intervals and all(c.endswith("†") for c in intervals), cells
    assert seen == {1, 2}
    assert "\\dag{}" in (built / "tables" / "success_acmecorp_rigorous.tex").read_text()


def _failures(sweep: Path, condition: str) -> int:
    return sum(
        1
        for d in sweep.glob(f"*condition={condition},seed=*")
        for line in (d / "episodes.jsonl").read_text().splitlines()
        if not json.loads(line)["success"]
    )


def test_taxonomy_counts_every_failure(sweep: Path, built: Path):
    rows = list(csv.DictReader((built / "tables" / "error_taxonomy.csv").open()))
    ours = {r["condition"]: r for r in rows if r["source"] == "ours"}
    cats = ("incorrect_invocation", "not_called", "missing_tool", "wrong_reasoning", "grader_strictness")
    for condition in ("arise", "no_evolution"):
        failures = _failures(sweep, condition)
        assert int(ours[condition]["failures"]) == failures > 0
        assert sum(int(ours[condition][c]) for c in cats) == failures
    # The paper's hand-labelled row sits next to ours, with its own counts.
    (paper,) = [r for r in rows if r["source"] == "published"]
    assert (paper["condition"], int(paper["failures"]), int(paper["incorrect_invocation"])) == ("arise", 30, 11)
    # no_evolution has no tools at all under arise_v1: nothing can be invoked wrongly or left uncalled.
    assert int(ours["no_evolution"]["incorrect_invocation"]) == int(ours["no_evolution"]["not_called"]) == 0


def test_protocol_table_shows_nulls_and_best_null(built: Path):
    rows = list(csv.DictReader((built / "tables" / "protocols.csv").open()))
    names = {r["condition"] for r in rows}
    assert {"oracle", "null_names", "best_null"} <= names
    best = next(r for r in rows if r["condition"] == "best_null")
    null = next(r for r in rows if r["condition"] == "null_names")
    assert best["arise_v1"] == null["arise_v1"] and float(best["arise_v1"]) > float(best["rigorous"])


def test_report_is_deterministic_and_counts_a_repeated_job_once(sweep: Path, built: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(sweep, copy, ignore=shutil.ignore_patterns("report"))
    job = next(copy.glob("*condition=arise,seed=42"))
    shutil.copytree(job, copy / "again" / job.name)  # the same job reached from a second preset
    build_report([copy], copy / "report", progress=False)
    assert len(load_results(copy)) == len(JOBS)  # the summary table counts the repeated job once too
    for name in ("success_acmecorp_arise_v1.csv", "error_taxonomy.csv", "cost.csv", "pass_k.csv"):
        assert (copy / "report" / "tables" / name).read_bytes() == (built / "tables" / name).read_bytes(), name
    for name in ("phases_acmecorp_arise_v1.png", "learning_acmecorp_arise_v1.png"):
        assert (copy / "report" / "figures" / name).read_bytes() == (built / "figures" / name).read_bytes(), name


def _record(phase: str, success: bool = True) -> dict:
    return {"task": {"phase": phase, "id": phase, "family": phase}, "success": success}


@pytest.mark.parametrize("sizes", [(15, 15, 15, 15), (12, 9, 11, 9), (1, 3, 2, 7)])
def test_phase_boundaries_follow_the_actual_task_counts(sizes: tuple[int, ...]):
    phases = ("logs", "metrics", "config", "incidents")
    records = [_record(p) for p, n in zip(phases, sizes) for _ in range(n)]
    job = Job(Path("x"), {"seed": 1}, records)
    segments = phase_boundaries([job, job])
    starts = [sum(sizes[:i]) for i in range(4)]
    assert segments == [(s, s + n, p) for s, n, p in zip(starts, sizes, phases)]


def test_no_phase_boundaries_for_an_interleaved_stream_or_disagreeing_jobs():
    mixed = Job(Path("x"), {"seed": 1}, [_record(p) for p in ("logs", "metrics", "logs")])
    assert phase_boundaries([mixed]) == []
    a = Job(Path("a"), {"seed": 1}, [_record("logs"), _record("metrics")])
    b = Job(Path("b"), {"seed": 2}, [_record("logs"), _record("logs"), _record("metrics")])
    assert phase_boundaries([a, b]) == []


def test_table_renderings_escape_and_validate():
    t = ReportTable("t", "50% & more_stuff", ["a|b", "c"])
    t.add(["x_1", "10%"], {"a": 0.5, "c": None})
    assert "a\\|b" in t.markdown()
    assert "50\\% \\& more\\_stuff" in t.latex() and "x\\_1 & 10\\%" in t.latex()
    assert t.csv() == "a,c\n0.5,\n"
    with pytest.raises(ValueError, match="row has 1 cells, headers have 2"):
        t.add(["only one"])


def test_cli_errors_name_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main([str(tmp_path), "--no-progress"]) == 1
    assert "no result.json under" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing")])
    assert "is not a directory" in capsys.readouterr().err


def _fake_job(evolution: str, success: bool) -> Job:
    result = {"world": "acmecorp", "protocol": "arise_v1", "seed": 42, "condition": "arise", "llm": "sim",
              "model": "sim-4o-mini-like", "simulated": True, "tools_promoted": 1, "n_episodes": 4,
              "config": {"evolution": {"name": evolution}}, "evolution": {"promoted": 1}, "split": "test",
              "success_rate": float(success), "mean_score": float(success), "by_phase": {}, "by_family": {},
              "by_difficulty": {}, "tasks": [], "config_hash": evolution}  # fmt: skip
    records = [{"task": {"phase": p, "id": p, "family": p}, "success": success} for p in ("logs", "metrics")]
    return Job(Path(evolution), result, records)


def test_published_side_by_side_uses_the_papers_pipeline_when_the_sweep_has_several():
    (table,) = published_tables([_fake_job("default", False), _fake_job("paper", True)])
    ours = [d for d in table.data if d["source"] == "simulated"]
    assert [d["overall"] for d in ours] == [100.0]  # the paper preset's row only, not pooled with default
    (table,) = published_tables([_fake_job("default", False)])
    assert [d["overall"] for d in table.data if d["source"] == "simulated"] == [0.0]


def test_tool_genesis_section_matches_the_jobs_diagnostics(sweep: Path, built: Path):
    text = (built / "report.md").read_text()
    assert "## Tool-Genesis diagnostics of evolved tools (L1-L4)" in text and "figures/tool_genesis.png" in text
    rows = list(csv.DictReader((built / "tables" / "tool_genesis.csv").open()))
    ours = [r for r in rows if r["published"] == "False"]
    assert len(ours) == 1 and ours[0]["condition"] == "arise" and ours[0]["model"].endswith("(sim)")
    assert {(r["condition"], r["model"]) for r in rows if r["published"] == "True"} >= {
        ("Direct", "GPT-5.1"),
        ("Code-Agent", "GPT-5.1"),
    }
    diags = [json.loads(p.read_text())["diagnostics"] for p in sorted(sweep.glob("*condition=arise*/result.json"))]
    assert len(diags) == 2 and int(ours[0]["jobs"]) == 2
    expect = {
        "compliance": [d["candidates"]["l1"]["compliance"] for d in diags],
        "exec": [d["candidates"]["l1"]["exec"] for d in diags],
        "schema_f1": [d["l2"]["tool_f1"] for d in diags],
        "ut_hard": [d["l3"]["ut_hard"] for d in diags],
        "sr": [d["l4"]["sr"] for d in diags if d["l4"]["sr"] is not None],
    }
    for key, values in expect.items():
        assert float(ours[0][key]) == pytest.approx(sum(values) / len(values)), key
    funnel = next(csv.DictReader((built / "tables" / "tool_genesis_funnel.csv").open()))
    for i, stage in enumerate(("evolved", "compliant", "executable", "matched", "ut_hard_ge_0_5")):
        assert int(funnel[f"{stage}_count"]) == sum(d["candidates"]["funnel"][i]["count"] for d in diags)
    pred = list(csv.DictReader((built / "tables" / "tool_genesis_prediction.csv").open()))
    assert [p["layer"] for p in pred] == ["l1", "l2", "l3_soft", "l3_hard"]
    assert all(int(p["families"]) == sum(len(d["l4"]["units"]) for d in diags) for p in pred)
    for p in pred:
        if p["family_rho"]:
            assert -1.0 <= float(p["family_rho"]) <= 1.0
