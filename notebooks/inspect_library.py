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
# # Inspect an evolved tool library
#
# In the `arise` condition the agent starts with the raw affordances only (`http_get`,
# `http_post`, `list_files`, `read_file`, `read_doc`). After every episode the evolution
# pipeline (`evolution/pipeline.py`) counts failures. Once enough have accumulated, it asks the
# model which tools are missing ("gaps") and has it write each one: code, schema and tests. It
# checks every candidate (a static policy, the candidate's own tests in the sandbox, and an
# adversarial test suite written by a separate request), sends failed candidates back for
# repair, and promotes only the versions that passed a full check. Promoted tools are offered
# to the agent from the next episode on.
#
# This notebook runs one such job on AcmeCorp under the `rigorous` protocol. The offline
# simulated model `sim-4o-mini-like` plays both the agent and the tool author. It writes real
# code with realistic bugs (`docs/sim.md`), and that code runs in the sandbox. The notebook
# then opens what the job left behind:
#
# - `library.sqlite`: every tool version, with its status and usage counts, plus the event log
#   of the pipeline;
# - `library/`: the active tools as plain Python modules;
# - `episodes.jsonl`: one record per episode, including the tools offered in it.

# %%
import json
import os
import time
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from envs.access import ALL_AFFORDANCES
from envs.tasks import get_suite
from envs.tools import tool_spec
from envs.reference_cases import edge_cases, nominal_cases
from experiments.differential import differential
from evolution.library import Library
from evolution.pipeline import audit_promotions
from evolution.sandbox import Sandbox
from experiments.config import compose_run_config
from experiments.run import run_job

# Seed 3 runs in about 15-20 s on 2 cores and promotes a dozen tools. Its log also has every
# kind of rejection: static policy, failing tests, duplicates and lost A/B tests.
SEED = 3
OVERRIDES = ["condition=arise", "world=acmecorp", "protocol=rigorous", f"seed={SEED}", "progress=false"]

try:
    HERE = Path(__file__).resolve().parent
except NameError:  # inside Jupyter: the notebook's own directory is the working directory
    HERE = Path.cwd()
OUT = Path(os.environ.get("NOTEBOOK_OUT", HERE / "_out"))
OUT.mkdir(parents=True, exist_ok=True)
job = OUT / f"arise_acmecorp_rigorous_seed{SEED}"

t_start = time.perf_counter()
result = run_job(compose_run_config(OVERRIDES), job)  # a finished job in `job` is skipped, not rerun
print(
    f"{job.name}: success {result['success_rate']:.1%} over {result['n_episodes']} episodes, "
    f"{result['candidates']} candidates, {result['tools_promoted']} promoted, rejections {result['rejections']}, "
    f"sandbox {result['sandbox']}, {result['wall_s']:.1f} s"
)
if result.get("skipped"):
    print("(finished earlier in this directory: skipped, not rerun)")
print("files:", ", ".join(sorted(p.name for p in job.iterdir())))

# %% [markdown]
# ## The tool versions
#
# Each row of the `tools` table is one version of one tool. `status` is `active` (offered to
# the agent), `rejected` (failed its checks, or lost to the current version), `deprecated`
# (superseded or pruned) or `testing`. `origin` is `synthesis` for a new tool and `patch` for
# a new version of an active one. `created` is the episode in which it was written. `calls`
# counts the agent's calls of the active version. `in wins` counts the calls made in episodes
# that succeeded: the pipeline credits a use with the episode's reward, not with the call's
# own outcome.

# %%
lib = Library(job / "library.sqlite")
print(f"{'tool':22s} {'v':>2s}  {'status':10s} {'origin':9s} {'created':>7s} {'calls':>5s} {'in wins':>7s}  reason")
for t in lib.versions():
    print(
        f"{t.name:22s} {t.version:2d}  {t.status:10s} {t.origin:9s} {t.created_episode:7d} "
        f"{t.invocations:5d} {t.successes:7d}  {t.reason or ''}"
    )
active = lib.active()
print(f"\n{len(active)} active tools; {len(lib.versions())} versions of {len(lib.names())} names")

# %% [markdown]
# ## The event log
#
# The pipeline writes every step into the `events` table. Times are episode numbers, never
# wall-clock time, so the same seed gives the same log. The kinds of event:
#
# - `trigger`: an evolution started, with the reason and the failed tasks behind it;
# - `gaps`: the tools the model said were missing;
# - `candidate`: a new tool version entered the library as `testing`;
# - `check`: one full check of one version of the code. It records the static policy
#   verdict, own tests passed/total, adversarial tests passed/total, and the hash of the code
#   it checked;
# - `revised`: a repair round replaced the code;
# - `promoted` / `rejected`: the outcome, with a reason;
# - `ab_test`: a patch beat the version it replaces;
# - `parse`, `duplicate_gap`, `llm_error`, `pruned`: everything else.

# %%
events = lib.events()
print("events by kind:", dict(Counter(e["kind"] for e in events).most_common()))

print("\nevolutions:")
for e in lib.events("trigger"):
    gaps = next((g["gaps"] for g in lib.events("gaps") if g["episode"] == e["episode"]), [])
    print(f"  episode {e['episode']:2d}: {e['reason']}; gaps {gaps}")

print("\nwhat became of each candidate (check rounds: ok or reason, own tests, adversarial tests):")
for cand in lib.events("candidate"):
    name, version = cand["name"], cand["version"]
    mine = [e for e in events if e.get("name") == name and e.get("version") == version]
    rounds = [
        f"{'ok' if c['ok'] else c['reason']} {c['tests'][0]}/{c['tests'][1]}"
        + (f" adv {c['adversarial'][0]}/{c['adversarial'][1]}" if c["adversarial"] else "")
        for c in mine
        if c["kind"] == "check"
    ]
    end = next((e for e in mine if e["kind"] in ("promoted", "rejected")), None)
    if end is None:
        outcome = "still testing"
    else:
        outcome = "promoted" if end["kind"] == "promoted" else f"rejected ({end['reason']})"
    checks = "; ".join(rounds) or "no check"
    print(f"  ep {cand['episode']:2d} {name} v{version} [{cand['origin']}]: {checks} -> {outcome}")

print("\nrejections with their details:")
for e in lib.events("rejected"):
    detail = {k: v for k, v in e.items() if k not in ("id", "episode", "kind", "name", "version", "reason")}
    print(f"  {e['name']} v{e['version']}: {e['reason']} {json.dumps(detail)[:200]}")

# %% [markdown]
# The tool we look at from here on is the promoted tool the agent called most, among those
# that have a hand-written reference tool of the same name (for the differential test below).
# Here is the check that justified its promotion, in full:

# %%
suite = get_suite("acmecorp", "rigorous")
reference = {fn.__name__: fn for fn in suite.reference_tools()}
comparable = [t for t in active if t.name in reference] or active  # the author may invent new names
tool = max(comparable, key=lambda t: (t.invocations, -len(t.code)))
passing = [c for c in lib.events("check") if c["name"] == tool.name and c["version"] == tool.version and c["ok"]]
print(f"{tool.name} v{tool.version}: {tool.invocations} calls")
print(json.dumps(passing[-1], indent=2))

# %% [markdown]
# ## The promoted code
#
# `library/` holds each active tool as a self-contained module. The model inlines the format
# code the tool needs, so a tool imports only the standard library and `envs.toolkit` (the
# affordances, which the sandbox forwards to the world). Its header names the version, its
# origin and the episode it was created in.

# %%
print((job / "library" / f"{tool.name}.py").read_text(encoding="utf-8"))
print("schema:", json.dumps(tool.schema))

# %% [markdown]
# ## Audit: was every promotion justified?
#
# `audit_promotions` replays the rule from the event log alone. Every `promoted` event needs a
# `check` event of the same version whose code hash matches the promoted code, with the
# static policy passed, all of its own tests passed (at least one), and all adversarial tests
# passed. An empty list means every promotion is justified.

# %%
problems = audit_promotions(lib)
print("audit:", problems or "every promotion passed a full check of exactly its code")

# %% [markdown]
# ## Differential test against the hand-written reference tool
#
# The tool's own tests only show that it agrees with what its author expected. The
# differential test compares it with the world's hand-written reference tool of the same name
# (`experiments/differential.py`), on a world the run never saw: the seed's *train* world.
#
# - *Nominal cases* are the reference-tool calls that the oracle solutions of every task family
#   make on that world.
# - *Edge cases* perturb them: empty strings, zero and negative numbers, unknown names.
#
# The candidate runs in the sandbox and the reference runs in process. A case agrees when both
# return the same JSON value, or when both raise. A hang or crash where the reference raises
# counts as a disagreement. These tests never feed back into evolution. They only measure it.

# %%
t0 = time.perf_counter()
nominal = nominal_cases(suite, SEED, "train")
if tool.name in reference:
    cases = [c for c in nominal if c.tool == tool.name]
    cases += edge_cases([tool_spec(reference[tool.name])], nominal, SEED)
    print(f"{len(nominal)} nominal cases over all reference tools; {len(cases)} cases for {tool.name}")
    with Sandbox() as sandbox:
        diff = differential(sandbox, suite, tool.name, tool.code, cases)
    print(
        f"{tool.name} v{tool.version} vs reference: {diff.passed}/{diff.n} cases agree ({diff.rate:.0%}); "
        f"all agree: {diff.all_passed} ({time.perf_counter() - t0:.1f} s)"
    )
    for failure in diff.failures:  # the first five disagreements, if any
        print("  disagreement:", json.dumps(failure, default=str)[:300])
else:
    print(f"{tool.name} has no reference tool to compare with")

# %% [markdown]
# ## The Tool-Genesis diagnosis the job ran at its end
#
# Every arise job ends by scoring its library against the reference tools on a held-out world
# (`experiments/diagnostics.py`, `experiments/downstream.py`): L1 compliance and a sandbox smoke
# call, L2 the match to the reference tools (Schema-F1), L3 held-out unit tests (an unmatched
# reference tool scores 0), and L4 the agent's success on held-out instances with the library,
# with the reference tools and with no tools. `result.json` holds the summary; the per-tool detail
# is in `diagnostics/diagnostics.json`.

# %%
diag = result["diagnostics"]
l4 = diag["l4"]
print(f"L1 (every candidate): compliance {diag['candidates']['l1']['compliance']:.2f}, "
      f"exec {diag['candidates']['l1']['exec']:.2f}")  # fmt: skip
print(f"L2: {diag['l2']['n_matched']}/{diag['l2']['n_reference']} reference tools matched, "
      f"Schema-F1 {diag['l2']['tool_f1']:.2f}, argument F1 {diag['l2']['arg_f1']:.2f}")  # fmt: skip
print(
    f"L3: UT-soft {diag['l3']['ut_soft']:.3f}, UT-hard {diag['l3']['ut_hard']:.3f} over {diag['l3']['n_cases']} cases"
)
arms = ", ".join(f"{arm} {v['success_rate']:.0%}" for arm, v in l4["arms"].items())
print(f"L4 on {l4['arms']['library']['n']} held-out instances: {arms}; SR = {l4['sr']:.2f}")
print("funnel of the candidates:", " -> ".join(f"{s['stage']} {s['count']}" for s in diag["candidates"]["funnel"]))
detail = json.loads((job / "diagnostics" / "diagnostics.json").read_text(encoding="utf-8"))
unmatched = [ref for ref, e in detail["l3"]["per_reference"].items() if e["matched"] is None]
print("reference tools the library lacks:", ", ".join(unmatched) or "none")

# %% [markdown]
# ## Library size and success over the run
#
# Each episode record lists the tools offered to the agent. Subtracting the built-in
# affordances leaves the size of the evolved library at that episode. (`experiments.report`
# draws the same curve over many seeds.) The success line is the trailing success rate over
# the last `WINDOW` episodes. Dotted lines mark the evolutions. A tool promoted in an
# evolution at episode *e* is offered from episode *e + 1*. The task stream runs phase by
# phase, so the success rate also moves with task difficulty, not only with the library.

# %%
WINDOW = 8
lines = (job / "episodes.jsonl").read_text(encoding="utf-8").splitlines()
records = [json.loads(line) for line in lines if line.strip()]
sizes = [sum(1 for t in r["tools_offered"] if t not in ALL_AFFORDANCES) for r in records]
success = np.array([float(r["success"]) for r in records])
trailing = [success[max(0, i - WINDOW + 1) : i + 1].mean() for i in range(len(success))]
episodes = np.arange(len(records))

fig, ax = plt.subplots(figsize=(10, 4.5))
first = 0
for i in range(1, len(records) + 1):  # shade and label the contiguous phases of the task stream
    if i == len(records) or records[i]["task"]["phase"] != records[first]["task"]["phase"]:
        if records[first]["task"]["phase"] in ("metrics", "incidents"):
            ax.axvspan(first - 0.5, i - 0.5, color="0.93", linewidth=0)
        label = records[first]["task"]["phase"]
        ax.text((first + i - 1) / 2, 1.01, label, transform=ax.get_xaxis_transform(), ha="center", fontsize=8)
        first = i
for e in lib.events("trigger"):
    ax.axvline(e["episode"], color="grey", linestyle=":", linewidth=1)
ax.step(episodes, sizes, where="post", color="tab:blue", label="evolved tools offered")
ax.set_xlim(-0.5, len(records) - 0.5)
ax.set_ylim(0, max(sizes) + 1)
ax.set_xlabel("episode")
ax.set_ylabel("tools in the library", color="tab:blue")
ax2 = ax.twinx()
ax2.plot(episodes, [100 * x for x in trailing], color="tab:orange", label=f"success, trailing {WINDOW} episodes")
ax2.scatter(episodes, 100 * success, s=8, color="tab:orange", alpha=0.4, label="episode outcome (0 or 100)")
ax2.set_ylabel("success %", color="tab:orange")
ax2.set_ylim(-5, 105)
fig.legend(loc="lower center", ncol=3, fontsize=8)
ax.set_title(f"AcmeCorp / rigorous / arise, seed {SEED}: library size and success (dotted: evolutions)", pad=16)
fig.tight_layout(rect=(0, 0.07, 1, 1))
fig.savefig(OUT / "library_growth_and_success.png", dpi=100)
print("library size per episode:", sizes)
half = len(success) // 2
print(f"success: first half {success[:half].mean():.0%}, second half {success[half:].mean():.0%}")
print("saved", OUT / "library_growth_and_success.png")
lib.close()
print(f"notebook: {time.perf_counter() - t_start:.1f} s")
