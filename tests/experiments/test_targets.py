"""Benchmarks print each figure with its target and whether it was met (experiments/targets.py)."""

from __future__ import annotations

import re

import pytest

from experiments import bench_dcql
from experiments.bench import SANDBOX_TRIVIAL, WORLDGEN
from experiments.targets import Scoreboard, Target


def test_a_rate_below_its_target_says_not_met():
    assert SANDBOX_TRIVIAL.verdict(365) == "365 calls/s (target >= 500 calls/s: NOT met)"
    assert SANDBOX_TRIVIAL.verdict(500) == "500 calls/s (target >= 500 calls/s: met)"


def test_a_time_above_its_target_says_not_met():
    assert WORLDGEN.verdict(0.13) == "0.130 s (target <= 1.000 s: met)"
    assert WORLDGEN.verdict(1.2) == "1.200 s (target <= 1.000 s: NOT met)"
    with pytest.raises(ValueError, match="bound must be >= 0, got -1"):
        Target(-1, "s")


def test_scoreboard_names_the_missed_targets():
    board = Scoreboard()
    board.check("fast", Target(10, "x"), 12)
    board.check("slow", Target(10, "x"), 3)
    board.check("small", Target(1, "s", at_least=False), 0.5)
    assert board.summary() == "targets: 2 of 3 met; NOT met: slow"
    assert Scoreboard().summary() == "targets: 0 of 0 met"


def test_bench_dcql_prints_every_query_against_its_target(capsys: pytest.CaptureFixture[str]):
    assert bench_dcql.main(["--rows", "2000", "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    timed = [line for line in lines if " s (target <= 1.000 s: " in line]
    assert len(timed) == 2 * len(bench_dcql.QUERIES)
    assert all(re.search(r"\d\.\d{3} s \(target <= 1\.000 s: (met|NOT met)\)", line) for line in timed)
    assert lines[-1] == f"targets: {2 * len(bench_dcql.QUERIES)} of {2 * len(bench_dcql.QUERIES)} met"


def test_bench_prints_sandbox_figures_against_their_targets(capsys: pytest.CaptureFixture[str]):
    from experiments import bench

    assert bench.main(["--only-sandbox", "--sandbox-calls", "10"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"trivial [\d,]+ calls/s \(target >= 500 calls/s: (met|NOT met)\)", out), out
    assert re.search(r"read_file [\d,]+ calls/s \(target >= 400 calls/s: (met|NOT met)\)", out), out
    assert re.search(r"^targets: \d of 2 met", out.splitlines()[-1]), out
