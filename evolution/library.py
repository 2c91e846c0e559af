"""The tool library: versioned tools in SQLite (WAL), snapshots, rollback, an event log, pruning.

Every tool version is a row: name, version, status (``testing`` / ``active`` /
``rejected`` / ``deprecated``), code, JSON schema, tests, origin, parent version, the
episode it was created at, and invocation/success counts. At most one version per
name is active. Every change of the active set writes a snapshot (name -> version),
so any earlier library can be restored with ``rollback``. The event log records what
the evolution pipeline did and why. Times are episode numbers, never wall-clock, so a
library built from the same seed is identical.

    lib = Library(":memory:")            # or a path; WAL mode for files
    v = lib.add_candidate("count_errors", code, schema, tests, origin="synthesis", episode=12)
    lib.promote("count_errors", v.version, episode=12)
    lib.active()                          # [ToolVersion(...)]
    lib.export(Path("library_py/"))       # the active tools as plain Python modules
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATUSES = ("testing", "active", "rejected", "deprecated")
PRUNING_POLICIES = ("none", "least_used", "lowest_success", "unused_for")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tools (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('testing', 'active', 'rejected', 'deprecated')),
    code TEXT NOT NULL,
    schema TEXT NOT NULL,
    tests TEXT NOT NULL,
    origin TEXT NOT NULL,
    parent_version INTEGER,
    created_episode INTEGER NOT NULL,
    last_used_episode INTEGER,
    invocations INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_per_name ON tools(name) WHERE status = 'active';
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    episode INTEGER NOT NULL,
    reason TEXT NOT NULL,
    active TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    episode INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""


class LibraryError(ValueError):
    """A library operation that cannot be done (unknown tool or version, bad status...)."""


@dataclass(frozen=True)
class ToolVersion:
    name: str
    version: int
    status: str
    code: str
    schema: dict[str, Any]
    tests: str
    origin: str
    parent_version: int | None
    created_episode: int
    last_used_episode: int | None
    invocations: int
    successes: int
    reason: str | None

    @property
    def success_rate(self) -> float:
        return self.successes / self.invocations if self.invocations else 0.0


@dataclass(frozen=True)
class Snapshot:
    id: int
    episode: int
    reason: str
    active: dict[str, int]


class Library:
    """A SQLite-backed tool library (one connection; not shared across processes while writing)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # explicit transactions below
        self.db.row_factory = sqlite3.Row
        if self.path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    @classmethod
    def read_only(cls, path: str | Path) -> Library:
        """An existing library file opened for reading (viewers): nothing is created, migrated or written."""
        if not Path(path).is_file():
            raise LibraryError(f"no library file at {path}")
        lib = cls.__new__(cls)
        lib.path = str(path)
        lib.db = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
        lib.db.row_factory = sqlite3.Row
        return lib

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------
    def _tx(self) -> _Tx:
        return _Tx(self.db)

    # -- versions -----------------------------------------------------------------------------
    def add_candidate(
        self,
        name: str,
        code: str,
        schema: dict[str, Any],
        tests: str,
        origin: str,
        episode: int,
        parent_version: int | None = None,
    ) -> ToolVersion:
        """A new version of ``name`` in status ``testing``."""
        if not name.isidentifier():
            raise LibraryError(f"tool name {name!r} is not a Python identifier")
        with self._tx():
            row = self.db.execute("SELECT MAX(version) FROM tools WHERE name = ?", (name,)).fetchone()
            version = (row[0] or 0) + 1
            self.db.execute(
                "INSERT INTO tools (name, version, status, code, schema, tests, origin, parent_version, "
                "created_episode) VALUES (?, ?, 'testing', ?, ?, ?, ?, ?, ?)",
                (name, version, code, json.dumps(schema, sort_keys=True), tests, origin, parent_version, episode),
            )
            self._event(episode, "candidate", name=name, version=version, origin=origin, parent=parent_version)
        return self.get(name, version)

    def revise(self, name: str, version: int, code: str, tests: str, episode: int, **details: Any) -> None:
        """Replace the code and tests of a version still in ``testing`` (a repair round).

        The event keeps the replaced code and tests (``previous_code``, ``previous_tests``), so each
        repair can be shown as a diff; events of libraries written before they were kept lack them."""
        tool = self.get(name, version)
        if tool.status != "testing":
            raise LibraryError(f"{name} v{version} is {tool.status}; only testing versions are revised")
        with self._tx():
            self.db.execute(
                "UPDATE tools SET code = ?, tests = ? WHERE name = ? AND version = ?", (code, tests, name, version)
            )
            self._event(episode, "revised", name=name, version=version, previous_code=tool.code,
                        previous_tests=tool.tests, **details)  # fmt: skip

    def get(self, name: str, version: int | None = None) -> ToolVersion:
        """A version of ``name`` (default: its active one)."""
        if version is None:
            row = self.db.execute("SELECT * FROM tools WHERE name = ? AND status = 'active'", (name,)).fetchone()
        else:
            row = self.db.execute("SELECT * FROM tools WHERE name = ? AND version = ?", (name, version)).fetchone()
        if row is None:
            which = "active version" if version is None else f"version {version}"
            known = ", ".join(self.names()) or "(none)"
            raise LibraryError(f"the library has no {which} of tool {name!r}; tools: {known}")
        return _version(row)

    def names(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT name FROM tools ORDER BY name")]

    def versions(self, name: str | None = None, status: str | None = None) -> list[ToolVersion]:
        sql, args = "SELECT * FROM tools WHERE 1=1", list[str]()
        if name is not None:
            sql, args = sql + " AND name = ?", [*args, name]
        if status is not None:
            if status not in STATUSES:
                raise LibraryError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
            sql, args = sql + " AND status = ?", [*args, status]
        return [_version(r) for r in self.db.execute(sql + " ORDER BY name, version", args)]

    def active(self) -> list[ToolVersion]:
        return self.versions(status="active")

    def promote(self, name: str, version: int, episode: int, reason: str = "passed validation") -> None:
        """Make ``version`` the active one of ``name`` (the previous active version is deprecated)."""
        tool = self.get(name, version)
        if tool.status not in ("testing", "deprecated"):
            raise LibraryError(f"{name} v{version} is {tool.status}; only testing or deprecated versions are promoted")
        with self._tx():
            self.db.execute(
                "UPDATE tools SET status = 'deprecated', reason = ? WHERE name = ? AND status = 'active'",
                (f"superseded by v{version}", name),
            )
            self.db.execute(
                "UPDATE tools SET status = 'active', reason = ? WHERE name = ? AND version = ?", (reason, name, version)
            )
            self._event(episode, "promoted", name=name, version=version, reason=reason)
            self._snapshot(episode, f"promote {name} v{version}")

    def reject(self, name: str, version: int, reason: str, episode: int, **details: Any) -> None:
        """Record that a candidate failed (``reason``: static_policy, sandbox_tests, adversarial_tests, ...)."""
        tool = self.get(name, version)
        if tool.status != "testing":
            raise LibraryError(f"{name} v{version} is {tool.status}; only testing versions are rejected")
        with self._tx():
            self.db.execute(
                "UPDATE tools SET status = 'rejected', reason = ? WHERE name = ? AND version = ?",
                (reason, name, version),
            )
            self._event(episode, "rejected", name=name, version=version, reason=reason, **details)

    def deprecate(self, name: str, episode: int, reason: str) -> None:
        """Retire the active version of ``name`` (pruning, a lost A/B test)."""
        tool = self.get(name)
        with self._tx():
            self.db.execute(
                "UPDATE tools SET status = 'deprecated', reason = ? WHERE name = ? AND version = ?",
                (reason, name, tool.version),
            )
            self._event(episode, "deprecated", name=name, version=tool.version, reason=reason)
            self._snapshot(episode, f"deprecate {name} v{tool.version}")

    def record_use(self, name: str, success: bool, episode: int) -> None:
        """Count one invocation of the active version of ``name``."""
        self.db.execute(
            "UPDATE tools SET invocations = invocations + 1, successes = successes + ?, last_used_episode = ? "
            "WHERE name = ? AND status = 'active'",
            (int(bool(success)), episode, name),
        )

    # -- snapshots and rollback ---------------------------------------------------------------
    def _snapshot(self, episode: int, reason: str) -> None:
        active = {
            r["name"]: r["version"] for r in self.db.execute("SELECT name, version FROM tools WHERE status = 'active'")
        }
        self.db.execute(
            "INSERT INTO snapshots (episode, reason, active) VALUES (?, ?, ?)",
            (episode, reason, json.dumps(active, sort_keys=True)),
        )

    def snapshots(self) -> list[Snapshot]:
        return [
            Snapshot(r["id"], r["episode"], r["reason"], json.loads(r["active"]))
            for r in self.db.execute("SELECT * FROM snapshots ORDER BY id")
        ]

    def rollback(self, snapshot_id: int, episode: int) -> None:
        """Restore the active set of snapshot ``snapshot_id`` (itself recorded as a new snapshot)."""
        snap = next((s for s in self.snapshots() if s.id == snapshot_id), None)
        if snap is None:
            ids = [s.id for s in self.snapshots()]
            raise LibraryError(f"no snapshot {snapshot_id}; snapshots: {ids}")
        with self._tx():
            self.db.execute("UPDATE tools SET status = 'deprecated', reason = ? WHERE status = 'active'",
                            (f"rolled back to snapshot {snapshot_id}",))  # fmt: skip
            for name, version in snap.active.items():
                self.db.execute(
                    "UPDATE tools SET status = 'active', reason = ? WHERE name = ? AND version = ?",
                    (f"restored by rollback to snapshot {snapshot_id}", name, version),
                )
            self._event(episode, "rollback", snapshot=snapshot_id, active=snap.active)
            self._snapshot(episode, f"rollback to {snapshot_id}")

    # -- pruning ------------------------------------------------------------------------------
    def prune(self, cap: int | None, policy: str, episode: int, unused_for: int = 20) -> list[str]:
        """Deprecate active tools by ``policy`` until at most ``cap`` remain; returns the names retired.

        ``least_used``: fewest invocations first; ``lowest_success``: lowest success rate first
        (unused tools count as 0); ``unused_for``: every tool not used in the last ``unused_for``
        episodes, regardless of the cap; ``none``: never.
        """
        if policy not in PRUNING_POLICIES:
            raise LibraryError(f"pruning policy must be one of {', '.join(PRUNING_POLICIES)}, got {policy!r}")
        active = self.active()
        if policy == "none":
            return []
        if policy == "unused_for":
            stale = [t for t in active if episode - (t.last_used_episode or t.created_episode) >= unused_for]
            for t in stale:
                self.deprecate(t.name, episode, f"pruned: unused for {unused_for} episodes")
            return [t.name for t in stale]
        if cap is None or len(active) <= cap:
            return []
        if policy == "least_used":
            order = sorted(active, key=lambda t: (t.invocations, t.created_episode, t.name))
        else:
            order = sorted(active, key=lambda t: (t.success_rate, t.invocations, t.name))
        retired = order[: len(active) - cap]
        for t in retired:
            self.deprecate(t.name, episode, f"pruned ({policy}) to keep the library at {cap} tools")
        return [t.name for t in retired]

    # -- events -------------------------------------------------------------------------------
    def _event(self, episode: int, kind: str, **payload: Any) -> None:
        self.db.execute(
            "INSERT INTO events (episode, kind, payload) VALUES (?, ?, ?)",
            (episode, kind, json.dumps(payload, sort_keys=True, default=str)),
        )

    def log(self, episode: int, kind: str, **payload: Any) -> None:
        """Record a pipeline event (trigger, gap analysis, parse failure, sandbox result...)."""
        self._event(episode, kind, **payload)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM events", tuple[str, ...]()
        if kind is not None:
            sql, args = sql + " WHERE kind = ?", (kind,)
        return [
            {"id": r["id"], "episode": r["episode"], "kind": r["kind"], **json.loads(r["payload"])}
            for r in self.db.execute(sql + " ORDER BY id", args)
        ]

    # -- export ---------------------------------------------------------------------------------
    def export(self, directory: str | Path) -> list[Path]:
        """Write each active tool to ``<name>.py`` plus an ``__init__.py`` that imports them all."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        names = []
        for tool in self.active():
            path = out / f"{tool.name}.py"
            header = (
                f'"""{tool.name} v{tool.version} ({tool.origin}, created at episode {tool.created_episode})."""\n\n'
            )
            path.write_text(header + tool.code.rstrip() + "\n", encoding="utf-8")
            written.append(path)
            names.append(tool.name)
        init = "".join(f"from .{n} import {n}\n" for n in names) + f"\n__all__ = {names!r}\n"
        (out / "__init__.py").write_text('"""Active tools of an arise-gym library."""\n\n' + init, encoding="utf-8")
        return written


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error (nested uses join the outer one)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.outer = False

    def __enter__(self) -> _Tx:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.outer = True
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if not self.outer:
            return
        self.db.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def _version(row: sqlite3.Row) -> ToolVersion:
    return ToolVersion(
        name=row["name"],
        version=row["version"],
        status=row["status"],
        code=row["code"],
        schema=json.loads(row["schema"]),
        tests=row["tests"],
        origin=row["origin"],
        parent_version=row["parent_version"],
        created_episode=row["created_episode"],
        last_used_episode=row["last_used_episode"],
        invocations=row["invocations"],
        successes=row["successes"],
        reason=row["reason"],
    )
