"""How faithful ``arise_v1`` is to the ARISE reference harness, measured by running the reference's own code.

The reference is the public repository ``abekek/arise`` (checked at commit
54de0da2e7ec6896469ce454520deba0e8e85a61); pass a local checkout. Nothing from it is copied
here: its modules are imported from the checkout and fed this testbed's data.

    python -m experiments.reference_fidelity --reference ~/src/arise --seeds 0-49

It prints, for both worlds:

* DataCorp: whether the reference's parser, DCQL interpreter and validator read this world's
  exports as ours do (rows, the paper's queries plus ``in_stock`` ones, validation counts);
* prompts: how many of the reference's prompts, built by its task files from *this* world's
  data, differ byte for byte from ours (the only substitution: its ``localhost:<port>`` base
  URLs become our virtual hosts);
* the AcmeCorp log ``ctx`` distribution: the share of lines carrying each key, the amount's
  range, and log task 14's truth, for the reference's ``generate_logs`` and ours;
* the constant blobs under the reference's own checks on the reference's own fixtures.

The reference imports its web stack (FastAPI, uvicorn) at module level although prompts and
checks never use it; when those packages are missing, inert stand-ins are registered so the
modules import. Exit status 1 when any prompt, row, query result or validation count differs.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import statistics
import sys
import types
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from envs.cli import run_main

REFERENCE_COMMIT = "54de0da2e7ec6896469ce454520deba0e8e85a61"
REFERENCE_ACME_URL = "http://localhost:18080"  # the reference fixtures' default ports
REFERENCE_DATACORP_URL = "http://localhost:19080"
CTX_KEYS = ("host", "region", "user_id", "amount", "duration_ms", "request_id", "error_code")


def parse_seeds(text: str) -> list[int]:
    """``"0-49"``, ``"42"`` or ``"1,5,9-11"`` -> seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise argparse.ArgumentTypeError(f"seeds are non-negative integers or ranges like 0-49, got {part!r}")
        seeds += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
    return seeds


def _stub_web_stack() -> None:
    """Inert stand-ins for the reference's FastAPI/uvicorn imports (only where the packages are missing)."""
    names = {
        "uvicorn": ("Config", "Server"),
        "fastapi": ("FastAPI", "HTTPException"),
        "fastapi.responses": ("JSONResponse", "Response"),
    }
    # a module already imported (or stubbed by an earlier call) counts as present
    installed = {top: top in sys.modules or importlib.util.find_spec(top) is not None for top in ("uvicorn", "fastapi")}
    for module, attrs in names.items():
        if module in sys.modules or installed[module.split(".")[0]]:
            continue
        stub = types.ModuleType(module)
        for attr in attrs:
            setattr(stub, attr, object)
        sys.modules[module] = stub


def load_reference(checkout: Path) -> None:
    """Make the checkout's ``benchmarks`` package importable."""
    if not (checkout / "benchmarks" / "tasks" / "__init__.py").is_file():
        raise SystemExit(
            f"{checkout} is not a checkout of abekek/arise: benchmarks/tasks/__init__.py is missing "
            f"(expected the repository root, e.g. at commit {REFERENCE_COMMIT})"
        )
    # appended, not prepended: the checkout's own top-level packages (tests/, examples/) must not shadow ours
    if str(checkout.resolve()) not in sys.path:
        sys.path.append(str(checkout.resolve()))
    _stub_web_stack()


def ref(module: str) -> Any:
    return importlib.import_module(f"benchmarks.{module}")


# =================================================================================
# Prompts
# =================================================================================
def acme_reference_env(world: Any) -> Any:
    """The reference's ``AcmeCorpEnv`` fields the task files read, filled with this world's data."""
    from envs.access import WorldAccess
    from envs.acmecorp.arise_v1.prompts import config_texts, log_lines
    from envs.acmecorp.arise_v1.world import V1Data

    parse = ref("acmecorp.config").parse_acmeconf
    configs = config_texts(world)
    config_data = {name: parse(text) for name, text in configs.items()}
    services: list[str] = []
    replicas: dict[str, int] = {}
    for parsed in config_data.values():
        for service, fields in parsed["services"].items():
            if service == "defaults":
                continue
            services += [service] if service not in services else []
            value = fields.get("replicas")
            if isinstance(value, str) and ":-" in value:  # ${VAR:-N}: the fixture keeps the default
                value = int(value.split(":-", 1)[1].rstrip("}"))
            if isinstance(value, int):
                replicas[service] = value
    ground_truth = {
        "config_services": services,
        "config_replicas": replicas,
        "metrics": V1Data.load(WorldAccess(world)).metrics,
    }
    return types.SimpleNamespace(
        logs=log_lines(world),
        metrics_port=int(REFERENCE_ACME_URL.rsplit(":", 1)[1]),
        configs=configs,
        config_data=config_data,
        ground_truth=ground_truth,
    )


@contextmanager
def _datacorp_exports(texts: dict[str, str]) -> Iterator[None]:
    """Have the reference's fixture generator use these export texts instead of drawing its own."""
    fixtures = ref("datacorp.fixtures")
    names = ("generate_orders_csv", "generate_products_csv", "generate_customers_csv")
    saved = {name: getattr(fixtures, name) for name in names}
    fixtures.generate_orders_csv = lambda seed, count=50: texts["orders"]
    fixtures.generate_products_csv = lambda seed: texts["products"]
    fixtures.generate_customers_csv = lambda seed: texts["customers"]
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(fixtures, name, fn)


def prompt_mismatches(world: str, seeds: Sequence[int]) -> list[str]:
    """Task names (``seed/family``) whose prompt differs from the reference's on the same data."""
    from envs.tasks import get_suite

    suite = get_suite(world, "arise_v1")
    bad: list[str] = []
    for seed in seeds:
        w = suite.get_world(seed)
        if world == "acmecorp":
            from envs.acmecorp.arise_v1.world import METRICS_URL

            tasks = ref("tasks").get_all_tasks(acme_reference_env(w))
            url, ours_url = REFERENCE_ACME_URL, METRICS_URL
        else:
            from envs.datacorp.arise_v1.constants import VALIDATION_URL
            from envs.datacorp.arise_v1.dc_exports import export_path

            texts = {s: w.files[export_path(s)] for s in ("orders", "products", "customers")}
            with _datacorp_exports(texts):
                env = ref("datacorp.fixtures").generate(seed)
            try:
                tasks = ref("tasks.datacorp_tasks").make_datacorp_tasks(env)
            finally:
                env.cleanup()
            url, ours_url = REFERENCE_DATACORP_URL, VALIDATION_URL
        if len(tasks) != len(suite.families):
            raise RuntimeError(f"{world}: the reference has {len(tasks)} tasks, the suite {len(suite.families)}")
        for family, task in zip(suite.families, tasks, strict=True):
            if suite.instance(seed, "test", family.name).prompt != task["task"].replace(url, ours_url):
                bad.append(f"{seed}/{family.name}")
    return bad


# =================================================================================
# DataCorp rows and DCQL
# =================================================================================
IN_STOCK_QUERIES = (
    'SELECT product_id FROM products WHERE in_stock = "true"',
    "SELECT product_id FROM products WHERE in_stock = true",
    'SELECT product_id, in_stock FROM products WHERE in_stock != "false" ORDER BY price DESC LIMIT 4',
    "SELECT in_stock FROM products GROUP BY in_stock",
)


def datacorp_row_mismatches(seeds: Sequence[int]) -> list[str]:
    """Where the reference's parser, DCQL interpreter or validator disagree with ours on this world's exports.

    Compared: the typed rows of the three exports; the paper's ten queries and ``IN_STOCK_QUERIES``
    (rows); the validation API's counts for each table.
    """
    from envs.datacorp.arise_v1.dc_exports import export_path, parse_dc
    from envs.datacorp.arise_v1.fixtures import QUERIES
    from envs.datacorp.arise_v1.lenient_dcql import run_dcql
    from envs.datacorp.arise_v1.validation import validate_batch
    from envs.datacorp.arise_v1.world import build_arise_v1_world

    parse, execute = ref("datacorp.csv_format").parse_datacorp_csv, ref("datacorp.query").execute_dcql
    ref_validate = ref("datacorp.validation_api").validate_batch
    bad: list[str] = []
    for seed in seeds:
        world = build_arise_v1_world(seed, {})
        theirs, ours = {}, {}
        for schema in ("orders", "products", "customers"):
            text = world.files[export_path(schema)]
            theirs[schema], ours[schema] = parse(text)["rows"], parse_dc(text).rows
            if theirs[schema] != ours[schema]:
                bad.append(f"{seed}/{schema} rows")
            r = ref_validate([dict(x) for x in theirs[schema]], schema)
            o = validate_batch([dict(x) for x in ours[schema]], schema)
            if (r["valid_count"], r["invalid_count"]) != (o["valid_count"], o["invalid_count"]):
                bad.append(f"{seed}/{schema} validation")
        for query in (*QUERIES.values(), *IN_STOCK_QUERIES):
            if execute(query, theirs)["rows"] != run_dcql(query, ours).rows:
                bad.append(f"{seed}/{query}")
    return bad


# =================================================================================
# Log ctx
# =================================================================================
def ctx_profile(lines: Sequence[str]) -> dict[str, float]:
    """Share of lines carrying each ``CTX_KEYS`` key and both amount and duration_ms; amount max and mean."""
    from envs.acmecorp.arise_v1.world import parse_log_text

    ctxs = [e["ctx"] for e in parse_log_text("\n".join(lines))]
    out = {key: sum(key in c for c in ctxs) / len(ctxs) for key in CTX_KEYS}
    out["amount+duration_ms"] = sum("amount" in c and "duration_ms" in c for c in ctxs) / len(ctxs)
    amounts = [c["amount"] for c in ctxs if "amount" in c]
    out["amount max"] = max(amounts, default=0.0)
    out["amount mean"] = statistics.fmean(amounts) if amounts else 0.0
    return out


def log14_truth(lines: Sequence[str]) -> int:
    """Log task 14's expected value, by the reference's own function."""
    return len(ref("tasks.phase1_logs")._ctx_exceeds_threshold(list(lines)))


# =================================================================================
# Constant blobs
# =================================================================================
def reference_blob_scores(world: str, seeds: Sequence[int]) -> dict[int, int]:
    """seed -> tasks the world's constant blob passes under the reference's checks on its own fixtures."""
    if world == "acmecorp":
        from envs.acmecorp.arise_v1 import CONSTANT_BLOB

        generate, make = ref("acmecorp.fixtures").generate, ref("tasks").get_all_tasks
    else:
        from envs.datacorp.arise_v1 import CONSTANT_BLOB

        generate, make = ref("datacorp.fixtures").generate, ref("tasks.datacorp_tasks").make_datacorp_tasks
    scores: dict[int, int] = {}
    for seed in seeds:
        env = generate(seed)
        try:
            scores[seed] = sum(bool(t["check"](CONSTANT_BLOB, env)) for t in make(env))
        finally:
            env.cleanup()
    return scores


def _spread(scores: dict[int, int]) -> str:
    values = list(scores.values())
    counts = ", ".join(f"{k} at {n}" for k, n in sorted(Counter(values).items()))
    return f"{min(values)}-{max(values)}, mean {statistics.fmean(values):.2f} ({counts})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.reference_fidelity", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--reference", type=Path, required=True, help="a checkout of github.com/abekek/arise")
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-49"), help="e.g. 0-49 (default)")
    args = parser.parse_args(argv)
    load_reference(args.reference)
    import envs  # noqa: F401  (registers the worlds)
    from envs.acmecorp.arise_v1.world import generate_logs

    seeds: list[int] = args.seeds
    failed = False
    for world in ("acmecorp", "datacorp"):
        bad = prompt_mismatches(world, seeds)
        n = len(seeds) * (60 if world == "acmecorp" else 30)
        print(f"{world} prompts identical to the reference's on the same data: {n - len(bad)}/{n}")
        if bad:
            failed = True
            print("  differ: " + ", ".join(bad[:20]) + (" ..." if len(bad) > 20 else ""))
    bad_rows = datacorp_row_mismatches(seeds)
    print(
        "datacorp exports read by the reference's parser, DCQL and validator as by ours: "
        + ("all agree" if not bad_rows else f"{len(bad_rows)} differ: " + "; ".join(bad_rows[:10]))
    )
    failed |= bool(bad_rows)
    theirs = [line for s in seeds for line in ref("acmecorp.logs").generate_logs(s)]
    ours = [line for s in seeds for line in generate_logs(s)]
    print(f"acmecorp log ctx over seeds {seeds[0]}..{seeds[-1]} ({len(theirs)} / {len(ours)} lines): reference | here")
    p_ref, p_ours = ctx_profile(theirs), ctx_profile(ours)
    for key in p_ref:
        print(f"  {key:20s} {p_ref[key]:10.4f} | {p_ours[key]:10.4f}")
    t_ref = [log14_truth(ref("acmecorp.logs").generate_logs(s)) for s in seeds]
    t_ours = [log14_truth(generate_logs(s)) for s in seeds]
    print(
        f"  log task 14 truth    mean {statistics.fmean(t_ref):.1f} ({min(t_ref)}-{max(t_ref)}) | "
        f"mean {statistics.fmean(t_ours):.1f} ({min(t_ours)}-{max(t_ours)})"
    )
    for world in ("acmecorp", "datacorp"):
        scores = reference_blob_scores(world, seeds)
        at = f"; seed 42: {scores[42]}" if 42 in scores else ""
        print(f"{world} constant blob under the reference's checks on its fixtures: {_spread(scores)}{at}")
    return 1 if failed else 0


if __name__ == "__main__":
    run_main(main)
