"""A quiz's report and its item analysis (Moodle's quiz statistics), computed by the database.

* **Attempts, learners, pass rate** and the **score distribution** (ten bands of 10 %).
* Per question, the **facility index**: the mean share of its points earned, in percent (how
  easy it was), and the **discrimination index**: the correlation, in percent, between the
  points earned on the question and on the rest of the attempt (do the learners who do well
  on the quiz do well on this question?). Moodle reads above 30 % as good, below 0 as a
  question to check.

Both come from one grouped query over ``attempt_items`` joined with the attempts: per
question the sums n, Σx, Σx², Σx·T, ΣT, ΣT² (x: the question's points earned, T: the
attempt's), from which the correlation with T − x follows without reading any row into Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func

from lms.extensions import db
from lms.models import AttemptItem, Lesson, Question, QuizAttempt

BANDS = 10


@dataclass(frozen=True)
class ItemStats:
    question_id: int
    number: int
    text: str
    kind: str
    answered: int
    facility: float  # percent
    discrimination: float | None  # percent; None when it cannot be computed (no spread)


@dataclass
class QuizReport:
    attempts: int = 0
    learners: int = 0
    passed_learners: int = 0
    mean_score: float | None = None
    bands: list[int] = field(default_factory=lambda: [0] * BANDS)
    items: list[ItemStats] = field(default_factory=list)

    @property
    def pass_rate(self) -> float | None:
        return 100.0 * self.passed_learners / self.learners if self.learners else None


def _submitted(lesson_id: int) -> list[ColumnElement[bool]]:
    return [QuizAttempt.lesson_id == lesson_id, QuizAttempt.status == "submitted"]


def band_of(score: float) -> int:
    """0 for [0, 10), … 9 for [90, 100]."""
    return min(BANDS - 1, max(0, int(score // 10)))


def correlation(n: int, sx: float, sxx: float, sxt: float, st: float, stt: float) -> float | None:
    """Pearson's r between x and the rest of the total (T − x), from sums."""
    sy = st - sx
    syy = stt - 2 * sxt + sxx
    sxy = sxt - sxx
    spread = (n * sxx - sx * sx) * (n * syy - sy * sy)
    if n < 2 or spread <= 1e-12:
        return None
    return max(-1.0, min(1.0, (n * sxy - sx * sy) / math.sqrt(spread)))


def report(lesson: Lesson) -> QuizReport:
    """The quiz's figures over every submitted attempt."""
    where = _submitted(lesson.id)
    found = QuizReport()
    totals = db.session.execute(
        db.select(
            func.count(QuizAttempt.id),
            func.count(func.distinct(QuizAttempt.user_id)),
            func.avg(QuizAttempt.score),
        ).where(*where)
    ).one()
    found.attempts, found.learners = int(totals[0]), int(totals[1])
    found.mean_score = float(totals[2]) if totals[2] is not None else None
    found.passed_learners = int(
        db.session.scalar(
            db.select(func.count(func.distinct(QuizAttempt.user_id))).where(
                *where, QuizAttempt.passed.is_(True)
            )
        )
    )
    # Scores take few distinct values (sums of question points): counted per value, banded here.
    for value, count in db.session.execute(
        db.select(QuizAttempt.score, func.count()).where(*where).group_by(QuizAttempt.score)
    ):
        found.bands[band_of(float(value))] += count
    found.items = _items(lesson.id)
    return found


def _items(lesson_id: int) -> list[ItemStats]:
    earned = AttemptItem.fraction * AttemptItem.points
    total = QuizAttempt.earned
    rows = db.session.execute(
        db.select(
            AttemptItem.question_id,
            func.count(),
            func.sum(earned),
            func.sum(earned * earned),
            func.sum(earned * total),
            func.sum(total),
            func.sum(total * total),
            func.avg(AttemptItem.fraction),
            func.min(AttemptItem.position),
        )
        .join(QuizAttempt, AttemptItem.attempt_id == QuizAttempt.id)
        .where(*_submitted(lesson_id))
        .group_by(AttemptItem.question_id)
    ).all()
    questions = {
        q.id: q
        for q in db.session.scalars(
            db.select(Question).where(Question.id.in_([row[0] for row in rows]))
        )
    }
    stats: list[ItemStats] = []
    for qid, n, sx, sxx, sxt, st, stt, mean, _first in sorted(rows, key=lambda r: (r[8], r[0])):
        question = questions[qid]
        r = correlation(int(n), float(sx), float(sxx), float(sxt), float(st), float(stt))
        stats.append(
            ItemStats(
                question_id=qid,
                number=len(stats) + 1,
                text=question.text,
                kind=question.kind,
                answered=int(n),
                facility=100.0 * float(mean),
                discrimination=None if r is None else 100.0 * r,
            )
        )
    return stats
