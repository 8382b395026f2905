"""Grading rules (pure functions), with hypothesis properties."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms.services.quiz import bank, grading
from lms.services.quiz.grading import AnswerError, grade, normalise_text, validate_answer

pytestmark = pytest.mark.engine_independent  # run in the SQLite pass only

FAST = settings(max_examples=150, deadline=None)


def options(flags: list[bool], multiple: bool) -> dict:
    texts = [(f"选项{i}", f"option {i}") for i in range(len(flags))]
    return {"options": bank.choice_key(texts, flags, multiple)}


correct_flags = st.lists(st.booleans(), min_size=2, max_size=8).filter(any)


@FAST
@given(correct_flags, st.data())
def test_multiple_choice_scores_stay_within_bounds(flags, data):
    key = options(flags, multiple=True)
    ids = grading.option_ids(key)
    chosen = data.draw(st.lists(st.sampled_from(ids), unique=True))
    assert 0.0 <= grade("multiple", key, chosen) <= 1.0


@FAST
@given(correct_flags, st.data())
def test_partial_credit_rules(flags, data):
    key = options(flags, multiple=True)
    ids = grading.option_ids(key)
    right = [i for i, flag in zip(ids, flags, strict=True) if flag]
    wrong = [i for i, flag in zip(ids, flags, strict=True) if not flag]
    assert grade("multiple", key, right) == pytest.approx(1.0)
    assert grade("multiple", key, []) == 0.0
    if wrong:
        assert grade("multiple", key, ids) == pytest.approx(0.0, abs=1e-9)
    chosen = data.draw(st.lists(st.sampled_from(ids), unique=True))
    base = grade("multiple", key, chosen)
    for extra in right:
        if extra not in chosen:  # ticking a right option never lowers the score
            assert grade("multiple", key, [*chosen, extra]) >= base - 1e-9
    for extra in wrong:
        if extra not in chosen:  # ticking a wrong option never raises it
            assert grade("multiple", key, [*chosen, extra]) <= base + 1e-9
    part = right[: max(1, len(right) - 1)]  # some right options, no wrong: partial credit
    assert grade("multiple", key, part) == pytest.approx(len(part) / len(right))


@FAST
@given(correct_flags, st.data(), st.integers(0, 2**32 - 1))
def test_shuffling_never_changes_a_score(flags, data, seed):
    key = options(flags, multiple=True)
    ids = grading.option_ids(key)
    chosen = data.draw(st.lists(st.sampled_from(ids), unique=True))
    shown = ids[:]
    random.Random(seed).shuffle(shown)  # the order an attempt shows
    by_position = [shown.index(i) for i in chosen]  # what the learner clicked on screen
    answer = validate_answer("multiple", key, [shown[p] for p in reversed(by_position)])
    assert grade("multiple", key, answer) == grade("multiple", key, chosen)
    single = options([True] + [False] * (len(flags) - 1), multiple=False)
    pick = data.draw(st.sampled_from(grading.option_ids(single)))
    assert grade("single", single, pick) in (0.0, 1.0)


@FAST
@given(st.permutations(list("abcdef")))
def test_ordering_scores_stay_within_bounds_and_only_the_right_order_earns_all(order):
    key = {"items": [{"id": i, "text": {"zh": i, "en": i}} for i in "abcdef"]}
    fraction = grade("ordering", key, list(order))
    assert 0.0 <= fraction <= 1.0
    assert (fraction == 1.0) == (list(order) == list("abcdef"))


def test_ordering_partial_credit_counts_neighbours():
    key = {"items": [{"id": i, "text": {"zh": i, "en": i}} for i in "abcd"]}
    assert grade("ordering", key, list("abcd")) == 1.0
    assert grade("ordering", key, list("dcba")) == 0.0
    assert grade("ordering", key, list("abdc")) == pytest.approx(1 / 3)


@FAST
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9))
def test_numeric_tolerance(value):
    key = {"answers": [{"value": 3.14, "tolerance": 0.01, "fraction": 1.0}]}
    expected = 1.0 if abs(value - 3.14) <= 0.01 else 0.0
    if not math.isclose(abs(value - 3.14), 0.01, rel_tol=1e-6):
        assert grade("numeric", key, value) == expected
    assert grade("numeric", key, 3.15) == 1.0  # the edge counts despite float rounding
    assert grade("numeric", key, 3.16) == 0.0


@pytest.mark.parametrize("raw", [math.nan, math.inf, -math.inf, "NaN", "Infinity", "-inf", "abc"])
def test_nan_and_infinity_are_refused(raw):
    with pytest.raises(AnswerError):
        validate_answer("numeric", {"answers": []}, raw)


def test_numeric_answers_typed_with_full_width_digits_or_a_comma():
    assert validate_answer("numeric", {}, "３．５") == 3.5
    assert validate_answer("numeric", {}, "3,5") == 3.5


@pytest.mark.parametrize(
    ("typed", "accepted"),
    [
        ("ＭＶＰ", "mvp"),  # full-width letters
        ("  最小  可行  产品 ", "最小可行产品"),  # spaces between Chinese characters
        ("最小可行产品\u3000", "最小可行产品"),  # an ideographic space
        ("Minimum   Viable product", "minimum viable product"),
        ("ｐｒｏｄｕｃｔ－ｍａｒｋｅｔ ｆｉｔ", "product-market fit"),
    ],
)
def test_short_answers_are_matched_fairly(typed, accepted):
    key = {"answers": [{"text": accepted, "fraction": 1.0}]}
    assert grade("short", key, typed) == 1.0


def test_short_answers_keep_spaces_between_latin_words():
    assert normalise_text("ice cream") != normalise_text("icecream")


def test_short_answers_take_the_best_matching_fraction():
    key = {"answers": [{"text": "现金流", "fraction": 1.0}, {"text": "现金", "fraction": 0.5}]}
    assert grade("short", key, "现金") == 0.5
    assert grade("short", key, "利润") == 0.0


@pytest.mark.parametrize(
    ("kind", "key", "raw"),
    [
        ("single", {"options": [{"id": "a"}]}, "zz"),
        ("single", {"options": [{"id": "a"}]}, ["a"]),
        ("multiple", {"options": [{"id": "a"}, {"id": "b"}]}, ["a", "a"]),
        ("multiple", {"options": [{"id": "a"}]}, "a"),
        ("truefalse", {"answer": True}, "true"),
        ("short", {"answers": []}, "x" * (grading.MAX_TEXT_ANSWER + 1)),
        ("short", {"answers": []}, "bad\x00"),
        ("ordering", {"items": [{"id": "a"}, {"id": "b"}]}, ["a"]),
        ("ordering", {"items": [{"id": "a"}, {"id": "b"}]}, ["a", "a"]),
    ],
)
def test_answers_that_do_not_fit_the_question_are_refused(kind, key, raw):
    with pytest.raises(AnswerError):
        validate_answer(kind, key, raw)


@FAST
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.1, 100)), max_size=30))
def test_attempt_scores_stay_within_bounds(results):
    earned, maximum, percent = grading.score(results)
    assert 0.0 <= percent <= 100.0
    assert earned <= maximum + 1e-9


@given(st.lists(st.booleans(), max_size=30), st.integers(1, 10), st.integers(0, 5))
def test_mastery_counts_the_last_n(answers, m, extra):
    n = m + extra
    assert grading.mastery_reached(answers, m, n) == (sum(answers[-n:]) >= m)


def test_mastery_three_of_the_last_five():
    assert grading.mastery_reached([False, False, True, True, True], 3, 5)
    assert not grading.mastery_reached([True, True, True, False, False, False], 3, 5)
