"""Hostile code against the sandbox, with the static policy switched off: the sandbox alone is the boundary.

Every attack runs three ways, as the project runs model-written code: through
``Sandbox.call``, as a promoted tool through ``SandboxRunner`` inside ``env.step``, and
as hostile *test* code inside ``Sandbox.run_tests``. Each test asserts containment
(no data out, no forged or misdelivered result, no residue, the next call correct),
not merely that an error happened.

Needs bubblewrap (``make install`` installs it); without it these tests fail rather
than skip, unless ``ARISE_ALLOW_NO_BWRAP=1``: a silently skipped security suite would
hide a missing install step.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import pytest

from envs import ENV_IDS
from envs.access import WorldAccess
from envs.tasks import get_suite
from envs.tools import ToolSpec
from evolution.sandbox import Limits, Sandbox, SandboxError, SandboxRunner, bwrap_path
from evolution.sandbox.runner import sandbox_image

pytestmark = pytest.mark.skipif(
    bwrap_path() is None and os.environ.get("ARISE_ALLOW_NO_BWRAP") == "1",
    reason="bubblewrap missing and ARISE_ALLOW_NO_BWRAP=1",
)
PROJECT = Path(__file__).resolve().parents[2]
PATHS = ("call", "env", "test")
TRIVIAL = "def f(x):\n    return x + 1\n"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    limits = Limits(wall_s=3.0, cpu_s=2.0, memory_mb=256, output_bytes=4096, scratch_mb=8)
    with Sandbox(limits, isolation="bwrap") as sb:
        yield sb


@pytest.fixture(scope="module")
def access() -> WorldAccess:
    return WorldAccess(get_suite("acmecorp").get_world(3))


@dataclass
class Ran:
    """What reached the caller: ``text`` is the value (JSON) or the error."""

    ok: bool
    text: str


def attack(path: str, sb: Sandbox, body: str, access: WorldAccess | None = None) -> Ran:
    """Run ``body`` (the body of a function returning what it found) the way ``path`` runs model code."""
    code = "import json\ndef tool():\n" + textwrap.indent(textwrap.dedent(body), "    ")
    if path == "call":
        out = sb.call(code, "tool", {}, access)
        return Ran(out.ok, json.dumps(out.value) if out.ok else str(out.error))
    if path == "env":
        runner = SandboxRunner(sb)
        runner.add(ToolSpec("tool", "hostile", {"type": "object", "properties": {}}), code)
        env = gym.make(ENV_IDS["acmecorp"], max_episode_steps=5)
        env.reset(seed=3, options={"task": "config.effective_replicas", "tools": runner})
        obs, _, _, _, info = env.step(json.dumps({"tool": "tool", "args": {}}))
        env.close()
        return Ran(bool(info["ok"]), str(obs))
    tests = code.replace("def tool():", "def _attack():") + (
        "\ndef test_attack():\n    raise AssertionError('RESULT:' + json.dumps(_attack(), default=str))\n"
    )
    out = sb.run_tests("def f():\n    return 1\n", tests, access)
    error = str(out.tests[0]["error"] if out.tests else out.error)
    if "RESULT:" in error:
        return Ran(True, error.split("RESULT:", 1)[1])
    return Ran(False, error)


def still_works(sb: Sandbox, access: WorldAccess | None = None) -> None:
    """The next call gets its own, correct answer (nothing misdelivered, nothing left over)."""
    out = sb.call("import os\ndef g(x):\n    return [x * 2, sorted(os.listdir('/tmp'))]\n", "g", {"x": 21}, access)
    assert out.ok and out.value == [42, []], out
    suite = sb.run_tests(TRIVIAL, "def test_ok():\n    assert f(1) == 2\ndef test_no():\n    assert f(1) == 3\n")
    assert [t["passed"] for t in suite.tests] == [False, True] and not suite.ok  # sorted: test_no, test_ok


# -- what the sandbox sees -------------------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
def test_the_project_venv_and_other_host_paths_are_not_there(sandbox, path, tmp_path_factory):
    other_job = tmp_path_factory.mktemp("other_job") / "library.sqlite"
    other_job.write_text("SECRET-LIBRARY")
    other_job.chmod(0o644)
    probes = [str(PROJECT), str(PROJECT / "envs"), str(Path(sys.prefix)), str(other_job), "/etc/passwd",
              "/etc/shadow", "/proc/self", "/home", "/work", "/usr/bin/cat", "/bin/sh"]  # fmt: skip
    out = attack(
        path,
        sandbox,
        f"""
        import os
        seen = {{p: os.path.exists(p) for p in {probes!r}}}
        try:
            import envs.acmecorp  # the project: would give a tool the graders
            seen['import envs.acmecorp'] = True
        except ImportError:
            seen['import envs.acmecorp'] = False
        try:
            import numpy  # noqa  (site-packages are masked)
            seen['import numpy'] = True
        except ImportError:
            seen['import numpy'] = False
        return seen
    """,
    )
    assert out.ok, out.text
    seen = json.loads(out.text)
    assert not any(seen.values()), seen
    still_works(sandbox)


def test_every_visible_path_is_the_interpreter_its_libraries_the_worker_or_scratch(sandbox):
    """A full walk of the sandbox's filesystem: nothing outside the intended image."""
    out = sandbox.call(
        "import os\ndef walk():\n    found = []\n    for root, dirs, files in os.walk('/'):\n"
        "        found += [os.path.join(root, f) for f in files]\n    return found\n",
        "walk",
        {},
    )
    assert out.ok, out.error
    image = sandbox_image()
    allowed = (*image.binds, "/arise/worker.py", "/dev/", "/tmp/")
    stray = [p for p in out.value if not any(p == a or p.startswith(a.rstrip("/") + "/") for a in allowed)]
    assert stray == [] and len(out.value) > 100
    assert not any("site-packages" in p or "dist-packages" in p for p in out.value)


@pytest.mark.parametrize("path", PATHS)
def test_the_filesystem_is_read_only_but_a_capped_private_scratch(sandbox, path):
    out = attack(
        path,
        sandbox,
        """
        import os
        tried = {}
        for target in ('/arise/worker.py', '/x', '/dev/shm/x', '/dev/x', '/etc/x'):
            try:
                open(target, 'w').write('x')
                tried[target] = 'wrote'
            except OSError as exc:
                tried[target] = type(exc).__name__
        chunk = b'z' * (1024 * 1024)
        written = 0
        try:
            for i in range(64):
                with open(f'/tmp/fill{i}', 'wb') as f:
                    f.write(chunk)
                written += 1
        except OSError as exc:
            tried['fill'] = type(exc).__name__
        tried['mb_written'] = written
        return tried
    """,
    )
    assert out.ok, out.text
    tried = json.loads(out.text)
    assert all(v != "wrote" for k, v in tried.items() if k.startswith("/")), tried
    assert tried["mb_written"] <= 8 and tried["fill"] == "OSError", tried  # ENOSPC at the 8 MiB scratch cap
    still_works(sandbox)  # and the scratch is empty again


@pytest.mark.parametrize("path", PATHS)
def test_host_secrets_in_the_environment_are_not_visible(path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret-123")
    with Sandbox(Limits(wall_s=3.0), isolation="bwrap") as sb:  # started after the key is set
        out = attack(path, sb, "import os\nreturn dict(os.environ)\n")
    assert out.ok and "sk-host-secret-123" not in out.text and "OPENAI_API_KEY" not in out.text
    assert set(json.loads(out.text)) <= {"PATH", "LANG", "PWD", "LC_CTYPE"}


@pytest.mark.parametrize("path", PATHS)
def test_no_network(sandbox, path):
    out = attack(
        path,
        sandbox,
        """
        import socket
        results = []
        for host in ('1.1.1.1', '127.0.0.1'):
            try:
                socket.create_connection((host, 80), timeout=1)
                results.append('connected')
            except OSError as exc:
                results.append(type(exc).__name__)
        return results
    """,
    )
    assert out.ok and "connected" not in out.text, out.text


# -- one call cannot influence another -----------------------------------------------------------------
WORKER_ATTACK = """
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    tried = {'proc': os.path.exists('/proc')}
    for label, pid in (('parent', os.getppid()), ('relay', 1)):
        rc = libc.ptrace(16, pid, 0, 0)  # PTRACE_ATTACH
        tried['ptrace_' + label] = (rc, ctypes.get_errno())
        buf = ctypes.create_string_buffer(8)
        class iovec(ctypes.Structure):
            _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
        local = iovec(ctypes.cast(buf, ctypes.c_void_p), 8)
        remote = iovec(ctypes.cast(buf, ctypes.c_void_p), 8)  # same addresses in a fork of the zygote
        n = libc.process_vm_writev(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
        tried['vm_write_' + label] = (n, ctypes.get_errno())
    for fd in range(3, 64):  # descriptors this process did not get: the host's pipes, the relay's socket
        try:
            os.fstat(fd)
            tried.setdefault('open_fds', []).append(fd)
        except OSError:
            pass
    return tried
"""


@pytest.mark.parametrize("path", PATHS)
def test_code_cannot_reach_the_workers_memory_descriptors_or_pipes(sandbox, path):
    out = attack(path, sandbox, WORKER_ATTACK)
    assert out.ok, out.text
    tried = json.loads(out.text)
    assert tried["proc"] is False
    for key in ("ptrace_parent", "ptrace_relay", "vm_write_parent", "vm_write_relay"):
        assert tried[key][0] == -1 and tried[key][1] in (1, 3), (key, tried)  # EPERM / ESRCH
    assert len(tried.get("open_fds", [])) <= 3, tried  # only its own two pipes (and the capture pipe)
    still_works(sandbox)


@pytest.mark.parametrize("path", PATHS)
def test_daemons_and_their_files_are_gone_before_the_next_call(sandbox, path):
    out = attack(
        path,
        sandbox,
        """
        import os, time
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()  # refused (seccomp): it stays in the call's process group
            except OSError:
                pass
            if os.fork() == 0:
                while True:
                    open('/tmp/daemon-was-here', 'w').write('x')
                    time.sleep(0.01)
            os._exit(0)
        time.sleep(0.2)
        return sorted(os.listdir('/tmp'))
    """,
    )
    assert out.ok and "daemon-was-here" in out.text, out.text
    still_works(sandbox)  # an empty /tmp: the daemon is dead and its file wiped
    time.sleep(0.1)
    check = sandbox.call("import os\ndef g():\n    return os.listdir('/tmp')\n", "g", {})
    assert check.ok and check.value == []


def _sandbox_processes(sb: Sandbox) -> list[int]:
    """Host view: every process under the sandbox's bwrap (the relay, the zygote, a waiting tool process)."""
    assert sb._proc is not None
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                if fields[0] != b"Z":
                    parent[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], {sb._proc.pid}
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier}
        found += sorted(frontier)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _settles_to(sb: Sandbox, n: int) -> bool:
    deadline = time.monotonic() + 2.0  # killed before the answer; reaped while the host reads it
    while len(_sandbox_processes(sb)) != n and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(_sandbox_processes(sb)) == n


def test_no_process_outlives_its_call_as_seen_from_the_host(sandbox):
    still_works(sandbox)
    assert _settles_to(sandbox, 3)  # the relay, the zygote and the next call's tool process, waiting
    out = sandbox.call(
        "import os, time\ndef f():\n    for _ in range(5):\n        if os.fork() == 0:\n"
        "            while True:\n                time.sleep(1)\n    return 'spawned'\n",
        "f",
        {},
    )
    assert out.ok and out.value == "spawned"
    assert _settles_to(sandbox, 3)
    time.sleep(0.3)
    assert len(_sandbox_processes(sandbox)) == 3


@pytest.mark.parametrize("path", PATHS)
def test_module_state_and_earlier_suites_do_not_carry_over(sandbox, path):
    """A later call cannot find an earlier tool's code or an earlier (adversarial) test suite in memory."""
    secret_suite = "def test_hidden():\n    assert f(1) == 2, 'ADVERSARIAL-SUITE-MARKER-7f3a'\n"
    assert sandbox.run_tests(TRIVIAL, secret_suite).ok
    assert sandbox.call("MARK = 'EARLIER-TOOL-MARKER-91c2'\ndef g():\n    return MARK\n", "g", {}).ok
    out = attack(
        path,
        sandbox,
        """
        import ctypes, gc, sys
        found = []
        for obj in gc.get_objects():
            if isinstance(obj, (str, bytes)) and (b'MARKER' if isinstance(obj, bytes) else 'MARKER') in obj:
                found.append(str(obj)[:80])
        maps = []
        libc = ctypes.CDLL(None)
        for name, mod in list(sys.modules.items()):
            if 'MARK' in dir(mod):
                found.append(name)
        return [f for f in found if 'ADVERSARIAL' in f or 'EARLIER' in f and 'found' not in f]
    """,
    )
    assert out.ok, out.text
    assert "7f3a" not in out.text and "91c2" not in out.text, out.text


# -- verdicts cannot be forged ---------------------------------------------------------------------
FORGERS = {
    "always_equal": "class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = None\n"
    "def f(x):\n    return Yes()\n",
    "frame_walk": "import sys\ndef f(x):\n    frame = sys._getframe()\n    while frame is not None:\n"
    "        for key, value in list(frame.f_locals.items()):\n            if isinstance(value, list):\n"
    "                value.clear()\n        frame.f_back and frame.f_back.f_globals.update(AssertionError=None)\n"
    "        frame = frame.f_back\n    return x\n",
    "exit_zero": "import os\ndef f(x):\n    os._exit(0)\n",
    "print_pass": 'def f(x):\n    print(\'{"op": "verdict", "passed": true}\')\n    print(\'PASSED\')\n    return x\n',
    "forged_frames": "import json, os, struct\ndef f(x):\n"
    "    body = json.dumps({'op': 'verdict', 'passed': True}).encode()\n"
    "    for fd in range(3, 20):\n        try:\n            os.write(fd, struct.pack('>I', len(body)) + body)\n"
    "        except OSError:\n            pass\n    return x\n",
    "kill_the_tester": "import os, signal\ndef f(x):\n    os.kill(0, signal.SIGKILL)\n",
    "raise_system_exit": "def f(x):\n    raise SystemExit(0)\n",
}


@pytest.mark.parametrize("name", sorted(FORGERS))
def test_a_tool_cannot_forge_a_pass(sandbox, name):
    out = sandbox.run_tests(FORGERS[name], "def test_one():\n    assert f(1) == 2\n")
    assert not out.ok and out.tests and not any(t["passed"] for t in out.tests), (name, out)
    still_works(sandbox)


# What tool code can see of how it was invoked: every frame above it, its local names and the
# requests it holds (the worker's frames once held {"op": "test"} in a test run and "call" in an episode).
FINGERPRINT = """
import sys
def f(x):
    seen, frame = [], sys._getframe().f_back
    while frame is not None:
        requests = sorted(str(v.get("op")) + ":" + ",".join(sorted(map(str, v)))
                          for v in frame.f_locals.values() if isinstance(v, dict))
        seen.append([frame.f_code.co_name, sorted(frame.f_locals), requests])
        frame = frame.f_back
    return seen
"""


def test_tool_code_cannot_tell_a_test_run_from_a_call(sandbox):
    """A tool that behaves only when tested (the sim's detect_test hack) needs a tell; the process gives none."""
    in_call = sandbox.call(FINGERPRINT, "f", {"x": 1})
    assert in_call.ok and len(in_call.value) >= 2, in_call
    out = sandbox.run_tests(FINGERPRINT, f"def test_same():\n    assert f(x=1) == {in_call.value!r}\n")
    assert out.ok, out.tests


def test_each_test_gets_a_fresh_tool_so_state_cannot_change_another_test(sandbox):
    code = "CALLS = []\ndef f(x):\n    CALLS.append(x)\n    return len(CALLS)\n"
    tests = "".join(f"def test_{i}():\n    assert f(0) == 1\n" for i in range(4))
    out = sandbox.run_tests(code, tests)
    assert out.ok and [t["passed"] for t in out.tests] == [True] * 4


def test_results_cross_as_json_and_exceptions_keep_their_builtin_type(sandbox):
    code = "class ParseError(ValueError):\n    pass\ndef f(x):\n    if x is None:\n        raise ParseError('bad')\n" \
        "    return (x, {'k': [1, 2]})\n"  # fmt: skip
    tests = (
        "def test_tuple_arrives_as_list():\n    assert f(1) == [1, {'k': [1, 2]}]\n"
        "def test_subclass_arrives_as_its_builtin_base():\n    try:\n        f(None)\n    except ValueError as e:\n"
        "        assert 'bad' in str(e)\n    else:\n        raise AssertionError('no error')\n"
        "def test_unknown_function():\n    try:\n        g(1)\n    except NameError:\n        return\n"
        "    raise AssertionError('g exists?')\n"
    )
    out = sandbox.run_tests(code, tests)
    assert out.ok, out.tests


def test_an_empty_suite_and_an_unparseable_suite_fail(sandbox):
    out = sandbox.run_tests(TRIVIAL, "# no tests here\nprint('all tests passed')\n")
    assert not out.ok and "zero tests" in str(out.error) and out.tests == []
    out = sandbox.run_tests(TRIVIAL, "def test_x(:\n")
    assert not out.ok and out.reason == "syntax"


# -- the host stays in control ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
def test_affordances_with_bad_arguments_are_error_values(sandbox, access, path):
    out = attack(
        path,
        sandbox,
        """
        from envs.toolkit import read_file, http_get, list_files, read_doc
        errors = []
        for call in (lambda: read_file(123), lambda: http_get(None), lambda: list_files(path=[1]),
                     lambda: read_doc(name={'a': 1}), lambda: read_file('a', 'b', 'c'), lambda: read_file(x=1)):
            try:
                call()
                errors.append('no error')
            except Exception as exc:
                errors.append(type(exc).__name__ + ': ' + str(exc)[:60])
        return errors
    """,
        access,
    )
    assert out.ok, out.text
    errors = json.loads(out.text)
    assert len(errors) == 6 and all(e.startswith("ToolError") for e in errors), errors
    assert "path must be str" in errors[0]
    still_works(sandbox, access)


def test_a_crashing_affordance_on_the_host_is_an_error_for_that_call_only(sandbox, monkeypatch):
    world_access = WorldAccess(get_suite("acmecorp").get_world(3))

    def broken(path: str) -> str:
        raise RuntimeError("bug in the world")

    monkeypatch.setattr(world_access, "read_file", broken)
    out = sandbox.call(
        "from envs.toolkit import read_file\ndef g():\n    return read_file('x')\n", "g", {}, world_access
    )
    assert not out.ok and "read_file failed: RuntimeError: bug in the world" in str(out.error)
    still_works(sandbox)


@pytest.mark.parametrize("path", PATHS)
def test_protocol_garbage_from_the_tool_is_an_error_and_the_next_call_is_its_own(sandbox, path):
    out = attack(
        path,
        sandbox,
        """
        import os, struct
        for fd in range(3, 12):
            for junk in (struct.pack('>I', 2 ** 31) + b'x' * 10, b'\\x00\\x00\\x00\\x05notjs', b'\\xff' * 64):
                try:
                    os.write(fd, junk)
                except OSError:
                    pass
        return 'sent'
    """,
    )
    assert not out.ok or out.text == '"sent"'
    still_works(sandbox)


def test_the_host_reader_has_a_deadline_and_a_size_cap():
    from evolution.sandbox.runner import SandboxError, _Reader
    from evolution.sandbox.worker import _HEADER

    r, w = os.pipe()
    try:
        os.write(w, _HEADER.pack(900 * 1024 * 1024))  # a 900 MB frame announced
        t0 = time.monotonic()
        with pytest.raises(SandboxError, match="exceeds"):
            _Reader(r).read(time.monotonic() + 5, cap=1 << 20)
        assert time.monotonic() - t0 < 1
        os.write(w, _HEADER.pack(10) + b'{"op"')  # a frame that never completes
        reader = _Reader(r)
        reader.buf.clear()
        t0 = time.monotonic()
        with pytest.raises(SandboxError, match="deadline"):
            reader.read(time.monotonic() + 0.3, cap=1 << 20)
        assert 0.25 < time.monotonic() - t0 < 2
    finally:
        os.close(r)
        os.close(w)


def test_a_dead_worker_is_an_error_for_the_running_call_only_and_is_replaced():
    import threading

    with Sandbox(Limits(wall_s=3.0), isolation="bwrap") as sb:
        assert sb._proc is not None
        inside = _sandbox_processes(sb)
        sb._proc.kill()  # dies between calls: nothing of the next call ran, so it is retried on a new sandbox
        deadline = time.monotonic() + 2
        while any(_alive(p) for p in inside) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sb.call(TRIVIAL, "f", {"x": 1}).value == 2 and sb.restarts == 1
        assert sb._proc is not None
        relay = _sandbox_processes(sb)[0]  # the sandbox's PID 1: killing it ends everything inside
        threading.Timer(0.3, os.kill, (relay, 9)).start()  # dies during a call: that call is an error
        out = sb.call("import time\ndef g():\n    time.sleep(2)\n    return 'late'\n", "g", {})
        assert not out.ok and out.reason == "worker" and sb.restarts == 2
        assert sb.call(TRIVIAL, "f", {"x": 2}).value == 3
        kill_zygote = "import os, signal\ndef g():\n    os.kill(os.getppid(), signal.SIGKILL)\n    return 'x'\n"
        refused = sb.call(kill_zygote, "g", {})  # seccomp: a tool may signal only its own process group
        assert not refused.ok and "PermissionError" in (refused.error or "")
        assert sb.call(TRIVIAL, "f", {"x": 3}).value == 4 and sb.restarts == 2  # the zygote survived


# -- resource bombs (existing classes, now on every path) -----------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
def test_fork_bomb_is_contained(sandbox, path):
    t0 = time.monotonic()
    out = attack(
        path, sandbox, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    assert not out.ok and time.monotonic() - t0 < 15
    still_works(sandbox)


@pytest.mark.parametrize("path", PATHS)
def test_memory_bomb_is_contained(sandbox, path):
    out = attack(path, sandbox, "x = bytearray(2 * 1024 ** 3)\nreturn len(x)\n")
    assert not out.ok and "MemoryError" in out.text


@pytest.mark.parametrize("path", PATHS)
def test_cpu_loop_and_sleep_are_killed(sandbox, path):
    for body in ("while True:\n    pass\n", "import time\ntime.sleep(60)\n"):
        t0 = time.monotonic()
        out = attack(path, sandbox, body)
        assert not out.ok and ("timeout" in out.text or "SIGXCPU" in out.text or "cpu" in out.text.lower()), out
        assert time.monotonic() - t0 < 8
    still_works(sandbox)


def test_huge_output_is_capped(sandbox):
    out = sandbox.call("def f():\n    for _ in range(10000):\n        print('y' * 100)\n    return 'done'\n", "f", {})
    assert out.ok and out.value == "done"
    assert len(out.output) == 4096 and out.output_truncated > 900_000


def test_a_huge_result_is_refused_not_buffered(sandbox):
    # twice the 8 MiB cap: bigger only adds CPU time (64 MiB, JSON-encoded, hit the 2 s CPU limit under load)
    out = sandbox.call("def f():\n    return 'x' * (16 * 1024 * 1024)\n", "f", {})
    assert not out.ok and "exceeds" in str(out.error)
    still_works(sandbox)


@pytest.mark.parametrize("path", PATHS)
def test_dynamic_import_tricks_run_only_inside(path, monkeypatch):
    monkeypatch.setenv("ARISE_TEST_SECRET", "host-secret-42")
    with Sandbox(Limits(wall_s=3.0), isolation="bwrap") as sb:
        out = attack(
            path,
            sb,
            """
            m = __import__('o' + 's')
            import importlib
            sp = importlib.import_module('subpro' + 'cess')
            try:
                r = sp.run(['/bin/cat', '/proc/1/environ'], capture_output=True)
                ran = r.stdout.decode(errors='replace')
            except OSError as exc:
                ran = type(exc).__name__
            return [m.getuid(), dict(m.environ), ran]
        """,
        )
    assert out.ok, out.text
    uid, env, ran = json.loads(out.text)
    assert uid != 0 and "ARISE_TEST_SECRET" not in env and ran == "FileNotFoundError"


def test_a_tool_killing_itself_leaves_the_sandbox_working(sandbox):
    out = sandbox.call("import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGKILL)\n", "f", {})
    assert not out.ok and out.reason == "killed" and "SIGKILL" in str(out.error)
    still_works(sandbox)


def test_rlimits_only_mode_still_limits_and_says_so():
    with Sandbox(Limits(wall_s=1.0, cpu_s=1.0, memory_mb=256), isolation="rlimits-only") as sb:
        assert sb.isolation == "rlimits-only"
        out = sb.call("def f():\n    while True:\n        pass\n", "f", {})
        assert not out.ok and out.reason in ("cpu_limit", "timeout")
        out = sb.call("def f():\n    return len(bytearray(2 * 1024 ** 3))\n", "f", {})
        assert not out.ok and "MemoryError" in str(out.error)
        assert sb.call(TRIVIAL, "f", {"x": 1}).value == 2


def test_rlimits_only_mode_works_with_a_private_tmpdir(tmp_path, monkeypatch):
    """A root host runs the rlimits-only worker as `nobody`, which cannot reach a scratch under a 0700
    TMPDIR by path (pytest's tmp_path is one): the worker holds its scratch by descriptor, and the scratch
    is still wiped between calls and removed with the sandbox."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    with Sandbox(isolation="rlimits-only") as sb:
        write = (
            "import os, tempfile\ndef f():\n    open('left.txt', 'w').write('x')\n"
            "    tempfile.NamedTemporaryFile(prefix='tmp-', delete=False).close()\n"
            "    return sorted(n[:4] for n in os.listdir('.'))\n"
        )  # a temp file lands in the scratch too (not in the host's /tmp), and both are wiped after the call
        assert [sb.call(write, "f", {}).value for _ in range(3)] == [["left", "tmp-"]] * 3
        assert sb.restarts == 0
        (scratch,) = private.glob("arise-sandbox-*")
    assert not scratch.exists()


# -- limits are validated --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [("memory_mb", -5), ("memory_mb", 0), ("wall_s", 0), ("cpu_s", -1.0), ("open_files", 3), ("nproc_extra", 0),
     ("scratch_mb", 10**9), ("output_bytes", -1), ("max_rpc", 0), ("memory_mb", 1.5), ("wall_s", True)],
)  # fmt: skip
def test_absurd_limits_are_errors_naming_the_key_and_range(field, value):
    with pytest.raises(ValueError, match=rf"sandbox\.{field} .*(out of range|must be).*to"):
        Limits(**{field: value})


# -- found by a red-team review (each failed on the first version of this sandbox) -----------------------
def test_a_tool_cannot_replace_the_tests_builtins_or_affordances(sandbox, access):
    wrong = (
        "def square(x):\n    return -12345\n"
        "def range(*a):\n    return []\n"
        "def all(*a):\n    return True\n"
        "def abs(*a):\n    return 0\n"
        "def read_file(path):\n    return 'x\\n' * 999\n"
        "def count_lines(path):\n    return 999\n"
    )
    tests = (
        "def test_loop():\n    for i in range(3):\n        assert square(i) == i * i\n"
        "def test_all():\n    assert all(square(i) == i * i for i in [1, 2])\n"
        "def test_abs():\n    assert abs(square(2) - 4) < 1e-9\n"
        "def test_count():\n    p = 'config/env'\n    assert count_lines(p) == len(read_file(p).splitlines())\n"
    )
    out = sandbox.run_tests(wrong, tests, access)
    assert not out.ok and [t["passed"] for t in out.tests] == [False] * 4, out.tests


def test_a_tool_cannot_announce_names_of_its_own_choosing(sandbox, access):
    """The tool process speaks to the relay over its own pipe; it may lie about what it defines."""
    hijack = (
        "import json, os, struct\n"
        "chan = [c.cell_contents for c in read_file.__closure__ if hasattr(c.cell_contents, 'to_relay')][0]\n"
        "def _w(o):\n    b = json.dumps(o).encode()\n    os.write(chan.to_relay, struct.pack('>I', len(b)) + b)\n"
        "def _r():\n    (n,) = struct.unpack('>I', os.read(chan.from_relay, 4))\n"
        "    return json.loads(os.read(chan.from_relay, n))\n"
        "def count_lines(path):\n    return 999\n"
        "impl = {'count_lines': count_lines, 'read_file': lambda p: 'x\\n' * 999}\n"
        "_w({'op': 'loaded', 'ok': True, 'names': list(impl)})\n"
        "for _ in range(100):\n    fr = _r()\n"
        "    _w({'op': 'return', 'ok': True, 'value': impl[fr['fn']](*fr.get('args') or [])})\n"
        "os._exit(0)\n"
    )
    tests = "def test_count():\n    p = 'config/env'\n    assert count_lines(p) == len(read_file(p).splitlines())\n"
    out = sandbox.run_tests(hijack, tests, access)
    assert not out.ok and out.tests[0]["passed"] is False, out


@pytest.mark.parametrize("trick", ["chmod", "deep"])
def test_the_scratch_is_wiped_whatever_the_call_did_to_it(sandbox, trick):
    plant = {
        "chmod": "open('/tmp/loot', 'w').write(secret)\n    os.chmod('/tmp', 0o555)\n",
        "deep": "os.chdir('/tmp')\n    for i in range(25):\n        name = chr(97 + i) * 200\n"
        "        os.mkdir(name)\n        os.chdir(name)\n    open('loot', 'w').write(secret)\n",
    }[trick]
    out = sandbox.call(f"import os\ndef f(secret):\n    {plant}    return 'planted'\n", "f", {"secret": "S3CRET"})
    assert out.ok and out.value == "planted", out
    still_works(sandbox)  # /tmp empty and writable again
    check = sandbox.call("def g():\n    open('/tmp/x', 'w').write('ok')\n    return open('/tmp/x').read()\n", "g", {})
    assert check.ok and check.value == "ok"


@pytest.mark.parametrize("path", PATHS)
def test_no_ipc_object_outlives_a_call(sandbox, path):
    out = attack(
        path,
        sandbox,
        """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        found = {}
        found['shmget'] = (libc.shmget(0x4152, 64 * 1024 * 1024, 0o1666), ctypes.get_errno())  # IPC_CREAT
        found['msgget'] = (libc.msgget(0x4153, 0o1666), ctypes.get_errno())
        found['semget'] = (libc.semget(0x4154, 1, 0o1666), ctypes.get_errno())
        found['mq_open'] = os.path.exists('/dev/mqueue')
        return found
    """,
    )
    assert out.ok, out.text
    found = json.loads(out.text)
    for key in ("shmget", "msgget", "semget"):
        assert found[key] == [-1, 1], found  # EPERM: the memory of a segment would outlive the call


@pytest.mark.parametrize("target", ["zygote", "relay", "next_call"])
def test_a_call_cannot_signal_the_sandbox_or_the_next_call(sandbox, target):
    pid = {"zygote": "os.getppid()", "relay": "1", "next_call": "os.getpid() + 1"}[target]
    out = sandbox.call(
        "import os, signal\ndef f():\n    tried = []\n"
        f"    for pid in {{{pid}, os.getpid() + 2, os.getppid(), 1, -os.getppid()}}:\n"
        "        for sig in (signal.SIGSTOP, signal.SIGKILL, signal.SIGINT):\n"
        "            try:\n                os.kill(pid, sig)\n                tried.append('sent')\n"
        "            except OSError as exc:\n                tried.append(exc.errno)\n"
        "    return tried\n",
        "f",
        {},
    )
    assert out.ok and "sent" not in out.value, out
    t0 = time.monotonic()
    still_works(sandbox)
    assert time.monotonic() - t0 < 2


def test_printed_output_reaches_the_caller_without_a_flush(sandbox):
    out = sandbox.call("def f():\n    print('hello from tool')\n    return 1\n", "f", {})
    assert out.ok and out.output == "hello from tool\n"
    suite = sandbox.run_tests(TRIVIAL, "def test_a():\n    print('hello from test')\n    assert f(1) == 2\n")
    assert suite.ok and suite.output == "hello from test\n"


def test_stop_iteration_from_a_tool_does_not_end_a_test_silently(sandbox):
    code = "def f(x):\n    raise StopIteration\n"
    out = sandbox.run_tests(code, "def test_a():\n    assert all(f(x) == x for x in [1, 2])\n")
    assert not out.ok


# -- second red-team round -----------------------------------------------------------------------
ASYNC_IO_SIGNALS = """
    import fcntl, os, signal
    found = {}
    targets = {'zygote': os.getppid(), 'next_call': os.getpid() + 1, 'relay': 1, 'self': os.getpid()}
    for label, pid in targets.items():
        r, w = os.pipe()
        for cmd, arg, what in ((8, pid, 'setown'), (8, -pid, 'setown_group'), (10, int(signal.SIGSTOP), 'setsig')):
            try:
                fcntl.fcntl(r, cmd, arg)  # F_SETOWN / F_SETSIG
                found[what + '_' + label] = 'set'
            except OSError as exc:
                found[what + '_' + label] = exc.errno
        fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
        os.write(w, b'x')  # with an owner set, this would deliver SIGSTOP (or SIGIO) to it
        for req in (0x8901, 0x8902):  # FIOSETOWN, SIOCSPGRP (sockets are refused anyway; any fd is asked)
            try:
                fcntl.ioctl(r, req, pid.to_bytes(4, 'little', signed=True))
                found['ioctl_%x_%s' % (req, label)] = 'set'
            except OSError as exc:
                found['ioctl_%x_%s' % (req, label)] = exc.errno
    return found
"""


@pytest.mark.parametrize("path", PATHS)
def test_no_signal_through_async_io_ownership(sandbox, path):
    """B1: F_SETOWN/F_SETSIG/FIOSETOWN route SIGIO (or any signal) to a chosen process, past the kill() rules."""
    out = attack(path, sandbox, ASYNC_IO_SIGNALS)
    assert out.ok, out.text
    found = json.loads(out.text)
    assert found and all(v == 1 for v in found.values()), found  # EPERM for every owner change
    t0 = time.monotonic()
    still_works(sandbox)
    assert time.monotonic() - t0 < 2, "a process of the sandbox was stopped"


def test_worker_failures_are_charged_to_the_suites_budget(monkeypatch):
    """B2: a suite whose tests keep breaking the worker ends after the first break, not after one wall each."""
    calls = []

    def broken(self, req, access, wall_s):
        calls.append(req["test"])
        time.sleep(0.5)
        raise SandboxError("planted: the worker hung")

    monkeypatch.setattr(Sandbox, "_exchange", broken)
    tests = "".join(f"def test_{i}():\n    pass\n" for i in range(6))
    with Sandbox(Limits(wall_s=3.0), isolation="bwrap") as sb:
        t0 = time.monotonic()
        out = sb.run_tests(TRIVIAL, tests)
        took = time.monotonic() - t0
    assert calls == ["test_0"] and took < 1.5, (calls, took)
    assert not out.ok and out.reason == "worker" and out.elapsed_s >= 0.5, out
    assert [t["passed"] for t in out.tests] == [False] * 6
    assert "sandbox failure" in out.tests[0]["error"] and all("not run" in t["error"] for t in out.tests[1:])


def test_compile_warnings_do_not_block_the_sandbox(sandbox):
    """B3: the relay's stderr went to an undrained pipe; 64 KB of SyntaxWarnings blocked it mid-call."""
    code = "".join(f"def w{i}(x):\n    return x is {i}\n" for i in range(2000)) + "def f():\n    return w7(7)\n"
    t0 = time.monotonic()
    out = sandbox.call(code, "f", {})
    assert out.ok and out.value is True, out
    suite = sandbox.run_tests(code, "def test_a():\n    assert f() is True\n")
    assert suite.ok, suite
    assert time.monotonic() - t0 < 4
    still_works(sandbox)


@pytest.mark.parametrize("path", PATHS)
def test_no_kernel_keyring_outlives_a_call(sandbox, path):
    """B4: keys added to the user keyring survived the call (data carried between calls, root's key quota)."""
    out = attack(
        path,
        sandbox,
        """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        found = {}
        serial = libc.syscall(248, b'user', b'arise-loot', b'secret', 6, -4)  # add_key to KEY_SPEC_USER_KEYRING
        found['add_key'] = (serial, ctypes.get_errno())
        found['request_key'] = (libc.syscall(249, b'user', b'arise-loot', None, 0), ctypes.get_errno())
        found['keyctl'] = (libc.syscall(250, 0, -4, 0), ctypes.get_errno())  # KEYCTL_GET_KEYRING_ID
        return found
    """,
    )
    assert out.ok, out.text
    assert json.loads(out.text) == {k: [-1, 1] for k in ("add_key", "request_key", "keyctl")}, out.text


@pytest.mark.parametrize("path", PATHS)
def test_no_sockets_and_no_io_uring(sandbox, path):
    """B5 and round 3: a TCP TIME_WAIT on the sandbox's loopback was a bit for the next call; descriptors parked
    "in flight" on a unix socket held memfd memory and host ptys after the call; io_uring made sockets of any
    family (AF_VSOCK is VM-wide, not per network namespace) without calling socket()."""
    out = attack(
        path,
        sandbox,
        """
        import ctypes, socket
        libc = ctypes.CDLL(None, use_errno=True)
        found = {}
        for name in ('AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET', 'AF_UNIX', 'AF_VSOCK'):
            try:
                socket.socket(getattr(socket, name), socket.SOCK_DGRAM if name != 'AF_PACKET' else socket.SOCK_RAW)
                found[name] = 'created'
            except OSError as exc:
                found[name] = exc.errno
        try:
            socket.socketpair()
            found['socketpair'] = 'created'
        except OSError as exc:
            found['socketpair'] = exc.errno
        params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
        found['io_uring_setup'] = [libc.syscall(425, 8, params), ctypes.get_errno()]
        return found
    """,
    )
    assert out.ok, out.text
    expected = {n: 1 for n in ("AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET", "AF_UNIX", "AF_VSOCK", "socketpair")}
    assert json.loads(out.text) == {**expected, "io_uring_setup": [-1, 1]}, out.text


@pytest.mark.parametrize("path", PATHS)
def test_the_scratch_caps_its_number_of_files(sandbox, path):
    """B6: empty files cost no bytes but kernel memory; 200k of them took 500 MB and a 4 s wipe on the next call."""
    out = attack(
        path,
        sandbox,
        """
        import os
        for i in range(200_000):
            open('/tmp/%d' % i, 'w').close()
        return 'made'
    """,
    )
    assert not out.ok and "files" in out.text, out.text
    t0 = time.monotonic()
    still_works(sandbox)
    assert time.monotonic() - t0 < 1.5


def test_async_and_generator_tests_fail_instead_of_passing_unrun(sandbox):
    """B7: ``async def test_x`` returned a coroutine and ``yield`` a generator: nothing ran, the test passed."""
    tests = (
        "async def test_async():\n    assert f(1) == 99\n"
        "def test_gen():\n    yield\n    assert f(1) == 99\n"
        "def test_value():\n    return f(1) == 99\n"
    )
    out = sandbox.run_tests(TRIVIAL, tests)
    assert not out.ok and [t["passed"] for t in out.tests] == [False, False, False], out
    assert all("must return None" in t["error"] for t in out.tests), out.tests
    ok = sandbox.run_tests(TRIVIAL, "def test_plain():\n    assert f(1) == 2\n    return None\n")
    assert ok.ok, ok


# -- third red-team round ---------------------------------------------------------------------------
FORGE_BY_SPARE_RETURN = r"""
import json, os, struct
chan = [c.cell_contents for c in read_file.__closure__ if hasattr(c.cell_contents, 'to_relay')][0]
def _frame(o):
    b = json.dumps(o).encode()
    return struct.pack('>I', len(b)) + b
def count_lines(path):
    os.write(chan.to_relay, _frame({'op': 'return', 'ok': True, 'value': 999})
             + _frame({'op': 'return', 'ok': True, 'value': 'x\n' * 999}))
    import time
    time.sleep(1)
"""


def test_a_tool_cannot_answer_the_tests_world_calls(sandbox, access):
    """A spare 'return' frame from the tool was read by the test as the world's answer to its next read_file."""
    tests = "def test_count():\n    p = 'config/env'\n    assert count_lines(p) == len(read_file(p).splitlines())\n"
    out = sandbox.run_tests(FORGE_BY_SPARE_RETURN, tests, access)
    assert not out.ok and out.tests[0]["passed"] is False, out
    honest = sandbox.run_tests("def count_lines(p):\n    return len(read_file(p).splitlines())\n", tests, access)
    assert honest.ok, honest
    still_works(sandbox, access)


@pytest.mark.parametrize("path", PATHS)
def test_the_scratch_roots_attributes_do_not_carry_over(sandbox, path):
    """Extended attributes and times set on /tmp itself survived the wipe: a message for the next call."""
    out = attack(
        path,
        sandbox,
        """
        import os
        os.setxattr('/tmp', 'user.msg', b'secret from an earlier call')
        os.utime('/tmp', (1234567, 1234567))
        return 'planted'
    """,
    )
    assert out.ok and "planted" in out.text, out.text
    seen = sandbox.call(
        "import os\ndef f():\n    st = os.stat('/tmp')\n    return [os.listxattr('/tmp'), st.st_atime, st.st_mtime]\n",
        "f",
        {},
    )
    assert seen.ok and seen.value[0] == [] and seen.value[1] != 1234567 and seen.value[2] != 1234567, seen


def test_values_crossing_the_sandbox_are_plain_shallow_json(sandbox):
    """NaN/Infinity and values nested ~1000 deep reached CallOutcome.value (a host deepcopy or dumps then fails)."""
    nan = sandbox.call("def f():\n    return [float('nan')]\n", "f", {})
    assert not nan.ok and "JSON" in str(nan.error), nan
    deep = sandbox.call("def f():\n    v = 1\n    for _ in range(500):\n        v = [v]\n    return v\n", "f", {})
    assert not deep.ok and "deeper" in str(deep.error), deep
    forged = sandbox.call(
        'import json, os, struct\ndef f():\n    body = (\'{"op": "result", "ok": true, "value": \''
        " + '[' * 900 + ']' * 900 + '}').encode()\n    os.write(3, struct.pack('>I', len(body)) + body)\n"
        "    os.write(4, struct.pack('>I', len(body)) + body)\n    import time\n    time.sleep(1)\n",
        "f",
        {},
    )
    assert not forged.ok, forged
    ok = sandbox.call("def f():\n    v = 1\n    for _ in range(50):\n        v = [v]\n    return v\n", "f", {})
    assert ok.ok, ok
    still_works(sandbox)


# -- fourth red-team round ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
def test_the_process_limit_holds_on_a_root_host(sandbox, path):
    """The sandbox's uid mapped to host root, for whom the kernel skips RLIMIT_NPROC: 300 forks all succeeded."""
    out = attack(
        path,
        sandbox,
        """
        import os, time
        made = 0
        for i in range(300):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            made += 1
        return made
    """,
    )
    assert out.ok and int(out.text) < 100, out.text
    t0 = time.monotonic()
    still_works(sandbox)
    assert time.monotonic() - t0 < 2


@pytest.mark.parametrize("path", PATHS)
def test_no_per_user_kernel_quota_or_shared_priority_is_reachable(sandbox, path):
    """inotify instances and queued signals are per-user quotas (host root's, when the sandbox was root);
    setpriority(PRIO_USER, 0) reniced the relay and zygote for good."""
    out = attack(
        path,
        sandbox,
        """
        import ctypes, os, signal
        libc = ctypes.CDLL(None, use_errno=True)
        found = {'inotify_init1': [libc.inotify_init1(0), ctypes.get_errno()]}
        found['setpriority_user'] = [libc.setpriority(2, 0, 19), ctypes.get_errno()]  # PRIO_USER, who=0
        found['ioprio_user'] = [libc.syscall(251, 3, 0, 0), ctypes.get_errno()]  # IOPRIO_WHO_USER
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
        info = (ctypes.c_int * 32)(int(signal.SIGRTMIN), 0, -1)
        n = 0
        while n < 5000 and libc.syscall(129, os.getpid(), int(signal.SIGRTMIN), info) == 0:
            n += 1
        found['queued'] = n
        return found
    """,
    )
    assert out.ok, out.text
    found = json.loads(out.text)
    assert found["inotify_init1"] == [-1, 1] and found["setpriority_user"] == [-1, 1], found
    assert found["ioprio_user"] == [-1, 1] and found["queued"] <= 64, found
    nice = sandbox.call("import os\ndef f():\n    return os.getpriority(os.PRIO_PROCESS, 0)\n", "f", {})
    assert nice.ok and nice.value == 0, nice


def test_a_deep_scratch_tree_is_wiped_without_replacing_the_sandbox(sandbox):
    """1,100 nested directories made the recursive wipe fail: the sandbox was replaced after every such call."""
    code = (
        "import os\ndef f():\n    fd = os.open('/tmp', os.O_RDONLY)\n    for i in range(1100):\n"
        "        os.mkdir('d', dir_fd=fd)\n        n = os.open('d', os.O_RDONLY, dir_fd=fd)\n"
        "        os.close(fd)\n        fd = n\n"
        "    open('loot', 'w', opener=lambda p, fl: os.open(p, fl, dir_fd=fd)).write('x')\n"
        "    return 'deep'\n"
    )
    restarts = sandbox.restarts
    out = sandbox.call(code, "f", {})
    assert out.ok and out.value == "deep", out
    still_works(sandbox)
    assert sandbox.restarts == restarts


FORGED = r"""
import json, os, struct, time
chan = [c.cell_contents for c in read_file.__closure__ if hasattr(c.cell_contents, 'to_relay')][0]
def send(frame):
    body = (frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False)).encode()
    os.write(chan.to_relay, struct.pack('>I', len(body)) + body)
"""


def test_a_frame_that_grows_on_reencoding_is_an_error_not_a_broken_sandbox(sandbox):
    """Raw UTF-8 from the tool tripled when the relay re-encoded it, past the host's cap: a 'worker' failure."""
    code = FORGED + "def f():\n    send({'op': 'return', 'ok': True, 'value': 'é' * 1_000_000})\n    time.sleep(2)\n"
    small = Sandbox(Limits(wall_s=3.0, result_bytes=2 * 1024 * 1024, output_bytes=1024), isolation="bwrap")
    with small:
        restarts = small.restarts
        out = small.call(code, "f", {}, WorldAccess(get_suite("acmecorp").get_world(3)))
        assert not out.ok and out.reason != "worker" and "too large" in str(out.error), out
        assert small.restarts == restarts
        still_works(small)


def test_malformed_frames_from_the_tool_fail_the_test_not_the_sandbox(sandbox, access):
    """A 'loaded' frame with names=5 raised TypeError in the relay: it died and the rest of the suite did not run."""
    code = FORGED + "send({'op': 'loaded', 'ok': True, 'names': 5})\ntime.sleep(2)\ndef f(x):\n    return x + 1\n"
    restarts = sandbox.restarts
    out = sandbox.run_tests(code, "def test_a():\n    assert f(1) == 2\ndef test_b():\n    pass\n", access)
    assert not out.ok and out.reason == "protocol" and sandbox.restarts == restarts, out
    assert [t["error"] for t in out.tests if "not run" in str(t["error"])] == [], out.tests
    still_works(sandbox)


def test_threads_count_against_the_process_limit(sandbox):
    """Small-stack threads slip under RLIMIT_AS; the process limit (a pids cgroup on a root host) counts them."""
    code = (
        "import threading, time\ndef f():\n    threading.stack_size(65536)\n    n = 0\n    try:\n"
        "        for i in range(2000):\n"
        "            threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
        "            n += 1\n    except RuntimeError:\n        pass\n    return n\n"
    )
    out = sandbox.call(code, "f", {})
    assert out.ok and out.value < 100, out
    still_works(sandbox)


# -- fifth red-team round -----------------------------------------------------------------------------
def test_a_wide_scratch_tree_is_wiped_in_linear_time(sandbox):
    """The wipe re-listed a directory after each subdirectory it removed: 9,900 siblings cost the next call 12 s."""
    out = sandbox.call("import os\ndef f():\n    os.mkdir('/tmp/w')\n    for i in range(6000):\n"
                       "        os.mkdir('/tmp/w/%05d' % i)\n    return 'wide'\n", "f", {})  # fmt: skip
    assert out.ok and out.value == "wide", out
    t0 = time.monotonic()
    still_works(sandbox)
    assert time.monotonic() - t0 < 1.0


def test_the_file_cap_holds_for_a_call_quicker_than_the_poll(sandbox):
    code = "import os\ndef f():\n    for i in range(10_500):\n        os.mkdir('/tmp/%d' % i)\n    return 'made'\n"
    out = sandbox.call(code, "f", {})
    assert not out.ok and out.reason == "scratch_limit", out
    still_works(sandbox)


def test_no_infinity_reaches_the_host_by_an_overflowing_number(sandbox):
    """1e999 parses to inf: a forged result carried Infinity to CallOutcome.value."""
    code = FORGED + (
        'def f():\n    send(\'{"op": "result", "ok": true, "value": [1e999, -1e999, {"x": 1E400}]}\')\n'
        "    time.sleep(2)\n"
    )
    out = sandbox.call(code, "f", {})
    assert not out.ok and out.reason == "protocol", out
    still_works(sandbox)


def test_world_call_arguments_that_grow_on_reencoding_are_an_error_value(access):
    code = FORGED + (
        "def f():\n    send({'op': 'rpc', 'fn': 'read_file', 'args': ['é' * 1_000_000], 'kwargs': {}})\n"
        "    n = struct.unpack('>I', os.read(chan.from_relay, 4))[0]\n    body = b''\n"
        "    while len(body) < n:\n        body += os.read(chan.from_relay, n - len(body))\n"
        "    return json.loads(body)\n"
    )
    with Sandbox(Limits(wall_s=3.0, result_bytes=2 * 1024 * 1024, output_bytes=1024), isolation="bwrap") as small:
        out = small.call(code, "f", {}, access)
        assert out.ok and out.value["ok"] is False and "too large" in out.value["error"], out
        assert small.restarts == 0


def test_a_tool_holding_the_process_limit_fails_its_suite_without_killing_the_zygote(sandbox):
    """Forking up to the limit while loading made the zygote's fork of the test process fail: the zygote exited."""
    code = (
        "import os, time\nfor _ in range(500):\n    try:\n        pid = os.fork()\n    except OSError:\n"
        "        break\n    if pid == 0:\n        time.sleep(30)\n        os._exit(0)\n"
        "def f(x):\n    return x + 1\n"
    )
    restarts = sandbox.restarts
    out = sandbox.run_tests(code, "def test_a():\n    assert f(1) == 2\ndef test_b():\n    assert f(2) == 3\n")
    assert not out.ok and sandbox.restarts == restarts, (out, sandbox.restarts)
    assert all("no test process" in str(t["error"]) for t in out.tests), out.tests
    still_works(sandbox)


# -- sixth red-team round -----------------------------------------------------------------------------
def test_strings_from_the_sandbox_are_valid_unicode(sandbox):
    """A lone surrogate in a test's error crossed intact and crashed the job when the repair prompt was encoded."""
    code = "def f(x):\n    if x:\n        raise ValueError('bad \\ud800 input')\n    return 'a\\udc00b'\n"
    suite = sandbox.run_tests(code, "def test_a():\n    f(1)\ndef test_b():\n    assert False, '\\udfff'\n")
    value = sandbox.call(code, "f", {"x": 0})
    assert not suite.ok and "ud800" in str(suite.tests[0]["error"]) and value.ok, (suite, value)
    json.dumps([suite.tests, suite.error, value.value], ensure_ascii=False).encode("utf-8")  # raised before
    assert sandbox.call("def f():\n    return '\\U0001f600'\n", "f", {}).value == "\U0001f600"  # pairs stay as they are


def test_a_slow_clean_up_is_not_charged_to_the_next_call():
    """Processes with ~65k memory regions die slowly; the wait for their reaping was counted in the next call's
    time (and a suite's budget): a benign suite failed with a timeout after such a call."""
    code = (
        "import ctypes, os, time\ndef tool():\n    libc = ctypes.CDLL(None)\n    libc.mmap.restype = ctypes.c_void_p\n"
        "    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,"
        " ctypes.c_long]\n    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]\n"
        "    base = libc.mmap(None, 100000 * 4096, 1, 0x22, -1, 0)\n    for i in range(0, 100000, 2):\n"
        "        libc.mprotect(base + i * 4096, 4096, 0)\n    for _ in range(40):\n        if os.fork() == 0:\n"
        "            time.sleep(100)\n            os._exit(0)\n    return 'ok'\n"
    )
    # 10 s of wall clock: the tool's own 50k mprotects and 40 forks took over 3 s on a loaded machine (a CI
    # run beside other jobs); what this test measures is the next call's time, not this one's.
    with Sandbox(Limits(wall_s=10.0), isolation="bwrap") as sb:
        assert sb.call(code, "tool", {}).ok
        t0 = time.monotonic()
        out = sb.call("def g():\n    return 1\n", "g", {})
        assert out.ok and out.elapsed_s < 0.2, (out, time.monotonic() - t0)
        still_works(sb)
