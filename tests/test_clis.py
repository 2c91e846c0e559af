"""Every command-line entry point: a ``--help`` whose usage line is how it is run (``python -m ...``),
bad arguments named, long phases that clean up after SIGTERM, ``envs.serve --port``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from envs.inspect import main as inspect_main

ROOT = Path(__file__).resolve().parents[1]

# Every module with a command line (``if __name__ == "__main__"``), except the sandbox's worker and the
# static policy's self-check, which are not user commands.
CLIS = [
    "experiments.run", "experiments.report", "experiments.summary", "experiments.power", "experiments.bench",
    "experiments.bench_dcql", "experiments.evolution_check", "experiments.sim_check", "experiments.context_budget",
    "experiments.taxonomy", "experiments.view", "experiments.reference_fidelity", "envs.inspect", "envs.serve",
    "agents.serve_sim", "agents.llm.llamacpp_server",
]  # fmt: skip
NOT_USER_COMMANDS = {"evolution.sandbox.worker", "evolution.static_policy"}

# Runs each module as ``python -m`` does (runpy's run_module as __main__) in one process, so the imports
# are paid once: {module: [exit status, stdout]}.
_DRIVER = """
import contextlib, io, json, runpy, sys, warnings
warnings.simplefilter("ignore", RuntimeWarning)  # "found in sys.modules": a module imported by an earlier one
out = {}
for module in sys.argv[1:]:
    buf = io.StringIO()
    sys.argv = [module, "--help"]
    with contextlib.redirect_stdout(buf):
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out[module] = [code, buf.getvalue()]
print(json.dumps(out))
"""


def test_every_command_line_module_is_listed():
    found = set()
    for package in ("envs", "agents", "evolution", "experiments"):
        for path in (ROOT / package).rglob("*.py"):
            if 'if __name__ == "__main__"' in path.read_text(encoding="utf-8") or path.name == "__main__.py":
                module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                found.add(module.removesuffix(".__main__"))
    assert found - NOT_USER_COMMANDS == set(CLIS)


@pytest.fixture(scope="module")
def helps() -> dict[str, list]:
    proc = subprocess.run([sys.executable, "-c", _DRIVER, *CLIS], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", CLIS)
def test_help_exits_0_with_a_python_m_usage_line(helps: dict[str, list], module: str):
    code, text = helps[module]
    assert code == 0, text
    first = next(line for line in text.splitlines() if line.strip())
    assert first.startswith(f"usage: python -m {module} "), first


def test_run_help_lists_only_presets_and_its_usage_is_the_parsers(helps: dict[str, list]):
    from experiments.command_line import USAGE

    text = helps["experiments.run"][1]
    assert text.splitlines()[0] == USAGE  # conf/config.yaml's help header states the same line
    groups = text.split("== Configuration groups ==")[1].split("== Config ==")[0]
    assert "condition: arise, code_agent, fixed_tools" in groups
    assert "schema" not in groups and "base_" not in groups  # schemas are no choices


def test_inspect_names_a_bad_seed(capsys: pytest.CaptureFixture[str]):
    assert inspect_main(["seed=abc"]) == 2
    assert "seed must be a non-negative integer, got seed='abc'" in capsys.readouterr().err
    assert inspect_main(["seed=-3"]) == 2
    assert "got seed='-3'" in capsys.readouterr().err


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_listens_on_the_given_port_and_stops_on_sigterm():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "envs.serve", "world=datacorp", "seed=3", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == f"http://api.datacorp.internal -> http://127.0.0.1:{port}", first
        assert proc.stdout.readline().startswith("serving")
        schemas = httpx.get(f"http://127.0.0.1:{port}/schemas", timeout=10).json()
        assert "orders" in schemas
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_refuses_a_bad_port():
    proc = subprocess.run(
        [sys.executable, "-m", "envs.serve", "--port", "70000"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 2 and "--port must be in 0..65535, got 70000" in proc.stderr


def test_sim_check_prints_a_line_per_job(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys):
    from experiments import sim_check
    from experiments.config import compose_run_config

    def one_family(overrides: list[str]):  # the real jobs, one episode each
        return compose_run_config([*overrides, "families=[logs.severity_count]"])

    monkeypatch.setattr(sim_check, "compose_run_config", one_family)
    sim_check.measure("acmecorp", [1], tmp_path)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "[1/4] sim-4o-mini-like no_evolution seed 1", "[2/4] sim-4o-mini-like fixed_tools seed 1",
        "[3/4] sim-sonnet-like no_evolution seed 1", "[4/4] sim-sonnet-like fixed_tools seed 1",
    ]  # fmt: skip
    assert all(" s elapsed)" in line for line in lines)


def test_evolution_check_prints_a_line_per_job(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys):
    from experiments import evolution_check
    from experiments.config import compose_run_config

    def small(overrides: list[str]):  # the real jobs, two episodes each, without the end-of-job diagnostics
        families = "families=[logs.severity_count,metrics.window_value]"
        return compose_run_config([*overrides, families, "diagnostics.enabled=false"])

    monkeypatch.setattr(evolution_check, "compose_run_config", small)
    table = evolution_check.measure("acmecorp", "sim-4o-mini-like", [1, 2], ["no_evolution", "arise"], tmp_path)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "[1/4] no_evolution seed 1", "[2/4] no_evolution seed 2", "[3/4] arise seed 1", "[4/4] arise seed 2",
    ]  # fmt: skip
    assert set(table) == {"no_evolution", "arise"}


def sigterm_once(module_argv: list[str], env: dict[str, str], ready: Callable[[], bool]) -> int:
    """Runs ``python -m <module_argv>``, sends SIGTERM once ``ready()`` holds (within 120 s); the exit status."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *module_argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sim_check_removes_its_temporary_directory_on_sigterm(tmp_path: Path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    status = sigterm_once(
        ["experiments.sim_check", "--seeds", "1"],
        env,
        ready=lambda: any(p.is_dir() for d in tmp_path.glob("sim_check-*") for p in d.iterdir()),  # a job under way
    )
    assert list(tmp_path.glob("sim_check-*")) == []  # the run directories went with it
    assert status == 128 + signal.SIGTERM


def test_a_job_killed_with_sigterm_removes_its_sandbox_scratch(tmp_path: Path):
    """Without bubblewrap the sandbox's scratch is a host directory under TMPDIR (bwrap's is a tmpfs)."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = tmp_path / "job"
    args = ["condition=code_agent", "sandbox.isolation=rlimits-only", f"hydra.run.dir={out}", "progress=false"]
    # Ready once the sandbox is up and episodes are under way (its scratch exists then).
    status = sigterm_once(
        ["experiments.run", *args],
        env,
        ready=lambda: (out / "episodes.jsonl").exists() and bool(list(tmp_path.glob("arise-sandbox-*"))),
    )
    assert list(tmp_path.glob("arise-sandbox-*")) == []
    assert status == 128 + signal.SIGTERM
