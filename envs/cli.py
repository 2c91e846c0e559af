"""What the project's command-line entry points share."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn


def run_main(main: Callable[[], int]) -> NoReturn:
    """Exit with ``main()``'s status; output piped into a reader that stops early (``| head``) is
    not an error."""
    try:
        raise SystemExit(main())
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(0) from None
