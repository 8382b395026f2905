"""``python -m bench quiz``: grading and storing quiz attempts, and the item analysis.

On SQLite (a file) and on PostgreSQL (a schema of its own), in one process, with the app's
services (no HTTP: the quiz endpoints add the same request overhead as any other POST):

* ``BENCH quiz_submit_vs_upsert_<engine> <ratio>`` — the median time to submit a
  20-question attempt (validating the last answers, locking the attempt, reading its
  questions, grading each, storing the 20 results and the score, completing the lesson)
  over the median time of the single-upsert baseline (one ``INSERT … ON CONFLICT DO UPDATE``
  of a learner's watch clock and its commit), both measured in the same run on the same
  database, interleaved;
* ``BENCH item_analysis_<engine> <s>`` — the statistics of a quiz with 10,000 submitted
  attempts of 20 questions (200,000 results): ``lms.services.quiz.item_analysis.report``,
  the median of three runs (target: under 1 s).
"""

from __future__ import annotations

import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import timedelta

from bench import setup_data
from lms import create_app
from lms.database import upsert_returning
from lms.extensions import db
from lms.models import (
    AttemptItem,
    Course,
    Enrollment,
    Lesson,
    Module,
    Question,
    QuizAttempt,
    User,
    WatchClock,
)
from lms.models._base import utcnow
from lms.services import camps as camp_service
from lms.services import loading
from lms.services.quiz import attempts, bank, item_analysis

QUESTIONS = 20
SUBMITS = 150
ATTEMPTS = 10_000


def report(name: str, value: float, unit: str) -> None:
    print(f"BENCH {name} {value:.3f} {unit}", flush=True)


def _quiz(course: Course) -> tuple[Lesson, list[Question]]:
    module = db.session.scalars(db.select(Module).filter_by(course_id=course.id)).first()
    lesson = Lesson(
        module_id=module.id, slug="bench-quiz", kind="quiz", title_zh="测验", title_en="Quiz",
        position=99, required=True,
    )  # fmt: skip
    db.session.add(lesson)
    db.session.flush()
    kinds = ["single", "multiple", "truefalse", "short", "numeric"]
    questions = []
    for n in range(QUESTIONS):
        kind = kinds[n % len(kinds)]
        spec: dict = {"kind": kind, "text": {"zh": f"第 {n} 题", "en": f"Question {n}"}}
        if kind in ("single", "multiple"):
            flags = [True, kind == "multiple", False, False]
            texts = [(f"选项{i}", f"option {i}") for i in range(4)]
            spec["options"] = bank.choice_key(texts, flags, kind == "multiple")
        elif kind == "truefalse":
            spec["answer"] = True
        elif kind == "short":
            spec["answers"] = [{"text": "现金流", "fraction": 1.0}]
        else:
            spec["answers"] = [{"value": 12.0, "tolerance": 0.5, "fraction": 1.0}]
        questions.append(bank.add_question(course, spec))
    db.session.flush()
    bank.configure(lesson, bank.QuizSettings(question_ids=tuple(q.id for q in questions)))
    db.session.commit()
    return lesson, questions


def _answers(questions: list[Question]) -> dict[str, object]:
    answers: dict[str, object] = {}
    for q in questions:
        if q.kind == "single":
            answers[str(q.id)] = q.key["options"][0]["id"]
        elif q.kind == "multiple":
            answers[str(q.id)] = [o["id"] for o in q.key["options"][:2]]
        elif q.kind == "truefalse":
            answers[str(q.id)] = True
        elif q.kind == "short":
            answers[str(q.id)] = "现金流"
        else:
            answers[str(q.id)] = 12
    return answers


def _learners(course: Course, count: int) -> list[tuple[int, int]]:
    """(user id, enrollment id) of ``count`` new learners enrolled in ``course``."""
    users = [
        User(email=f"q{n}-{secrets.token_hex(3)}@bench.example", name=f"q{n}",
             password_hash=secrets.token_hex(8), role="learner")
        for n in range(count)
    ]  # fmt: skip
    db.session.add_all(users)
    db.session.flush()
    rows = [Enrollment(user_id=u.id, course_id=course.id) for u in users]
    db.session.add_all(rows)
    db.session.commit()
    return [(u.id, e.id) for u, e in zip(users, rows, strict=True)]


def bench_submit(lesson: Lesson, questions: list[Question], tag: str) -> None:
    loading.load_path(lesson, "module", "course")
    course = lesson.module.course
    learners = _learners(course, SUBMITS)
    answers = _answers(questions)
    submits, upserts = [], []
    for user_id, enrollment_id in learners:
        user = db.session.get(User, user_id)
        attempt = attempts.start(user, lesson, db.session.get(Enrollment, enrollment_id))
        start = time.perf_counter()
        attempts.submit(attempt, user, answers)
        submits.append(time.perf_counter() - start)
        start = time.perf_counter()
        upsert_returning(WatchClock, ["user_id"], user_id=user_id, credited_until=utcnow())
        db.session.commit()
        upserts.append(time.perf_counter() - start)
    assert all(a.score == 100.0 for a in db.session.scalars(db.select(QuizAttempt)))
    report(
        f"quiz_submit_vs_upsert_{tag}", statistics.median(submits) / statistics.median(upserts),
        "x",
    )  # fmt: skip
    report(f"quiz_submit_ms_{tag}", 1000 * statistics.median(submits), "ms")


def _load_attempts(lesson: Lesson, questions: list[Question], rng: random.Random) -> None:
    """10,000 submitted attempts, their results drawn from a simple ability model."""
    loading.load_path(lesson, "module", "course")
    course = lesson.module.course
    learners = _learners(course, ATTEMPTS)
    now = utcnow()
    attempt_rows, item_rows = [], []
    first_id = (db.session.scalar(db.select(db.func.max(QuizAttempt.id))) or 0) + 1
    difficulty = [rng.uniform(-1.5, 1.5) for _ in questions]
    for n, (user_id, _enrollment) in enumerate(learners):
        ability = rng.gauss(0, 1)
        fractions = [
            1.0 if rng.random() < 1 / (1 + 2.718 ** (d - ability)) else 0.0 for d in difficulty
        ]
        earned = sum(fractions)
        attempt_id = first_id + n
        attempt_rows.append({
            "id": attempt_id, "lesson_id": lesson.id, "user_id": user_id, "number": 1,
            "status": "submitted", "started_at": now - timedelta(minutes=20), "layout": [],
            "answers": {}, "submitted_at": now, "submitted_by": "learner", "earned": earned,
            "max_points": float(len(questions)), "score": 100 * earned / len(questions),
            "passed": earned >= 12,
        })  # fmt: skip
        item_rows += [
            {"attempt_id": attempt_id, "question_id": q.id, "position": i, "fraction": f,
             "points": 1.0, "version": 1}
            for i, (q, f) in enumerate(zip(questions, fractions, strict=True))
        ]  # fmt: skip
    db.session.execute(db.insert(QuizAttempt), attempt_rows)
    for start in range(0, len(item_rows), 20_000):
        db.session.execute(db.insert(AttemptItem), item_rows[start : start + 20_000])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        setup_data.analyze(db.engine)


def bench_item_analysis(lesson: Lesson, questions: list[Question], tag: str) -> None:
    _load_attempts(lesson, questions, random.Random(14))
    runs = []
    for _ in range(3):
        db.session.expire_all()
        start = time.perf_counter()
        found = item_analysis.report(lesson)
        runs.append(time.perf_counter() - start)
    assert found.attempts >= ATTEMPTS and len(found.items) == QUESTIONS
    report(f"item_analysis_{tag}", statistics.median(runs), "s")


def bench(url: str, tag: str) -> None:
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secrets.token_hex(16), "TESTING": False,
        "LOAD_PLUGINS": ["startup_growth"],
    })  # fmt: skip
    with app.test_request_context():
        db.create_all()
        camp_service.sync()
        course = db.session.scalars(db.select(Course).filter_by(slug="strategy-toolkit")).one()
        lesson, questions = _quiz(course)
        bench_submit(lesson, questions, tag)
        bench_item_analysis(lesson, questions, tag)
        db.session.remove()
        db.engine.dispose()


def run(postgres: str) -> None:
    with tempfile.TemporaryDirectory(prefix="lms-bench-quiz-") as folder:
        bench(f"sqlite:///{folder}/quiz.sqlite3", "sqlite")
    if not setup_data.postgres_reachable(postgres):
        print(f"bench: PostgreSQL not reachable at {postgres}; SQLite only", file=sys.stderr)
        return
    url = setup_data.postgres_schema_url(postgres, f"bench_quiz_{secrets.token_hex(4)}")
    try:
        bench(url, "postgres")
    finally:
        setup_data.drop_schema(url)


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/test")
