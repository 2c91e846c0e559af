"""Every command and snippet in README.md and docs/*.md runs as written, after `make run`.

The commands are extracted from the fenced shell blocks and from inline `python -m ...` spans, and the
Python snippets from the fenced python blocks. Each is run cheaply, in the way its kind allows:

* ``python -m experiments.run ...``: with ``--plan`` (every job composed and checked as the run would,
  nothing run);
* the commands that read a run directory (summary, report, power, context_budget): for real, on a small
  run directory laid out like `make run`'s (``runs/default`` with its ``protocols`` sub-sweep);
* ``python -m envs.inspect``: for real; long or serving commands (benchmarks, checks, servers): ``--help``
  (tests/test_clis.py runs ``envs.serve`` and ``sim_check`` for real);
* ``make TARGET``: ``make -n`` (the target exists and its recipe expands);
* setup lines (``source .venv/bin/activate``, ``export VAR=...``) and other projects' programs (vLLM,
  Ollama, llama.cpp's own server, pip): recognised, and listed below so that a new one is a decision.

Modules run in this process as ``python -m`` runs them (``runpy.run_module`` as ``__main__``).
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from experiments.config import compose_run_config
from experiments.run import run_job

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Other projects' programs the docs show how to start; not run here (no GPU, no downloads).
EXTERNAL = ("vllm ", "ollama ", "OLLAMA_CONTEXT_LENGTH=", "pip install ", "python -m llama_cpp.server ", "CMAKE_ARGS=")
SETUP = ("source .venv/bin/activate", "export OPENAI_API_KEY=...")
# Run as --help: they take minutes, serve until stopped, write into the checkout (the viewer's
# --screenshots; the viewer itself is driven in a browser by tests/experiments/test_view.py) or need
# a checkout of the reference harness (reference_fidelity; tests/experiments/test_reference_fidelity.py).
HELP_ONLY = {
    "experiments.bench", "experiments.bench_dcql", "experiments.sim_check", "experiments.evolution_check",
    "envs.serve", "agents.serve_sim", "agents.llm.llamacpp_server", "experiments.view",
    "experiments.reference_fidelity",
}  # fmt: skip
READS_RUNS = {"experiments.summary", "experiments.report", "experiments.power", "experiments.context_budget"}
# Inline spans that show a command's shape rather than a command (placeholders in angle brackets).
SHAPES = ("<dir>", "python -m ...")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`(python -m [^`]+)`")


def _shell_commands(block: str) -> list[str]:
    """A fenced shell block's commands: continuation lines joined, comments dropped, ``a && b`` and a
    trailing ``&`` split."""
    text = block.replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if not line or line.startswith("#"):
            continue
        for part in line.split("&&"):
            part = part.strip().removesuffix("&").strip()
            if part:
                out.append(part)
    return out


def _extract() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """([(where, command)], [(where, python source)]) from README.md and docs/*.md."""
    commands: list[tuple[str, str]] = []
    snippets: list[tuple[str, str]] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            where = f"{doc.name}:{text[: m.start()].count(chr(10)) + 1}"
            if m.group(1) in ("bash", "sh", "shell"):
                commands += [(where, c) for c in _shell_commands(m.group(2))]
            elif m.group(1) == "python":
                snippets.append((where, m.group(2)))
        for m in INLINE.finditer(text):
            span = " ".join(m.group(1).split())
            if not any(s in span for s in SHAPES) and span != "python -m":
                commands.append((f"{doc.name}:{text[: m.start()].count(chr(10)) + 1}", span))
    return commands, snippets


COMMANDS, SNIPPETS = _extract()


def _module_argv(command: str) -> tuple[str, list[str]]:
    words = shlex.split(command)
    assert words[:2] == ["python", "-m"], command
    return words[2], words[3:]


def _run_module(module: str, argv: list[str]) -> int:
    """Run ``python -m module argv...`` in this process; its exit status."""
    saved = sys.argv
    sys.argv = [module, *argv]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "found in sys.modules": imported earlier by a test
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved


@pytest.fixture(scope="module")
def after_make_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory laid out like one after `make run`, small: ``runs/default`` (arise and
    no_evolution on AcmeCorp rigorous, seeds 1-3, one family per phase) and ``runs/default/protocols``
    (another world). The presets' directories the docs read after running them point at it."""
    root = tmp_path_factory.mktemp("after_make_run")
    families = "families=[logs.severity_count,metrics.window_value,config.effective_replicas,incidents.root_cause]"
    for condition in ("arise", "no_evolution"):
        for seed in (1, 2, 3):
            cfg = compose_run_config(
                [f"condition={condition}", f"seed={seed}", families, "progress=false", "diagnostics.enabled=false"]
            )
            run_job(cfg, root / "runs" / "default" / f"condition={condition},seed={seed}")
    for condition in ("arise", "no_evolution"):  # a second setting, as `make run`'s protocols sweep adds
        cfg = compose_run_config(
            ["world=datacorp", f"condition={condition}", "seed=42", "families=[csv.valid_rows]", "progress=false",
             "diagnostics.enabled=false"]
        )  # fmt: skip
        run_job(cfg, root / "runs" / "default" / "protocols" / f"condition={condition},world=datacorp")
    for preset in ("paper_table2", "context_budget"):
        (root / "runs" / preset).symlink_to(root / "runs" / "default")
    return root


def _kind(command: str) -> str:
    if command.startswith(SETUP):
        return "setup"
    if command.startswith(EXTERNAL):
        return "external"
    if command.startswith("make "):
        return "make"
    if command.startswith("jupytext ") or command.startswith("jupyter "):
        return "jupyter"
    module, argv = _module_argv(command)
    if "--help" in argv or (not argv and module != "experiments.run"):
        return "help"  # a module named in prose, or its help
    if module == "experiments.run":
        return "plan"
    if module in READS_RUNS:
        return "reads-runs"
    if module in HELP_ONLY:
        return "help"
    if module == "envs.inspect":
        return "real"
    raise AssertionError(f"no way to check {command!r}: add it to a kind in tests/test_commands.py")


def test_the_docs_have_commands_of_every_kind():
    kinds = {_kind(c) for _, c in COMMANDS}
    assert kinds == {"setup", "external", "make", "jupyter", "plan", "reads-runs", "help", "real"}
    assert len(COMMANDS) > 40 and len(SNIPPETS) >= 4


def test_external_commands_are_only_the_known_ones():
    external = sorted({" ".join(c.split()[:2]) for _, c in COMMANDS if _kind(c) == "external"})
    assert external == [
        'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip', "OLLAMA_CONTEXT_LENGTH=16384 ollama", "ollama pull",
        "python -m", "vllm serve",
    ]  # fmt: skip


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[f"{w} {c[:60]}" for w, c in COMMANDS])
def test_command_runs_as_written(
    where: str, command: str, after_make_run: Path, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
):
    kind = _kind(command)
    if kind == "setup":
        if command.startswith("source "):
            assert (Path(sys.prefix) / "bin" / "activate").is_file()  # make install's venv
        return
    if kind == "external":
        return
    if kind == "make":
        proc = subprocess.run(["make", "-n", *command.split()[1:]], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return
    if kind == "jupyter":
        _jupyter(command, tmp_path)
        return
    module, argv = _module_argv(command)
    monkeypatch.chdir(ROOT if kind in ("plan", "help", "real") else after_make_run)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if kind == "plan":
        argv = [*argv, "--plan"]
    elif kind == "help":
        argv = ["--help"]
    elif module == "experiments.report":
        argv = [*argv, "--no-progress", "--out", str(tmp_path / "report")]
    status = _run_module(module, argv)
    out, err = capsys.readouterr()
    assert status == 0, f"{where}: {command}\nstdout:\n{out}\nstderr:\n{err}"
    if kind == "plan":
        assert re.search(r"^plan: [1-9]\d* job\(s\)", out, re.M), out
    elif kind == "help":
        assert out.startswith(f"usage: python -m {module}"), out
    else:
        assert out.strip(), err


def _jupyter(command: str, tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    words = command.split()
    if words[0] == "jupytext":  # in a copy of the notebooks: it writes the paired .ipynb
        import shutil

        shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
        paths = [str(p.relative_to(tmp_path)) for p in sorted((tmp_path / "notebooks").glob("*.py"))]
        proc = subprocess.run([str(bin_dir / "jupytext"), *words[1:-1], *paths], cwd=tmp_path, capture_output=True)
        assert proc.returncode == 0, proc.stderr
        assert len(list((tmp_path / "notebooks").glob("*.ipynb"))) == len(paths)
    else:  # jupyter lab serves until stopped: it is installed and knows the command
        proc = subprocess.run([str(bin_dir / "jupyter"), *words[1:2], "--version"], capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr


@pytest.mark.parametrize(("where", "source"), SNIPPETS, ids=[w for w, _ in SNIPPETS])
def test_python_snippet_runs_and_shows_something(where: str, source: str, capsys, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    exec(compile(source, where, "exec"), {"__name__": "__snippet__"})
    assert capsys.readouterr().out.strip(), f"{where} printed nothing"


def test_power_example_needs_the_setting_it_names(after_make_run: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    """The README's power command names --world/--protocol because `make run`'s directory holds several
    settings; without them the CLI says so (this test fails if the README's example stops naming them)."""
    monkeypatch.chdir(after_make_run)
    status = _run_module("experiments.power", ["runs/default", "--a", "arise", "--b", "no_evolution"])
    assert status == 1 and "--world" in capsys.readouterr().err
    readme_power = [c for _, c in COMMANDS if c.startswith("python -m experiments.power ")]
    assert readme_power and all("--world" in c and "--protocol" in c for c in readme_power)


def test_extraction_reads_continuations_comments_and_chains():
    block = "a x=1 \\\n  y=2   # a comment\n# only a comment\nmake b && python -m c --port 1 &\n"
    assert _shell_commands(block) == ["a x=1    y=2", "make b", "python -m c --port 1"]
    assert json.dumps(sorted(os.path.basename(d) for d in map(str, DOCS)))  # the docs exist
