"""``Sandbox``: run untrusted tool code and its tests outside the host process.

One sandbox serves validation (tests, adversarial tests), promoted tools and the
code agent. It starts ``worker.py`` once, inside bubblewrap when available:

* read-only root, tmpfs ``/tmp``, fresh ``/dev`` and ``/proc``;
* new network namespace (no route out), new PID/IPC/UTS (and user, when possible)
  namespaces, cleared environment (no API keys), all capabilities dropped,
  ``--die-with-parent`` and ``--new-session``;

and the worker forks a fresh child per call with rlimits (address space, CPU seconds,
file size, open files, processes) and a wall-clock kill, capping output. Tools reach
the world only through the five affordance functions, forwarded to the host over the
worker's pipe and executed there against the episode's ``WorldAccess``.

Without ``bwrap`` it warns loudly and runs the same worker as a plain subprocess
with rlimits and a cleared environment only; ``isolation`` says which
(``"bwrap"`` / ``"rlimits-only"``) and runs record it.

``SandboxRunner`` adapts it to the env's ``ToolRunner`` interface.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envs.access import AccessError, WorldAccess
from envs.tools import ToolResult, ToolSpec, check_args, render_output
from evolution.sandbox import worker as wire

log = logging.getLogger(__name__)
WORKER = Path(wire.__file__).resolve()
NOBODY = 65534


@dataclass(frozen=True)
class Limits:
    """Per-call limits. ``wall_s`` is enforced by the worker, the host adds a margin as a backstop."""

    wall_s: float = 5.0
    cpu_s: float = 5.0
    memory_mb: int = 512
    file_mb: int = 8
    open_files: int = 64
    output_bytes: int = 65_536
    nproc_extra: int = 64  # processes a call may run (on top of what the sandbox user already runs)
    max_rpc: int = 5000  # forwarded world calls per call or test suite (a retry loop is a runaway)

    def to_wire(self, nproc_base: int) -> dict[str, Any]:
        out = asdict(self)
        out["nproc"] = nproc_base + self.nproc_extra
        return out


class SandboxError(RuntimeError):
    """The sandbox itself failed (could not start, or died); tool failures are results, not this."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _world_executable(path: str) -> bool:
    """Whether any user may run ``path`` (every parent directory searchable, the file executable)."""
    real = Path(os.path.realpath(path))
    try:
        if not real.stat().st_mode & 0o001:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in real.parents)
    except OSError:
        return False


def sandbox_python(run_as: int | None) -> str:
    """The interpreter for the worker (stdlib only): ours, unless the sandbox user cannot run it."""
    if run_as is None or _world_executable(sys.executable):
        return sys.executable
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
        if _world_executable(candidate):
            return candidate
    raise SandboxError(
        f"no Python interpreter the sandbox user (uid {run_as}) may run: {sys.executable} is inside a private "
        "directory; install python3 system-wide or make the interpreter's directories world-searchable"
    )


def _user_processes() -> int:
    uid, n = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


@dataclass
class CallOutcome:
    """What one sandboxed execution returned (a call or a test suite)."""

    ok: bool
    value: Any = None
    error: str | None = None
    reason: str | None = None  # timeout, cpu_limit, rpc_limit, killed, crash, worker
    tests: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""
    output_truncated: int = 0
    elapsed_s: float = 0.0


class Sandbox:
    """A pre-warmed worker, in bubblewrap when available. Thread-safe (one call at a time)."""

    def __init__(self, limits: Limits | None = None, isolation: str = "auto") -> None:
        if isolation not in ("auto", "bwrap", "rlimits-only"):
            raise ValueError(f"isolation must be auto, bwrap or rlimits-only, got {isolation!r}")
        self.limits = limits or Limits()
        bwrap = bwrap_path()
        if isolation == "bwrap" and bwrap is None:
            raise SandboxError("isolation=bwrap but bubblewrap is not installed (make install installs it via apt)")
        self.isolation = "bwrap" if bwrap and isolation != "rlimits-only" else "rlimits-only"
        if self.isolation == "rlimits-only" and isolation == "auto":
            log.warning(
                "SANDBOX WARNING: bubblewrap (bwrap) not found; untrusted tool code runs with rlimits and a "
                "cleared environment only, without filesystem or network isolation. Install bubblewrap."
            )
            print("WARNING: bwrap not found; the sandbox runs with rlimits only (see result.json 'sandbox')",
                  file=sys.stderr)  # fmt: skip
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._to_worker = self._from_worker = -1
        # RLIMIT_NPROC never applies to root, so a root host runs the sandbox as `nobody` (a fork bomb
        # then hits the limit); any other user keeps its uid and the limit counts its other processes.
        self.run_as = NOBODY if os.getuid() == 0 else None
        self._nproc_base = 1 if self.run_as is not None else _user_processes()
        self.calls = 0
        self.restarts = 0

    # -- lifecycle ------------------------------------------------------------------------
    def _command(self, fd_in: int, fd_out: int) -> list[str]:
        py = [sandbox_python(self.run_as), "-I", "-S", "-B", str(WORKER), str(fd_in), str(fd_out)]
        if self.isolation != "bwrap":
            return py
        cmd = [bwrap_path() or "bwrap", "--ro-bind", "/", "/", "--tmpfs", "/tmp", "--dev", "/dev", "--proc", "/proc"]
        cmd += ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL"]
        cmd += ["--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8", "--chdir", "/tmp"]
        return cmd + py

    def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        host_to_worker_r, host_to_worker_w = os.pipe()
        worker_to_host_r, worker_to_host_w = os.pipe()
        env = {} if self.isolation == "bwrap" else {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        drop: dict[str, Any] = {}
        if self.run_as is not None:
            drop = {"user": self.run_as, "group": self.run_as, "extra_groups": []}
        try:
            self._proc = subprocess.Popen(
                self._command(host_to_worker_r, worker_to_host_w),
                pass_fds=(host_to_worker_r, worker_to_host_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                cwd="/tmp",
                **drop,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start the sandbox worker: {exc}") from None
        finally:
            os.close(host_to_worker_r)
            os.close(worker_to_host_w)
        self._to_worker, self._from_worker = host_to_worker_w, worker_to_host_r
        try:
            wire.write_frame(self._to_worker, {"op": "ping"})
            pong = wire.read_frame(self._from_worker)
        except OSError:
            pong = None
        if not pong or not pong.get("ok"):
            err = self._proc.stderr.read().decode(errors="replace")[-500:] if self._proc.stderr else ""
            self.close()
            raise SandboxError(f"the sandbox worker did not start ({self.isolation}): {err.strip() or 'no output'}")

    def close(self) -> None:
        for fd in (self._to_worker, self._from_worker):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._to_worker = self._from_worker = -1
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            if self._proc.stderr:
                self._proc.stderr.close()
            self._proc = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- execution ------------------------------------------------------------------------
    def call(self, code: str, entry: str, args: dict[str, Any], access: WorldAccess | None = None) -> CallOutcome:
        """Run ``entry(**args)`` defined by ``code``; affordance calls go to ``access``."""
        return self._request({"op": "call", "code": code, "entry": entry, "args": args}, access)

    def run_tests(self, code: str, tests: str, access: WorldAccess | None = None) -> CallOutcome:
        """Run every ``test_*`` function of ``tests`` against ``code`` (zero tests = failure)."""
        return self._request({"op": "test", "code": code, "tests": tests}, access)

    def _request(self, req: dict[str, Any], access: WorldAccess | None) -> CallOutcome:
        with self._lock:
            self.start()
            req = {**req, "limits": self.limits.to_wire(self._nproc_base)}
            self.calls += 1
            try:
                return self._exchange(req, access)
            except (OSError, SandboxError, ValueError) as exc:  # the worker died or hung: restart it
                self.close()
                self.restarts += 1
                return CallOutcome(False, error=f"sandbox failure: {exc}", reason="worker")

    def _exchange(self, req: dict[str, Any], access: WorldAccess | None) -> CallOutcome:
        wire.write_frame(self._to_worker, req)
        backstop = time.monotonic() + self.limits.wall_s + 10.0
        while True:
            frame = self._read_with_deadline(backstop)
            if frame.get("op") == "rpc":
                wire.write_frame(self._to_worker, _serve_rpc(frame, access))
                backstop = max(backstop, time.monotonic() + self.limits.wall_s + 10.0)
                continue
            return CallOutcome(
                ok=bool(frame.get("ok")),
                value=frame.get("value"),
                error=frame.get("error"),
                reason=frame.get("reason"),
                tests=list(frame.get("tests") or []),
                output=str(frame.get("output") or ""),
                output_truncated=int(frame.get("output_truncated") or 0),
                elapsed_s=float(frame.get("elapsed_s") or 0.0),
            )

    def _read_with_deadline(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([self._from_worker], [], [], max(0.0, remaining))
        if not ready:
            raise SandboxError("the worker missed its deadline (killed and restarted)")
        frame = wire.read_frame(self._from_worker)
        if frame is None:
            raise SandboxError("the worker exited")
        return dict(frame)


def _serve_rpc(frame: dict[str, Any], access: WorldAccess | None) -> dict[str, Any]:
    """Execute a forwarded affordance call on the host, against the episode's world."""
    fn = frame.get("fn")
    if access is None:
        return {"ok": False, "error": f"{fn}: no world is bound to this call"}
    if fn not in wire.AFFORDANCES:
        return {"ok": False, "error": f"unknown affordance {fn!r}; available: {', '.join(wire.AFFORDANCES)}"}
    try:
        value = getattr(access, fn)(*frame.get("args", []), **frame.get("kwargs", {}))
    except AccessError as exc:
        return {"ok": False, "error": str(exc)}
    except TypeError as exc:  # wrong arguments to an affordance
        return {"ok": False, "error": f"{fn}: {exc}"}
    return {"ok": True, "value": value}


class SandboxRunner:
    """The env's ``ToolRunner`` over a ``Sandbox``: tools are (spec, source) pairs."""

    def __init__(self, sandbox: Sandbox, tools: dict[str, tuple[ToolSpec, str]] | None = None) -> None:
        self.sandbox = sandbox
        self.tools: dict[str, tuple[ToolSpec, str]] = dict(tools or {})

    def add(self, spec: ToolSpec, code: str) -> None:
        self.tools[spec.name] = (spec, code)

    def specs(self) -> list[ToolSpec]:
        return [spec for spec, _ in self.tools.values()]

    def call(self, name: str, args: dict[str, Any], access: WorldAccess) -> ToolResult:
        if name not in self.tools:
            return ToolResult(False, "", f"unknown tool {name!r}; available: {sorted(self.tools)}")
        spec, code = self.tools[name]
        problem = check_args(spec, args)
        if problem:
            return ToolResult(False, "", problem)
        out = self.sandbox.call(code, name, args, access)
        if not out.ok:
            return ToolResult(False, "", out.error or "the tool failed", out.elapsed_s)
        return ToolResult(True, render_output(out.value), None, out.elapsed_s)
