"""What a camp decides about its quizzes, through hooks."""

from __future__ import annotations

import math

from lms.models import Lesson
from lms.services import loading
from lms.services.camps import registry


def passing_score(lesson: Lesson, own: float) -> float:
    """The pass mark (percent) of a quiz lesson: a camp's ``lms_quiz_passing_score``, else the
    trainer's ``own`` mark. An answer that is not a number in [0, 100] is ignored."""
    loading.for_hook(lesson)
    value = registry().call_first("lms_quiz_passing_score", lesson=lesson, passing_score=own)
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 100
    ):
        return float(value)
    return float(own)
