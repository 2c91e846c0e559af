# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
# ---

# %% [markdown]
# # Reproduce the ARISE paper's Table 2 (a small sweep)
#
# Table 2 of the ARISE paper reports GPT-4o-mini on the AcmeCorp "SRE onboarding" benchmark
# under three conditions: **arise** (the agent evolves its own tools), **no_evolution** (no
# tools at all) and **fixed_tools** (the paper's seven hand-written tools), as success rates
# per phase (logs, metrics, config, incidents; 15 tasks each) over seeds 42/123/456.
#
# This notebook runs the jobs of the `paper_table2` preset (`conf/experiment/paper_table2.yaml`)
# in-process, builds the report that `python -m experiments.report` writes, and reads the
# resulting tables.
#
# **What is simulated.** Everything runs offline:
#
# - *The world.* AcmeCorp is generated from the seed. The protocol is `arise_v1`, the paper's
#   60 tasks and its substring grader, kept as published, flaws included. A constant,
#   input-independent text scores about 80% under it (see `docs/arise_v1.md`), so a high score
#   here does not show that the agent understood the data. The `rigorous` protocol is the
#   trustworthy one.
# - *The model.* `sim-4o-mini-like` is a mechanistic, deterministic stand-in for GPT-4o-mini
#   (`docs/sim.md`). It plays the agent and, in `arise`, the tool author. Its tools are real
#   code, run in the sandbox. Rows marked "simulated" measure the pipeline and the testbed.
#   They are not a measurement of GPT-4o-mini.
#
# **The full preset from the command line** (3 conditions x 3 seeds, about 30 s on 2 cores):
#
# ```bash
# python -m experiments.run -m +experiment=paper_table2     # jobs in runs/paper_table2/condition=...,seed=...
# python -m experiments.report runs/paper_table2            # -> runs/paper_table2/report/{report.md,tables,figures}
# ```
#
# Add `llm=openai` (with `OPENAI_API_KEY` set) to run the real model; its rows are then not
# marked simulated.

# %%
import csv
import json
import os
import shutil
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from experiments import published, stats
from experiments.config import compose_run_config
from experiments.report.build import build_report
from experiments.run import run_job

# The sweep. The preset uses seeds 42, 123 and 456; two seeds keep this notebook under a minute.
SEEDS = [42, 123]
CONDITIONS = ["arise", "no_evolution", "fixed_tools"]
# run_job skips a job whose directory already holds its finished records (same config, same
# plan). Set FRESH = True to delete earlier runs of this notebook and recompute everything.
FRESH = False

try:
    HERE = Path(__file__).resolve().parent
except NameError:  # inside Jupyter: the notebook's own directory is the working directory
    HERE = Path.cwd()
OUT = Path(os.environ.get("NOTEBOOK_OUT", HERE / "_out"))
OUT.mkdir(parents=True, exist_ok=True)
out = OUT / "paper_table2"  # the analogue of runs/paper_table2
if FRESH and out.exists():
    shutil.rmtree(out)
print(f"seeds {SEEDS}, conditions {CONDITIONS}; jobs under {out}")

# %% [markdown]
# ## Run the jobs
#
# `compose_run_config` builds the config that the command line would build from the same
# overrides. `+experiment=paper_table2` selects the world, protocol, model and the
# `evolution=paper` preset: evolve after 5 failures, as in the paper. Each job writes
# `episodes.jsonl` (one full record per episode), `result.json` and, for `arise`,
# `library.sqlite`. It writes them into a directory named the way Hydra's sweep names it, so
# `out` is laid out like `runs/paper_table2`.

# %%
t_start = time.perf_counter()
results = {}
for condition in CONDITIONS:
    for seed in SEEDS:
        name = f"condition={condition},seed={seed}"
        t0 = time.perf_counter()
        overrides = ["+experiment=paper_table2", f"condition={condition}", f"seed={seed}", "progress=false"]
        result = run_job(compose_run_config(overrides), out / name)
        results[(condition, seed)] = result
        tools = f", {result['tools_promoted']} tools promoted" if "tools_promoted" in result else ""
        note = " (finished earlier: skipped)" if result.get("skipped") else ""
        print(
            f"{name:32s} success {result['success_rate']:6.1%} over {result['n_episodes']} episodes"
            f"{tools}, {time.perf_counter() - t0:5.1f} s{note}"
        )
t_jobs = time.perf_counter() - t_start
print(f"all jobs: {t_jobs:.1f} s")

# %% [markdown]
# ## Build the report
#
# `build_report` is `python -m experiments.report` as a function. It recomputes every number
# from the raw records and writes `report.md`, `tables/*.{md,tex,csv}` and
# `figures/*.{png,pdf}`. It reads every `result.json` below `out`, so jobs left there by an
# earlier run with other seeds are included too.

# %%
t0 = time.perf_counter()
report_md = build_report([out], out / "report", progress=False)
tables = out / "report" / "tables"
figures = out / "report" / "figures"
print(f"report: {report_md} ({time.perf_counter() - t0:.1f} s)")
print("tables:", ", ".join(sorted(p.stem for p in tables.glob("*.md"))))
print("figures:", ", ".join(sorted(p.name for p in figures.glob("*.png"))))

# %% [markdown]
# ## Success by phase: the Table 2 analogue
#
# A task succeeds when its score is exactly 1. Each cell is the mean of the per-seed success
# rates with a 95% t interval over seeds: seeds (worlds) are treated as random, so the interval
# speaks for new seeds. With two seeds the t quantile has one degree of freedom (12.7), so the
# intervals are very wide: two seeds say little about a third. A row with one seed (†) has a
# bootstrap interval over its tasks, for that seed's worlds only. "tools evolved" is the number
# of tools promoted per `arise` job (mean ± sd over seeds).

# %%
print((tables / "success_acmecorp_arise_v1.md").read_text(encoding="utf-8"))

# %% [markdown]
# How to read the phases under `arise_v1`: log and config tasks paste their data into the
# prompt, so an agent with no tools can still answer them. Incident tasks paste logs and
# configs, and give a metrics URL. Metrics live only behind the HTTP API. As in the paper,
# `no_evolution` has no tools at all, so it cannot fetch them.
# `fixed_tools` gets the paper's seven tools plus a GET-only `http_get`. `arise` starts with
# `http_get` and adds the tools it promotes along the way. Because the grader checks for
# substrings, a phase's score also rewards answers that merely mention the right words.

# %% [markdown]
# ## Side by side with the published numbers
#
# Published rows are the paper's means (± sd over its three seeds, where the paper gives one),
# in %. Our rows are mean [95% CI] from the simulated model. The published numbers come from
# `experiments/published.py`, the only numbers in the report typed in by hand.

# %%
print((tables / "published_table2.md").read_text(encoding="utf-8"))

# %% [markdown]
# ## Paired comparisons against `no_evolution`
#
# Two conditions that run with the same seed see the same task instances, so they are compared
# task by task. "diff" is the difference in success rate in percentage points and `d_z` the
# paired effect size. The p-values come from a sign-flip permutation test (Holm-corrected over
# the rows) and McNemar's test.

# %%
for path in sorted(tables.glob("compare_*.md")):
    print(path.read_text(encoding="utf-8"))

# %% [markdown]
# ## Ours vs published, per phase
#
# The report's own figures are in `figures/`. Below we draw the comparison from
# `tables/published_table2.csv`: one panel per condition, published bars with the paper's sd,
# our bars with the 95% CI from `tables/success_acmecorp_arise_v1.csv`.


# %%
def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


phases = [*published.ACME, "overall"]
side_by_side = read_csv(tables / "published_table2.csv")  # in %
ours_ci = {row["condition"]: row for row in read_csv(tables / "success_acmecorp_arise_v1.csv")}  # fractions
paper_sd = {row.condition: row.sd for row in next(t for t in published.TABLES if t.key == "table2").rows}

fig, axes = plt.subplots(1, len(CONDITIONS), figsize=(13, 3.8), sharey=True)
xs = np.arange(len(phases))
for ax, condition in zip(axes, CONDITIONS):
    pub = next(r for r in side_by_side if r["condition"] == condition and r["source"] == "published")
    ours = next(r for r in side_by_side if r["condition"] == condition and r["source"] != "published")
    pub_vals = [float(pub[p]) for p in phases]
    pub_err = [paper_sd[condition].get(p, np.nan) for p in phases]  # NaN: no sd published, no whisker
    ours_vals = [float(ours[p]) for p in phases]
    ours_label = f"ours ({ours['source']}), 95% CI"
    row_ci = ours_ci[condition]
    ours_err = np.array(
        [
            [100 * (float(row_ci[f"{p}_mean"]) - float(row_ci[f"{p}_low"])) for p in phases],
            [100 * (float(row_ci[f"{p}_high"]) - float(row_ci[f"{p}_mean"])) for p in phases],
        ]
    )
    ax.bar(xs - 0.2, pub_vals, 0.4, yerr=pub_err, capsize=2, color="tab:gray", label="published (gpt-4o-mini), ± sd")
    ax.bar(xs + 0.2, ours_vals, 0.4, yerr=ours_err, capsize=2, color="tab:blue", label=ours_label)
    ax.set_xticks(xs, phases, fontsize=8)
    ax.set_title(condition)
    ax.set_ylim(0, 105)
axes[0].set_ylabel("success %")
axes[0].legend(fontsize=7, loc="upper left")
fig.suptitle(f"ARISE Table 2: published vs this sweep (acmecorp / arise_v1, seeds {', '.join(map(str, SEEDS))})")
fig.tight_layout()
fig.savefig(OUT / "table2_ours_vs_published.png", dpi=100)
print("saved", OUT / "table2_ours_vs_published.png")

# %% [markdown]
# One of the report's own figures: success by phase for every condition, with 95% CIs.
# A copy is saved next to ours.

# %%
phase_png = figures / "phases_acmecorp_arise_v1.png"
shutil.copy(phase_png, OUT / phase_png.name)
img = plt.imread(phase_png)
fig, ax = plt.subplots(figsize=(img.shape[1] / 100, img.shape[0] / 100))
ax.imshow(img)
ax.axis("off")
print("report figure:", phase_png)

# %% [markdown]
# ## The statistics by hand, from `episodes.jsonl`
#
# Each record holds the task (with its id and phase) and `success`. An interval needs the
# outcomes grouped by seed (`stats.seed_interval`: t interval over per-seed rates). A paired
# comparison needs the outcomes of the same task instances under two conditions, paired by
# (seed, task id), and answers one of two questions. Seeds in general: `stats.seed_comparison`
# (t test and interval over the per-seed differences, and the exact sign-flip over seeds, which
# cannot go below 2/2^S). These worlds only: `stats.paired_permutation` and `stats.mcnemar` on
# the pooled tasks. `stats.holm` corrects for running two comparisons. The report uses the same
# functions, so these numbers agree with its tables.


# %%
def load_records(condition, seed):
    path = out / f"condition={condition},seed={seed}" / "episodes.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


records = {(c, s): load_records(c, s) for c in CONDITIONS for s in SEEDS}

ci = stats.seed_interval({s: [float(r["success"]) for r in records[("arise", s)]] for s in SEEDS})
print(f"arise overall success: {ci.fmt()} ({ci.n_seeds} seeds, {ci.n_tasks} tasks; t interval over seeds)")


def paired(a, b):
    """Success of condition a and condition b on the task instances both ran, by seed."""
    xs, ys = {}, {}
    for s in SEEDS:
        other = {r["task"]["id"]: float(r["success"]) for r in records[(b, s)]}
        for r in records[(a, s)]:
            if r["task"]["id"] in other:
                xs.setdefault(s, []).append(float(r["success"]))
                ys.setdefault(s, []).append(other[r["task"]["id"]])
    return xs, ys


tests = {}
for condition in ("arise", "fixed_tools"):
    xs, ys = paired(condition, "no_evolution")
    flat_x, flat_y = [x for s in xs for x in xs[s]], [y for s in ys for y in ys[s]]
    seeds = stats.seed_comparison(xs, ys)
    perm = stats.paired_permutation(flat_x, flat_y, seed=0)
    mc = stats.mcnemar([x == 1 for x in flat_x], [y == 1 for y in flat_y])
    tests[condition] = (seeds, perm, mc)
p_seeds = stats.holm([seeds.p_value for seeds, _, _ in tests.values()])
p_tasks = stats.holm([perm.p_value for _, perm, _ in tests.values()])
for (condition, (seeds, perm, mc)), ps, pt in zip(tests.items(), p_seeds, p_tasks):
    print(
        f"{condition} vs no_evolution, {seeds.n_seeds} seeds, {perm.n} paired tasks:\n"
        f"  seeds in general: diff {100 * seeds.mean_diff:+.1f} pts [{100 * seeds.low:+.1f}, {100 * seeds.high:+.1f}], "
        f"p Holm {ps:.4f}, sign-flip over seeds p {seeds.p_signflip:.2f} (min {seeds.min_p_signflip:.2f}); "
        f"{seeds.scope()}\n"
        f"  these worlds only: d_z {perm.effect_size:.2f}, p perm Holm {pt:.4f}; "
        f"McNemar: {mc.b10} won / {mc.b01} lost, p {mc.p_value:.4f} ({mc.method})"
    )

# %% [markdown]
# ## How long it took
#
# Wall-clock time per job (from `result.json`) and for the whole notebook. The simulated model
# answers in microseconds, so nearly all of an `arise` job's time goes to the sandbox: checking
# candidate tools and running the promoted ones.

# %%
for (condition, seed), result in results.items():
    print(f"{condition:13s} seed {seed:4d}: {result['wall_s']:5.1f} s")
print(f"jobs {t_jobs:.1f} s; notebook so far {time.perf_counter() - t_start:.1f} s")
