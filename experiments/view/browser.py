"""Headless Chromium through its command line: the DOM after scripts ran, and screenshots.

The viewer's tests and benchmark drive Debian's ``chromium`` package (``make browser-deps``
installs it); nothing is downloaded at run time. Each call starts a fresh headless browser with
a throw-away profile, so calls are independent and can run side by side.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 60.0


class BrowserError(RuntimeError):
    """Chromium is missing, or it failed on a page."""


def find_chromium() -> str | None:
    """The browser's executable (``$CHROMIUM`` first, then the Debian names), or None."""
    wanted = os.environ.get("CHROMIUM")
    if wanted:
        return shutil.which(wanted)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class Page:
    url: str
    dom: str  # the serialised DOM after the load event (scripts ran, lazy data files loaded)
    wall_s: float  # browser start included


def _flags(profile: str) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",  # containers run as root, where Chromium's own sandbox cannot start
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",  # loopback only: no update checks or safe-browsing lookups
        "--disable-component-update",
        f"--user-data-dir={profile}",
    ]


def _run(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    exe = find_chromium()
    if exe is None:
        raise BrowserError(f"no Chromium found (tried $CHROMIUM, {', '.join(CANDIDATES)}); run `make browser-deps`")
    with tempfile.TemporaryDirectory(prefix="arise-chromium-") as profile:
        try:
            done = subprocess.run(
                [exe, *_flags(profile), *args, url], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BrowserError(f"chromium did not finish {url} within {TIMEOUT_S:.0f} s") from exc
    if done.returncode != 0:
        raise BrowserError(f"chromium failed on {url} (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return done


def file_url(path: Path, fragment: str = "") -> str:
    url = path.resolve().as_uri()
    return f"{url}#{fragment}" if fragment else url


def dump_dom(url: str) -> Page:
    """Load ``url`` and return the DOM as it stands after the load event."""
    start = time.perf_counter()
    done = _run(["--dump-dom"], url)
    return Page(url, done.stdout, time.perf_counter() - start)


def screenshot(url: str, out: Path, width: int = 1280, height: int = 1400) -> Path:
    """A PNG of the page's first ``width`` x ``height`` pixels after it rendered."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _run([f"--screenshot={out.resolve()}", f"--window-size={width},{height}", "--hide-scrollbars"], url)
    if not out.exists() or out.stat().st_size == 0:
        raise BrowserError(f"chromium wrote no screenshot of {url} to {out}")
    return out
