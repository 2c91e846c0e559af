"""The command line: ``python -m experiments.report <sweep dir> [<sweep dir> ...] [--out DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.report.build import build_report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m experiments.report",
        description="Tables, statistics and figures of one or more sweep directories (every result.json below them).",
        epilog="example: python -m experiments.run -m +experiment=paper_table2 && "
        "python -m experiments.report runs/paper_table2",
    )
    ap.add_argument("dirs", nargs="+", type=Path, help="sweep or job directories")
    ap.add_argument("--out", type=Path, default=None, help="where to write (default: <first dir>/report)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    for d in args.dirs:
        if not d.is_dir():
            ap.error(f"{d} is not a directory")
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    out = args.out or args.dirs[0] / "report"
    try:
        path = build_report(args.dirs, out, progress=not args.no_progress)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"report: {path}")
    return 0
