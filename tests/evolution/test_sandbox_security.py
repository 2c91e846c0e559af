"""Hostile tool code: every case is contained by the sandbox and reported, never harms the host.

Runs with bubblewrap isolation (``make install`` installs it); the static policy is
deliberately *not* applied here, so the sandbox alone is the boundary under test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from evolution.sandbox import Limits, Sandbox, bwrap_path

# Without bubblewrap these tests fail (isolation="bwrap" refuses to start) unless explicitly allowed:
# a silently skipped security suite would hide a missing install step.
pytestmark = pytest.mark.skipif(
    bwrap_path() is None and os.environ.get("ARISE_ALLOW_NO_BWRAP") == "1",
    reason="bubblewrap missing and ARISE_ALLOW_NO_BWRAP=1",
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(Limits(wall_s=2.0, cpu_s=1.0, memory_mb=256, output_bytes=4096), isolation="bwrap") as sb:
        yield sb


def run(sb: Sandbox, body: str):
    return sb.call(f"def tool():\n{body}", "tool", {})


def test_network_connect_fails(sandbox: Sandbox):
    out = run(
        sandbox,
        "    import socket\n    s = socket.create_connection(('1.1.1.1', 80), timeout=1)\n    return 'connected'",
    )
    assert not out.ok and ("unreachable" in out.error.lower() or "OSError" in out.error)
    out = run(
        sandbox, "    import urllib.request\n    return urllib.request.urlopen('http://example.com', timeout=1).read()"
    )
    assert not out.ok


def test_host_files_outside_the_world_are_not_writable_and_tmp_is_private(sandbox: Sandbox):
    target = Path(__file__).parent / "pwned.txt"
    out = run(sandbox, f"    open({str(target)!r}, 'w').write('x')\n    return 'wrote'")
    assert not out.ok and ("Read-only file system" in out.error or "Permission denied" in out.error)
    assert not target.exists()
    if Path("/etc/shadow").exists():  # a host file only root may read stays unreadable
        out = run(sandbox, "    return open('/etc/shadow').read()")
        assert not out.ok and "Permission denied" in out.error
    out = run(sandbox, "    open('/tmp/scratch', 'w').write('ok')\n    return open('/tmp/scratch').read()")
    assert out.ok and out.value == "ok"
    assert not Path("/tmp/scratch").exists() or Path("/tmp/scratch").read_text() != "ok"


def test_host_secrets_in_the_environment_are_not_visible(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret-123")
    with Sandbox(Limits(wall_s=2.0), isolation="bwrap") as sb:  # started after the key is set
        out = sb.call("import os\ndef tool():\n    return dict(os.environ)\n", "tool", {})
    assert out.ok and "OPENAI_API_KEY" not in out.value and "sk-host-secret-123" not in str(out.value)
    assert set(out.value) <= {"PATH", "LANG", "PWD", "LC_CTYPE"}


def test_fork_bomb_is_contained(sandbox: Sandbox):
    t0 = time.monotonic()
    out = run(
        sandbox,
        "    import os\n    while True:\n        try:\n            os.fork()\n"
        "        except OSError:\n            pass",
    )
    assert not out.ok and out.reason in ("timeout", "cpu_limit", "killed", "crash")
    assert time.monotonic() - t0 < 10
    assert sandbox.call("def f():\n    return 1\n", "f", {}).value == 1  # the sandbox still works


def test_memory_bomb_is_contained(sandbox: Sandbox):
    out = run(sandbox, "    x = bytearray(2 * 1024 ** 3)\n    return len(x)")
    assert not out.ok and "MemoryError" in out.error


def test_cpu_loop_is_killed(sandbox: Sandbox):
    t0 = time.monotonic()
    out = run(sandbox, "    while True:\n        pass")
    assert not out.ok and out.reason in ("cpu_limit", "timeout")
    assert time.monotonic() - t0 < 5


def test_sleep_past_the_deadline_is_killed(sandbox: Sandbox):
    t0 = time.monotonic()
    out = run(sandbox, "    import time\n    time.sleep(60)\n    return 'slept'")
    assert not out.ok and out.reason == "timeout" and "2.0 s wall clock" in out.error
    assert time.monotonic() - t0 < 5


def test_huge_output_is_capped(sandbox: Sandbox):
    out = run(sandbox, "    for _ in range(10000):\n        print('y' * 100)\n    return 'done'")
    assert out.ok and out.value == "done"
    assert len(out.output) == 4096 and out.output_truncated > 900_000


def test_a_test_cannot_forge_a_pass_by_printing(sandbox: Sandbox):
    code = "def tool(x):\n    return x + 1\n"
    forged = 'print(\'{"ok": true, "tests": [{"name": "test_x", "passed": true}]}\')\nprint(\'PASSED\')\n'
    out = sandbox.run_tests(code, forged + "def test_x():\n    assert tool(1) == 3\n")
    assert not out.ok and out.tests == [{"name": "test_x", "passed": False, "error": "AssertionError: "}]
    assert "PASSED" in out.output  # printed, and ignored


def test_an_empty_test_suite_fails(sandbox: Sandbox):
    out = sandbox.run_tests("def tool():\n    return 1\n", "# no tests here\nprint('all tests passed')\n")
    assert not out.ok and "zero tests" in out.error


def test_dynamic_import_tricks_stay_inside(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ARISE_TEST_SECRET", "host-secret-42")
    body = (
        "    m = __import__('o' + 's')\n"
        "    import importlib\n"
        "    sp = importlib.import_module('subpro' + 'cess')\n"
        "    r = sp.run(['cat', '/proc/1/environ', '/proc/self/environ'], capture_output=True)\n"
        "    return [m.getuid(), dict(m.environ), r.stdout.decode(errors='replace')]"
    )
    with Sandbox(Limits(wall_s=3.0), isolation="bwrap") as sb:  # started with the secret in our environment
        out = sb.call(f"def tool():\n{body}", "tool", {})
    # The tricks run, but only inside: an unprivileged uid, and no trace of the host's environment.
    assert out.ok, out.error
    uid, env, proc_env = out.value
    assert uid != 0 or os.getuid() != 0
    assert "ARISE_TEST_SECRET" not in env and "host-secret-42" not in proc_env


def test_a_tool_killing_itself_leaves_the_sandbox_working(sandbox: Sandbox):
    """The worker is a separate process: a tool killing its own process leaves the host and sandbox alive."""
    out = run(sandbox, "    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)")
    assert not out.ok and out.reason in ("killed", "crash")
    assert sandbox.call("def f():\n    return os_ok\nos_ok = 2\n", "f", {}).value == 2


def test_rlimits_only_mode_still_limits_and_says_so(capsys: pytest.CaptureFixture[str]):
    with Sandbox(Limits(wall_s=1.0, cpu_s=1.0, memory_mb=256), isolation="rlimits-only") as sb:
        assert sb.isolation == "rlimits-only"
        out = sb.call("def f():\n    while True:\n        pass\n", "f", {})
        assert not out.ok and out.reason in ("cpu_limit", "timeout")
        out = sb.call("def f():\n    return len(bytearray(2 * 1024 ** 3))\n", "f", {})
        assert not out.ok and "MemoryError" in out.error
