"""The sandbox as the env's ToolRunner: same outputs as in-process, world access forwarded, speed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import gymnasium as gym
import pytest

from envs import ENV_IDS
from envs.access import WorldAccess
from envs.tasks import get_suite
from envs.tools import InProcessRunner, tool_spec
from evolution.sandbox import Limits, Sandbox, SandboxRunner

SOURCE = '''
from envs.toolkit import list_files, read_file


def config_line_count(prefix: str = "config/services/") -> dict:
    """Lines per AcmeConf file under a directory.

    Args:
        prefix: Directory prefix.
    """
    return {p: len(read_file(p).splitlines()) for p in list_files(prefix)}
'''


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(Limits(wall_s=5.0)) as sb:
        yield sb


def _in_process_tool():
    ns: dict = {}
    exec(compile(SOURCE, "<tool>", "exec"), ns)  # trusted test code, to compare outputs
    return ns["config_line_count"]


def test_sandboxed_tool_matches_the_in_process_run(sandbox: Sandbox):
    fn = _in_process_tool()
    runner = SandboxRunner(sandbox)
    runner.add(tool_spec(fn), SOURCE)
    world = get_suite("acmecorp").get_world(3)
    sandboxed = runner.call("config_line_count", {"prefix": "config/services/"}, WorldAccess(world))
    local = InProcessRunner.of([fn]).call("config_line_count", {"prefix": "config/services/"}, WorldAccess(world))
    assert sandboxed.ok and sandboxed.output == local.output and len(json.loads(sandboxed.output)) >= 4
    bad = runner.call("config_line_count", {"prefx": "x"}, WorldAccess(world))
    assert not bad.ok and "prefx" in bad.error
    missing = runner.call("config_line_count", {"prefix": "nope/"}, WorldAccess(world))
    assert missing.ok and missing.output == "{}"
    err = SandboxRunner(
        sandbox,
        {
            "reader": (
                tool_spec(fn, "reader"),
                "from envs.toolkit import read_file\ndef reader(prefix: str = ''):\n    return read_file('no/such')\n",
            )
        },
    )
    out = err.call("reader", {}, WorldAccess(world))
    assert not out.ok and "no such file" in out.error


def test_an_episode_runs_a_sandboxed_tool_through_the_env(sandbox: Sandbox):
    fn = _in_process_tool()
    runner = SandboxRunner(sandbox)
    runner.add(tool_spec(fn), SOURCE)
    env = gym.make(ENV_IDS["acmecorp"], max_episode_steps=5)
    obs, info = env.reset(seed=3, options={"task": "config.effective_replicas", "tools": runner})
    assert "config_line_count" in [t["name"] for t in info["tools"]]
    obs, _, _, _, step = env.step(json.dumps({"tool": "config_line_count", "args": {}}))
    assert step["ok"] and json.loads(obs)


def test_the_affordance_policy_of_the_episode_applies_inside_the_sandbox(sandbox: Sandbox):
    """arise_v1 is GET-only: a sandboxed tool cannot POST either."""
    from envs.access import AccessPolicy

    world = get_suite("datacorp").get_world(1)
    access = WorldAccess(world, AccessPolicy(("http_get",)))
    code = (
        "from envs.toolkit import http_post\n"
        "def f():\n    return http_post('http://api.datacorp.internal/validate', {})\n"
    )
    out = sandbox.call(code, "f", {}, access)
    assert not out.ok and "http_post is not available" in out.error


def test_a_checkout_under_tmp_runs_the_sandbox(tmp_path):
    """The sandbox's own /tmp once hid a worker that lived under /tmp: the worker now enters as data."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    project = Path(__file__).resolve().parents[2]
    assert str(tmp_path).startswith("/tmp/")
    for package in ("envs", "evolution"):
        shutil.copytree(project / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import evolution.sandbox as s\n"
        "assert s.__file__.startswith(sys.argv[1]), s.__file__\n"
        "with s.Sandbox(isolation='bwrap') as sb:\n"
        "    out = sb.call('def f(x):\\n    return x * 3\\n', 'f', {'x': 14})\n"
        "    suite = sb.run_tests('def f(x):\\n    return x\\n', 'def test_a():\\n    assert f(2) == 2\\n')\n"
        "print(out.value, suite.ok)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert proc.stdout.split() == ["42", "True"]


def test_code_that_reads_the_world_while_it_loads_gets_its_own_answers(sandbox: Sandbox):
    """A code_agent snippet calls affordances at module level: each reply must answer that call, not be
    mistaken for the episode's call (an episode's call sent along with the code broke every such snippet)."""
    world = get_suite("acmecorp").get_world(3)
    code = (
        "from envs.toolkit import list_files, read_file\n"
        "FILES = list_files('config/services/')\n"
        "FIRST = read_file(FILES[0])\n"
        "def main(n: int = 1):\n"
        "    return [len(FILES), FIRST[:n], read_file(FILES[0])[:n]]\n"
    )
    out = sandbox.call(code, "main", {"n": 5}, WorldAccess(world))
    assert out.ok, out.error
    n_files, head, again = out.value
    assert n_files >= 4 and head == again and len(head) == 5
