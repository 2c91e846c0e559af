"""A job's files under misuse: a refused re-run touches nothing, an unwritable output path is one
line, a finished job's damaged library is noticed and rebuilt (the damaged file kept)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from experiments.config import compose_run_config
from experiments.run import run_job

REPO = Path(__file__).resolve().parents[2]
FAST = ["condition=oracle", "families=[logs.severity_count,config.effective_replicas]", "progress=false",
        "hydra/job_logging=none", "hydra/hydra_logging=none"]  # fmt: skip


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "experiments.run", *args], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_a_refused_rerun_leaves_the_job_untouched(tmp_path: Path):
    out = tmp_path / "job"
    first = cli(*FAST, "seed=1", f"hydra.run.dir={out}")
    assert first.returncode == 0, first.stderr
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert yaml.safe_load((out / ".hydra" / "config.yaml").read_text())["seed"] == 1
    refused = cli(*FAST, "seed=2", f"hydra.run.dir={out}")
    assert refused.returncode == 1 and "holds records of a different plan" in refused.stderr
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # .hydra/config.yaml still says seed=1 (Hydra had overwritten it)


def test_an_unwritable_output_path_is_one_clear_line(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    run = cli(*FAST, f"hydra.run.dir={blocker}/job")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"error: cannot write the output directory {blocker}/job (Not a directory); choose another with "
        "hydra.run.dir=... (hydra.sweep.dir=... with -m)"
    ]


def test_a_damaged_library_of_a_finished_job_is_rebuilt_not_trusted(tmp_path: Path):
    overrides = ["condition=arise", "protocol=arise_v1", "seed=42", "progress=false", "diagnostics.enabled=false"]
    out = tmp_path / "job"
    first = run_job(compose_run_config(overrides), out)
    assert first["tools_promoted"] > 0
    db = out / "library.sqlite"
    intact = db.read_bytes()
    assert run_job(compose_run_config(overrides), out)["skipped"] is True
    damaged = intact[:4096] + b"\x00" * 4096 + intact[8192:]  # a torn page
    db.write_bytes(damaged)
    again = run_job(compose_run_config(overrides), out)
    assert not again.get("skipped")
    assert (out / "library.sqlite.damaged").read_bytes() == damaged  # kept, not deleted
    assert again["tools_promoted"] == first["tools_promoted"] and again["evolution"] == first["evolution"]
    assert run_job(compose_run_config(overrides), out)["skipped"] is True
