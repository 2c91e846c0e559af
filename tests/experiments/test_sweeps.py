"""Sweeps as a researcher runs them: presets, launchers, skipping finished jobs, surviving a kill."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from experiments.callbacks import sweep_size
from experiments.config import compose_run_config

CONF = Path(__file__).parents[2] / "conf"
PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
# A two-job sweep of the paper's Table 3 (arise evolves a library, so resume must restore it).
SWEEP = ["-m", "+experiment=paper_table3", "progress=false", "hydra/job_logging=none", "hydra/hydra_logging=none"]
JOBS = ("condition=arise,seed=42", "condition=no_evolution,seed=42")


def sweep(out: Path, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "experiments.run", *SWEEP, f"hydra.sweep.dir={out}", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def records(out: Path) -> dict[str, bytes]:
    """Everything deterministic a sweep leaves: records, plans and exported libraries, by path."""
    files = {}
    for job in JOBS:
        for path in sorted((out / job).rglob("*")):
            wanted = path.name in ("episodes.jsonl", "plan.json") or "library" in path.parts[-2:]
            if path.is_file() and wanted and path.suffix != ".sqlite":
                files[str(path.relative_to(out))] = path.read_bytes()
    return files


def result(out: Path, job: str) -> dict:
    res = json.loads((out / job / "result.json").read_text())
    for key in ("wall_s",):  # wall-clock is the only field allowed to differ
        res.pop(key)
    return res


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("basic")
    sweep(out)
    return out


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_and_every_job_of_its_sweep_composes(preset: str):
    base = compose_run_config([f"+experiment={preset}"])
    assert base.experiment == preset
    params = OmegaConf.to_container(OmegaConf.load(CONF / "experiment" / f"{preset}.yaml"))["hydra"]["sweeper"][
        "params"
    ]
    grid = [[f"{k}={v}" for v in str(vals).split(",")] for k, vals in params.items()]
    jobs = list(itertools.product(*grid))
    for job in jobs:
        cfg = compose_run_config([f"+experiment={preset}", *job])
        for override in job:  # the sweep value reached the job config
            key, value = override.split("=")
            node = cfg[key]
            assert (node.name if hasattr(node, "name") else str(node)) == value, (preset, override)
    cfg = OmegaConf.create({"hydra": {"sweeper": {"params": params}, "overrides": {"task": []}}})
    assert sweep_size(cfg) == len(jobs)


def test_paper_presets_match_the_papers_setup():
    t2 = compose_run_config(["+experiment=paper_table2"])
    assert (t2.world.name, t2.protocol.name, t2.llm.profile, t2.evolution.failure_threshold) == (
        "acmecorp",
        "arise_v1",
        "sim-4o-mini-like",
        5,
    )
    assert compose_run_config(["+experiment=paper_table3"]).llm.profile == "sim-sonnet-like"
    assert compose_run_config(["+experiment=paper_table4"]).world.name == "datacorp"
    default = compose_run_config(["+experiment=default"])
    assert (default.world.name, default.protocol.name, default.llm.provider) == ("acmecorp", "rigorous", "sim")


def test_command_line_overrides_win_over_the_presets_sweep():
    cfg = OmegaConf.create(
        {"hydra": {"sweeper": {"params": {"seed": "1,2,3", "condition": "a,b"}}, "overrides": {"task": ["seed=7"]}}}
    )
    assert sweep_size(cfg) == 2


def test_sweep_writes_one_directory_per_job_and_skips_complete_jobs(reference: Path):
    assert sorted(p.name for p in reference.iterdir() if p.is_dir() and not p.name.startswith(".")) == sorted(JOBS)
    before = {job: (reference / job / "episodes.jsonl").stat().st_mtime_ns for job in JOBS}
    proc = sweep(reference)
    assert proc.stdout.count("(complete: skipped)") == 2
    assert "2 complete from an earlier run" in proc.stderr
    assert {job: (reference / job / "episodes.jsonl").stat().st_mtime_ns for job in JOBS} == before
    assert "| arise |" in proc.stdout and f"report: python -m experiments.report {reference}" in proc.stdout
    # Another sweep into the same directory counts and summarises its own jobs only.
    other = sweep(reference, "condition=no_evolution")
    assert "sweep: 1 jobs" in other.stderr and "(1 complete from an earlier run: skipped)" in other.stderr
    assert "| no_evolution |" in other.stdout and "| arise |" not in other.stdout


def test_killed_sweep_resumes_to_the_same_results_without_redoing_episodes(reference: Path, tmp_path: Path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "experiments.run", *SWEEP, f"hydra.sweep.dir={out}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    episodes = out / JOBS[0] / "episodes.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill the whole sweep (and its sandbox) mid-way through the arise job
        if episodes.exists() and episodes.read_bytes().count(b"\n") >= 25:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = episodes.read_bytes()
    n_kept = kept.count(b"\n")
    assert 25 <= n_kept < 60, n_kept
    timings = (out / JOBS[0] / "timings.jsonl").read_bytes().split(b"\n")[: n_kept - 1]
    assert not (out / JOBS[0] / "result.json").exists()

    sweep(out)  # the same command again
    assert records(out) == records(reference)
    for job in JOBS:
        assert result(out, job) == result(reference, job)
    # The kept episodes were not run again: their records and timings are untouched.
    assert (out / JOBS[0] / "episodes.jsonl").read_bytes().startswith(kept[: kept.rfind(b"\n") + 1])
    assert (out / JOBS[0] / "timings.jsonl").read_bytes().split(b"\n")[: n_kept - 1] == timings


@pytest.mark.parametrize(
    "launcher",
    [["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], ["hydra/launcher=submitit_local"]],
    ids=["joblib-2-jobs", "submitit_local"],
)
def test_parallel_launchers_give_the_same_results_as_the_basic_one(reference: Path, tmp_path: Path, launcher):
    out = tmp_path / "parallel"
    sweep(out, *launcher)
    assert sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) == sorted(JOBS)
    assert records(out) == records(reference)
    for job in JOBS:
        assert result(out, job) == result(reference, job)
