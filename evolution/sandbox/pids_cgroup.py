"""A pids cgroup around one sandbox: its process limit when RLIMIT_NPROC cannot hold it.

On a root host, bubblewrap maps the sandbox's uid to host root, and the kernel exempts
root from RLIMIT_NPROC (a fork or thread bomb then takes the host's PIDs). A root host can
create a cgroup with ``pids.max`` instead: the sandbox's launcher joins it before it execs
bwrap, so every process and thread of the sandbox counts. Non-root hosts need none
(RLIMIT_NPROC holds for them). Found in this order: the cgroup v1 ``pids`` hierarchy, then
cgroup v2 (the ``pids`` controller enabled for the root's children if it is not yet).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

V1, V2 = Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")
PREFIX = "arise-sandbox-"
_counter = itertools.count()


def _hierarchy() -> Path | None:
    if os.getuid() != 0:
        return None
    if (V1 / "cgroup.procs").exists() and os.access(V1, os.W_OK):
        return V1
    controllers = V2 / "cgroup.controllers"
    if controllers.exists() and "pids" in controllers.read_text().split() and os.access(V2, os.W_OK):
        enabled = V2 / "cgroup.subtree_control"
        with contextlib.suppress(OSError):
            if "pids" not in enabled.read_text().split():  # a host-wide change: say so
                log.warning("enabling the cgroup v2 pids controller for %s's children (sandbox process cap)", V2)
                enabled.write_text("+pids")
            if "pids" in enabled.read_text().split():
                return V2
    return None


class PidsCgroup:
    """``create(limit)`` makes a fresh cgroup; ``wrap(cmd)`` makes ``cmd`` join it; ``remove()`` when done."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, limit: int) -> PidsCgroup | None:
        """A cgroup allowing ``limit`` processes and threads, or None where this host cannot make one."""
        root = _hierarchy()
        if root is None:
            return None
        _remove_stale(root)
        path = root / f"{PREFIX}{os.getpid()}-{next(_counter)}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(limit))
        except OSError as exc:
            log.warning("cannot create a pids cgroup (%s); the sandbox's process limit is not enforced", exc)
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path)

    def wrap(self, cmd: list[str]) -> list[str]:
        """``cmd`` started by a shell that first moves itself into the cgroup (no window outside it)."""
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *cmd]

    def remove(self) -> None:
        """Remove the cgroup once its processes are gone (a killed process may take a moment to leave)."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)
        log.warning("could not remove the sandbox cgroup %s", self.path)


def _remove_stale(root: Path) -> None:
    """Empty cgroups left by hosts that died (their pid is in the name)."""
    for path in root.glob(f"{PREFIX}*"):
        host = path.name[len(PREFIX) :].split("-")[0]
        if host.isdigit() and not Path(f"/proc/{host}").exists():
            with contextlib.suppress(OSError):
                path.rmdir()


__all__ = ["PidsCgroup"]
