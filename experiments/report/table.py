"""One table, three renderings: Markdown for report.md, LaTeX for papers, CSV for analysis.

A ``ReportTable`` keeps what a reader sees (``rows`` of formatted cells) apart from what an analysis
needs (``data``: one dict of raw values per row), so the CSV holds numbers, not "34.6% [28.1, 41.0]".
Also the cell formats the report's tables share.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from experiments import stats

_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "†": r"\dag{}",
}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


@dataclass
class ReportTable:
    name: str  # file stem under tables/
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, cells: list[str], data: dict[str, Any] | None = None) -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"table {self.name}: row has {len(cells)} cells, headers have {len(self.headers)}")
        self.rows.append([str(c) for c in cells])
        if data is not None:
            self.data.append(data)

    def markdown(self) -> str:
        def esc(cell: str) -> str:
            return cell.replace("|", "\\|").replace("\n", " ")

        lines = ["| " + " | ".join(esc(h) for h in self.headers) + " |", "|" + "---|" * len(self.headers)]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def latex(self) -> str:
        spec = "l" * min(2, len(self.headers)) + "r" * max(0, len(self.headers) - 2)
        out = [
            "\\begin{table}[t]",
            "\\centering",
            f"\\caption{{{tex_escape(self.title)}}}",
            f"\\label{{tab:{self.name}}}",
            f"\\begin{{tabular}}{{{spec}}}",
            "\\toprule",
            " & ".join(tex_escape(h) for h in self.headers) + " \\\\",
            "\\midrule",
        ]
        out += [" & ".join(tex_escape(c) for c in row) + " \\\\" for row in self.rows]
        out += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
        return "\n".join(out) + "\n"

    def csv(self) -> str:
        buf = io.StringIO()
        if self.data:
            keys: list[str] = []
            for d in self.data:
                keys += [k for k in d if k not in keys]
            writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
            writer.writeheader()
            for d in self.data:
                writer.writerow({k: _csv_value(d.get(k)) for k in keys})
        else:
            writer_ = csv.writer(buf, lineterminator="\n")
            writer_.writerow(self.headers)
            writer_.writerows(self.rows)
        return buf.getvalue()

    def write(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for suffix, text in ((".md", self.markdown() + "\n"), (".tex", self.latex()), (".csv", self.csv())):
            path = directory / f"{self.name}{suffix}"
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        return paths


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


ONE_SEED_MARK = "†"  # an interval over one seed's tasks: it speaks for that seed's worlds only


@dataclass
class Cell:
    """A success interval as a table cell ("-" when there is none; † when it covers one seed's worlds only)."""

    interval: stats.Interval | None

    def __str__(self) -> str:
        if self.interval is None:
            return "-"
        return self.interval.fmt() + (f" {ONE_SEED_MARK}" if self.interval.method == "tasks" else "")


def mean_sd(values: list[float], fmt: str = "{:.1f}") -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(float(np.mean(values)))} ± {fmt.format(float(np.std(values, ddof=1)))}"
