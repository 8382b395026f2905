"""The demo's recorded history (lms/services/demo_history.py) and the ``now=``/``at=``
parameters of the services it records through."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from lms.extensions import db
from lms.models import (
    Attendance,
    CaseComment,
    Certificate,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Module,
    QuizAttempt,
    Registration,
    SalonCase,
    TopicComment,
    TrainingTime,
    User,
)
from lms.services import community, enrollment, lessons
from lms.services import demo as demo_service
from lms.services.loading import load
from tests.conftest import Client
from tests.test_cli import accounts_in, run

HISTORY_TABLES = (
    User, Enrollment, LessonProgress, Certificate, QuizAttempt, Registration, Attendance,
    TrainingTime, SalonCase, CaseComment, TopicComment,
)  # fmt: skip
PAST = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def demo_app(make_app, tmp_path, monkeypatch) -> Flask:
    """An app whose ``lms demo`` makes tiny videos, with a private instance folder."""
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr(demo_service, "DEMO_VIDEOS", ((2, ".webm", 160, 90), (3, ".mp4", 160, 90)))
    return make_app()


def _counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(db.select(db.func.count()).select_from(model))
            for model in HISTORY_TABLES
        }


def test_the_demo_is_a_lived_in_park_and_a_second_run_adds_nothing(demo_app):
    first = run(demo_app, "demo")
    assert first.exit_code == 0, first.output
    assert re.search(r"History: \d+ enrollments", first.output), first.output
    after_first = _counts(demo_app)
    assert after_first["Enrollment"] > 10 and after_first["Certificate"] > 3
    assert after_first["QuizAttempt"] > 3 and after_first["Attendance"] > 10

    with demo_app.app_context():
        now = datetime.now(UTC)
        enrolled = db.session.scalars(db.select(Enrollment.enrolled_at)).all()
        assert min(e.replace(tzinfo=UTC) for e in enrolled) < now - timedelta(days=60)
        statuses = set(db.session.scalars(db.select(Attendance.status)))
        assert {"present", "late", "absent"} <= statuses
        sources = set(db.session.scalars(db.select(TrainingTime.source)))
        assert {"video", "live"} <= sources
        assert db.session.scalar(
            db.select(db.func.count(CaseComment.id)).where(CaseComment.is_expert_review)
        )
        assert db.session.scalar(
            db.select(db.func.count(TopicComment.id)).where(TopicComment.parent_id.is_not(None))
        )

    # The reports an organizer opens first are not empty.
    accounts = accounts_in(first.output)
    organizer = next(email for email, (role, _) in accounts.items() if role == "organizer")
    client = Client(demo_app.test_client())
    assert client.login(organizer, accounts[organizer][1]).status_code == 302
    completion = client.get("/reports/completion.csv").get_data(as_text=True)
    rates = [row[-1] for row in csv.reader(io.StringIO(completion.lstrip("\ufeff")))][1:]
    assert any(rate.isdigit() and int(rate) > 0 for rate in rates), completion
    attendance = client.get("/reports/attendance.csv")
    assert attendance.status_code == 200
    rows = [line for line in attendance.get_data(as_text=True).splitlines()[1:] if line]
    assert len(rows) >= 2, rows  # the last activity days of the default 90-day period
    page = client.get("/reports/attendance").get_data(as_text=True)
    assert "园区党员固定活动日" in page or "Park activity day" in page

    second = run(demo_app, "demo")
    assert second.exit_code == 0, second.output
    assert "History: recorded before" in second.output
    assert _counts(demo_app) == after_first


# -- the services record the past when told when --------------------------------------------


def _course_with_reading(app: Flask) -> tuple[int, int]:
    with app.app_context():
        lesson = db.session.scalar(
            db.select(Lesson)
            .join(Module)
            .join(Course)
            .where(Lesson.kind == "reading", Course.status == "published")
            .order_by(Lesson.id)
            .limit(1)
        )
        return load(lesson, "module").course_id, lesson.id


def test_enrolling_and_reading_in_the_past(app, learner):
    course_id, lesson_id = _course_with_reading(app)
    with app.test_request_context():
        user = db.session.get(User, learner.id)
        course = db.session.get(Course, course_id)
        row, created = enrollment.enroll(user, course, at=PAST)
        assert created and row.enrolled_at.replace(tzinfo=UTC) == PAST
        lessons.mark_read(user, db.session.get(Lesson, lesson_id), now=PAST + timedelta(days=1))
        progress = db.session.scalar(db.select(LessonProgress).filter_by(lesson_id=lesson_id))
        assert progress.completed_at.replace(tzinfo=UTC) == PAST + timedelta(days=1)
        # Without a time, the present, as before.
        lessons.mark_read(user, db.session.get(Lesson, lesson_id))
        assert progress.completed_at.replace(tzinfo=UTC) == PAST + timedelta(days=1)


def test_a_course_completed_in_the_past_is_certified_that_day(app, learner):
    with app.test_request_context():
        user = db.session.get(User, learner.id)
        course = db.session.scalar(
            db.select(Course).where(Course.status == "published").order_by(Course.id).limit(1)
        )
        enrollment.enroll(user, course, at=PAST)
        from lms.services import completion

        when = PAST + timedelta(days=20)
        # Every required lesson done, as a recorded history would have them:
        for lesson in db.session.scalars(
            db.select(Lesson).join(Module).where(Module.course_id == course.id)
        ):
            db.session.add(LessonProgress(user_id=user.id, lesson_id=lesson.id, completed_at=when))
        db.session.commit()
        assert completion.check_course(user, course, now=when)
        certificate = completion.certificate_for(user, course)
        assert certificate.issued_at.replace(tzinfo=UTC) == when
        row = db.session.scalar(db.select(Enrollment).filter_by(user_id=user.id))
        assert row.completed_at.replace(tzinfo=UTC) == when and row.status == "completed"


def test_community_posts_dated_in_the_past(app, trainer, learner):
    with app.test_request_context():
        author = db.session.get(User, trainer.id)
        case = community.create_case(author, "Acme", "hr", "标题", "正文", at=PAST)
        comment = community.add_case_comment(
            db.session.get(User, learner.id), case, "评论", at=PAST + timedelta(hours=1)
        )
        topic = community.create_topic(author, "news", "话题", "正文", at=PAST)
        reply = community.add_topic_comment(author, topic, "回复", at=PAST + timedelta(hours=2))
        assert case.created_at.replace(tzinfo=UTC) == PAST
        assert comment.created_at.replace(tzinfo=UTC) == PAST + timedelta(hours=1)
        assert topic.created_at.replace(tzinfo=UTC) == PAST
        assert reply.created_at.replace(tzinfo=UTC) == PAST + timedelta(hours=2)
        # An old post is past its author's editing window.
        assert not community.can_edit(case, author)


def _fingerprint(app: Flask) -> dict[str, list]:
    """What the history did, without ids or times: who took which course and finished it,
    who attended how, who passed which quiz."""
    from lms.models import LiveSession

    with app.app_context():
        enrolled = db.session.execute(
            db.select(User.email, Course.slug, Enrollment.status)
            .join(Enrollment, Enrollment.user_id == User.id)
            .join(Course, Course.id == Enrollment.course_id)
        ).all()
        attended = db.session.execute(
            db.select(User.email, LiveSession.starts_at, Attendance.status)
            .join(Attendance, Attendance.user_id == User.id)
            .join(LiveSession, LiveSession.id == Attendance.session_id)
        ).all()
        days = sorted({starts for _email, starts, _status in attended})
        quizzes = db.session.execute(
            db.select(User.email, QuizAttempt.number, QuizAttempt.passed).join(
                QuizAttempt, QuizAttempt.user_id == User.id
            )
        ).all()
        return {
            "enrolled": sorted(map(tuple, enrolled)),
            "attended": sorted((e, days.index(s), status) for e, s, status in attended),
            "quizzes": sorted(map(tuple, quizzes)),
        }


def test_the_history_is_the_same_every_time(demo_app, make_app, tmp_path):
    if not demo_app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("a second database: SQLite's file is enough to compare two runs")
    assert run(demo_app, "demo").exit_code == 0
    other = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'second.sqlite3'}")
    assert run(other, "demo").exit_code == 0
    first, second = _fingerprint(demo_app), _fingerprint(other)
    assert first["enrolled"] and first["attended"] and first["quizzes"]
    assert first == second
