"""The sandbox on a non-root host: the host process itself runs as an unprivileged uid (``setpriv``).

On a root host the sandbox's processes map to a different uid than the host's; here
they share the host user's uid, the case where a call could once reopen the worker's
pipes through ``/proc/<worker>/fd`` or write its memory. The attacks of the security
suite that depend on the uid run again, from a host process that has no privileges.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from evolution.sandbox import bwrap_path

PROJECT = Path(__file__).resolve().parents[2]
UID = 65533  # an unprivileged uid with no account: nothing else runs as it

pytestmark = pytest.mark.skipif(os.getuid() != 0 or shutil.which("setpriv") is None,
                                reason="needs root and setpriv to become an unprivileged user")  # fmt: skip

SCRIPT = """
import json, sys, time
sys.path[:0] = [{project!r}, {site!r}]
from evolution.sandbox import Sandbox, Limits
from evolution.sandbox.worker import _HEADER

ATTACK = '''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
found = {{'uid': os.getuid(), 'proc': os.path.exists('/proc'), 'project': os.path.exists({project!r})}}
for label, pid in (('parent', os.getppid()), ('relay', 1)):
    found['ptrace_' + label] = libc.ptrace(16, pid, 0, 0)
found['fds'] = [fd for fd in range(3, 64) if _isopen(fd)]
if os.fork() == 0:
    try:
        os.setsid()
    except OSError:
        pass
    while True:
        open('/tmp/residue', 'w').write('x')
'''
def run():
    out = {{}}
    with Sandbox(Limits(wall_s=3.0), isolation="bwrap") as sb:
        body = "\\n".join("    " + line for line in ATTACK.splitlines())
        code = "import os\\ndef _isopen(fd):\\n    try:\\n        os.fstat(fd)\\n        return True\\n" \\
               "    except OSError:\\n        return False\\ndef tool():\\n" + body + "\\n    return found\\n"
        first = sb.call(code, "tool", {{}})
        out["first"] = first.value if first.ok else first.error
        nxt = sb.call("import os\\ndef g():\\n    return sorted(os.listdir('/tmp'))\\n", "g", {{}})
        out["next"] = nxt.value
        forged = sb.run_tests("class Y:\\n    def __eq__(s, o):\\n        return True\\ndef f(x):\\n    return Y()\\n",
                              "def test_one():\\n    assert f(1) == 2\\n")
        out["forged_ok"] = forged.ok
        out["host_uid"] = __import__("os").getuid()
    print(json.dumps(out))
run()
"""


def test_attacks_on_the_worker_fail_when_the_host_is_not_root():
    assert bwrap_path() is not None, "bubblewrap must be installed (make install)"
    python = "/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11") else None
    site = next((PROJECT / ".venv" / "lib").glob("python3.*/site-packages"), None)
    if python is None or site is None:
        pytest.skip("needs the system python3.11 and the project's virtualenv")
    probe = subprocess.run(
        ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", python, "-I", "-c",
         f"import os; os.listdir({str(PROJECT)!r}); os.listdir({str(site)!r})"],
        capture_output=True, text=True,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"the checkout is not readable by an unprivileged user here: {probe.stderr.strip()[-200:]}")
    script = textwrap.dedent(SCRIPT).format(project=str(PROJECT), site=str(site))
    proc = subprocess.run(
        ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "--inh-caps=-all", python, "-I", "-"],
        input=script, capture_output=True, text=True, timeout=120, cwd="/",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["host_uid"] == UID
    first = out["first"]
    assert isinstance(first, dict), first
    assert first["uid"] == UID  # the sandbox runs as the host's own (unprivileged) user
    assert first["proc"] is False and first["project"] is False
    assert first["ptrace_parent"] == -1 and first["ptrace_relay"] == -1
    assert len(first["fds"]) <= 3, first  # its own pipes only: not the relay's, not the host's
    assert out["next"] == []  # the setsid daemon is gone and its file wiped
    assert out["forged_ok"] is False
