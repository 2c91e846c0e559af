"""Describe a generated world: ``python -m envs.inspect world=acmecorp seed=42 [protocol=rigorous] [key=value ...]``.

Prints files, APIs, handbook pages and task families, and ends with
``world-hash: <sha256>`` (stable across processes, different across seeds).
Extra ``key=value`` pairs are world generator options (e.g. ``log_lines=50000``).
"""

from __future__ import annotations

import sys
import time

from envs.cli import run_main
from envs.tasks import Suite, available, get_suite
from envs.world import World

USAGE = "usage: python -m envs.inspect [world=NAME] [protocol=NAME] [seed=N] [option=value ...]"


def _value(text: str) -> object:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def world_from_args(args: list[str]) -> tuple[Suite, World]:
    """Build the world named by ``world= protocol= seed= [option=value ...]`` arguments.

    Raises ``ValueError`` (or ``KeyError`` for unknown worlds/protocols) naming what is wrong.
    """
    kv: dict[str, str] = {}
    for a in args:
        if "=" not in a:
            raise ValueError(f"expected key=value arguments, got {a!r} (see --help)")
        k, v = a.split("=", 1)
        kv[k] = v
    suite = get_suite(kv.pop("world", "acmecorp"), kv.pop("protocol", "rigorous"))
    seed_text = kv.pop("seed", "42")
    if not seed_text.isdecimal():
        raise ValueError(f"seed must be a non-negative integer, got seed={seed_text!r}")
    seed = int(seed_text)
    return suite, suite.build_world(seed, {**suite.default_options, **{k: _value(v) for k, v in kv.items()}})


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(USAGE)
        print()
        print(__doc__)
        print("available (world, protocol):", ", ".join(f"{w}/{p}" for w, p in available()))
        return 0
    try:
        t0 = time.perf_counter()
        suite, world = world_from_args(args)
        build_s = time.perf_counter() - t0
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) and exc.args else exc}", file=sys.stderr)
        return 2
    for line in world.summary_lines():
        print(line)
    print(f"families: {len(suite.families)} in phases {', '.join(suite.phases())}")
    for phase in suite.phases():
        names = [f"{f.name} ({f.difficulty})" for f in suite.families if f.phase == phase]
        print(f"  {phase}: {', '.join(names)}")
    print(f"reference tools: {', '.join(t.__name__ for t in suite.reference_tools())}")
    print(f"generated in {build_s:.3f} s")
    print(f"world-hash: {world.world_hash()}")
    return 0


if __name__ == "__main__":
    run_main(main)
