"""Serve a world's HTTP APIs on loopback for external agents.

``python -m envs.serve world=acmecorp seed=42`` starts one server per virtual host on
127.0.0.1 (ephemeral ports), prints ``<virtual host> -> <loopback URL>`` and serves until
interrupted. The bytes are the same as in-process (``envs.http``). Files and handbook
pages are not served: use the Gymnasium env's affordances for those.
"""

from __future__ import annotations

import sys
import threading

from envs.inspect import world_from_args


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0
    try:
        _, world = world_from_args(args)
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) and exc.args else exc}", file=sys.stderr)
        return 2
    for host in sorted(world.http.hosts):
        print(f"http://{host} -> {world.http.serve(host)}", flush=True)
    print("serving; press Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        world.http.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
