"""Grading: pure functions from a question's key and a learner's answer to a fraction in [0, 1].

Nothing here reads the database or the clock, so the rules are tested exhaustively
(tests/test_quiz_grading.py, with hypothesis). The key shapes, per kind:

* ``single`` / ``multiple``: ``{"options": [{"id", "text": {zh, en}, "fraction",
  "feedback": {zh, en}}, ...]}``. A single-choice answer earns its option's fraction (0 to 1).
  A multiple-choice answer earns the sum of the fractions of the options chosen, clamped to
  [0, 1]: by default each correct option is worth ``1/c`` and each wrong one ``-1/w``
  (:func:`choice_fractions`), so ticking every box earns nothing.
* ``truefalse``: ``{"answer": bool, "feedback_true": {..}, "feedback_false": {..}}``.
* ``short``: ``{"answers": [{"text", "fraction", "feedback"}, ...]}``; compared after
  :func:`normalise_text` (NFKC, case-folded, spaces collapsed: full-width letters, digits and
  spaces match their half-width forms, and spaces next to Chinese characters do not count).
* ``numeric``: ``{"answers": [{"value", "tolerance", "fraction", "feedback"}, ...]}``.
* ``ordering``: ``{"items": [{"id", "text"}, ...]}`` in the correct order. An answer earns
  the share of its neighbouring pairs that are in the right order (Moodle's "relative to the
  next item"): the right order earns 1, the reverse 0.

Answers are checked by :func:`validate_answer` before they are stored, so grading never
sees an option id that is not in the key, a NaN, or a list with duplicates.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any, TypeGuard

from lms.services.errors import Invalid

MAX_TEXT_ANSWER = 500  # characters of a short answer
EPSILON = 1e-9


class AnswerError(Invalid):
    """The answer does not fit the question (unknown option, wrong type, too long, NaN…)."""


# -- keys ----------------------------------------------------------------------------------


def choice_fractions(correct: Sequence[bool], multiple: bool) -> list[float]:
    """Default option fractions from correct flags: single choice 1/0; multiple choice
    ``1/c`` for each of the ``c`` correct options and ``-1/w`` for each of the ``w`` wrong."""
    if not multiple:
        return [1.0 if flag else 0.0 for flag in correct]
    right = sum(1 for flag in correct if flag)
    wrong = len(correct) - right
    return [(1.0 / right) if flag else (-1.0 / wrong if wrong else 0.0) for flag in correct]


def option_ids(key: dict[str, Any]) -> list[str]:
    return [option["id"] for option in key.get("options", [])]


def item_ids(key: dict[str, Any]) -> list[str]:
    return [item["id"] for item in key.get("items", [])]


# -- answers -------------------------------------------------------------------------------


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_number(raw: object) -> float:
    """A finite number from JSON or text (full-width digits, a decimal comma); else AnswerError."""
    if is_number(raw):
        return float(raw)
    if isinstance(raw, str) and len(raw) <= 50:
        text = unicodedata.normalize("NFKC", raw).strip().replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(value):
                return value
    raise AnswerError("a numeric answer is a finite number")


def validate_answer(kind: str, key: dict[str, Any], raw: object) -> Any:
    """The answer as stored, or :class:`AnswerError`. ``None`` (no answer yet) is allowed."""
    if raw is None:
        return None
    if kind == "single":
        if not isinstance(raw, str) or raw not in option_ids(key):
            raise AnswerError("unknown option")
        return raw
    if kind == "multiple":
        ids = option_ids(key)
        if not isinstance(raw, list) or len(raw) > len(ids):
            raise AnswerError("a list of options")
        if any(not isinstance(x, str) or x not in ids for x in raw) or len(set(raw)) != len(raw):
            raise AnswerError("unknown or repeated option")
        return sorted(raw, key=ids.index)
    if kind == "truefalse":
        if not isinstance(raw, bool):
            raise AnswerError("true or false")
        return raw
    if kind == "short":
        if not isinstance(raw, str) or len(raw) > MAX_TEXT_ANSWER:
            raise AnswerError(f"a text of at most {MAX_TEXT_ANSWER} characters")
        if any(unicodedata.category(c) == "Cc" and c not in "\t\n" for c in raw):
            raise AnswerError("control characters")
        return raw
    if kind == "numeric":
        return parse_number(raw)
    if kind == "ordering":
        ids = item_ids(key)
        if not isinstance(raw, list) or sorted(map(str, raw)) != sorted(ids):
            raise AnswerError("an order of all the items")
        if any(not isinstance(x, str) for x in raw):
            raise AnswerError("an order of all the items")
        return raw
    raise AnswerError(f"unknown question kind {kind!r}")


# -- grading -------------------------------------------------------------------------------


def _cjk(character: str) -> bool:
    return unicodedata.category(character) == "Lo"


def normalise_text(text: str) -> str:
    """For comparing short answers: NFKC (full-width → half-width), case-folded, runs of
    spaces made one, and no space next to a Chinese (CJK) character."""
    words = unicodedata.normalize("NFKC", text).casefold().split()
    joined = ""
    for word in words:
        if joined and not (_cjk(joined[-1]) or _cjk(word[0])):
            joined += " "
        joined += word
    return joined


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def _matching(kind: str, key: dict[str, Any], answer: Any) -> list[dict[str, Any]]:
    """The key's entries the answer chose or matched (options, accepted answers)."""
    if answer is None:
        return []
    if kind in ("single", "multiple"):
        chosen = {answer} if kind == "single" else set(answer)
        return [option for option in key["options"] if option["id"] in chosen]
    if kind == "short":
        given = normalise_text(answer)
        found = [a for a in key["answers"] if normalise_text(a["text"]) == given]
        return sorted(found, key=lambda a: -a["fraction"])[:1]
    if kind == "numeric":
        found = [
            a
            for a in key["answers"]
            if abs(answer - a["value"]) <= a.get("tolerance", 0) * (1 + EPSILON) + EPSILON
        ]
        return sorted(found, key=lambda a: -a["fraction"])[:1]
    return []


def grade(kind: str, key: dict[str, Any], answer: Any) -> float:
    """The fraction of the question's points an answer earns, in [0, 1]; 0 for no answer."""
    if answer is None:
        return 0.0
    if kind == "truefalse":
        return 1.0 if answer is key["answer"] else 0.0
    if kind == "ordering":
        return ordering_fraction(item_ids(key), answer)
    fractions = [entry["fraction"] for entry in _matching(kind, key, answer)]
    if kind == "multiple":
        return _clamp(sum(fractions))
    return _clamp(max(fractions, default=0.0))


def ordering_fraction(correct: Sequence[str], answer: Sequence[str]) -> float:
    """Share of the answer's neighbouring pairs that are neighbours in the right order."""
    if len(correct) < 2:
        return 1.0 if list(answer) == list(correct) else 0.0
    follows = dict(pairwise(correct))
    right = sum(1 for a, b in pairwise(answer) if follows.get(a) == b)
    return right / (len(correct) - 1)


def feedback(kind: str, key: dict[str, Any], answer: Any) -> list[dict[str, str]]:
    """The per-answer feedback the answer earned (``{zh, en}`` texts), for the review."""
    if answer is None:
        return []
    if kind == "truefalse":
        found = key.get("feedback_true" if answer else "feedback_false")
        return [found] if found and (found.get("zh") or found.get("en")) else []
    return [
        entry["feedback"]
        for entry in _matching(kind, key, answer)
        if entry.get("feedback") and (entry["feedback"].get("zh") or entry["feedback"].get("en"))
    ]


def score(results: Iterable[tuple[float, float]]) -> tuple[float, float, float]:
    """(earned points, maximum points, percent) of ``(fraction, points)`` pairs."""
    earned = maximum = 0.0
    for fraction, points in results:
        earned += fraction * points
        maximum += points
    percent = 100.0 * earned / maximum if maximum else 0.0
    return earned, maximum, min(100.0, max(0.0, round(percent, 6)))


def passes(percent: float, passing_score: float) -> bool:
    """A score passes when it reaches the pass mark (rounding noise forgiven)."""
    return percent + 1e-6 >= passing_score


def mastery_reached(correct: Sequence[bool], m: int, n: int) -> bool:
    """Kolibri's mastery: at least ``m`` of the last ``n`` answered questions correct."""
    return sum(1 for flag in list(correct)[-n:] if flag) >= m


def is_correct(fraction: float) -> bool:
    return fraction >= 1.0 - EPSILON
