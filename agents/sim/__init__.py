"""The simulated model (``sim``): a seeded, mechanistic behavioural model of an LLM.

``SimChat`` is the ``ChatBackend``; ``profiles`` holds the named behaviour profiles;
``behaviour`` is the agent-side mechanism; ``memory`` is what the model has observed;
``knowledge`` is its built-in knowledge of each world. See ``docs/sim.md``.
"""

from agents.sim.backend import SimChat
from agents.sim.profiles import PROFILES, SimProfile, get_profile

__all__ = ["PROFILES", "SimChat", "SimProfile", "get_profile"]
