"""Performance targets of the benchmarks, printed with every figure and whether it was met.

A benchmark's figure means little without its target next to it, and a missed target must say so
in the line itself (``365 calls/s (target >= 500: NOT met)``), not leave the reader to compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    """A bound on one figure: ``at_least`` (a rate) or at most (a time, a growth)."""

    bound: float
    unit: str
    at_least: bool = True
    spec: str = ",.0f"  # how bound and figure are printed

    def __post_init__(self) -> None:
        if self.bound < 0:
            raise ValueError(f"a target's bound must be >= 0, got {self.bound}")

    def met(self, value: float) -> bool:
        return value >= self.bound if self.at_least else value <= self.bound

    def text(self) -> str:
        return f"target {'>=' if self.at_least else '<='} {self.bound:{self.spec}} {self.unit}"

    def verdict(self, value: float) -> str:
        """``<value> <unit> (target >= <bound> <unit>: met)``, or ``NOT met``."""
        return f"{value:{self.spec}} {self.unit} ({self.text()}: {'met' if self.met(value) else 'NOT met'})"


@dataclass
class Scoreboard:
    """Every figure checked in one benchmark run, for the closing line."""

    checks: list[tuple[str, bool]] = field(default_factory=list)

    def check(self, name: str, target: Target, value: float) -> str:
        self.checks.append((name, target.met(value)))
        return target.verdict(value)

    def summary(self) -> str:
        missed = [name for name, ok in self.checks if not ok]
        head = f"targets: {len(self.checks) - len(missed)} of {len(self.checks)} met"
        return head + (f"; NOT met: {', '.join(missed)}" if missed else "")
