"""Benchmarks with printed figures: ``python -m experiments.bench`` (or ``make bench``).

* world generation: default-size rigorous AcmeCorp and DataCorp worlds, fresh per seed (target <= 1 s);
* affordance steps per second in-process through ``env.step`` (target >= 5,000/s), for
  a realistic mix (read_file pages, list_files, read_doc, http_get of the metrics API)
  and for each affordance alone;
* sandboxed tool calls per second (bubblewrap, fresh processes per call; targets >= 500/s trivial and
  >= 400/s with one forwarded read_file), a large bundled tool, single-test suites, and rlimits-only;
* a 60-episode ``no_evolution`` job with the simulated model (target <= 20 s), on
  AcmeCorp rigorous (30 families x 2 worlds; the agent pages through raw data) and on
  the paper's 60 arise_v1 tasks;
* the same 60-episode jobs in the ``arise`` condition: evolution, sandboxed validation
  and sandboxed tool calls included (target <= 60 s);
* loopback HTTP: a request on a kept-alive connection to the sim's server and to a world's
  HTTP API (target: <= 5 ms; the two-write answers once waited ~40 ms for a delayed ACK);
* episodes side by side: a fixed_tools job against the sim behind its HTTP server with 200 ms
  latency per answer, 8 workers against 1 (target: speedup >= 6x);
* memory over long runs: RSS of 1,000 oracle episodes on one seed per world (target: growth
  <= 10 KB per episode after the first 100; respx's call history once grew 420 KB per episode).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import gymnasium as gym

import envs  # noqa: F401  (registers the environments)
from envs.acmecorp.world import build_world
from envs.cli import sigterm_unwinds
from experiments.targets import Scoreboard, Target

MIX: list[tuple[str, dict[str, Any]]] = [
    ("read_file", {"path": "logs/acme.log.1", "offset": 1000, "limit": 100}),
    ("http_get", {"url": "http://metrics.acme.internal/metrics/payments", "params": {"window": "1h"}}),
    ("list_files", {"path": "config/"}),
    ("read_doc", {"name": "logging"}),
    ("read_file", {"path": "config/env"}),
    ("http_get", {"url": "http://metrics.acme.internal/services"}),
]


def bench_worldgen(seeds: range, build: Any = build_world) -> list[float]:
    times = []
    for seed in seeds:
        t0 = time.perf_counter()
        build(seed, {})
        times.append(time.perf_counter() - t0)
    return times


def bench_steps(actions: list[tuple[str, dict[str, Any]]], n: int) -> float:
    env = gym.make("arise_gym/AcmeCorp-v0", max_episode_steps=n + 10)
    env.reset(seed=42, options={"task": "logs.severity_count"})
    encoded = [json.dumps({"tool": t, "args": a}) for t, a in actions]
    for a in encoded:  # warm caches (page splits, parsed routes)
        obs, *_ = env.step(a)
        assert not obs.startswith("Error"), obs
    t0 = time.perf_counter()
    for i in range(n):
        env.step(encoded[i % len(encoded)])
    dt = time.perf_counter() - t0
    env.close()
    return n / dt


def bench_sandbox(n: int, rounds: int = 5, isolation: str = "auto") -> dict[str, Any]:
    """Sandboxed calls per second (median of ``rounds`` rounds of ``n`` calls each).

    ``plain``: a trivial tool; ``read_file``: one forwarded world call; ``big``: a 30 KB bundled
    reference tool (compiled once by the relay, then shipped marshalled); ``tests``: single-test
    suites per second (a fresh tool process and test process per test).
    """
    from envs.access import WorldAccess
    from envs.bundle import bundle_tool
    from envs.tasks import get_suite
    from evolution.sandbox import Sandbox

    access = WorldAccess(build_world(42, {}))
    plain = "def f(x):\n    return x + 1\n"
    reads = "from envs.toolkit import read_file\ndef g():\n    return len(read_file('config/env'))\n"
    big_fn = max(get_suite("acmecorp").reference_tools(), key=lambda fn: len(bundle_tool(fn)))
    big = bundle_tool(big_fn) + "\ndef _bench_entry():\n    return 1\n"
    suite = "def test_one():\n    assert f(1) == 2\n"

    def rate(fn: Any, calls: int) -> float:
        samples = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for i in range(calls):
                fn(i)
            samples.append(calls / (time.perf_counter() - t0))
        return statistics.median(samples)

    with Sandbox(isolation=isolation) as sb:
        for i in range(50):  # warm up
            sb.call(plain, "f", {"x": i})
        return {
            "isolation": sb.isolation,
            "plain": rate(lambda i: sb.call(plain, "f", {"x": i}), n),
            "read_file": rate(lambda i: sb.call(reads, "g", {}, access), n),
            "big": rate(lambda i: sb.call(big, "_bench_entry", {}), max(1, n // 5)),
            "big_size": len(big),
            "tests": rate(lambda i: sb.run_tests(plain, suite), max(1, n // 5)),
        }


def bench_sim_job(protocol: str, condition: str = "no_evolution") -> tuple[int, float, dict[str, Any]]:
    """(episodes, wall seconds, result) of a 60-episode job with sim-4o-mini-like."""
    import tempfile
    from pathlib import Path

    from envs.tasks import get_suite
    from experiments.config import compose_run_config
    from experiments.run import run_job

    overrides = [f"protocol={protocol}", f"condition={condition}", "llm=sim-4o-mini-like", "seed=1", "progress=false"]
    if protocol == "rigorous":
        families = [f.name for f in get_suite("acmecorp").families[:30]]
        overrides += ["n_worlds=2", f"families=[{','.join(families)}]"]
    cfg = compose_run_config(overrides)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = run_job(cfg, Path(tmp))
        return result["n_episodes"], time.perf_counter() - t0, result


def rss_mb() -> float:
    """Current resident set size of this process (Linux /proc)."""
    import os

    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_memory(n: int = 1000, world: str = "acmecorp") -> list[tuple[int, float]]:
    """(episodes played, RSS MB) every 100 episodes of the oracle on one fixed seed's instances,
    played over and over through one env (the worlds stay cached, as in a long job)."""
    import tempfile
    from pathlib import Path

    from experiments.conditions import build_condition
    from experiments.config import compose_run_config
    from experiments.episodes import run_episode
    from experiments.run import _make_env, plan_job

    cfg = compose_run_config([f"world={world}", "condition=oracle", "seed=1", "progress=false"])
    plan = plan_job(cfg)
    env = _make_env(cfg, plan.options)
    with tempfile.TemporaryDirectory() as tmp:
        condition = build_condition(cfg, plan.suite, plan.options, Path(tmp))
        points = [(0, rss_mb())]
        for i in range(n):
            run_episode(env, condition.policy, plan.planned[i % len(plan.planned)], condition.tools())
            if (i + 1) % 100 == 0:
                points.append((i + 1, rss_mb()))
        condition.close()
    env.close()
    return points


# The targets each figure is printed against (README "Benchmarks").
WORLDGEN = Target(1.0, "s", at_least=False, spec=".3f")
STEPS = Target(5000, "steps/s")
SANDBOX_TRIVIAL = Target(500, "calls/s")
SANDBOX_READ_FILE = Target(400, "calls/s")
SIM_JOB = Target(20, "s", at_least=False, spec=".1f")
ARISE_JOB = Target(60, "s", at_least=False, spec=".1f")
SPEEDUP = Target(6, "x", spec=".1f")
ROUND_TRIP = Target(5, "ms", at_least=False, spec=".2f")  # Nagle's algorithm once made it about 40 ms
MEMORY_GROWTH = Target(10, "KB/episode", at_least=False, spec="+.1f")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m experiments.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--worlds", type=int, default=10, help="number of worlds to generate")
    ap.add_argument("--steps", type=int, default=20_000, help="env steps per step benchmark")
    ap.add_argument("--sandbox-calls", type=int, default=600, help="calls per round in the sandbox benchmark")
    ap.add_argument("--only-sandbox", action="store_true", help="run the sandbox benchmark only")
    ap.add_argument("--only-memory", action="store_true", help="run the memory benchmark only")
    ap.add_argument(
        "--only-concurrency",
        action="store_true",
        help="run the loopback HTTP and episodes-side-by-side benchmarks only",
    )
    ap.add_argument("--memory-episodes", type=int, default=1000, help="episodes in the memory benchmark")
    args = ap.parse_args(argv)
    board = Scoreboard()
    with sigterm_unwinds():  # the jobs' temporary directories and sandboxes are removed on a kill too
        if args.only_memory:
            _print_memory(args.memory_episodes, board)
        elif args.only_concurrency:
            _print_concurrency(board)
        else:
            _print_main(args, board)
    print(board.summary())
    return 0


def _print_main(args: argparse.Namespace, board: Scoreboard) -> None:
    from envs.datacorp.world import build_world as build_datacorp

    for name, build in [] if args.only_sandbox else (("AcmeCorp", build_world), ("DataCorp", build_datacorp)):
        times = bench_worldgen(range(1000, 1000 + args.worlds), build)
        print(
            f"world generation ({name} rigorous, default size, {args.worlds} seeds): median "
            f"{statistics.median(times):.3f} s, max {board.check(f'{name} generation', WORLDGEN, max(times))}"
        )
    for name in [] if args.only_sandbox else ["mix"]:
        rate = bench_steps(MIX, args.steps)
        print(f"affordance steps, realistic {name}: {board.check('affordance steps', STEPS, rate)}")
    for name in () if args.only_sandbox else ("read_file", "list_files", "read_doc", "http_get"):
        only = [m for m in MIX if m[0] == name][:1]
        print(f"  {name:<10} alone: {bench_steps(only, args.steps // 4):,.0f} steps/s")
    sb = bench_sandbox(args.sandbox_calls)
    print(
        f"sandboxed tool calls ({sb['isolation']}, median of 5 rounds): trivial "
        f"{board.check('sandbox trivial calls', SANDBOX_TRIVIAL, sb['plain'])}, with one forwarded read_file "
        f"{board.check('sandbox read_file calls', SANDBOX_READ_FILE, sb['read_file'])}"
    )
    print(
        f"  a {sb['big_size'] / 1000:.0f} KB bundled reference tool: {sb['big']:,.0f} calls/s; "
        f"single-test suites: {sb['tests']:,.0f}/s"
    )
    base = bench_sandbox(args.sandbox_calls, isolation="rlimits-only")
    print(
        f"  same worker without bubblewrap (rlimits-only, for the isolation's cost): {base['plain']:,.0f} calls/s "
        f"trivial, {base['read_file']:,.0f} with read_file"
    )
    if args.only_sandbox:
        return
    for protocol in ("rigorous", "arise_v1"):
        n, wall, _ = bench_sim_job(protocol)
        verdict = board.check(f"no_evolution job {protocol}", SIM_JOB, wall)
        print(f"no_evolution job, sim-4o-mini-like, AcmeCorp {protocol}: {n} episodes in {verdict}")
    for protocol in ("rigorous", "arise_v1"):
        n, wall, r = bench_sim_job(protocol, "arise")
        print(
            f"arise job, sim-4o-mini-like, AcmeCorp {protocol}: {n} episodes in "
            f"{board.check(f'arise job {protocol}', ARISE_JOB, wall)}; "
            f"{len(r['evolution']['evolutions'])} evolutions, {r['candidates']} candidates, "
            f"{r['tools_promoted']} promoted, sandbox {r['sandbox']}"
        )
    _print_memory(args.memory_episodes, board)
    _print_concurrency(board)
    print("DCQL interpreter: python -m experiments.bench_dcql")


def bench_concurrency(workers: int, latency_s: float = 0.2) -> tuple[int, int, float]:
    """(episodes, LLM calls, wall seconds) of a fixed_tools job against the sim behind its HTTP
    server answering after ``latency_s``, with ``workers`` episodes side by side."""
    import tempfile
    from pathlib import Path

    from agents.serve_sim import SimServer
    from envs.tasks import get_suite
    from experiments.config import compose_run_config
    from experiments.run import run_job

    families = [f.name for f in get_suite("acmecorp").families[:16]]
    with SimServer(latency_s=latency_s) as server, tempfile.TemporaryDirectory() as tmp:
        cfg = compose_run_config(
            ["condition=fixed_tools", "llm=sim-http", f"llm.base_url={server.base_url}", "llm.shared_limit_dir=null",
             f"llm.max_concurrency={workers}", f"episode_workers={workers}", "seed=1", "progress=false",
             f"families=[{','.join(families)}]", "per_family=2"]
        )  # fmt: skip
        t0 = time.perf_counter()
        result = run_job(cfg, Path(tmp))
        return result["n_episodes"], result["llm_calls"], time.perf_counter() - t0


def bench_round_trips(n: int = 100) -> dict[str, float]:
    """Median milliseconds of a request on a kept-alive connection to each loopback server (the sim's
    OpenAI server, a world's HTTP API as ``envs.serve`` serves it): what a client pays besides the work."""
    import httpx

    from agents.serve_sim import SimServer
    from envs.tasks import get_suite

    def median_ms(client: httpx.Client, url: str) -> float:
        client.get(url).raise_for_status()  # the connection is open from here on
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            client.get(url).raise_for_status()
            times.append(time.perf_counter() - t0)
        return 1000 * statistics.median(times)

    world = get_suite("acmecorp").get_world(0)
    url = world.http.serve("metrics.acme.internal")
    try:
        with SimServer() as server, httpx.Client() as client:
            return {
                "sim": median_ms(client, f"{server.base_url}/models"),
                "world": median_ms(client, f"{url}/services"),
            }
    finally:
        world.http.close()


def _print_concurrency(board: Scoreboard) -> None:
    trips = bench_round_trips()
    sim = board.check("sim server round trip", ROUND_TRIP, trips["sim"])
    world = board.check("world server round trip", ROUND_TRIP, trips["world"])
    print(f"loopback HTTP, one kept-alive connection, median request: sim server {sim}, world server {world}")
    n, calls, seq = bench_concurrency(1)
    _, _, par = bench_concurrency(8)
    print(
        f"episodes side by side, fixed_tools over the sim's HTTP server with 200 ms latency, {n} episodes, "
        f"{calls} calls: sequential {seq:.1f} s, 8 workers {par:.1f} s, speedup "
        f"{board.check('episodes side by side', SPEEDUP, seq / par)}"
    )


def _print_memory(n: int, board: Scoreboard) -> None:
    for world in ("acmecorp", "datacorp"):
        points = bench_memory(n, world)
        (e100, m100), (e_end, m_end) = points[1], points[-1]
        growth = (m_end - m100) / max(1, e_end - e100) * 1024
        print(
            f"memory, oracle on {world} (one seed, worlds cached), {e_end} episodes: RSS {m100:.0f} MB after "
            f"{e100}, {m_end:.0f} MB after {e_end}: growth {board.check(f'memory {world}', MEMORY_GROWTH, growth)}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
