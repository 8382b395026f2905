"""The demo's lived-in park: a few months of history, recorded through the services.

``lms demo`` calls :func:`record_history` once the accounts, videos, the activity-day series
and the first case and topic exist. It plays the last :data:`HISTORY_DAYS` days as they
would have happened, each step through the service a request would call, with that step's
time passed as ``now``/``at``: enrollments, video viewing (playback sessions and their
reports: coverage, completions and training time in the ledger), reading, quiz attempts
(a failed first try for some, then a pass), certificates when a course is done, the past
activity days (registrations, check-ins per segment — present or late —, the absent marked
by the no-show task, live hours credited as segments end), and salon cases with comments
and expert reviews, and topics with replies.

Deterministic (one seeded :class:`random.Random`, rows in id order; dates are relative to
the day it runs) and recorded once: a second ``lms demo`` finds the history and adds
nothing. Each learner's steps run in time order, as the watch clock requires.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from lms.extensions import db
from lms.models import (
    Camp,
    Course,
    Enrollment,
    Lesson,
    LiveSeries,
    LiveSession,
    Module,
    Organization,
    Question,
    User,
)
from lms.models._base import academy_timezone, aware, utcnow
from lms.services import (
    account_tokens,
    accounts,
    checkin,
    community,
    enrollment,
    lessons,
    live,
    loading,
    progress,
)
from lms.services.quiz import attempts

SEED = 20_250_825
HISTORY_DAYS = 120
# Staff of the demo organization who have no login of their own: they fill the reports.
DEMO_STAFF = (
    ("chen.hui@demo.camp", "陈慧 Chen Hui"),
    ("sun.lei@demo.camp", "孙磊 Sun Lei"),
    ("he.yan@demo.camp", "何燕 He Yan"),
    ("xu.tao@demo.camp", "徐涛 Xu Tao"),
    ("gao.jing@demo.camp", "高静 Gao Jing"),
)
# How the activity days went: present, late, or absent (marked by the no-show task).
ATTENDANCE_ODDS = (("present", 0.7), ("late", 0.15), ("absent", 0.15))


@dataclass
class History:
    """What the recorded history added (``lms demo`` prints it)."""

    enrollments: int = 0
    completions: int = 0
    reports: int = 0
    quiz_attempts: int = 0
    sessions: int = 0
    check_ins: int = 0
    posts: int = 0


def recorded() -> bool:
    """Has the history been recorded (an enrollment of a demo learner exists)?"""
    return (
        db.session.scalar(
            select(Enrollment.id)
            .join(User, User.id == Enrollment.user_id)
            .where(User.email.like("%@demo.camp"))
            .limit(1)
        )
        is not None
    )


def record_history(organization: Organization, now: datetime | None = None) -> History | None:
    """Record the demo's past once; None when it was recorded before."""
    if recorded():
        return None
    now = now or utcnow()
    start = now - timedelta(days=HISTORY_DAYS)
    rng = random.Random(SEED)  # noqa: S311 - a reproducible demo, not a secret
    history = History()
    learners = _learners(organization)
    courses = _completable_courses()
    for user in learners:
        _learn(user, courses, start, now, rng, history)
    _activity_days(learners, start, now, rng, history)
    _community(start, now, rng, history)
    return history


def _learners(organization: Organization) -> list[User]:
    """The demo's learners, and the organization's staff without a login (created once)."""
    for email, name in DEMO_STAFF:
        if db.session.scalar(select(User.id).filter_by(email=email)) is None:
            user = accounts.create_user(
                email, name, account_tokens.unusable_password(), organization_id=organization.id
            )
            user.password_hash = account_tokens.unusable_password()
            db.session.commit()
    return list(
        db.session.scalars(
            select(User)
            .where(User.email.like("%@demo.camp"), User.role == "learner", User.active)
            .order_by(User.id)
        )
    )


def _completable_courses() -> list[Course]:
    """Published courses whose lessons can all be done alone (no live lesson), in order."""
    with_live = select(Module.course_id).join(Lesson).where(Lesson.kind == "live")
    return list(
        db.session.scalars(
            select(Course)
            .join(Camp)
            .where(
                Course.status == "published",
                Course.archived_at.is_(None),
                Camp.enabled.is_(True),
                Course.id.not_in(with_live),
            )
            .order_by(Camp.position, Course.position, Course.id)
        )
    )


def _course_lessons(course: Course) -> list[Lesson]:
    return list(
        db.session.scalars(
            select(Lesson)
            .join(Module)
            .where(
                Module.course_id == course.id,
                Module.archived_at.is_(None),
                Lesson.archived_at.is_(None),
            )
            .order_by(Module.position, Lesson.position)
        )
    )


def _evening(day: datetime, rng: random.Random) -> datetime:
    """An evening hour of that day in the academy's time zone, as UTC."""
    local = day.astimezone(ZoneInfo(academy_timezone()))
    local = local.replace(hour=rng.randint(19, 21), minute=rng.randint(0, 59), second=0)
    return local.astimezone(UTC).replace(microsecond=0)


def _learn(
    user: User,
    courses: list[Course],
    start: datetime,
    now: datetime,
    rng: random.Random,
    history: History,
) -> None:
    """Two or three courses one after the other; most finished, the last often half done."""
    chosen = rng.sample(courses, k=min(len(courses), rng.randint(2, 3)))
    moment = start + timedelta(days=rng.randint(0, 20))
    for index, course in enumerate(chosen):
        if moment >= now - timedelta(days=2):
            break
        try:
            enrollment.enroll(user, course, at=moment)
        except enrollment.EnrollmentRefused:  # a camp for another kind of learner
            continue
        history.enrollments += 1
        share = 1.0 if index < len(chosen) - 1 or rng.random() < 0.5 else rng.uniform(0.3, 0.7)
        lesson_list = _course_lessons(course)
        done = max(1, round(len(lesson_list) * share))
        for lesson in lesson_list[:done]:
            moment = _evening(moment + timedelta(days=rng.randint(1, 3)), rng)
            if moment >= now - timedelta(hours=1):
                return
            _do_lesson(user, course, lesson, moment, rng, history)
        history.completions += int(_completed(user, course))
        moment += timedelta(days=rng.randint(3, 10))


def _do_lesson(
    user: User,
    course: Course,
    lesson: Lesson,
    moment: datetime,
    rng: random.Random,
    history: History,
) -> None:
    # Its module, course, camp and video, held while the commits below expire the lesson:
    # the camps' rules and the reports read them again (from the identity map).
    _held = loading.for_hook(lesson)
    if lesson.kind == "video" and lesson.media is not None:
        _watch(user, lesson, moment, history)
    elif lesson.kind == "reading":
        lessons.mark_read(user, lesson, now=moment)
    elif lesson.kind == "quiz":
        enrolled = db.session.scalars(  # the history enrolled them first
            select(Enrollment).filter_by(user_id=user.id, course_id=course.id)
        ).one()
        _take_quiz(user, enrolled, lesson, moment, 2 if rng.random() < 0.3 else 1, history)


def _watch(user: User, lesson: Lesson, moment: datetime, history: History) -> None:
    """Play the whole video in one sitting, reporting as seldom as the crediting rule
    allows (a report per WATCH_WINDOW seconds: fewer reports, the same credit)."""
    try:
        duration = progress.lesson_duration(lesson)
    except progress.ProgressError:  # its video is not ready: nothing to watch
        return
    every = int(progress.watch_rules(lesson).window)
    session, _state = progress.open_session(user, lesson, now=moment)
    playback = progress.find_session(session.id, user)
    if playback is None:  # just opened: always found
        raise RuntimeError(f"playback session {session.id} not found")
    played, seq = 0.0, 0
    while played < duration:
        played = min(duration, played + every)
        seq += 1
        progress.report(
            playback,
            user,
            lesson,
            seq=seq,
            position=played,
            played=[[0.0, played]],
            played_seconds=played,
            now=moment + timedelta(seconds=seq * every),
        )
        history.reports += 1


def _take_quiz(
    user: User, enrolled: Enrollment, lesson: Lesson, moment: datetime, tries: int, history: History
) -> None:
    """Pass at the last of ``tries``: the ones before answer nothing and fail."""
    for attempt_number in range(tries):
        started = moment + timedelta(minutes=20 * attempt_number)
        try:
            attempt = attempts.start(user, lesson, enrolled, now=started)
        except (attempts.NoAttemptsLeft, attempts.EmptyQuiz):
            return
        answers = _right_answers(attempt) if attempt_number == tries - 1 else None
        attempts.submit(attempt, user, answers, now=started + timedelta(minutes=8))
        history.quiz_attempts += 1


def _right_answers(attempt: Any) -> dict[str, Any]:
    """Fully right answers to the questions the attempt drew."""
    ids = [entry["question"] for entry in attempt.layout]
    answers: dict[str, Any] = {}
    for question in db.session.scalars(select(Question).where(Question.id.in_(ids))):
        key, kind = question.key, question.kind
        if kind == "single":
            answer: Any = max(key["options"], key=lambda option: option["fraction"])["id"]
        elif kind == "multiple":
            answer = [option["id"] for option in key["options"] if option["fraction"] > 0]
        elif kind == "truefalse":
            answer = bool(key["answer"])
        elif kind in ("short", "numeric"):
            best = max(key["answers"], key=lambda entry: entry["fraction"])
            answer = best["text"] if kind == "short" else best["value"]
        else:  # ordering
            answer = [item["id"] for item in key["items"]]
        answers[str(question.id)] = answer
    return answers


def _completed(user: User, course: Course) -> bool:
    found = db.session.scalar(
        select(Enrollment.completed_at).filter_by(user_id=user.id, course_id=course.id)
    )
    return found is not None


# -- the past activity days ----------------------------------------------------------------


def _activity_days(
    learners: list[User], start: datetime, now: datetime, rng: random.Random, history: History
) -> None:
    """The activity-day series' sessions of the history: registered a week before, checked
    in segment by segment, the absent marked and the hours credited as the day ends."""
    series = db.session.scalar(select(LiveSeries).order_by(LiveSeries.id).limit(1))
    if series is None:
        return
    live.materialize(series, now=start)
    db.session.commit()
    sessions = db.session.scalars(
        select(LiveSession)
        .where(
            LiveSession.series_id == series.id,
            LiveSession.starts_at >= start,
            LiveSession.ends_at < now,
            LiveSession.status == "scheduled",
        )
        .order_by(LiveSession.starts_at)
    ).all()
    for session in sessions:
        history.sessions += 1
        starts = aware(session.starts_at)
        for user in learners:
            if rng.random() < 0.85:
                live.register(user, session, now=starts - timedelta(days=rng.randint(3, 10)))
        for user in learners:
            registration = live.registration_of(user, session)
            if registration is None or registration.status != "registered":
                continue
            state = _weighted(rng, ATTENDANCE_ODDS)
            if state == "absent":
                continue
            for index, segment in enumerate(session.segments):
                late = state == "late" and index == 0
                moment = aware(segment.starts_at) + timedelta(minutes=15 if late else 2)
                code = checkin.code_for(session, moment)
                checkin.check_in(user, session, code, now=moment)
                history.check_ins += 1
        ended = aware(session.ends_at)
        checkin.mark_no_shows(now=ended + timedelta(minutes=1))
        checkin.credit_ended_segments(now=ended + timedelta(minutes=5))


def _weighted(rng: random.Random, odds: tuple[tuple[str, float], ...]) -> str:
    roll, total = rng.random(), 0.0
    for name, weight in odds:
        total += weight
        if roll < total:
            return name
    return odds[-1][0]


# -- the community's past ------------------------------------------------------------------

PAST_CASES: tuple[community.CaseText, ...] = (
    {
        "company": "和达文创园 · 智能硬件公司",
        "topic": "hr",
        "title": "研发团队扩张中，如何留住核心工程师？",
        "body": "公司一年内从 12 人扩到 40 人，核心工程师流失两人。\n\n"
        "## 请大家支招\n\n- 股权激励怎么设计？\n- 技术晋升通道如何搭建？",
    },
    {
        "company": "聚光科技 Focused Photonics",
        "topic": "innovation",
        "title": "Turning a lab prototype into a product line",
        "body": "Our spectrometer prototype works in the lab. **What should come first**: "
        "certification, a pilot customer, or a second hardware revision?",
    },
)
PAST_TOPICS: tuple[community.TopicText, ...] = (
    {
        "kind": "news",
        "title": "国家事：新质生产力与园区企业",
        "body": "结合近期政策解读，谈谈园区企业可以在哪些方面发力。",
    },
)
COMMENTS = (
    "我们公司去年做过类似尝试，**关键是**先把岗位职责说清楚。",
    "建议先找一家试点客户，需求会清楚很多。",
    "Agree: a pilot customer first, then certification.",
    "可以参考园区其他企业的做法，欢迎会后交流。",
)
REVIEW = "专家点评：方向正确。建议：\n\n1. 先明确关键岗位；\n2. 分阶段设计激励；\n3. 每季度复盘。"


def _community(start: datetime, now: datetime, rng: random.Random, history: History) -> None:
    """Salon cases with comments and an expert review, and a topic with replies."""
    trainer = db.session.scalar(select(User).filter_by(email="trainer@demo.camp"))
    organizer = db.session.scalar(select(User).filter_by(email="organizer@demo.camp"))
    members = list(
        db.session.scalars(
            select(User)
            .where(User.email.in_(("learner@demo.camp", "staff@demo.camp", "manager@demo.camp")))
            .order_by(User.id)
        )
    )
    if trainer is None or organizer is None or not members:
        return
    for index, values in enumerate(PAST_CASES):
        posted = start + timedelta(days=30 + 35 * index, hours=7)
        if posted >= now:
            break
        case = community.create_case(organizer, at=posted, **values)
        history.posts += 1
        for number, member in enumerate(members):
            community.add_case_comment(
                member, case, COMMENTS[(index + number) % len(COMMENTS)],
                at=posted + timedelta(hours=2 + number),
            )  # fmt: skip
            history.posts += 1
        community.add_case_comment(
            trainer, case, REVIEW, expert_review=True, at=posted + timedelta(days=1)
        )
        history.posts += 1
    for topic_text in PAST_TOPICS:
        posted = start + timedelta(days=60, hours=6)
        topic = community.create_topic(trainer, at=posted, **topic_text)
        first = community.add_topic_comment(
            members[0], topic, COMMENTS[0], at=posted + timedelta(hours=1)
        )
        community.add_topic_comment(
            trainer, topic, COMMENTS[3], parent_id=first.id, at=posted + timedelta(hours=3)
        )
        community.add_topic_comment(
            members[-1], topic, COMMENTS[1], at=posted + timedelta(hours=rng.randint(4, 9))
        )
        history.posts += 4
