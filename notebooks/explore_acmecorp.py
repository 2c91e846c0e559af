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
# # Explore an AcmeCorp world
#
# What an agent can reach in one seeded AcmeCorp world (protocol `rigorous`): the files,
# the handbook, the metrics API and the incident signature. Then one oracle episode
# through the Gymnasium env. Runs offline in a few seconds.

# %%
import json
import os

import gymnasium as gym
import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt

import envs  # noqa: F401  (registers arise_gym/AcmeCorp-v0)
from agents.scripted import OraclePolicy
from envs.acmecorp import reach
from envs.tasks import get_suite
from experiments.episodes import run_episode

SEED = 42
suite = get_suite("acmecorp", "rigorous")
world = suite.get_world(SEED)
print("\n".join(world.summary_lines()))
print("world-hash:", world.world_hash())

# %% [markdown]
# ## Logs: a few raw lines, then the parsed view the graders use

# %%
print("\n".join(world.file_lines("logs/acme.log.1")[:5]))
access = suite.access(world)
parsed = reach.parsed_logs(access)
print(f"{len(parsed.entries):,} entries, {parsed.malformed} malformed lines")

# %% [markdown]
# ## Metrics: the per-minute error rate of every service, straight from the API
# The incident shows up as one service's error rate jumping, and its dependents following.

# %%
fig, ax = plt.subplots(figsize=(10, 4))
for svc in reach.services(access):
    points = reach.series(access, svc)
    hours = [(p["ts"] - points[0]["ts"]) / 3600 for p in points]
    ax.plot(hours, [reach.point_error_rate(p) for p in points], label=svc, linewidth=0.8)
view = reach.incident_view(access)
ax.axvline((view["start_ts"] - world.facts["topology"].t0) / 3600, color="k", linestyle="--", label="incident start")
ax.set_xlabel("hours since the start of the period")
ax.set_ylabel("per-minute error rate")
ax.set_title(f"AcmeCorp seed {SEED}: root cause {view['root_cause']}")
ax.legend(ncol=3, fontsize=7)
fig.tight_layout()
try:
    here = os.path.dirname(os.path.abspath(__file__))
except NameError:  # inside Jupyter: the notebook's own directory is the working directory
    here = os.getcwd()
out = os.environ.get("NOTEBOOK_OUT", os.path.join(here, "_out"))
os.makedirs(out, exist_ok=True)
fig.savefig(os.path.join(out, "acmecorp_error_rates.png"), dpi=100)

# %% [markdown]
# ## One episode: the oracle solves the composite incident report with the reference tools

# %%
env = gym.make("arise_gym/AcmeCorp-v0")
instance = suite.instance(SEED, "test", "incidents.report")
print(instance.prompt)
record, timing = run_episode(env, OraclePolicy(), instance, "reference")
for step in record.steps:
    print(">", step["action"])
print("answer:", json.dumps(record.answer))
print("grade:", record.grade)
assert record.success, record.grade
