"""What the project's command-line entry points share."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn


def run_main(main: Callable[[], int]) -> NoReturn:
    """Exit with ``main()``'s status; output piped into a reader that stops early (``| head``) is
    not an error."""
    try:
        raise SystemExit(main())
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(0) from None


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Within the block, SIGTERM raises SystemExit(143) instead of ending the process on the spot, so
    ``with`` blocks unwind: temporary directories are removed and sandboxes shut down (a ``kill`` or a
    batch system's time limit otherwise leaves them behind). Main thread only, as signal handlers are."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
