import pytest

from envs.grading import (
    AnswerParseError,
    DictOf,
    ExactInt,
    ExactStr,
    ListOfRecords,
    Nullable,
    OrderedList,
    SetOf,
    Tolerance,
    extract_answer,
    grade_answer,
)


@pytest.mark.parametrize(
    "raw, expected, how",
    [
        (5, 5, "value"),
        ("5", 5, "json"),
        ('{"a": 1}', {"a": 1}, "json"),
        ('The answer is:\n```json\n{"a": 2}\n```', {"a": 2}, "fenced"),
        ('I think [1, 2] then final {"x": [3]} done', {"x": [3]}, "embedded"),
        ('"payments"', "payments", "json"),
        ("  payments ", "payments", "text"),
        ("{broken", "{broken", "text"),
        ('first {"service": "x"} then the final answer ["a", "b"]', ["a", "b"], "embedded"),
        ('The services are ["a","b"] (computed from {"threshold": 0.01})', {"threshold": 0.01}, "embedded"),
    ],
)
def test_extract_answer_is_lenient(raw, expected, how):
    assert extract_answer(raw) == (expected, how)


@pytest.mark.parametrize("raw", ["", "   "])
def test_empty_answers_are_parse_failures(raw):
    with pytest.raises(AnswerParseError):
        extract_answer(raw)
    g = grade_answer(raw, 1, ExactInt())
    assert g.score == 0 and not g.success and "parse_error" in g.detail


def test_free_text_without_json_is_graded_as_a_string():
    g = grade_answer("about seven", 7, ExactInt())
    assert not g.success and g.detail["extraction"] == "text" and "expected an integer" in g.detail["note"]
    assert grade_answer("worker", "worker", ExactStr()).success


def test_exact_int_accepts_integral_numbers_only():
    c = ExactInt()
    assert c.grade(7, 7).success
    assert c.grade(7.0, 7).success
    assert c.grade("7", 7).success
    assert not c.grade(7.5, 7).success
    assert not c.grade(True, 1).success
    assert not c.grade([7], 7).success


def test_exact_str_trims_and_is_case_sensitive_by_default():
    assert ExactStr().grade(" payments ", "payments").success
    assert not ExactStr().grade("Payments", "payments").success
    assert ExactStr(casefold=True).grade("Payments", "payments").success
    assert not ExactStr().grade(5, "5").success


def test_tolerance_bounds_are_inclusive_and_stated():
    c = Tolerance(abs_tol=0.01)
    assert c.grade(1.01, 1.0).success
    assert not c.grade(1.0101, 1.0).success
    assert not c.grade("nan", 1.0).success
    assert "0.01" in c.describe()


def test_set_and_ordered_list():
    assert SetOf().grade(["b", "a"], ["a", "b"]).success
    g = SetOf().grade(["a"], ["a", "b"])
    assert not g.success and "jaccard=0.500" in g.detail["note"]
    assert not SetOf().grade(["a", "b", "c"], ["a", "b"]).success
    assert OrderedList().grade(["a", "b"], ["a", "b"]).success
    assert not OrderedList().grade(["b", "a"], ["a", "b"]).success


def test_dict_gives_per_key_partial_credit():
    c = DictOf((("service", ExactStr()), ("count", ExactInt()), ("rate", Tolerance(abs_tol=1e-3))))
    truth = {"service": "auth", "count": 3, "rate": 0.5}
    assert c.grade({"service": "auth", "count": 3, "rate": 0.5004}, truth).score == 1.0
    g = c.grade({"service": "auth", "count": 4}, truth)
    assert g.score == pytest.approx(1 / 3) and not g.success
    assert g.detail["keys"] == {"service": "ok", "count": "wrong value", "rate": "missing"}
    assert c.grade(["auth"], truth).score == 0.0


def test_list_of_records_and_nullable():
    c = ListOfRecords((("key", ExactStr()), ("new", ExactInt())))
    truth = [{"key": "a", "new": 1}, {"key": "b", "new": 2}]
    assert c.grade([{"key": "b", "new": 2}, {"key": "a", "new": 1}], truth).success
    assert not c.grade([{"key": "b", "new": 2}], truth).success
    assert not c.grade([*truth, {"key": "c", "new": 3}], truth).success
    n = Nullable(ExactStr())
    assert n.grade(None, None).success and not n.grade("x", None).success and not n.grade(None, "x").success


def test_grade_reports_whether_the_answer_fits_the_schema():
    from envs.grading import DictOf, ExactInt, ExactStr, grade_answer

    comp = DictOf((("service", ExactStr()), ("n", ExactInt())))
    schema = {
        "type": "object",
        "properties": {"service": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["service", "n"],
    }
    truth = {"service": "a", "n": 3}
    assert grade_answer({"service": "a", "n": 3}, truth, comp, schema).detail["schema_error"] is None
    bad = grade_answer({"service": "a"}, truth, comp, schema)
    assert bad.detail["schema_error"] == "'n' is a required property" and bad.score == 0.5
    assert "schema_error" not in grade_answer({"service": "a"}, truth, comp).detail  # no schema, no check
