import numpy as np
import pytest

from envs import seeding


def test_same_names_same_stream_and_different_names_differ():
    a = seeding.rng(42, "world", "logs").random(5)
    b = seeding.rng(42, "world", "logs").random(5)
    c = seeding.rng(42, "world", "metrics").random(5)
    d = seeding.rng(43, "world", "logs").random(5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, d)


def test_derive_seed_range_and_independence():
    assert 0 <= seeding.derive_seed(42, "x") < 2**31
    assert seeding.derive_seed(42, "x") != seeding.derive_seed(42, "y")


def test_negative_seed_is_rejected_with_clear_error():
    with pytest.raises(ValueError, match="non-negative"):
        seeding.rng(-1, "x")


def test_derivations_are_pinned():
    # Changing the derivation would silently change every world; these literals guard it.
    assert seeding.derive_seed(42, "world", "train", 0) == 424969507
    assert seeding.rng(42, "x").integers(0, 1_000_000) == 440680
