"""Serve a world's HTTP APIs on loopback for external agents.

``python -m envs.serve world=acmecorp seed=42 [--port 8100]`` starts one server per virtual host on
127.0.0.1, prints ``<virtual host> -> <loopback URL>`` and serves until interrupted (Ctrl-C or
SIGTERM). The bytes are the same as in-process (``envs.http``). Files and handbook pages are not
served: use the Gymnasium env's affordances for those.
"""

from __future__ import annotations

import argparse
import sys
import threading

from envs.cli import run_main, sigterm_unwinds
from envs.inspect import world_from_args
from envs.tasks import available


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m envs.serve",
        description=__doc__.split("\n\n")[0],
        epilog="available (world, protocol): " + ", ".join(f"{w}/{p}" for w, p in available()),
    )
    parser.add_argument(
        "settings", nargs="*", metavar="key=value",
        help="world=NAME protocol=NAME seed=N and world generator options (as for python -m envs.inspect)",
    )  # fmt: skip
    parser.add_argument(
        "--port", type=int, default=0,
        help="port of the first virtual host (sorted by name); further hosts take the ports after it "
        "(default 0: ephemeral ports)",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be in 0..65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        _, world = world_from_args(args.settings)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) and exc.args else exc}", file=sys.stderr)
        return 2
    try:
        with sigterm_unwinds():
            for i, host in enumerate(sorted(world.http.hosts)):
                port = args.port + i if args.port else 0
                try:
                    url = world.http.serve(host, port)
                except OSError as exc:
                    print(f"error: cannot serve {host} on 127.0.0.1:{port}: {exc.strerror or exc}", file=sys.stderr)
                    return 1
                print(f"http://{host} -> {url}", flush=True)
            print("serving; press Ctrl-C to stop", flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        world.http.close()
    return 0


if __name__ == "__main__":
    run_main(main)
