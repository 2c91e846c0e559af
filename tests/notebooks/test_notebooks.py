"""Notebooks are plain jupytext percent scripts: each one must run top to bottom."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("NOTEBOOK_OUT", str(tmp_path))
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out  # it printed what it explored
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and all(os.path.getsize(p) > 10_000 for p in pngs)  # it drew its figure


def test_there_is_at_least_one_notebook():
    assert NOTEBOOKS
