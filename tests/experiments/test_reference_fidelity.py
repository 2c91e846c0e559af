"""experiments.reference_fidelity: argument checks, and (given a checkout of abekek/arise) the prompt comparison."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from experiments import reference_fidelity as rf


def test_parse_seeds() -> None:
    assert rf.parse_seeds("42") == [42]
    assert rf.parse_seeds("0-3") == [0, 1, 2, 3]
    assert rf.parse_seeds("1,5,9-11") == [1, 5, 9, 10, 11]
    for bad in ("x", "3-", "-1", "1-a"):
        with pytest.raises(argparse.ArgumentTypeError, match="ranges like 0-49"):
            rf.parse_seeds(bad)


def test_a_directory_that_is_not_the_reference_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"not a checkout of abekek/arise: benchmarks/tasks/__init__\.py is missing"):
        rf.load_reference(tmp_path)


REFERENCE = os.environ.get("ARISE_REFERENCE", "")


@pytest.mark.skipif(not REFERENCE, reason="set ARISE_REFERENCE to a checkout of github.com/abekek/arise")
def test_prompts_equal_the_references_on_the_same_data() -> None:
    rf.load_reference(Path(REFERENCE))
    assert rf.prompt_mismatches("acmecorp", [42, 456]) == []
    assert rf.prompt_mismatches("datacorp", [42]) == []


@pytest.mark.skipif(not REFERENCE, reason="set ARISE_REFERENCE to a checkout of github.com/abekek/arise")
def test_the_references_parser_dcql_and_validator_read_our_exports_alike() -> None:
    rf.load_reference(Path(REFERENCE))
    assert rf.datacorp_row_mismatches([42, 123]) == []
