"""``python -m experiments.report``: see ``experiments.report.cli``."""

from experiments.report.cli import main

raise SystemExit(main())
