"""The paper's free-text checks for the AcmeCorp tasks (``AcmePaperCheck``), flaws included.

Each kind reproduces the paper's substring-style check; ``docs/arise_v1.md`` lists what each one
lets through (e.g. checks whose expected list is empty pass vacuously).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from envs.acmecorp.arise_v1.world import (
    SERVICES,
)
from envs.grading import FreeTextCheck


# =================================================================================
# The paper's checks
# =================================================================================
def _has_none(low: str) -> bool:
    return "none" in low or "no " in low


def _present(text: str, items: Iterable[Any]) -> tuple[bool, str]:
    missing = [str(x) for x in items if str(x) not in text]
    return not missing, "" if not missing else f"missing: {', '.join(missing[:6])}"


def _c_contains(text: str, truth: Any) -> tuple[bool, str]:
    if truth is None or truth == "":
        return False, "no expected value (the paper's check fails)"
    ok = str(truth) in text
    return ok, "" if ok else f"{str(truth)!r} not in the answer"


def _c_contains_unless_none(text: str, truth: Any) -> tuple[bool, str]:
    if truth is None:
        return True, "no expected value: passes"
    return _c_contains(text, truth)


def _c_all_present(text: str, truth: Any) -> tuple[bool, str]:
    if not truth:
        return True, "expected list is empty: passes vacuously"
    return _present(text, truth)


def _c_none_or_all_present(text: str, truth: Any) -> tuple[bool, str]:
    # Paper: (empty and ("none" or "no ")) or all(name in output). all() of an empty list
    # is true, so an empty expectation passes whatever the answer says.
    if not truth:
        return True, "" if _has_none(text.lower()) else "expected list is empty: passes vacuously"
    return _present(text, truth)


def _c_pairs(text: str, truth: Any) -> tuple[bool, str]:
    bad = [f"{k}={v}" for k, v in truth.items() if k not in text or str(v) not in text]
    return not bad, "" if not bad else f"missing name or count: {', '.join(bad[:6])}"


def _c_half_present(text: str, truth: Any) -> tuple[bool, str]:
    if not truth:
        return True, "expected list is empty: passes vacuously"
    found = sum(1 for x in truth if str(x) in text)
    ok = found >= 0.5 * len(truth)
    return ok, "" if ok else f"{found}/{len(truth)} present (needs half)"


def _c_any_group(text: str, truth: Any) -> tuple[bool, str]:
    if not truth:
        return True, "no qualifying group: passes vacuously"
    ok = any(all(s in text for s in group) for group in truth.values())
    return ok, "" if ok else "no qualifying group has all its names in the answer"


def _c_first_before_last(text: str, truth: Any) -> tuple[bool, str]:
    top, bottom = truth[0], truth[-1]
    if top not in text or bottom not in text:
        return False, f"{top!r} or {bottom!r} missing"
    ok = text.index(top) < text.index(bottom)
    return ok, "" if ok else f"{top!r} first appears after {bottom!r}"


def _c_any_key(text: str, truth: Any) -> tuple[bool, str]:
    ok = any(str(k) in text for k in truth)
    return ok, "" if ok else f"none of {list(truth)} in the answer"


def _c_any_value(text: str, truth: Any) -> tuple[bool, str]:
    return _c_any_key(text, list(truth.values()))


def _c_all_values(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, truth.values())


def _c_names_and_any_count(text: str, truth: Any) -> tuple[bool, str]:
    ok, note = _present(text, truth)
    if not ok:
        return False, note
    ok = any(str(c) in text for c in truth.values())
    return ok, "" if ok else "no count in the answer"


def _c_total_and_names(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, [truth["total_requests"], *truth["attention"]])


def _c_validation(text: str, truth: Any) -> tuple[bool, str]:
    # Paper: (empty and ("no "|"valid"|"none")) or all(any(word of issue in output) for
    # issue in expected[:1]); the second clause is vacuously true when nothing is expected.
    low = text.lower()
    if not truth:
        hit = "no " in low or "valid" in low or "none" in low
        return True, "" if hit else "no issues expected: passes vacuously"
    words = str(truth[0]).lower().split()
    ok = any(w in low for w in words)
    return ok, "" if ok else "no word of the first issue in the answer"


def _c_mentions_replicas(text: str, truth: Any) -> tuple[bool, str]:
    ok = "replicas" in text.lower()
    return ok, "" if ok else "'replicas' not in the answer"


def _c_cycles(text: str, truth: Any) -> tuple[bool, str]:
    if truth:
        return True, "a cycle exists: the paper's check is always true"
    ok = _has_none(text.lower())
    return ok, "" if ok else "expected 'no'/'none'"


def _c_dep_refs(text: str, truth: Any) -> tuple[bool, str]:
    low = text.lower()
    if not truth:
        ok = "valid" in low or "all " in low or "no " in low
        return ok, "" if ok else "expected 'valid', 'all ' or 'no '"
    ok = any(w in low for issue in truth for w in str(issue).lower().split())
    return ok, "" if ok else "no word of any issue in the answer"


def _c_health_words(text: str, truth: Any) -> tuple[bool, str]:
    low = text.lower()
    ok = "healthy" in low or "error" in low or "rate" in low
    return ok, "" if ok else "none of 'healthy', 'error', 'rate'"


def _c_root_cause(text: str, truth: Any) -> tuple[bool, str]:
    low = text.lower()
    ok = "payments" in low and ("error" in low or "cause" in low)
    return ok, "" if ok else "needs 'payments' and 'error' or 'cause'"


def _c_count_and_payments(text: str, truth: Any) -> tuple[bool, str]:
    return _present(text, [truth["error_count"], "payments"])


def _c_service_named(text: str, truth: Any) -> tuple[bool, str]:
    return _c_contains(text, truth["service"])


def _c_affected_two(text: str, truth: Any) -> tuple[bool, str]:
    found = sum(1 for s in truth if s in text)
    need = min(2, len(truth))
    return found >= need, "" if found >= need else f"{found} of the error-bearing services named, need {need}"


def _c_three_services(text: str, truth: Any) -> tuple[bool, str]:
    found = sum(1 for s in SERVICES if s in text)
    return found >= 3, "" if found >= 3 else f"{found} service names, need 3"


def _c_winner_and_three(text: str, truth: Any) -> tuple[bool, str]:
    if truth["worst_by_logs"] not in text:
        return False, f"{truth['worst_by_logs']!r} (most log errors) not in the answer"
    return _c_three_services(text, truth)


CHECKS: dict[str, tuple[Callable[[str, Any], tuple[bool, str]], str]] = {
    "contains": (_c_contains, "passes if str(expected) is a substring of the answer"),
    "contains_unless_none": (_c_contains_unless_none, "str(expected) in the answer; passes when nothing is expected"),
    "all_present": (_c_all_present, "every expected name is a substring (an empty expectation passes)"),
    "none_or_all_present": (
        _c_none_or_all_present,
        "every expected name is a substring, or 'none'/'no ' when the expectation is empty "
        "(the paper's all() makes an empty expectation pass anything)",
    ),
    "pairs": (_c_pairs, "every expected name and every expected count are substrings (independently)"),
    "half_present": (_c_half_present, "at least half of the expected values are substrings; empty passes"),
    "any_group": (_c_any_group, "all names of any one qualifying group are substrings; empty passes"),
    "first_before_last": (_c_first_before_last, "the top item first appears before the bottom item"),
    "any_key": (_c_any_key, "any one of the expected names is a substring"),
    "any_value": (_c_any_value, "any one of the expected names is a substring"),
    "all_values": (_c_all_values, "every expected value is a substring"),
    "names_and_any_count": (_c_names_and_any_count, "every expected name and any one expected count are substrings"),
    "total_and_names": (_c_total_and_names, "the total and every attention-list name are substrings"),
    "validation": (_c_validation, "'no '/'valid'/'none' when no issue is expected (passes vacuously anyway)"),
    "mentions_replicas": (_c_mentions_replicas, "the answer mentions 'replicas' (case-insensitive)"),
    "cycles": (_c_cycles, "always true when a cycle exists; else 'no '/'none'"),
    "dep_refs": (_c_dep_refs, "'valid', 'all ' or 'no ' when every reference resolves; else any word of an issue"),
    "health_words": (_c_health_words, "the answer contains 'healthy', 'error' or 'rate' (case-insensitive)"),
    "root_cause": (_c_root_cause, "the answer contains 'payments' and 'error' or 'cause' (case-insensitive)"),
    "count_and_payments": (_c_count_and_payments, "the payments error count and 'payments' are substrings"),
    "service_named": (_c_service_named, "the service's name is a substring"),
    "affected_two": (_c_affected_two, "at least min(2, n) of the n error-bearing services are named"),
    "three_services": (_c_three_services, "at least 3 of the six service names appear"),
    "winner_and_three": (_c_winner_and_three, "the service with most log errors and at least 3 service names appear"),
}


class AcmePaperCheck(FreeTextCheck):
    """One of the paper's free-text AcmeCorp checks (``kind`` selects it from ``CHECKS``)."""

    checks = CHECKS
    label = "paper"
