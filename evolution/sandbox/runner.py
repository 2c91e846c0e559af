"""``Sandbox``: run untrusted tool code and its tests outside the host process.

One sandbox serves validation (tests, adversarial tests), promoted tools and the code
agent. Code a model writes is hostile until proven otherwise; the sandbox is the
boundary and holds with the static policy switched off. It starts ``worker.py`` once,
inside bubblewrap:

* **what it sees**: the interpreter, its shared libraries and its standard library
  (read-only, bound from file descriptors so the checkout and the interpreter may live
  anywhere, also under /tmp or a private home), the worker (copied in as data), a
  private size-capped ``/tmp``, a read-only minimal ``/dev``. No ``/proc``, no project
  tree, no virtualenv, no site-packages, no other host path;
* **namespaces**: new user (no further user namespaces), PID, IPC, UTS, network (no
  route out) and cgroup namespaces, cleared environment (no API keys), no
  capabilities, ``--die-with-parent``, ``--new-session``;
* **per call** (see ``worker.py``): a fresh supervisor and fresh untrusted processes
  forked from a worker that never read a request, rlimits (address space, CPU seconds,
  file size, open files, processes), a wall-clock kill, output and frame caps, and
  afterwards every process in the sandbox killed and reaped and the scratch wiped;
* **tests**: each test runs in its own process against the tool in another, calls and
  results crossing as JSON; pass/fail is counted here, on the host.

The host never trusts what comes back: every read has a deadline and a size cap, a
malformed frame or dead worker is an error result for that call alone (and the worker
is replaced), and forwarded affordances check their arguments before running.

Without ``bwrap`` it warns loudly and runs the same worker as a plain subprocess with
rlimits and a cleared environment only; ``isolation`` says which (``"bwrap"`` /
``"rlimits-only"``) and runs record it. README "Sandbox" states what is and is not
contained.

``SandboxRunner`` adapts it to the env's ``ToolRunner`` interface.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import json
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from envs import toolkit
from envs.access import ALL_AFFORDANCES, AccessError, WorldAccess
from envs.tools import ToolResult, ToolSpec, check_args, render_output
from evolution.parsing import without_lone_surrogates
from evolution.sandbox import worker as wire
from evolution.sandbox.pids_cgroup import PidsCgroup
from evolution.static_policy import DEFAULT_ALLOWED_IMPORTS

log = logging.getLogger(__name__)
WORKER = Path(wire.__file__).resolve()
NOBODY = 65534
WORKER_IN_SANDBOX = "/arise/worker.py"
_MARGIN_S = 10.0  # the host's backstop beyond the worker's own wall-clock kill


@dataclass(frozen=True)
class Limits:
    """Per-call limits (a test suite gets ``wall_s`` for all its tests together).

    Every field is validated on construction: a non-positive or absurd value is an
    error naming the ``sandbox.<field>`` key and its accepted range.
    """

    wall_s: float = 5.0
    cpu_s: float = 5.0
    memory_mb: int = 512  # address space per process
    file_mb: int = 8  # largest file a call may write
    open_files: int = 64
    output_bytes: int = 65_536  # printed output kept per call
    nproc_extra: int = 64  # processes a call may run (on top of what the sandbox itself runs)
    max_rpc: int = 5000  # forwarded world calls per call or test (a retry loop is a runaway)
    scratch_mb: int = 32  # the private /tmp, shared by nothing: wiped after every call
    scratch_files: int = 10_000  # files and directories in it (each costs kernel memory, not bytes; bwrap only)
    result_bytes: int = 8 * 1024 * 1024  # largest frame (a result, a forwarded call) a call may send

    def __post_init__(self) -> None:
        for f in fields(self):
            lo, hi, unit = _RANGES[f.name]
            value = getattr(self, f.name)
            kind = float if isinstance(lo, float) else int
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
                raise ValueError(f"sandbox.{f.name} must be {'a number' if kind is float else 'an integer'} "
                                 f"from {lo} to {hi} {unit}, got {value!r}")  # fmt: skip
            if not lo <= value <= hi:
                raise ValueError(f"sandbox.{f.name} = {value!r} is out of range: accepted {lo} to {hi} {unit}")

    def to_wire(self, nproc_base: int) -> dict[str, Any]:
        out = asdict(self)
        out["nproc"] = nproc_base + self.nproc_extra
        return out


_RANGES: dict[str, tuple[float | int, float | int, str]] = {
    "wall_s": (0.05, 3600.0, "seconds"),
    "cpu_s": (0.05, 3600.0, "seconds"),
    "memory_mb": (64, 1 << 20, "MiB"),
    "file_mb": (1, 1 << 16, "MiB"),
    "open_files": (16, 1 << 16, "files"),
    "output_bytes": (0, 1 << 28, "bytes"),
    "nproc_extra": (1, 1 << 14, "processes"),
    "max_rpc": (1, 10_000_000, "calls"),
    "scratch_mb": (1, 1 << 16, "MiB"),
    "scratch_files": (16, 1 << 22, "files"),
    "result_bytes": (1024, 1 << 30, "bytes"),
}


# auto: bwrap if installed, else rlimits-only with a loud warning.
ISOLATIONS = ("auto", "bwrap", "rlimits-only")


class SandboxError(RuntimeError):
    """The sandbox itself failed (could not start, or died); tool failures are results, not this."""


class _NeverStarted(Exception):
    """The worker was already gone when a request was sent (the pipe was closed): no part of the call ran."""


@functools.cache
def _warn_no_process_cap() -> None:
    log.warning(
        "SANDBOX WARNING: running as root without a writable pids cgroup: the kernel does not apply "
        "RLIMIT_NPROC to root, so a tool's processes and threads are not capped (see README 'The sandbox')"
    )


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
    """The interpreter for rlimits-only mode, where the sandbox user must reach it by path."""
    if run_as is None or _world_executable(sys.executable):
        return sys.executable
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
        if _world_executable(candidate):
            return candidate
    raise SandboxError(
        f"no Python interpreter the sandbox user (uid {run_as}) may run: {sys.executable} is inside a private "
        "directory; install python3 system-wide or make the interpreter's directories world-searchable"
    )


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (host view)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


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


# -- what the sandbox sees ------------------------------------------------------------------------
@dataclass(frozen=True)
class Image:
    """The host paths bound read-only into the sandbox, at the same paths, and the paths masked empty."""

    interpreter: str
    binds: tuple[str, ...]
    masks: tuple[str, ...]


@functools.cache
def sandbox_image() -> Image:
    """The interpreter (resolved, not the venv's link), its stdlib without site-packages, the libraries it loads."""
    exe = os.path.realpath(sys.executable)
    paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})
    stdlib = {os.path.realpath(paths["stdlib"]), os.path.realpath(paths["platstdlib"])}
    masks = sorted(
        os.path.join(d, name) for d in stdlib for name in ("site-packages", "dist-packages")
        if os.path.isdir(os.path.join(d, name))
    )  # fmt: skip
    dynload = [str(p) for d in stdlib for p in Path(d, "lib-dynload").glob("*.so")]
    libs = _shared_libraries([exe, *dynload])
    inside = tuple(sorted(stdlib))
    binds = [exe, *sorted(stdlib)]
    binds += [lib for lib in libs if not any(lib.startswith(d + os.sep) for d in inside)]
    if os.path.exists("/etc/ld.so.cache"):
        binds.append("/etc/ld.so.cache")
    return Image(exe, tuple(dict.fromkeys(binds)), tuple(masks))


def _shared_libraries(objects: list[str]) -> list[str]:
    """The shared libraries (and the loader) the interpreter and its extension modules load, per ``ldd``."""
    ldd = shutil.which("ldd")
    found: list[str] = []
    if ldd:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            text = subprocess.run([ldd, *objects], capture_output=True, text=True, timeout=60).stdout
            for line in text.splitlines():
                part = line.split("=>", 1)[-1].strip().split(" (", 1)[0].strip()
                if part.startswith("/") and os.path.exists(part):
                    found.append(part)
    if not found:  # no ldd: the system library directories, whole
        log.warning("ldd unavailable: the sandbox binds the system library directories whole")
        return [d for d in ("/lib", "/lib64", "/usr/lib", "/usr/lib64") if os.path.isdir(d)]
    return sorted(set(found))


# -- frames from the sandbox ------------------------------------------------------------------------
class _StderrTail:
    """Drains the worker's stderr on a thread, keeping its last few KB for error messages.

    Undrained, 64 KB of anything the relay prints (a warning per line of hostile source) would
    block it mid-call.
    """

    def __init__(self, pipe: Any, keep: int = 4096) -> None:
        self.tail, self.keep = bytearray(), keep
        self.thread = threading.Thread(target=self._drain, args=(pipe,), name="sandbox-stderr", daemon=True)
        self.thread.start()

    def _drain(self, pipe: Any) -> None:
        with contextlib.suppress(OSError, ValueError), pipe:
            while chunk := pipe.read1(65536):
                self.tail += chunk
                del self.tail[: -self.keep]

    def text(self, wait_s: float = 2.0) -> str:
        """What was printed (after the worker ended: the thread then reaches end of file)."""
        self.thread.join(wait_s)
        return bytes(self.tail).decode(errors="replace")[-800:]


# A JSON escape of a UTF-16 surrogate. Lone ones decode to strings no UTF-8 encoder accepts: a test's
# error message holding one crashed the job where the repair prompt was encoded for the model.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class _Reader:
    """Frames from the worker, each read by a deadline and under a size cap."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf = fd, bytearray()

    def read(self, deadline: float, cap: int) -> dict[str, Any]:
        head = wire._HEADER.size
        while True:
            if len(self.buf) >= head:
                (n,) = wire._HEADER.unpack(bytes(self.buf[:head]))
                if n > cap:
                    raise SandboxError(f"protocol error from the sandbox: a frame of {n} bytes exceeds {cap}")
                if len(self.buf) >= head + n:
                    body = bytes(self.buf[head : head + n])
                    del self.buf[: head + n]
                    try:
                        frame = json.loads(body, parse_float=wire.finite_float)
                        if _SURROGATE_ESCAPE.search(body):  # rare: only then walk the frame
                            frame = without_lone_surrogates(frame)
                    except (ValueError, RecursionError):
                        raise SandboxError("protocol error from the sandbox: a frame is not JSON") from None
                    if not isinstance(frame, dict):
                        raise SandboxError("protocol error from the sandbox: a frame is not an object")
                    return frame
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(0.0, remaining))
            if not ready:
                raise SandboxError("the sandbox missed its deadline")
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                raise SandboxError("the sandbox worker exited")
            self.buf += chunk


@dataclass
class CallOutcome:
    """What one sandboxed execution returned (a call or a test suite)."""

    ok: bool
    value: Any = None
    error: str | None = None
    reason: str | None = None  # timeout, cpu_limit, rpc_limit, scratch_limit, killed, crash, syntax, protocol, worker
    tests: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""
    output_truncated: int = 0
    elapsed_s: float = 0.0


class Sandbox:
    """A pre-warmed worker, in bubblewrap when available. Thread-safe (one call at a time)."""

    def __init__(self, limits: Limits | None = None, isolation: str = "auto") -> None:
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATIONS)}, got {isolation!r}")
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
        self._reader: _Reader | None = None
        self._stderr: _StderrTail | None = None
        self._cgroup: PidsCgroup | None = None
        self._scratch: str | None = None
        # RLIMIT_NPROC never applies to root, so a root host runs the sandbox as `nobody` (a fork bomb
        # then hits the limit); any other user keeps its uid and the limit counts its other processes.
        self.run_as = NOBODY if os.getuid() == 0 else None
        # The relay, the zygote, a tool and a test process are the sandbox's own (counted per user namespace).
        self._nproc_base = 4 if isolation != "rlimits-only" and bwrap else _user_processes() + 4
        self.calls = 0
        self.restarts = 0

    # -- lifecycle ------------------------------------------------------------------------
    def _worker_args(self) -> list[str]:
        prewarm = sorted(m for m in DEFAULT_ALLOWED_IMPORTS if m not in ("__future__", "envs.toolkit"))
        args = ["--affordances", ",".join(ALL_AFFORDANCES), "--prewarm", ",".join(prewarm)]
        args += ["--limits", json.dumps(self.limits.to_wire(self._nproc_base))]
        return args + (["--own-pid-namespace"] if self.isolation == "bwrap" else [])

    def _bwrap_command(self, fds: list[int]) -> list[str]:
        """The bwrap command line; every host path enters through a descriptor opened here (``fds``)."""
        image = sandbox_image()
        cmd = [bwrap_path() or "bwrap", "--unshare-user", "--disable-userns", "--unshare-ipc", "--unshare-pid"]
        cmd += ["--as-pid-1"]  # the relay is the namespace's init: nothing inside can signal it
        if os.getuid() == 0:  # bwrap binds as root (any path), the sandbox runs as an unmapped-looking uid
            cmd += ["--uid", str(NOBODY), "--gid", str(NOBODY)]
        cmd += ["--unshare-net", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
        cmd += ["--clearenv", "--cap-drop", "ALL"]
        for path in image.binds:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            fds.append(fd)
            cmd += ["--ro-bind-fd", str(fd), path]
        for path in image.masks:
            cmd += ["--size", str(4096), "--tmpfs", path, "--remount-ro", path]
        data = os.memfd_create("arise-worker", os.MFD_CLOEXEC)
        fds.append(data)
        os.write(data, WORKER.read_bytes())
        os.lseek(data, 0, os.SEEK_SET)
        cmd += ["--ro-bind-data", str(data), WORKER_IN_SANDBOX]
        cmd += ["--dev", "/dev", "--remount-ro", "/dev"]
        cmd += ["--size", str(self.limits.scratch_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        cmd += ["--remount-ro", "/", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8"]
        return [*cmd, "--chdir", "/tmp", image.interpreter]

    def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        if self._proc is not None:  # it died since the last call
            self.restarts += 1
        self.close()
        host_to_worker_r, host_to_worker_w = os.pipe()
        worker_to_host_r, worker_to_host_w = os.pipe()
        fds: list[int] = []
        drop: dict[str, Any] = {}
        if self.run_as is not None and self.isolation != "bwrap":
            drop = {"user": self.run_as, "group": self.run_as, "extra_groups": []}
        try:
            if self.isolation == "bwrap":
                prefix, env, cwd = self._bwrap_command(fds), {}, "/"  # bwrap starts the worker in its /tmp
                script = WORKER_IN_SANDBOX
                if os.getuid() == 0:  # the kernel exempts (mapped) root from RLIMIT_NPROC: a cgroup caps it
                    self._cgroup = PidsCgroup.create(self.limits.to_wire(self._nproc_base)["nproc"] + 4)
                    if self._cgroup is not None:
                        prefix = self._cgroup.wrap(prefix)
                    else:
                        _warn_no_process_cap()
            else:  # a private scratch directory the worker empties after every call: its working directory
                self._scratch = scratch = tempfile.mkdtemp(prefix="arise-sandbox-")
                if self.run_as is not None:
                    os.chown(scratch, self.run_as, self.run_as)
                prefix, env, cwd = [sandbox_python(self.run_as)], {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, scratch
                # The sandbox user may not reach a scratch under a private TMPDIR by its path, but always
                # through its working directory (entered before the uid changes): temp files stay in the scratch.
                reachable = self.run_as is None or _world_executable(str(Path(scratch).parent))
                env["TMPDIR"] = scratch if reachable else "/proc/self/cwd"
                script = str(WORKER)
            cmd = [*prefix, "-I", "-S", "-B", script, str(host_to_worker_r), str(worker_to_host_w)]
            cmd += self._worker_args()
            self._proc = subprocess.Popen(
                cmd,
                pass_fds=(host_to_worker_r, worker_to_host_w, *fds),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                cwd=cwd,
                **drop,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start the sandbox worker: {exc}") from None
        finally:
            for fd in (host_to_worker_r, worker_to_host_w, *fds):
                os.close(fd)
        self._to_worker, self._from_worker = host_to_worker_w, worker_to_host_r
        self._reader = _Reader(worker_to_host_r)
        self._stderr = _StderrTail(self._proc.stderr)
        try:
            ready = self._reader.read(time.monotonic() + 30.0, 1 << 16)
        except SandboxError:
            ready = {}
        if ready.get("op") != "ready":
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait(5)
            err = self._stderr.text()
            self.close()
            raise SandboxError(f"the sandbox worker did not start ({self.isolation}): {err.strip() or 'no output'}")

    def close(self) -> None:
        for fd in (self._to_worker, self._from_worker):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._to_worker = self._from_worker = -1
        self._reader = None
        if self._proc is not None:
            # bwrap's child (the relay) is the sandbox's PID 1: killing it ends every process inside.
            for pid in [self._proc.pid, *_children(self._proc.pid)]:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            self._proc.wait()
            if self._stderr is not None:  # the drain ends at end of file (it closes the pipe)
                self._stderr.thread.join(2.0)
            self._proc = None
        self._stderr = None
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- execution ------------------------------------------------------------------------
    def call(self, code: str, entry: str, args: dict[str, Any], access: WorldAccess | None = None) -> CallOutcome:
        """Run ``entry(**args)`` defined by ``code``; affordance calls go to ``access``."""
        if not isinstance(args, dict):
            return CallOutcome(False, error=f"arguments must be an object, got {type(args).__name__}")
        return self._request({"op": "call", "code": str(code), "entry": str(entry), "args": args}, access)

    def run_tests(self, code: str, tests: str, access: WorldAccess | None = None) -> CallOutcome:
        """Run every top-level ``test*`` function of ``tests`` against ``code``, each in fresh processes.

        A test reaches the tool's functions only through calls whose arguments and results cross
        as JSON; pass/fail is counted here. A suite with zero tests fails. All tests share one
        ``wall_s`` budget; tests left when it is spent fail as not run. A broken sandbox ends the
        suite (each break costs up to a wall and a restart: hostile tests must not multiply that).
        """
        names = discover_tests(tests)
        if isinstance(names, str):
            return CallOutcome(False, error=names, reason="syntax")
        if not names:
            return CallOutcome(False, error="the test suite defines no test_* function (zero tests prove nothing)")
        results: list[dict[str, Any]] = []
        reason: str | None = None
        output: list[str] = []
        truncated, spent, broken = 0, 0.0, False
        for name in names:
            remaining = self.limits.wall_s - spent
            if broken:
                results.append({"name": name, "passed": False, "error": "not run: the sandbox failed during the suite"})
                continue
            if remaining < 0.05:
                results.append({"name": name, "passed": False, "error": "not run: the suite's time budget is spent"})
                reason = reason or "timeout"
                continue
            t0 = time.monotonic()
            out = self._request({"op": "test", "code": str(code), "tests": str(tests), "test": name}, access, remaining)
            # the host's clock when the sandbox broke (the worker then reports no time of its own)
            spent += time.monotonic() - t0 if out.reason == "worker" else out.elapsed_s
            entry = out.tests[0] if len(out.tests) == 1 and out.tests[0].get("name") == name else None
            if entry is None:
                entry = {"name": name, "passed": False, "error": out.error or "the test did not run"}
            results.append({"name": name, "passed": entry.get("passed") is True, "error": entry.get("error")})
            if out.reason is not None and reason is None:
                reason = out.reason
            broken = broken or out.reason == "worker"
            if out.output:
                output.append(out.output)
            truncated += out.output_truncated
        text = "".join(output)
        cap = self.limits.output_bytes
        truncated += max(0, len(text) - cap)
        ok = all(r["passed"] for r in results)
        failed = next((r for r in results if not r["passed"]), None)
        return CallOutcome(ok, error=None if ok else (failed or {}).get("error"), reason=reason, tests=results,
                           output=text[:cap], output_truncated=truncated, elapsed_s=round(spent, 6))  # fmt: skip

    def _request(self, req: dict[str, Any], access: WorldAccess | None, wall_s: float | None = None) -> CallOutcome:
        wall = self.limits.wall_s if wall_s is None else min(self.limits.wall_s, max(0.05, wall_s))
        with self._lock:
            for attempt in (1, 2):
                fresh = self._proc is None or self._proc.poll() is not None
                try:
                    self.start()
                    self.calls += 1
                    return self._exchange({**req, "wall_s": wall}, access, wall)
                except _NeverStarted:  # it had died between calls: nothing of this call ran, so retry once
                    self.close()
                    self.restarts += 1
                    if fresh or attempt == 2:
                        return CallOutcome(False, error="sandbox failure: the sandbox worker exited", reason="worker")
                except Exception as exc:  # the worker died, hung or broke the protocol: replace it
                    self.close()
                    self.restarts += 1
                    return CallOutcome(False, error=f"sandbox failure: {exc}", reason="worker")
                except BaseException:
                    self.close()  # interrupted mid-call: never reuse a worker in an unknown state
                    raise
            raise AssertionError("unreachable")

    def _exchange(self, req: dict[str, Any], access: WorldAccess | None, wall_s: float) -> CallOutcome:
        assert self._reader is not None
        if select.select([self._from_worker], [], [], 0)[0]:  # between calls the worker says nothing: it died
            raise _NeverStarted
        try:
            wire.write_frame(self._to_worker, req)
        except BrokenPipeError:
            raise _NeverStarted from None
        cap = wire.host_frame_cap(asdict(self.limits))
        backstop = time.monotonic() + wall_s * 1.5 + _MARGIN_S
        while True:
            frame = self._reader.read(backstop, cap)
            op = frame.get("op")
            if op == "rpc":
                wire.write_frame(self._to_worker, serve_rpc(frame, access))
                backstop = max(backstop, time.monotonic() + wall_s + _MARGIN_S)
            elif op == "lost":  # the sandbox broke before this request reached any process: start anew
                raise _NeverStarted
            elif op == "result":
                if frame.get("sandbox_lost"):  # the call killed part of the sandbox: the next call gets a new one
                    self.close()
                    self.restarts += 1
                return _outcome(frame)
            else:
                raise SandboxError(f"protocol error from the sandbox: unexpected {op!r} frame")


def _outcome(frame: dict[str, Any]) -> CallOutcome:
    tests = frame.get("tests")
    clean_tests = []
    if isinstance(tests, list):
        for t in tests:
            if isinstance(t, dict):
                err = t.get("error")
                clean_tests.append({"name": str(t.get("name")), "passed": t.get("passed") is True,
                                    "error": None if err is None else str(err)})  # fmt: skip
    try:
        elapsed = float(frame.get("elapsed_s") or 0.0)
        truncated = int(frame.get("output_truncated") or 0)
    except (TypeError, ValueError):
        elapsed, truncated = 0.0, 0
    error = frame.get("error")
    reason = frame.get("reason")
    return CallOutcome(
        ok=frame.get("ok") is True,
        value=frame.get("value"),
        error=None if error is None else str(error),
        reason=None if reason is None else str(reason),
        tests=clean_tests,
        output=str(frame.get("output") or ""),
        output_truncated=truncated,
        elapsed_s=elapsed,
    )


def discover_tests(tests: str) -> list[str] | str:
    """The suite's tests: its top-level ``def test*`` functions, sorted; a string says why it cannot be read."""
    try:
        tree = ast.parse(tests)
    except SyntaxError as exc:
        return f"SyntaxError in the tests: {exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"the tests cannot be parsed: {type(exc).__name__}"
    defs = (ast.FunctionDef, ast.AsyncFunctionDef)
    return sorted({n.name for n in tree.body if isinstance(n, defs) and n.name.startswith("test")})


# -- forwarded affordances --------------------------------------------------------------------------
@functools.cache
def _affordance_signatures() -> dict[str, tuple[inspect.Signature, dict[str, Any]]]:
    """Each affordance's signature and parameter types, read from ``envs.toolkit`` (one source of truth)."""
    out = {}
    for fn in ALL_AFFORDANCES:
        func: Callable[..., Any] = getattr(toolkit, fn)
        out[fn] = (inspect.signature(func), typing.get_type_hints(func))
    return out


def _type_ok(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    base = origin or hint
    if isinstance(base, type):
        return isinstance(value, base) and not (base is int and isinstance(value, bool))
    return True


def serve_rpc(frame: dict[str, Any], access: WorldAccess | None) -> dict[str, Any]:
    """Execute a forwarded affordance call on the host; every failure is an error value, never a raise."""
    fn = frame.get("fn")
    if access is None:
        return {"ok": False, "error": f"{fn}: no world is bound to this call"}
    signatures = _affordance_signatures()
    if not isinstance(fn, str) or fn not in signatures:
        return {"ok": False, "error": f"unknown affordance {fn!r}; available: {', '.join(ALL_AFFORDANCES)}"}
    args, kwargs = frame.get("args", []), frame.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        return {"ok": False, "error": f"{fn}: malformed call"}
    sig, hints = signatures[fn]
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        return {"ok": False, "error": f"{fn}{sig}: {exc}"}
    for name, value in bound.arguments.items():
        hint = hints.get(name, Any)
        if not _type_ok(value, hint):
            shown = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
            return {"ok": False, "error": f"{fn}: {name} must be {shown}, got {type(value).__name__} {value!r:.80}"}
    try:
        value = getattr(access, fn)(*bound.args, **bound.kwargs)
    except AccessError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # a bug in the world must not escape into the tool's caller
        log.exception("affordance %s failed on the host", fn)
        return {"ok": False, "error": f"{fn} failed: {type(exc).__name__}: {exc}"}
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
