"""The SQLite tool library: versions, one active per name, snapshots, rollback, pruning, export."""

from __future__ import annotations

import importlib
import sqlite3
import sys
from pathlib import Path

import pytest

from evolution.library import Library, LibraryError

CODE_V1 = "def count(xs: list) -> int:\n    return len(xs)\n"
CODE_V2 = "def count(xs: list) -> int:\n    return len([x for x in xs if x is not None])\n"
SCHEMA = {"type": "object", "properties": {"xs": {"type": "array"}}, "required": ["xs"]}


def test_versions_promotion_and_one_active_per_name(tmp_path: Path):
    with Library(tmp_path / "lib.sqlite") as lib:
        v1 = lib.add_candidate("count", CODE_V1, SCHEMA, "def test_a(): pass", "synthesis", episode=3)
        assert (v1.version, v1.status, v1.schema) == (1, "testing", SCHEMA)
        lib.promote("count", 1, episode=3)
        v2 = lib.add_candidate("count", CODE_V2, SCHEMA, "", "repair", episode=9, parent_version=1)
        assert v2.version == 2 and v2.parent_version == 1
        lib.promote("count", 2, episode=9)
        assert [(t.name, t.version) for t in lib.active()] == [("count", 2)]
        assert lib.get("count", 1).status == "deprecated" and lib.get("count", 1).reason == "superseded by v2"
        with pytest.raises(sqlite3.IntegrityError):  # the database itself refuses two active versions
            lib.db.execute("UPDATE tools SET status = 'active' WHERE name = 'count' AND version = 1")
        bad = lib.add_candidate("count", "x", {}, "", "synthesis", episode=10)
        lib.reject("count", bad.version, "static_policy", episode=10, violations=["line 1: use of eval()"])
        with pytest.raises(LibraryError, match="only testing or deprecated versions are promoted"):
            lib.promote("count", bad.version, episode=11)
        assert lib.events("rejected")[0]["violations"] == ["line 1: use of eval()"]
        assert [e["kind"] for e in lib.events()] == [
            "candidate", "promoted", "candidate", "promoted", "candidate", "rejected"
        ]  # fmt: skip
        assert lib.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Library(tmp_path / "lib.sqlite") as again:  # persisted
        assert again.get("count").version == 2


def test_snapshots_after_every_change_and_rollback():
    lib = Library()
    for name in ("a", "b"):
        lib.add_candidate(name, f"def {name}():\n    return 1\n", {}, "", "synthesis", episode=1)
        lib.promote(name, 1, episode=1)
    lib.add_candidate("a", "def a():\n    return 2\n", {}, "", "repair", episode=5, parent_version=1)
    lib.promote("a", 2, episode=5)
    snaps = lib.snapshots()
    assert [s.active for s in snaps] == [{"a": 1}, {"a": 1, "b": 1}, {"a": 2, "b": 1}]
    lib.rollback(snaps[0].id, episode=7)
    assert {t.name: t.version for t in lib.active()} == {"a": 1}
    assert lib.snapshots()[-1].active == {"a": 1} and lib.events("rollback")[0]["snapshot"] == snaps[0].id
    with pytest.raises(LibraryError, match="no snapshot 99"):
        lib.rollback(99, episode=8)


def test_pruning_policies_keep_the_cap():
    lib = Library()
    for i, name in enumerate(("t1", "t2", "t3", "t4")):
        lib.add_candidate(name, f"def {name}():\n    return {i}\n", {}, "", "synthesis", episode=i)
        lib.promote(name, 1, episode=i)
    for _ in range(5):
        lib.record_use("t1", True, episode=10)
    lib.record_use("t2", False, episode=10)
    lib.record_use("t3", True, episode=10)
    assert lib.prune(cap=3, policy="least_used", episode=11) == ["t4"]
    assert lib.prune(cap=2, policy="lowest_success", episode=12) == ["t2"]
    assert sorted(t.name for t in lib.active()) == ["t1", "t3"]
    assert lib.prune(cap=None, policy="unused_for", episode=40, unused_for=20) == ["t1", "t3"]
    assert lib.prune(cap=0, policy="none", episode=41) == []
    with pytest.raises(LibraryError, match="pruning policy must be one of"):
        lib.prune(cap=1, policy="random", episode=42)


def test_export_writes_importable_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    lib = Library()
    lib.add_candidate("count", CODE_V2, SCHEMA, "", "synthesis", episode=1)
    lib.promote("count", 1, episode=1)
    lib.add_candidate("never", "def never():\n    pass\n", {}, "", "synthesis", episode=1)  # testing: not exported
    written = lib.export(tmp_path / "exported_tools")
    assert [p.name for p in written] == ["count.py"]
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("exported_tools")
    assert module.count([1, None, 2]) == 2 and module.__all__ == ["count"]
    sys.modules.pop("exported_tools", None)


def test_bad_input_is_a_clear_error():
    lib = Library()
    with pytest.raises(LibraryError, match="not a Python identifier"):
        lib.add_candidate("bad name", "", {}, "", "synthesis", episode=0)
    with pytest.raises(LibraryError, match="no active version of tool 'ghost'"):
        lib.get("ghost")
    with pytest.raises(LibraryError, match="status must be one of"):
        lib.versions(status="live")
