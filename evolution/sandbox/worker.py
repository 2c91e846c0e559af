"""The code that runs inside the sandbox (stdlib only; the host starts it once per ``Sandbox``).

Three roles, so that hostile code never holds, or shares memory with, anything worth stealing:

* the **relay** (``main``; PID 1 of the sandbox's PID namespace, so nothing inside can
  kill it) holds the host's pipes. It reads each request, hands it to the untrusted
  processes over their private pipes, forwards their affordance calls to the host,
  enforces the wall clock and the frame and output caps, and answers the host once the
  sandbox is clean again. Nothing is ever forked from it after start-up, so what it has
  read (earlier tools, earlier test suites) never reaches untrusted memory.
* the **zygote** is forked by the relay before any request exists and never reads one.
  It hardens itself (not dumpable: same-uid processes cannot ptrace it or read its
  memory; child subreaper: every orphan comes back to it), pre-imports the allowed
  standard modules, and forks the untrusted processes, passing their pipe ends to the
  relay (``SCM_RIGHTS``). After every call it kills every other process of the sandbox
  (``kill(-1)`` spares only itself and the relay, the namespace's init, and catches
  ``setsid`` daemons), reaps them all and wipes the scratch directory.
* **untrusted** processes, forked from the pristine zygote: the *tool process* is forked
  ahead of time, applies its rlimits, sheds every descriptor but its own pipes, and
  waits for its request (so the fork is off the call's critical path); it runs the tool
  code and serves calls to its functions: the episode's one call, made by the relay, or a
  test's calls, in the same frames (tool code cannot tell them apart but by the calls'
  arguments and timing). In a test run a separate
  *test process* runs one test function; the tests reach the tool only through calls
  whose arguments and results cross as JSON (an object whose ``__eq__`` says True
  arrives as its ``str``), and the tool process never has the tests in its memory.

Host protocol (length-prefixed JSON frames): the relay says ``{"op": "ready"}`` once at
start. Requests:

* ``{"op": "call", "code", "entry", "args", "wall_s"}`` -> ``{"op": "result", "ok", "value" | "error", ...}``
* ``{"op": "test", "code", "tests", "test", "wall_s"}`` -> ``{"op": "result", "ok", "tests": [{"name", "passed",
  "error"}], ...}`` for that one test (the host discovers the tests and runs each in fresh processes).

While a call runs, ``{"op": "rpc", "fn", "args", "kwargs"}`` asks the host to run an
affordance; the host answers ``{"ok", "value" | "error"}``. The result is sent only once
every process the call started is dead and the scratch directory is empty.
"""

from __future__ import annotations

import argparse
import ast
import base64
import builtins
import contextlib
import ctypes
import gc
import hashlib
import json
import marshal
import math
import os
import resource
import select
import signal
import socket
import stat
import struct
import sys
import time
import traceback
import types
import warnings
from typing import Any

_HEADER = struct.Struct(">I")
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36


# -- frames ---------------------------------------------------------------------------------
class FrameError(Exception):
    """A peer broke the protocol (bad length, bad JSON, oversized frame)."""


def encode(obj: Any) -> bytes:
    body = json.dumps(obj, default=str).encode()
    return _HEADER.pack(len(body)) + body


def write_frame(fd: int, obj: Any) -> None:
    write_bytes(fd, encode(obj))


def write_bytes(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def host_frame_cap(limits: dict[str, Any]) -> int:
    """The largest frame the host reads from the relay (printed output may be escaped 6x in JSON)."""
    return int(limits["result_bytes"]) + 8 * int(limits["output_bytes"]) + 65_536


def read_frame(fd: int) -> Any:
    """Blocking read of one frame from a trusted peer; None at end of stream."""
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
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# Values crossing from untrusted code: shallow enough for any host stack to handle (deepcopy, dumps).
MAX_NESTING = 100


def too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack += [(c, depth + 1) for c in children if isinstance(c, (dict, list))]
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf, which JSON cannot hold
        raise ValueError(f"{text} is out of range")
    return value


class FrameBuffer:
    """Incremental frames from an untrusted peer: every frame size-capped, every body a JSON object with an op."""

    def __init__(self, cap: int) -> None:
        self.cap, self.buf = cap, bytearray()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        self.buf += chunk
        frames = []
        while len(self.buf) >= _HEADER.size:
            (n,) = _HEADER.unpack(self.buf[: _HEADER.size])
            if n > self.cap:
                raise FrameError(f"a frame of {n} bytes exceeds the cap of {self.cap} bytes")
            if len(self.buf) < _HEADER.size + n:
                break
            body = bytes(self.buf[_HEADER.size : _HEADER.size + n])
            del self.buf[: _HEADER.size + n]
            try:
                frame = json.loads(body, parse_constant=_no_constant, parse_float=finite_float)
            except (ValueError, RecursionError) as exc:
                raise FrameError(f"a frame is not valid JSON ({type(exc).__name__})") from None
            if not isinstance(frame, dict) or not isinstance(frame.get("op"), str):
                raise FrameError("a frame is not an object with an 'op'")
            if too_deep(frame, MAX_NESTING):
                raise FrameError(f"a frame nests deeper than {MAX_NESTING} levels")
            frames.append(frame)
        return frames


class _Conf:
    """What the sandbox was started with (set in ``main``, inherited by every fork)."""

    affordances: tuple[str, ...] = ()
    limits: dict[str, Any] = {}
    scratch_fd = -1  # the scratch directory: the working directory the worker starts in, held open
    own_pid_namespace = False
    group_kill = False  # seccomp pins each call's processes to its process group
    seccomp: Any = None  # the filter that does it, built by the zygote


# -- hardening ------------------------------------------------------------------------------
def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value}) failed")


def _set_limits(limits: dict[str, Any]) -> None:
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb, limits["memory_mb"] * mb))
    cpu = max(1, int(limits["cpu_s"] + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mb"] * mb, limits["file_mb"] * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_SIGPENDING, (64, 64))  # queued signals: a per-user kernel quota
    if limits.get("nproc"):
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["nproc"], limits["nproc"]))


# x86_64 syscall numbers the filter names (other machines run without it: see ``seccomp_supported``).
_AUDIT_ARCH_X86_64 = 0xC000003E
_NR = {
    "setsid": 112, "setpgid": 109, "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129,
    "rt_tgsigqueueinfo": 297, "shmget": 29, "semget": 64, "msgget": 68, "mq_open": 240, "pidfd_open": 434,
    "pidfd_send_signal": 424, "pidfd_getfd": 438, "process_vm_readv": 310, "process_vm_writev": 311, "ptrace": 101,
    "kcmp": 312, "process_madvise": 440, "perf_event_open": 298, "prlimit64": 302, "sched_setaffinity": 203,
    "sched_setscheduler": 144, "sched_setparam": 142, "sched_setattr": 314, "migrate_pages": 256,
    "move_pages": 279, "setpriority": 141, "ioprio_set": 251, "add_key": 248, "request_key": 249, "keyctl": 250,
    "fcntl": 72, "ioctl": 16, "socket": 41, "socketpair": 53, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "bpf": 321, "userfaultfd": 323, "fanotify_init": 300, "unshare": 272, "setns": 308,
    "mount": 165, "umount2": 166, "pivot_root": 155, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "name_to_handle_at": 303, "open_by_handle_at": 304,
    "inotify_init": 253, "inotify_init1": 294,
}  # fmt: skip
# Leaving the process group; System V and POSIX IPC objects (they outlive the call, and their memory is
# not the process's: a call could keep gigabytes alive); reaching other processes by pid or descriptor.
# Kernel keyrings outlive the process too (their quota is the uid's, shared with the host when it is root).
# No sockets at all (a tool talks to the world through its pipes): an inet socket's TIME_WAIT outlives
# the process (a bit for the next call), and descriptors sent over a unix socket to itself stay "in
# flight" after every process closed them, holding memfd memory and host ptys. No io_uring (it opens
# sockets of any family without socket()), no mounts, namespaces, eBPF, userfaultfd or fanotify: kernel
# interfaces a tool never needs, each a way to leave state behind or reach past the namespaces. No
# inotify (instances are a per-user quota) and no priority changes (PRIO_USER reaches every process of
# the uid: the relay and zygote would stay reniced for good).
_DENY = ("setsid", "setpgid", "shmget", "semget", "msgget", "mq_open", "pidfd_open", "pidfd_send_signal",
         "pidfd_getfd", "process_vm_readv", "process_vm_writev", "ptrace", "kcmp", "process_madvise",
         "perf_event_open", "add_key", "request_key", "keyctl", "socket", "socketpair", "io_uring_setup",
         "io_uring_enter", "io_uring_register", "bpf", "userfaultfd", "fanotify_init", "unshare", "setns",
         "mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
         "name_to_handle_at", "open_by_handle_at", "inotify_init", "inotify_init1", "setpriority",
         "ioprio_set")  # fmt: skip
_SELF_ARG0 = ("prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr",
              "migrate_pages", "move_pages")  # pid 0 (the caller) only  # fmt: skip
_SIGNALS = ("kill", "tkill", "rt_sigqueueinfo")  # to itself or its own process group only
_THREAD_SIGNALS = ("tgkill", "rt_tgsigqueueinfo")  # to its own thread group only
# Async I/O ownership makes the kernel signal a chosen pid or group (SIGIO, or any signal with F_SETSIG)
# when a descriptor becomes ready: a kill() by another name. No owner can be set, so none is signalled.
_FCNTL_DENIED = (8, 10, 15)  # F_SETOWN, F_SETSIG, F_SETOWN_EX
_IOCTL_DENIED = (0x8901, 0x8902)  # FIOSETOWN, SIOCSPGRP
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


def seccomp_supported() -> bool:
    return os.uname().machine == "x86_64"


def _filter_program(pid: int) -> list[tuple[int, int, int, int]]:
    """The BPF program for an untrusted process ``pid`` (the leader of its own process group).

    A call's processes may not leave their group (so one ``killpg`` ends them all, daemons
    included), create IPC objects that would outlive them, or act on any process outside
    the group: not the relay, not the zygote, not the next call's process already waiting (neither
    by kill() nor by making itself a descriptor's async-I/O owner); no keyrings, sockets, io_uring,
    mounts or namespaces (see ``_DENY``).
    """
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    arg0, arg1 = 16, 24  # low 32 bits of seccomp_data.args[0] / [1] (little endian; pids are ints)
    code: list[tuple[int, str | int, str | int, int]] = [
        (ld, 0, 0, 4),  # arch
        (jeq, 0, "deny", _AUDIT_ARCH_X86_64),  # a foreign ABI (int 0x80): deny
        (ld, 0, 0, 0),  # nr
        (jge, "deny", 0, 0x40000000),  # x32: deny
    ]
    for name in _DENY:
        code.append((jeq, "deny", 0, _NR[name]))
    groups = ((_SELF_ARG0, "self0"), (_SIGNALS, "sig"), (_THREAD_SIGNALS, "tg"),
              (("fcntl",), "fcntl"), (("ioctl",), "ioctl"))  # fmt: skip
    for group, label in groups:
        for name in group:
            code.append((jeq, label, 0, _NR[name]))
    code.append((ret, 0, 0, allow))
    labels = {"self0": len(code)}
    code += [(ld, 0, 0, arg0), (jeq, "allow", "deny", 0)]
    labels["sig"] = len(code)
    code += [
        (ld, 0, 0, arg0),
        (jeq, "allow", 0, pid),
        (jeq, "allow", 0, 0),
        (jeq, "allow", "deny", (-pid) & 0xFFFFFFFF),
    ]
    labels["tg"] = len(code)
    code += [(ld, 0, 0, arg0), (jeq, "allow", "deny", pid)]
    for label, denied in (("fcntl", _FCNTL_DENIED), ("ioctl", _IOCTL_DENIED)):
        labels[label] = len(code)
        code.append((ld, 0, 0, arg1))
        code += [(jeq, "deny", 0, cmd) for cmd in denied]
        code.append((ret, 0, 0, allow))
    labels["allow"] = len(code)
    code.append((ret, 0, 0, allow))
    labels["deny"] = len(code)
    code.append((ret, 0, 0, deny))

    def offset(i: int, target: str | int) -> int:
        return target if isinstance(target, int) else labels[target] - (i + 1)

    return [(op, offset(i, jt), offset(i, jf), k) for i, (op, jt, jf, k) in enumerate(code)]


class _SeccompFilter:
    """Installs ``_filter_program``; the ctypes types are built once in the zygote (about 0.7 ms each time)."""

    def __init__(self) -> None:
        class SockFilter(ctypes.Structure):
            _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                        ("k", ctypes.c_uint)]  # fmt: skip

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

        self.filter_type, self.prog_type = SockFilter, SockFprog
        self.libc = ctypes.CDLL(None, use_errno=True)

    def apply(self) -> None:
        program = _filter_program(os.getpid())
        filters = (self.filter_type * len(program))(*[self.filter_type(*ins) for ins in program])
        prog = self.prog_type(len(program), filters)
        if self.libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if self.libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


# -- untrusted processes (tool and test) ------------------------------------------------------
class ToolError(Exception):
    """An affordance call the world refused (the tool sees it as an exception)."""


class ToolRaised(Exception):
    """A tool raised an exception with no built-in counterpart (as a test sees it)."""


class _Channel:
    """An untrusted process's private pipe pair to the relay."""

    def __init__(self, to_relay: int, from_relay: int) -> None:
        self.to_relay, self.from_relay = to_relay, from_relay

    def ask(self, frame: dict[str, Any], answer_op: str) -> dict[str, Any]:
        write_frame(self.to_relay, frame)
        reply = read_frame(self.from_relay)
        if not isinstance(reply, dict):
            raise ToolError("the sandbox relay went away")
        if reply.get("op") != answer_op:  # a world answer is never taken for a tool's result, or the reverse
            raise ToolError(f"sandbox protocol: expected a {answer_op!r} frame, got {reply.get('op')!r}")
        return reply


def _affordance(channel: _Channel, fn: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        reply = channel.ask({"op": "rpc", "fn": fn, "args": list(args), "kwargs": kwargs}, "rpc_reply")
        if not reply.get("ok"):
            raise ToolError(str(reply.get("error") or f"{fn} failed"))
        return reply.get("value")

    call.__name__ = call.__qualname__ = fn
    return call


def _untrusted_namespace(channel: _Channel, name: str) -> dict[str, Any]:
    """A fresh module for untrusted code, with ``envs.toolkit`` whose functions forward to the host."""
    toolkit = types.ModuleType("envs.toolkit")
    funcs = {fn: _affordance(channel, fn) for fn in _Conf.affordances}
    toolkit.__dict__.update(funcs)
    envs_pkg = types.ModuleType("envs")
    envs_pkg.toolkit = toolkit  # type: ignore[attr-defined]
    sys.modules["envs"], sys.modules["envs.toolkit"] = envs_pkg, toolkit
    module = types.ModuleType(name)  # a real module: dataclasses, typing and pickle look it up
    sys.modules[name] = module
    module.__dict__.update(funcs)
    return module.__dict__


def _untrusted(role: Any, to_relay: int, from_relay: int, out_w: int) -> None:
    """Become untrusted: only our pipes and the output pipe, no other descriptor; limits on; then ``role``."""
    gc.disable()  # a short-lived process never needs a collection; it would touch (copy) every page
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)  # sys.stdout/sys.stderr now write to the capture pipe
    os.dup2(out_w, 2)
    keep = sorted((to_relay, from_relay))
    os.closerange(3, keep[0])
    os.closerange(keep[0] + 1, keep[1])
    os.closerange(keep[1] + 1, 1 << 20)
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    if _Conf.seccomp is not None:
        _Conf.seccomp.apply()
    _set_limits(_Conf.limits)
    role(_Channel(to_relay, from_relay))


def _flush() -> None:
    """What was printed reaches the capture pipe before the answer (the process ends with ``_exit``)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _jsonable(value: Any) -> Any:
    """The value as it will cross: plain JSON (no NaN/Infinity), at most ``MAX_NESTING`` levels deep."""
    out = json.loads(json.dumps(value, default=str, allow_nan=False))
    if too_deep(out, MAX_NESTING - 2):
        raise ValueError(f"the value nests deeper than {MAX_NESTING - 2} levels (crossing values are capped)")
    return out


def _raised(exc: BaseException) -> dict[str, Any]:
    return {
        "ok": False,
        "error": _describe(exc),
        "exc": [c.__name__ for c in type(exc).__mro__],
        "message": str(exc)[:1000],
        "trace": traceback.format_exc(limit=4)[-2000:],
    }


def _tool_role(channel: _Channel) -> None:
    """Wait for the code; run it; serve calls to its functions until the call ends.

    An episode's call and a test's calls reach this process the same way (the relay makes the
    episode's one call itself, as a test would), so tool code cannot tell a test run from a real
    call by what it is sent or where it runs - only by the calls' arguments and timing.
    """
    ns = _untrusted_namespace(channel, "arise_tool")  # before the request: off the call's critical path
    req = read_frame(channel.from_relay)
    if not isinstance(req, dict):
        return
    try:
        exec(_unmarshal(req.get("code")), ns)
    except BaseException as exc:
        write_frame(channel.to_relay, {"op": "loaded", **_raised(exc)})
        return
    names = sorted(k for k, v in ns.items() if callable(v) and not k.startswith("__") and k not in _Conf.affordances)
    write_frame(channel.to_relay, {"op": "loaded", "ok": True, "names": names})
    while True:  # serve the test's calls
        frame = read_frame(channel.from_relay)
        if not isinstance(frame, dict):
            return
        try:
            args, kwargs = frame.get("args") or [], frame.get("kwargs") or {}
            reply = {"ok": True, "value": _jsonable(ns[frame["fn"]](*args, **kwargs))}
        except BaseException as exc:
            reply = _raised(exc)
        _flush()
        write_frame(channel.to_relay, {"op": "return", **reply})


def _unmarshal(blob: Any) -> types.CodeType:
    """Code compiled by the relay (compiling 30-60 KB of tool source in every fresh process costs milliseconds)."""
    return marshal.loads(base64.b64decode(str(blob)))


# Exceptions with control-flow meaning: raised from a proxy they would end a test's loop silently.
_NOT_REBUILT = (StopIteration, StopAsyncIteration)


def _rebuild(reply: dict[str, Any]) -> Exception:
    """The tool's exception as a test sees it: the first built-in class in its MRO, else ``ToolRaised``."""
    message = str(reply.get("message") or reply.get("error") or "the tool raised")
    for name in reply.get("exc") or []:
        cls = getattr(builtins, str(name), None)
        if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, _NOT_REBUILT):
            with contextlib.suppress(Exception):
                return cls(message)
    return ToolRaised(str(reply.get("error") or message))


def _tool_proxy(channel: _Channel, name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        reply = channel.ask({"op": "call", "fn": name, "args": list(args), "kwargs": kwargs}, "return")
        if not reply.get("ok"):
            raise _rebuild(reply)
        return reply.get("value")

    call.__name__ = call.__qualname__ = name
    return call


def _test_role(channel: _Channel) -> None:
    """Run one test function of the suite against proxies of the tool's functions."""
    ns = _untrusted_namespace(channel, "arise_tests")
    req = read_frame(channel.from_relay)
    if not isinstance(req, dict):
        return
    ns.update({str(name): _tool_proxy(channel, str(name)) for name in req.get("names") or []})
    try:
        exec(_unmarshal(req.get("tests")), ns)
        test = ns.get(str(req.get("test")))
        if not callable(test):
            raise NameError(f"the suite defines no test function {req.get('test')!r}")
        returned = test()
        if returned is not None:  # a coroutine or generator: its body never ran (async/yield tests are not run)
            with contextlib.suppress(Exception):
                returned.close()
            raise TypeError(f"a test must return None, got {type(returned).__name__} (async and generator tests "
                            "are not run: write a plain def that asserts)")  # fmt: skip
        verdict: dict[str, Any] = {"passed": True, "error": None}
    except BaseException as exc:
        verdict = {"passed": False, "error": _describe(exc)}
    _flush()
    write_frame(channel.to_relay, {"op": "verdict", **verdict})


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 1000 else text[:1000] + "..."


_FILES_POLL_S = 0.05
# A wipe slower than this (a scratch tree no call should leave) costs a new sandbox, not the next call's time.
_WIPE_S = 2.0


def _files_in(scratch_fd: int) -> int:
    """Files and directories in the scratch tmpfs (its root counts as one)."""
    try:
        st = os.statvfs(scratch_fd)
    except OSError:
        return 0
    return st.f_files - st.f_ffree


# -- the zygote (trusted; never reads a request) ---------------------------------------------
def _spawn(role: Any, ctl: socket.socket) -> int:
    """Fork an untrusted process in its own process group; hand the relay its pipe ends and output pipe."""
    to_relay_r, to_relay_w = os.pipe()
    from_relay_r, from_relay_w = os.pipe()
    out_r, out_w = os.pipe()
    role_name = "tool" if role is _tool_role else "test"
    try:
        pid = os.fork()
    except OSError as exc:  # the call's own processes exhausted its process limit: that call fails, not us
        for fd in (to_relay_r, to_relay_w, from_relay_r, from_relay_w, out_r, out_w):
            os.close(fd)
        ctl.sendall(json.dumps({"kind": "spawned", "role": role_name, "pid": None, "error": str(exc)}).encode())
        return 0
    if pid == 0:
        try:
            _untrusted(role, to_relay_w, from_relay_r, out_w)
        finally:
            os._exit(0)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # also done by the child: whichever runs first, no window without a group
    msg = {"kind": "spawned", "role": role_name, "pid": pid}
    socket.send_fds(ctl, [json.dumps(msg).encode()], [to_relay_r, from_relay_w, out_r])
    for fd in (to_relay_r, to_relay_w, from_relay_r, from_relay_w, out_r, out_w):
        os.close(fd)
    return pid


def _zygote(ctl: socket.socket) -> None:
    """Serve the relay's commands, in order.

    ``tool`` / ``test``: fork one and hand it over. ``kill <pid>...`` (after a call): kill those
    processes and everything they started, say ``killed``, reap them, wipe the scratch and say
    ``clean``; ``reap <pid>...`` does the same but answers once, with how each process ended.
    """
    _prctl(PR_SET_DUMPABLE, 0)  # same-uid processes may not ptrace us, read our memory or open our fds
    _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a call come back to us, to be killed and reaped
    if _Conf.group_kill:
        _Conf.seccomp = _SeccompFilter()
    scratch_mode = stat.S_IMODE(os.fstat(_Conf.scratch_fd).st_mode)
    gc.collect()
    gc.freeze()  # the warm heap stays shared with every fork (fewer copy-on-write faults)
    while True:
        command = ctl.recv(4096).decode()
        if not command:
            return
        _obey(command, ctl, scratch_mode)


def _obey(command: str, ctl: socket.socket, scratch_mode: int) -> None:
    """One command, in a frame of its own: an untrusted process forked here sees (in the frames above
    it) the same names whatever the sandbox did before, so nothing tells it this sandbox's history."""
    verb, *args = command.split()
    if verb in ("tool", "test"):
        _spawn(_tool_role if verb == "tool" else _test_role, ctl)
    elif verb in ("kill", "reap"):
        groups = [int(a) for a in args]
        _kill(groups)
        if verb == "kill":  # nothing of the call can run any more: the relay may answer the host
            ctl.sendall(json.dumps({"kind": "killed"}).encode())
        statuses = _reap(groups)
        clean = _wipe(_Conf.scratch_fd, scratch_mode)
        ctl.sendall(json.dumps({"kind": "clean", "statuses": statuses, "wiped": clean}).encode())


def _kill(groups: list[int]) -> None:
    """SIGKILL the call's process groups (with seccomp nothing leaves them), else everything but us and the relay."""
    if _Conf.group_kill:
        for pgid in groups:
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)
    elif _Conf.own_pid_namespace:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)  # spares only us and the namespace's init (the relay)
    else:  # no PID namespace of our own (rlimits-only): our descendants, found through /proc
        for _ in range(100):
            victims = _descendants(os.getpid())
            if not victims:
                return
            for pid in victims:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


def _reap(groups: list[int]) -> dict[str, int | None]:
    """Reap every killed process; their orphans were reparented to us (subreaper) before their parents died."""
    statuses: dict[str, int | None] = {str(pgid): None for pgid in groups}
    targets = [-pgid for pgid in groups] if _Conf.group_kill else [-1]
    for target in targets:
        while True:
            try:
                pid, status = os.waitpid(target, 0)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if str(pid) in statuses:
                statuses[str(pid)] = status
    return statuses


def _descendants(root: int) -> list[int]:
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{entry}/stat", "rb") as f:
                parent[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
    found, frontier = [], {root}
    while frontier:
        kids = {pid for pid, ppid in parent.items() if ppid in frontier}
        found += sorted(kids)
        frontier = kids
    return found


def _wipe(fd: int, mode: int) -> bool:
    """Empty the scratch directory whatever the call left (permissions, depth beyond PATH_MAX, extended
    attributes and times on the directory itself: each could carry data to the next call); True if clean.

    By descriptor, never by path: the sandbox user may not be able to reach the scratch's path (a
    private TMPDIR under rlimits-only), and a call cannot swap what a path names."""
    with contextlib.suppress(OSError):
        os.fchmod(fd, mode)
    for attr in _xattrs(fd):
        with contextlib.suppress(OSError):
            os.removexattr(fd, attr)
    with contextlib.suppress(OSError, RecursionError):
        _empty(fd)
    with contextlib.suppress(OSError):
        os.utime(fd)
    try:
        return not os.listdir(fd) and stat.S_IMODE(os.fstat(fd).st_mode) == mode and not _xattrs(fd)
    except OSError:
        return False


def _xattrs(fd: int) -> list[str]:
    try:
        return os.listxattr(fd)
    except OSError:  # a file system without extended attributes: nothing to carry
        return []


def _empty(dir_fd: int) -> None:
    """Remove everything under an open directory, by names relative to descriptors (no path gets long).

    Iterative, one open descriptor, each directory listed once: however deep or wide the tree (a
    call can nest thousands of directories within its file cap), the wipe is linear in its size.
    """

    def scan(fd: int) -> list[str]:  # unlink what is not a directory; the subdirectories are left
        subdirs = []
        for name in os.listdir(fd):
            if stat.S_ISDIR(os.lstat(name, dir_fd=fd).st_mode):
                subdirs.append(name)
            else:
                os.unlink(name, dir_fd=fd)
        return subdirs

    fd = os.dup(dir_fd)
    try:
        pending, above = scan(fd), []  # above: (name, its siblings still pending) per level
        while True:
            if pending:  # descend
                sub = pending.pop()
                os.chmod(sub, 0o700, dir_fd=fd)
                child = os.open(sub, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = child
                above.append((sub, pending))
                pending = scan(fd)
                continue
            if not above:
                return
            name, pending = above.pop()
            parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)  # nothing of the call runs now
            os.close(fd)
            fd = parent
            os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)


# -- the relay (trusted; PID 1; holds the host's pipes) ---------------------------------------
class _Proc:
    """An untrusted process as the relay sees it: its pipes, a frame parser, its output."""

    def __init__(self, spawned: tuple[dict[str, Any], list[int]], cap: int) -> None:
        msg, fds = spawned
        if len(fds) != 3:
            raise OSError("the zygote did not hand over a process")
        self.pid = int(msg["pid"])
        self.frames_from, self.replies_to, self.out = fds
        os.set_blocking(self.out, False)
        self.reader = FrameBuffer(cap)

    def send(self, frame: dict[str, Any], deadline: float) -> None:
        """Write without blocking past ``deadline`` (a process that stops reading cannot stall the relay)."""
        view = memoryview(encode(frame))
        with contextlib.suppress(BrokenPipeError):  # it died; its EOF says so
            while view:
                _, writable, _ = select.select([], [self.replies_to], [], max(0.0, deadline - time.monotonic()))
                if not writable:
                    raise TimeoutError("the process stopped reading")
                view = view[os.write(self.replies_to, view[:65536]) :]

    def close(self) -> None:
        for fd in (self.frames_from, self.replies_to, self.out):
            with contextlib.suppress(OSError):
                os.close(fd)


def _death(status: int | None) -> tuple[str, str]:
    """(reason, words) for how an untrusted process ended."""
    if status is not None and os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        return {"SIGXCPU": "cpu_limit", "SIGKILL": "killed"}.get(sig, "crash"), f"killed by signal {sig}"
    if status is not None:
        return "crash", f"exited with status {os.WEXITSTATUS(status)}"
    return "crash", "ended"


class _Done(Exception):
    """The call ended before its processes were involved (e.g. the source does not compile)."""


class _Relay:
    def __init__(self, host_in: int, host_out: int, ctl: socket.socket) -> None:
        self.host_in, self.host_out, self.ctl = host_in, host_out, ctl
        self.cap = int(_Conf.limits["result_bytes"])
        self.out_cap = int(_Conf.limits["output_bytes"])
        self.stash: list[tuple[dict[str, Any], list[int]]] = []
        self.unclean = False  # the zygote is still reaping the last call and wiping the scratch
        self.reaping = ""  # the killed call's process groups, for the zygote to reap after the answer
        self.compiled: dict[str, str] = {}
        self.names: dict[str, list[str]] = {}  # per code: the top-level names a test may call
        self.dirty = False  # the scratch could not be emptied: this sandbox must not serve another call
        # With process groups pinned, the next call's tool process is forked while the current one works.
        self.prefork = _Conf.group_kill
        ctl.sendall(b"tool")

    def _recv(
        self, kind: str, role: str | None = None, within_s: float | None = None
    ) -> tuple[dict[str, Any], list[int]]:
        """The zygote's next message of ``kind`` (others, e.g. an early fork, are kept for later)."""
        for i, (msg, _) in enumerate(self.stash):
            if msg.get("kind") == kind and (role is None or msg.get("role") == role):
                return self.stash.pop(i)
        deadline = None if within_s is None else time.monotonic() + within_s
        while True:
            if deadline is not None and not select.select([self.ctl], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise OSError(f"the zygote sent no {kind!r} within {within_s} s")
            data, fds, _, _ = socket.recv_fds(self.ctl, 1 << 16, 3)
            if not data:
                raise OSError("the zygote died")
            msg = json.loads(data)
            if msg.get("kind") == kind and (role is None or msg.get("role") == role):
                return msg, fds
            self.stash.append((msg, fds))

    def serve_forever(self) -> None:
        while True:
            req = read_frame(self.host_in)
            if not isinstance(req, dict):
                return
            try:
                if self.unclean:  # no call's code runs before the last one's processes and files are gone
                    if not self._recv("clean", within_s=_WIPE_S)[0].get("wiped"):
                        raise OSError("the scratch directory could not be emptied")
                    self.unclean = False
                self.tool = _Proc(self._recv("spawned", "tool"), self.cap)
            except (OSError, ValueError):  # the zygote died or the scratch stays dirty: nothing of this ran
                write_frame(self.host_out, {"op": "lost"})
                return
            t0 = time.monotonic()  # the last call's clean-up (however slow it made it) is not this call's time
            try:
                if self.prefork:  # the next call's tool process is forked (and warms up) while this one works
                    self.ctl.sendall(b"tool")
                reply = self.serve(req)
                reply["elapsed_s"] = round(time.monotonic() - t0, 6)
                if self.dirty:  # answer, then end: the host starts a clean sandbox for the next call
                    self._answer({**reply, "sandbox_lost": True})
                    return
                if self.reaping:  # killed before the answer; reaped (and the scratch wiped) while the host reads it
                    try:
                        self.ctl.sendall(f"reap {self.reaping}".encode())
                    except OSError:  # the call killed the zygote: answer, then end (the host restarts us)
                        reply["sandbox_lost"] = True
                        self._answer(reply)
                        return
                    self.reaping, self.unclean = "", True
                self._answer(reply)
                if not self.prefork:  # forked after this call's clean-up, which spares nothing
                    self.ctl.sendall(b"tool")
            except (OSError, ValueError) as exc:  # the zygote is gone: end, the host restarts us
                sys.stderr.write(f"sandbox relay: {exc}\n")
                return

    def _answer(self, reply: dict[str, Any]) -> None:
        """Send the result; one that outgrew the host's cap in re-encoding (escaped non-ASCII) is an error."""
        data = encode({"op": "result", **reply})
        if len(data) > host_frame_cap(_Conf.limits):
            keep = {k: reply[k] for k in ("elapsed_s", "sandbox_lost") if k in reply}
            error = f"the result is too large once JSON-escaped ({len(data)} bytes; sandbox.result_bytes caps it)"
            tests = [{**t, "passed": False, "error": error} for t in reply.get("tests") or []]
            data = encode({"op": "result", "ok": False, "reason": "protocol", "error": error, "tests": tests,
                           "output": "", "output_truncated": len(str(reply.get("output") or "")), **keep})  # fmt: skip
        write_bytes(self.host_out, data)

    def serve(self, req: dict[str, Any]) -> dict[str, Any]:
        tool, procs = self.tool, [self.tool]
        self.output, self.dropped = bytearray(), 0
        self.ended: set[int] = set()
        wall_s = float(req.get("wall_s") or _Conf.limits["wall_s"])
        deadline = time.monotonic() + wall_s
        credit, calls = 0.5 * wall_s, 0
        test: _Proc | None = None
        names: list[str] = []
        awaiting_return = False  # the call into the tool not answered yet (a test makes one at a time)
        loaded = False  # the tool said whether its code ran (once)
        result: dict[str, Any] | None = None
        timeout = {"ok": False, "reason": "timeout", "error": f"timeout: killed after {wall_s} s wall clock"}
        # bwrap: /tmp is a tmpfs of its own whose file count statvfs reports; a file costs no bytes but kernel
        # memory (and wipe time), so the count is watched during the call (the overshoot is one poll's worth)
        watch_files = _Conf.own_pid_namespace
        max_files = int(_Conf.limits.get("scratch_files") or 0)
        next_count = time.monotonic() + _FILES_POLL_S  # a call starts with an empty scratch
        try:
            try:
                code = self._compiled(req.get("code"), "<tool>")
                tests = self._compiled(req.get("tests"), "<tests>") if req.get("op") == "test" else None
            except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
                result = {"ok": False, "reason": "syntax", "error": _describe(exc)}
                raise _Done from None
            tool.send({"op": "load", "code": code}, deadline)
            while result is None:
                watched = {p.frames_from: p for p in procs} | {p.out: None for p in procs if p.out not in self.ended}
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    result = timeout
                    break
                wait = min(remaining, _FILES_POLL_S) if watch_files else remaining
                ready, _, _ = select.select(list(watched), [], [], wait)
                if watch_files and max_files and time.monotonic() >= next_count:
                    next_count = time.monotonic() + _FILES_POLL_S
                    files = _files_in(_Conf.scratch_fd)
                else:
                    files = 0
                if files > max_files:
                    result = {"ok": False, "reason": "scratch_limit",
                              "error": f"killed: more than {max_files} files in the scratch /tmp"}  # fmt: skip
                    break
                for fd in ready:
                    proc = watched[fd]
                    if proc is None:
                        self._capture(fd)
                        continue
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        result = {"ok": False, "died": proc.pid, "who": "tool" if proc is tool else "test"}
                        break
                    try:
                        frames = proc.reader.feed(chunk)
                    except FrameError as exc:
                        result = {"ok": False, "reason": "protocol", "error": f"protocol violation: {exc}"}
                        break
                    for frame in frames:
                        op = frame["op"]
                        if op in ("rpc", "call"):
                            calls += 1
                            if calls > int(_Conf.limits["max_rpc"]):
                                what = "world calls" if op == "rpc" else "calls"
                                result = {"ok": False, "reason": "rpc_limit",
                                          "error": f"runaway: killed after more than {calls - 1} {what}"}  # fmt: skip
                                break
                        if op == "rpc":
                            t_rpc = time.monotonic()
                            proc.send({**self._rpc(frame), "op": "rpc_reply"}, deadline)
                            grant = min(time.monotonic() - t_rpc, credit)  # host time is not the tool's, up to
                            credit -= grant  # half the budget again (a loop of world calls stays bounded)
                            deadline += grant
                        elif op == "loaded" and proc is tool and not loaded and req.get("op") == "call":
                            loaded = True
                            if frame.get("ok") is not True:  # the code raised while it ran
                                result = {k: frame[k] for k in ("error", "trace") if k in frame}
                                result["ok"] = False
                            elif not isinstance(frame.get("names"), list):
                                raise TypeError("'names' is not a list")
                            elif req.get("entry") not in {str(n) for n in frame["names"]}:
                                result = {"ok": False, "error": f"the code defines no function {req.get('entry')!r}"}
                            else:  # the episode's call, made as a test makes its calls. Only now: code that
                                # calls an affordance while it loads reads the next frame as that call's answer
                                kwargs = req.get("args") or {}
                                tool.send({"fn": req.get("entry"), "args": [], "kwargs": kwargs}, deadline)
                                awaiting_return = True
                        elif op == "return" and proc is tool and awaiting_return and test is None:
                            result = {k: frame[k] for k in ("value", "error", "trace") if k in frame}
                            result["ok"] = frame.get("ok") is True
                        elif op == "loaded" and proc is tool and not loaded and req.get("op") == "test":
                            loaded = True
                            if frame.get("ok") is not True:
                                result = {"ok": False, "error": f"the tool code failed to load: {frame.get('error')}"}
                                break
                            if not isinstance(frame.get("names"), list):
                                raise TypeError("'names' is not a list")
                            callable_names = {str(n) for n in frame["names"]}
                            names = [n for n in self._tool_names(req.get("code")) if n in callable_names]
                            self.ctl.sendall(b"test")
                            spawned = self._recv("spawned", "test")
                            if spawned[0].get("pid") is None:
                                why = f"{spawned[0].get('error')} (the tool's processes hold the process limit)"
                                result = {"ok": False, "reason": "killed", "error": f"no test process: {why}"}
                                break
                            test = _Proc(spawned, self.cap)
                            procs.append(test)
                            test.send({"tests": tests, "test": req.get("test"), "names": names}, deadline)
                        elif op == "call" and proc is test and not awaiting_return:
                            if frame.get("fn") not in names:
                                missing = {"ok": False, "error": f"the tool defines no function {frame.get('fn')!r}"}
                                proc.send({"op": "return", "exc": ["NameError"], **missing}, deadline)
                            else:
                                fwd = {"fn": frame["fn"], "args": frame.get("args"), "kwargs": frame.get("kwargs")}
                                tool.send(fwd, deadline)
                                awaiting_return = True
                        elif op == "return" and proc is tool and awaiting_return:
                            # only the answer to the test's one outstanding call: a spare frame would be read by
                            # the test as the answer to its next call (a forged world answer or tool result)
                            assert test is not None
                            test.send(frame, deadline)
                            awaiting_return = False
                        elif op == "verdict" and proc is test:
                            passed = frame.get("passed") is True
                            error = None if passed else str(frame.get("error") or "failed")[:1200]
                            result = {"ok": passed, "tests": [{"name": req.get("test"), "passed": passed,
                                                               "error": error}]}  # fmt: skip
                        else:
                            result = {"ok": False, "reason": "protocol",
                                      "error": f"protocol violation: unexpected {op!r} frame"}  # fmt: skip
                        if result is not None:
                            break
                    if result is not None:
                        break
        except TimeoutError:
            result = timeout
        except _Done:
            pass
        except (TypeError, KeyError, AttributeError) as exc:  # a well-formed frame with ill-typed fields
            result = {"ok": False, "reason": "protocol", "error": f"protocol violation: a malformed frame ({exc})"}
        assert result is not None
        if watch_files and max_files and _files_in(_Conf.scratch_fd) > max_files:  # a call too quick for the poll
            result = {"ok": False, "reason": "scratch_limit",
                      "error": f"killed: more than {max_files} files in the scratch /tmp"}  # fmt: skip
        statuses = self._clean(procs, statuses="died" in result)
        if "died" in result:
            reason, words = _death(statuses.get(str(result["died"])))
            result = {"ok": False, "reason": reason, "error": f"the {result['who']} process died ({words})"}
        if req.get("op") == "test" and "tests" not in result:
            result["tests"] = [{"name": req.get("test"), "passed": False, "error": result.get("error")}]
        result["output"] = self.output.decode("utf-8", "replace")
        result["output_truncated"] = self.dropped
        return result

    def _clean(self, procs: list[_Proc], statuses: bool) -> dict[str, int | None]:
        """Have the zygote kill everything the call started; wait for the reaping only to learn how it ended."""
        pids = " ".join(str(p.pid) for p in procs)
        if statuses:
            self.ctl.sendall(f"reap {pids}".encode())
            clean = self._recv("clean", within_s=_WIPE_S)[0]
            found: dict[str, int | None] = clean.get("statuses") or {}
            self.dirty = not clean.get("wiped")
        elif _Conf.group_kill:  # we kill the call's groups ourselves; the zygote reaps them after we answer
            for proc in procs:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
            self.reaping, found = pids, {}
        else:
            self.ctl.sendall(f"kill {pids}".encode())
            self._recv("killed")
            self.unclean, found = True, {}
        for proc in procs:  # what was printed before the end
            self._capture(proc.out, drain=True)
            proc.close()
        return found

    def _tool_names(self, source: Any) -> list[str]:
        """What a test may call: functions, classes and names the tool's source binds at top level, never a
        builtin or an affordance (a tool defining ``range`` or ``read_file`` must not replace the tests' own)."""
        text = str(source)
        key = hashlib.sha256(text.encode(errors="surrogatepass")).hexdigest()
        if key not in self.names:
            bound: set[str] = set()
            for node in ast.parse(text).body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    bound.add(node.name)
                elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    bound |= {t.id for t in targets if isinstance(t, ast.Name)}
            reserved = set(dir(builtins)) | set(_Conf.affordances)
            self.names = {key: sorted(n for n in bound if n not in reserved and not n.startswith("__"))}
        return self.names[key]

    def _compiled(self, source: Any, filename: str) -> str:
        """Compile here, once per distinct source (a small cache), and ship the code object marshalled."""
        text = str(source)
        key = hashlib.sha256(f"{filename}\0{text}".encode(errors="surrogatepass")).hexdigest()
        blob = self.compiled.pop(key, None)
        if blob is None:
            with warnings.catch_warnings():  # SyntaxWarnings would go to the relay's stderr, not the tool's output
                warnings.simplefilter("ignore")
                blob = base64.b64encode(marshal.dumps(compile(text, filename, "exec"))).decode()
        self.compiled[key] = blob  # most recently used last
        while len(self.compiled) > 64:
            del self.compiled[next(iter(self.compiled))]
        return blob

    def _capture(self, fd: int, drain: bool = False) -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                self.ended.add(fd)
                return
            keep = max(0, self.out_cap - len(self.output))
            self.output += chunk[:keep]
            self.dropped += len(chunk) - min(len(chunk), keep)
            if not drain:
                return

    def _rpc(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Forward an affordance call to the host, in the shape the host expects."""
        fn, args, kwargs = frame.get("fn"), frame.get("args"), frame.get("kwargs")
        if fn not in _Conf.affordances:
            return {"ok": False, "error": f"unknown affordance {fn!r}; available: {', '.join(_Conf.affordances)}"}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            return {"ok": False, "error": f"{fn}: malformed call"}
        data = encode({"op": "rpc", "fn": fn, "args": args, "kwargs": kwargs})
        if len(data) > host_frame_cap(_Conf.limits):  # grew when re-encoded (escaped non-ASCII)
            return {"ok": False, "error": f"{fn}: the arguments are too large ({len(data)} bytes as JSON)"}
        write_bytes(self.host_out, data)
        answer = read_frame(self.host_in)
        if not isinstance(answer, dict):
            raise OSError("the host went away")
        return answer


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("host_in", type=int)
    ap.add_argument("host_out", type=int)
    ap.add_argument("--affordances", required=True)
    ap.add_argument("--limits", required=True, help="JSON: the per-process rlimits and caps")
    ap.add_argument("--prewarm", default="")
    ap.add_argument("--own-pid-namespace", action="store_true")
    args = ap.parse_args(argv)
    _Conf.affordances = tuple(a for a in args.affordances.split(",") if a)
    _Conf.limits = json.loads(args.limits)
    _Conf.own_pid_namespace = args.own_pid_namespace
    # The host starts us in the scratch directory; its path may be out of the sandbox user's reach.
    _Conf.scratch_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    _Conf.group_kill = seccomp_supported()
    _prctl(PR_SET_DUMPABLE, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # PID 1 takes only signals it handles; SIGINT it must not
    for name in filter(None, args.prewarm.split(",")):  # imported once: a forked `import re` is then free
        with contextlib.suppress(ImportError):
            __import__(name)
    relay_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # one message a recv
    pid = os.fork()
    if pid == 0:  # the zygote: no host pipe, no relay end, nothing read yet
        try:
            for fd in (args.host_in, args.host_out, relay_end.fileno()):
                os.close(fd)
            _zygote(zygote_end)
        except BaseException:  # said on stderr, which the host shows when the worker does not start
            traceback.print_exc()
        finally:
            os._exit(0)
    zygote_end.close()
    relay = _Relay(args.host_in, args.host_out, relay_end)
    write_frame(args.host_out, {"op": "ready", "pid": os.getpid(), "uid": os.getuid()})
    relay.serve_forever()
    relay_end.close()
    os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
