"""The sanity gates of worlds.md, enforced on 20 seeds for every registered rigorous world (plugins
imported by tests/conftest.py too)."""

from __future__ import annotations

import json
from collections import defaultdict

import gymnasium as gym
import pytest

from agents.scripted import NULL_POLICIES, make_scripted
from envs import ENV_IDS
from envs.registry import WORLDS as REGISTERED
from envs.tasks import get_suite
from experiments.episodes import run_episode

SEEDS = range(1, 21)
WORLDS = sorted(w for w, entry in REGISTERED.items() if "rigorous" in entry.suites)
# The benchmark size: families per phase. A world package may state a smaller MIN_FAMILIES_PER_PHASE
# (the example world under tests/worlds does).
MIN_FAMILIES_PER_PHASE = 8


def null_policies(world: str) -> tuple[str, ...]:
    """The null baselines a world can run: null_blob needs a registered constant blob."""
    has_blob = REGISTERED[world].constant_blob_ref is not None
    return tuple(p for p in NULL_POLICIES if p != "null_blob" or has_blob)


@pytest.fixture(scope="module", params=WORLDS)
def world(request):
    return request.param


@pytest.fixture(scope="module")
def suite(world):
    return get_suite(world, "rigorous")


@pytest.fixture(scope="module")
def outcomes(world, suite):
    """success[(policy, family)] -> list of bools, over 20 seeds x 1 instance per family."""
    env = gym.make(ENV_IDS[world])
    success: dict[tuple[str, str], list[bool]] = defaultdict(list)
    truths: dict[str, list[str]] = defaultdict(list)
    for seed in SEEDS:
        instances = suite.instances(seed, "test")
        for inst in instances:
            truths[inst.family].append(json.dumps(inst.truth, sort_keys=True))
        for name in ("oracle", *null_policies(world)):
            policy = make_scripted(name, suite, seed, train_worlds=3)
            tools = "reference" if name == "oracle" else "none"
            for inst in instances:
                record = run_episode(env, policy, inst, tools)[0].to_json()
                success[(name, inst.family)].append(record["success"])
                if name == "oracle" and not record["success"]:
                    pytest.fail(f"oracle failed {inst.id}: {record['grade']} answer={record['answer']!r}")
    env.close()
    return success, truths


@pytest.mark.slow
def test_oracle_scores_100_percent_on_every_family(outcomes, suite):
    success, _ = outcomes
    for fam in suite.families:
        runs = success[("oracle", fam.name)]
        assert len(runs) == len(SEEDS) and all(runs), fam.name


@pytest.mark.slow
@pytest.mark.parametrize("policy", NULL_POLICIES)
def test_null_policies_score_near_zero(outcomes, world, suite, policy):
    if policy not in null_policies(world):
        pytest.skip(f"world {world} registers no constant blob")
    success, _ = outcomes
    per_family = {f.name: success[(policy, f.name)] for f in suite.families}
    overall = sum(sum(v) for v in per_family.values()) / sum(len(v) for v in per_family.values())
    assert overall <= 0.10, (policy, overall)
    worst = max(per_family, key=lambda f: sum(per_family[f]))
    assert sum(per_family[worst]) / len(SEEDS) <= 0.25, (policy, worst, per_family[worst])


@pytest.mark.slow
def test_truth_is_never_constant_across_seeds(outcomes):
    _, truths = outcomes
    for fam, values in truths.items():
        assert len(set(values)) > 1, f"{fam} has the same truth on every seed"


def test_families_cover_every_phase_with_at_least_eight_each(world, suite):
    per_phase = defaultdict(list)
    for f in suite.families:
        per_phase[f.phase].append(f)
        assert f.difficulty in ("easy", "medium", "hard")
        assert f.answer_schema, f.name
    assert list(per_phase) == list(suite.phase_order)  # every phase present, families grouped in its order
    least = getattr(REGISTERED[world].module, "MIN_FAMILIES_PER_PHASE", MIN_FAMILIES_PER_PHASE)
    assert all(len(v) >= least for v in per_phase.values()), {k: len(v) for k, v in per_phase.items()}
    assert {f.difficulty for f in suite.families} == {"easy", "medium", "hard"}


def test_train_and_test_streams_are_disjoint(suite):
    for seed in (1, 2, 42):
        test = {suite.world_seed(seed, "test", k) for k in range(5)}
        train = {suite.world_seed(seed, "train", k) for k in range(5)}
        assert not test & train and len(test) == len(train) == 5
    fam = suite.families[0].name
    a = suite.instance(42, "train", fam)
    b = suite.instance(42, "test", fam)
    assert a.world_seed != b.world_seed and a.id != b.id


def test_per_family_instances_are_distinct_and_parameterless_families_give_one(suite):
    insts = suite.instances(7, "test", per_family=3)
    seen = {}
    for inst in insts:
        key = (inst.world_seed, inst.family, json.dumps(inst.params, sort_keys=True))
        assert key not in seen, inst.id
        seen[key] = inst
    counts = {f.name: sum(i.family == f.name for i in insts) for f in suite.families}
    assert all(1 <= c <= 3 for c in counts.values())
    assert max(counts.values()) == 3


def test_null_majority_on_train_split_is_fit_on_other_worlds(suite):
    from agents.scripted import NullMajority

    fitted = make_scripted("null_majority", suite, 3, train_worlds=2, evaluated=("train", 2))
    reference = NullMajority().fit(suite, 3, 2, first_world=2)
    assert isinstance(fitted, NullMajority) and fitted.majority == reference.majority
    own = NullMajority().fit(suite, 3, 2, first_world=0)
    assert own.majority != fitted.majority  # a different (disjoint) set of worlds


def test_a_family_whose_phase_the_suite_does_not_order_is_an_error(suite):
    import dataclasses

    first, *rest = suite.phase_order
    with pytest.raises(ValueError, match=rf"phases \['{first}'\] that are not in its phase_order"):
        dataclasses.replace(suite, phase_order=tuple(rest))
