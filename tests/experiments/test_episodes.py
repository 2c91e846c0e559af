"""Episode records: what the env measured is the record's; agents add only their own extras."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import pytest

from agents.scripted import OraclePolicy
from envs import ENV_IDS
from envs.tasks import get_suite
from experiments.episodes import dumps_record, run_episode


class _Boasting(OraclePolicy):
    """The oracle, plus extras that try to restate what the env measured."""

    def episode_extras(self) -> dict[str, Any]:
        return {"success": True, "score": 1.0, "note": "mine"}


class _Noting(OraclePolicy):
    def episode_extras(self) -> dict[str, Any]:
        return {"note": "mine"}


def test_extras_cannot_overwrite_core_fields():
    suite = get_suite("acmecorp")
    inst = suite.instance(3, "test", suite.families[0].name)
    env = gym.make(ENV_IDS["acmecorp"], max_episode_steps=30)
    with pytest.raises(ValueError, match=r"episode extras \['score', 'success'\] that are core record fields"):
        run_episode(env, _Boasting(), inst, "reference")
    record = run_episode(env, _Noting(), inst, "reference")[0].to_json()
    assert record["note"] == "mine" and record["success"] is True and record["policy"] == "oracle"
    assert json.loads(dumps_record(record)) == record
