"""Watched intervals: merging, measuring, and cutting new coverage to a time budget.

An interval is a ``(start, end)`` pair of seconds with ``start < end``. A *coverage*
is a sorted list of disjoint intervals. All functions are pure.
"""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[float, float]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge overlapping or touching intervals into a coverage.

    Gaps are never closed, however small: coverage only grows by what was credited.
    """
    merged: list[list[float]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def measure(coverage: Iterable[Interval]) -> float:
    """Total seconds of a coverage (intervals assumed disjoint)."""
    return sum(end - start for start, end in coverage)


def subtract(intervals: Iterable[Interval], coverage: list[Interval]) -> list[Interval]:
    """The parts of ``intervals`` not already in ``coverage``, as a coverage."""
    result: list[Interval] = []
    for start, end in merge(intervals):
        cursor = start
        for c_start, c_end in coverage:
            if c_end <= cursor:
                continue
            if c_start >= end:
                break
            if c_start > cursor:
                result.append((cursor, c_start))
            cursor = max(cursor, c_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return merge(result)


def take(coverage: list[Interval], budget: float) -> list[Interval]:
    """The first ``budget`` seconds of a coverage, in playback order."""
    taken: list[Interval] = []
    left = budget
    for start, end in coverage:
        if left <= 0:
            break
        whole = end - start
        if whole <= left:
            taken.append((start, end))  # exact ends: re-taking a coverage gives it back as is
        else:
            taken.append((start, start + left))
        left -= min(whole, left)
    return taken
