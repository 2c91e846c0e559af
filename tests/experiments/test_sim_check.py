"""The simulated model behaves as its mechanism says (the issue's acceptance measurement)."""

from __future__ import annotations

from pathlib import Path

from experiments.sim_check import STRONG, WEAK, measure, render, violations


def test_tools_beat_raw_data_and_strong_beats_weak_over_seeds_1_to_5(tmp_path: Path):
    table = measure("acmecorp", [1, 2, 3, 4, 5], tmp_path)
    assert violations(table, "acmecorp") == [], render(table)
    assert all(row["n"] == 5 * 41 for row in table.values())
    # The gaps are mechanism-sized, not noise-sized.
    for profile in (WEAK, STRONG):
        assert table[(profile, "fixed_tools")]["overall"] - table[(profile, "no_evolution")]["overall"] > 0.25
    assert table[(STRONG, "fixed_tools")]["overall"] > 0.8 > table[(WEAK, "fixed_tools")]["overall"]


def test_violations_names_each_broken_ordering():
    def row(overall: float, phase: float) -> dict:
        return {"overall": overall, "by_phase": dict.fromkeys(("logs", "metrics", "config", "incidents"), phase)}

    table = {
        (WEAK, "no_evolution"): row(0.5, 0.5),
        (WEAK, "fixed_tools"): row(0.4, 0.6),
        (STRONG, "no_evolution"): row(0.4, 0.1),
        (STRONG, "fixed_tools"): row(0.9, 0.9),
    }
    bad = violations(table, "acmecorp")
    assert f"{WEAK}: fixed_tools 0.40 <= no_evolution 0.50 overall" in bad
    assert "no_evolution: strong 0.40 <= weak 0.50" in bad
    assert len(bad) == 2
