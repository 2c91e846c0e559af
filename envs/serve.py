"""Serve a world's HTTP APIs on loopback for external agents.

``python -m envs.serve world=acmecorp seed=42`` starts one server per virtual host on
127.0.0.1 (ephemeral ports), prints ``<virtual host> -> <loopback URL>`` and serves until
interrupted. The bytes are the same as in-process (``envs.http``). Files and handbook
pages are not served: use the Gymnasium env's affordances for those.
"""

from __future__ import annotations

import sys
import threading

from envs.inspect import _value
from envs.tasks import get_suite


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(__doc__)
        return 0
    kv = dict(a.split("=", 1) for a in args if "=" in a)
    bad = [a for a in args if "=" not in a]
    if bad:
        print(f"error: expected key=value arguments, got {bad} (see --help)", file=sys.stderr)
        return 2
    try:
        suite = get_suite(kv.pop("world", "acmecorp"), kv.pop("protocol", "rigorous"))
        seed = int(kv.pop("seed", "42"))
        world = suite.build_world(seed, {**suite.default_options, **{k: _value(v) for k, v in kv.items()}})
    except (KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
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
