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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_in_jupyter_as_a_paired_notebook(path: Path, tmp_path: Path):
    """What `jupytext --sync` hands JupyterLab: a valid .ipynb with the script's cells, paired with the script,
    and syncing leaves the script unchanged (its header is already what jupytext writes)."""
    import shutil
    import subprocess
    import sys

    import jupytext
    import nbformat

    shutil.copytree(path.parent, tmp_path / "notebooks")
    script = tmp_path / "notebooks" / path.name
    jupytext_cli = Path(sys.executable).with_name("jupytext")
    proc = subprocess.run([str(jupytext_cli), "--sync", str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    paired = script.with_suffix(".ipynb")
    notebook = nbformat.read(paired, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert len(code_cells) >= 2 and len(notebook.cells) == len(jupytext.read(path).cells)
    assert script.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
