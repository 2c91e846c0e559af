"""The pre-warmed worker that runs inside the sandbox (stdlib only; started once per runner).

It reads requests on fd ``IN`` and answers on fd ``OUT`` (length-prefixed JSON frames).
Each request forks a fresh child that sets its rlimits, runs the tool code in a new
namespace, and reports on a private pipe; stdout/stderr go to another pipe that the
worker reads up to a cap. While the child runs, the worker relays its affordance
calls (``read_file``...) to the host, which executes them against the world. At the
deadline the child's process group is killed. Requests:

* ``{"op": "call", "code", "entry", "args", "limits"}`` -> ``{"ok", "value" | "error", ...}``
* ``{"op": "test", "code", "tests", "limits"}`` -> ``{"ok", "tests": [{"name", "passed", "error"}], ...}``
  (a suite with no ``test_*`` function fails: zero tests prove nothing)
* ``{"op": "ping"}`` -> ``{"ok": true}``

Results travel only on the private pipe, so printing "passed" cannot forge a pass.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import select
import signal
import struct
import sys
import time
import traceback
import types
from typing import Any

AFFORDANCES = ("http_get", "http_post", "list_files", "read_file", "read_doc")
_HEADER = struct.Struct(">I")
# Standard modules tools commonly import (the static policy's allow-list), pre-imported by the worker.
PREWARM = (
    "re", "json", "statistics", "collections", "dataclasses", "decimal", "base64", "binascii", "difflib",
    "hashlib", "math", "itertools", "functools", "typing", "datetime", "bisect", "heapq", "operator",
    "string", "textwrap", "csv", "fractions", "urllib.parse",
)  # fmt: skip


def read_frame(fd: int) -> Any:
    head = _read_exact(fd, _HEADER.size)
    if head is None:
        return None
    (n,) = _HEADER.unpack(head)
    body = _read_exact(fd, n)
    if body is None:
        return None
    return json.loads(body)


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, obj: Any) -> None:
    body = json.dumps(obj, default=str).encode()
    data = _HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class ToolError(Exception):
    """An affordance call the world refused (the tool sees it as an exception)."""


# -- the child ------------------------------------------------------------------------------
def _set_limits(limits: dict[str, Any]) -> None:
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb, limits["memory_mb"] * mb))
    cpu = max(1, int(limits["cpu_s"] + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb, limits["file_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    if limits.get("nproc"):
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"]))


_RPC = {"out": -1, "in": -1}  # the child's private channel, set after fork


def _forward(fn: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        write_frame(_RPC["out"], {"op": "rpc", "fn": fn, "args": list(args), "kwargs": kwargs})
        reply = read_frame(_RPC["in"])
        if reply is None:
            raise ToolError(f"{fn}: the host went away")
        if not reply.get("ok"):
            raise ToolError(reply.get("error", f"{fn} failed"))
        return reply["value"]

    call.__name__ = fn
    return call


def _install_toolkit() -> types.ModuleType:
    """A stand-in for ``envs.toolkit`` whose functions forward to the host (built once, before forks)."""
    toolkit = types.ModuleType("envs.toolkit")
    for fn in AFFORDANCES:
        setattr(toolkit, fn, _forward(fn))
    envs_pkg = types.ModuleType("envs")
    envs_pkg.toolkit = toolkit  # type: ignore[attr-defined]
    sys.modules["envs"] = envs_pkg
    sys.modules["envs.toolkit"] = toolkit
    return toolkit


_TOOLKIT: types.ModuleType | None = None  # installed by main(), only ever inside the worker process


_COMPILED: dict[tuple[str, str], types.CodeType] = {}


def _compiled(source: str, filename: str) -> types.CodeType:
    """Compile in the worker, before forking: compiling in a fresh child costs ~2.5 ms of page faults."""
    key = (filename, source)
    code = _COMPILED.get(key)
    if code is None:
        code = compile(source, filename, "exec")
        if len(_COMPILED) >= 256:
            _COMPILED.clear()
        _COMPILED[key] = code
    return code


def _child(req: dict[str, Any], code: types.CodeType, tests: types.CodeType | None, result_w: int, rpc_in: int) -> None:
    _set_limits(req["limits"])
    _RPC["out"], _RPC["in"] = result_w, rpc_in
    assert _TOOLKIT is not None
    # A real module object in sys.modules: dataclasses, typing and pickle look the defining module up.
    module = types.ModuleType("arise_tool")
    sys.modules["arise_tool"] = module
    ns: dict[str, Any] = module.__dict__
    ns.update({fn: getattr(_TOOLKIT, fn) for fn in AFFORDANCES})
    out: dict[str, Any]
    try:
        exec(code, ns)
        if req["op"] == "call":
            fn = ns.get(req["entry"])
            if not callable(fn):
                out = {"ok": False, "error": f"the code defines no function {req['entry']!r}"}
            else:
                value = fn(*req.get("argv", []), **req.get("args", {}))
                out = {"ok": True, "value": json.loads(json.dumps(value, default=str))}
        else:
            assert tests is not None
            exec(tests, ns)
            names = [n for n in sorted(ns) if n.startswith("test") and callable(ns[n])]
            results = []
            for name in names:
                try:
                    ns[name]()
                    results.append({"name": name, "passed": True, "error": None})
                except BaseException as exc:
                    results.append({"name": name, "passed": False, "error": _describe(exc)})
            out = {"ok": bool(names) and all(r["passed"] for r in results), "tests": results}
            if not names:
                out["error"] = "the test suite defines no test_* function (zero tests prove nothing)"
    except BaseException as exc:
        out = {"ok": False, "error": _describe(exc), "trace": traceback.format_exc(limit=4)[-2000:]}
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    write_frame(result_w, {"op": "result", **out})


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 1000 else text[:1000] + "..."


# -- the worker -------------------------------------------------------------------------------
def _run(req: dict[str, Any], host_in: int, host_out: int) -> dict[str, Any]:
    limits = req["limits"]
    try:
        code = _compiled(str(req["code"]), "<tool>")
        tests = _compiled(str(req["tests"]), "<tests>") if req["op"] == "test" else None
    except (SyntaxError, ValueError) as exc:  # ValueError: NUL bytes in the source
        return {"ok": False, "error": _describe(exc), "reason": "syntax", "output": "", "output_truncated": 0}
    res_r, res_w = os.pipe()  # child -> worker: rpc requests and the result (private)
    rpc_r, rpc_w = os.pipe()  # worker -> child: rpc replies
    out_r, out_w = os.pipe()  # child's stdout and stderr
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child
        gc.disable()  # a short-lived child never needs a collection; it would touch (copy) every page
        try:
            os.setpgid(0, 0)
            for fd in (res_r, rpc_w, out_r, host_in, host_out):
                os.close(fd)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out_w, 1)  # the worker's sys.stdout/stderr objects now write to the capture pipe
            os.dup2(out_w, 2)
            _child(req, code, tests, res_w, rpc_r)
        finally:
            os._exit(0)
    for fd in (res_w, rpc_r, out_w):
        os.close(fd)
    deadline = t0 + float(limits["wall_s"])
    output, out_cap, dropped = bytearray(), int(limits["output_bytes"]), 0
    result: dict[str, Any] | None = None
    timed_out = runaway = False
    rpcs, credit = 0, 0.5 * float(limits["wall_s"])
    res_buf = bytearray()
    open_fds = {res_r, out_r}
    while open_fds:
        remaining = deadline - time.monotonic()
        if result is not None:  # done; take what output is already there (forked leftovers hold the pipes)
            remaining = 0.0
        elif remaining <= 0:
            timed_out = True
            break
        if runaway:
            break
        ready, _, _ = select.select(list(open_fds), [], [], remaining)
        if not ready and result is not None:
            break
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                continue
            if fd == out_r:
                keep = max(0, out_cap - len(output))
                output += chunk[:keep]
                dropped += len(chunk) - min(len(chunk), keep)
                continue
            res_buf += chunk
            while len(res_buf) >= _HEADER.size:
                (n,) = _HEADER.unpack(res_buf[: _HEADER.size])
                if n > 64 * 1024 * 1024:
                    res_buf.clear()
                    result = {"ok": False, "error": "result frame too large"}
                    break
                if len(res_buf) < _HEADER.size + n:
                    break
                frame = json.loads(bytes(res_buf[_HEADER.size : _HEADER.size + n]))
                del res_buf[: _HEADER.size + n]
                if frame.get("op") == "rpc":
                    rpcs += 1
                    if rpcs > int(limits.get("max_rpc", 5000)):
                        runaway = True
                        break
                    t_rpc = time.monotonic()
                    write_frame(host_out, frame)
                    answer = read_frame(host_in)
                    write_frame(rpc_w, answer if answer is not None else {"ok": False, "error": "host gone"})
                    # Time the host spends serving is not the tool's, up to half the budget again (so a
                    # loop of world calls cannot stretch its deadline without bound).
                    grant = min(time.monotonic() - t_rpc, credit)
                    credit -= grant
                    deadline += grant
                elif frame.get("op") == "result":
                    result = frame
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)  # the child and anything it forked
    _, status = os.waitpid(pid, 0)
    for fd in (res_r, rpc_w, out_r):
        os.close(fd)
    elapsed = time.monotonic() - t0
    reply: dict[str, Any]
    if timed_out:
        reply = {"ok": False, "error": f"timeout: killed after {limits['wall_s']} s wall clock", "reason": "timeout"}
    elif runaway:
        reply = {"ok": False, "error": f"runaway: killed after more than {rpcs - 1} world calls", "reason": "rpc_limit"}
    elif result is None:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        why = f"killed by signal {signal.Signals(sig).name}" if sig else f"exited with status {os.WEXITSTATUS(status)}"
        reply = {"ok": False, "error": f"the tool process died without a result ({why})", "reason": "crash"}
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            reply["reason"] = "cpu_limit" if sig == signal.SIGXCPU else "killed"
    else:
        reply = {k: v for k, v in result.items() if k != "op"}
    reply["output"] = output.decode("utf-8", "replace")
    reply["output_truncated"] = dropped
    reply["elapsed_s"] = round(elapsed, 6)
    return reply


def main() -> None:
    host_in, host_out = int(sys.argv[1]), int(sys.argv[2])
    global _TOOLKIT
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _TOOLKIT = _install_toolkit()
    for name in PREWARM:  # imported once here, so a forked child's `import re` is a dict lookup
        with contextlib.suppress(ImportError):
            __import__(name)
    gc.collect()
    gc.freeze()  # the warm heap stays shared with every forked child (fewer copy-on-write faults)
    while True:
        req = read_frame(host_in)
        if req is None:
            return
        if req.get("op") == "ping":
            write_frame(host_out, {"op": "done", "ok": True, "pid": os.getpid(), "uid": os.getuid()})
            continue
        try:
            reply = _run(req, host_in, host_out)
        except Exception as exc:
            reply = {"ok": False, "error": f"worker error: {_describe(exc)}", "reason": "worker"}
        write_frame(host_out, {"op": "done", **reply})


if __name__ == "__main__":
    main()
