"""A static viewer of trajectories and tool evolution: ``python -m experiments.view <run dir>``.

``build`` writes the site (runs, episodes, evolution timelines, compare pages) from the same job
loader as the report; ``paths`` names its pages (the report links to them); ``browser`` drives
headless Chromium for the tests, screenshots and the benchmark.
"""

from experiments.view.build import SiteStats, build_site

__all__ = ["SiteStats", "build_site"]
