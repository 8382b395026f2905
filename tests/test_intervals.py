"""Properties of interval merging and crediting (hypothesis)."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lms.services import intervals as iv

pytestmark = pytest.mark.engine_independent  # run in the SQLite pass only

DURATION = 600.0

bounds = st.floats(min_value=0, max_value=DURATION, allow_nan=False, allow_infinity=False)
interval = st.tuples(bounds, bounds).map(lambda p: (min(p), max(p))).filter(lambda p: p[0] < p[1])
reports = st.lists(st.lists(interval, max_size=8), max_size=8)


def credit_all(batches, budgets=None):
    """Credit reports one after another the way the progress service does."""
    coverage: list = []
    credited = 0.0
    for index, batch in enumerate(batches):
        new = iv.subtract(batch, coverage)
        budget = float("inf") if budgets is None else budgets[index]
        taken = iv.take(new, budget)
        credited += iv.measure(taken)
        coverage = iv.merge([*coverage, *taken])
    return coverage, credited


@given(reports)
def test_coverage_never_exceeds_the_duration(batches):
    coverage, _credited = credit_all(batches)
    assert iv.measure(coverage) <= DURATION + 1e-6
    assert all(0 <= s < e <= DURATION for s, e in coverage)


@given(reports)
def test_credit_equals_coverage_and_counts_each_second_once(batches):
    coverage, credited = credit_all(batches)
    assert abs(credited - iv.measure(coverage)) < 1e-6


@given(reports)
def test_replaying_every_report_changes_nothing(batches):
    coverage, credited = credit_all(batches)
    again, credited_again = credit_all(batches + batches)
    assert again == coverage
    assert abs(credited_again - credited) < 1e-6


@given(reports, st.randoms())
def test_order_does_not_matter(batches, random):
    shuffled = list(batches)
    random.shuffle(shuffled)
    assert credit_all(shuffled)[0] == credit_all(batches)[0]


@given(reports, st.lists(st.floats(min_value=0, max_value=120), min_size=8, max_size=8))
def test_credit_never_exceeds_the_time_budget(batches, budgets):
    _coverage, credited = credit_all(batches, budgets)
    assert credited <= sum(budgets[: len(batches)]) + 1e-6


@given(st.lists(interval, max_size=20))
def test_merge_gives_sorted_disjoint_intervals(pairs):
    merged = iv.merge(pairs)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(merged))
    assert abs(iv.measure(merged) - iv.measure(iv.merge(merged))) < 1e-9


@given(st.lists(interval, max_size=10), st.lists(interval, max_size=10))
def test_subtract_leaves_only_what_is_new(new, old):
    coverage = iv.merge(old)
    fresh = iv.subtract(new, coverage)
    union = iv.merge([*coverage, *new])
    assert abs(iv.measure(coverage) + iv.measure(fresh) - iv.measure(union)) < 1e-6
