"""``python -m experiments.view <run or sweep dirs...> [--out DIR] [--serve --port N] [--no-taxonomy]
[--screenshots DIR] [--bench]``."""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import sys
import time
from pathlib import Path

from experiments.view.build import build_site


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m experiments.view",
        description="A static site of the trajectories and evolution of every job below the given directories "
        "(opens from disk, works offline).",
        epilog="example: python -m experiments.view runs/default && open runs/default/view/index.html",
    )
    ap.add_argument("dirs", nargs="*", type=Path, help="run or sweep directories")
    ap.add_argument("--out", type=Path, default=None, help="where to write (default: <first dir>/view)")
    ap.add_argument("--serve", action="store_true", help="also serve the site on 127.0.0.1 (loopback only)")
    ap.add_argument("--port", type=int, default=8765, help="port for --serve (default 8765; 0 picks a free one)")
    ap.add_argument("--no-taxonomy", action="store_true", help="skip classifying failed episodes (faster)")
    ap.add_argument(
        "--screenshots",
        type=Path,
        default=None,
        help="write PNGs of the index, an episode page and an evolution timeline here (needs chromium)",
    )
    ap.add_argument(
        "--bench",
        action="store_true",
        help="time building a synthesised 50-job / 5,000-episode sweep (from the dirs' records) and page loads",
    )
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    if not args.dirs:
        ap.error("give at least one run or sweep directory")
    for d in args.dirs:
        if not d.is_dir():
            ap.error(f"{d} is not a directory (give run or sweep directories holding result.json files)")
    if not 0 <= args.port <= 65535:
        ap.error(f"--port must be between 0 and 65535, got {args.port}")
    if args.bench:
        from experiments.view.bench import run_bench

        return run_bench(args.dirs, args.out, progress=not args.no_progress)
    out = args.out or args.dirs[0] / "view"
    start = time.perf_counter()
    try:
        stats = build_site(args.dirs, out, taxonomy=not args.no_taxonomy, progress=not args.no_progress)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"viewer: {stats.jobs} jobs, {stats.episodes} episodes, {stats.pages} pages, "
        f"{stats.bytes / 1e6:.1f} MB in {time.perf_counter() - start:.1f} s -> {out / 'index.html'}"
    )
    if args.screenshots:
        from experiments.view.screenshots import take_screenshots

        for path in take_screenshots(out, args.screenshots):
            print(f"screenshot: {path}")
    if args.serve:
        serve(out, args.port)
    return 0


def serve(root: Path, port: int) -> None:
    """Serve ``root`` on loopback until interrupted."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"serving http://127.0.0.1:{server.server_address[1]}/index.html (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a user stops it
            server.serve_forever()
