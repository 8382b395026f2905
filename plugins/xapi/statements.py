"""xAPI 1.0.3 statements for the LMS's learning events (pure functions of the event)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import has_request_context, request

from lms.api import aware, db, models, utcnow

VERSION = "1.0.3"
# Statement ids are UUIDv5 of the event's key in this namespace: the same event, the same id.
NAMESPACE = uuid.UUID("8d4c2f0e-5b7a-4c1e-9f3d-2a6b1c0e7d55")

VERBS = {
    "registered": {"en-US": "registered", "zh-CN": "报名"},
    "completed": {"en-US": "completed", "zh-CN": "完成"},
    "attended": {"en-US": "attended", "zh-CN": "出席"},
    "answered": {"en-US": "answered", "zh-CN": "作答"},
    "passed": {"en-US": "passed", "zh-CN": "通过"},
    "failed": {"en-US": "failed", "zh-CN": "未通过"},
}
ACTIVITY_TYPES = {
    "course": "http://adlnet.gov/expapi/activities/course",
    "lesson": "http://adlnet.gov/expapi/activities/lesson",
    "camp": "http://adlnet.gov/expapi/activities/course",
    "meeting": "http://adlnet.gov/expapi/activities/meeting",
    "assessment": "http://adlnet.gov/expapi/activities/assessment",
    "question": "http://adlnet.gov/expapi/activities/cmi.interaction",
}
INTERACTIONS = {  # xAPI's cmi.interaction types of the question kinds
    "single": "choice", "multiple": "choice", "truefalse": "true-false",
    "short": "fill-in", "numeric": "numeric", "ordering": "sequencing",
}  # fmt: skip


def statement_id(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, key))


def _timestamp(moment: datetime | None) -> str:
    return aware(moment or utcnow()).isoformat(timespec="milliseconds")


def actor(user: models.User, settings: dict[str, Any]) -> dict[str, Any]:
    """The learner: an account on this LMS (default) or their mailbox."""
    if settings.get("identify_by") == "mbox":
        return {"objectType": "Agent", "name": user.name, "mbox": f"mailto:{user.email}"}
    home = request.url_root if has_request_context() else "http://localhost/"
    return {"objectType": "Agent", "account": {"homePage": home, "name": str(user.id)}}


def activity(settings: dict[str, Any], kind: str, path: str, zh: str, en: str) -> dict[str, Any]:
    return {
        "objectType": "Activity",
        "id": f"{settings['activity_base']}{kind}/{path}",
        "definition": {"type": ACTIVITY_TYPES[kind], "name": {"zh-CN": zh, "en-US": en}},
    }


def _camp(settings: dict[str, Any], camp: models.Camp) -> dict[str, Any]:
    return activity(settings, "camp", camp.slug, camp.title_zh, camp.title_en)


def _course(settings: dict[str, Any], course: models.Course) -> dict[str, Any]:
    return activity(
        settings, "course", f"{course.camp.slug}/{course.slug}", course.title_zh, course.title_en
    )


def _statement(
    key: str,
    verb: str,
    user: models.User,
    obj: dict[str, Any],
    settings: dict[str, Any],
    *,
    parents: list[dict[str, Any]],
    when: datetime | None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    statement = {
        "id": statement_id(key),
        "actor": actor(user, settings),
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}", "display": VERBS[verb]},
        "object": obj,
        "context": {
            "platform": "Camp LMS",
            "language": user.locale.replace("_", "-") if user.locale else "zh-CN",
            "contextActivities": {"parent": parents},
        },
        "timestamp": _timestamp(when),
        "version": VERSION,
    }
    if result is not None:
        statement["result"] = result
    return statement


def enrolled(enrollment: models.Enrollment, settings: dict[str, Any]) -> dict[str, Any]:
    course = enrollment.course
    return _statement(
        f"enrolled:{enrollment.id}",
        "registered",
        enrollment.user,
        _course(settings, course),
        settings,
        parents=[_camp(settings, course.camp)],
        when=enrollment.enrolled_at,
    )


def course_completed(enrollment: models.Enrollment, settings: dict[str, Any]) -> dict[str, Any]:
    course = enrollment.course
    return _statement(
        f"course-completed:{enrollment.id}",
        "completed",
        enrollment.user,
        _course(settings, course),
        settings,
        parents=[_camp(settings, course.camp)],
        when=enrollment.completed_at,
        result={"completion": True, "success": True},
    )


def lesson_completed(progress: models.LessonProgress, settings: dict[str, Any]) -> dict[str, Any]:

    lesson: models.Lesson = progress.lesson
    course = lesson.module.course
    user = db.session.get(models.User, progress.user_id)
    result: dict[str, Any] = {"completion": True}
    if lesson.kind == "video" and progress.covered_seconds:
        result["duration"] = f"PT{round(progress.covered_seconds)}S"
    return _statement(
        f"lesson-completed:{progress.id}",
        "completed",
        user,
        activity(
            settings,
            "lesson",
            f"{course.camp.slug}/{course.slug}/{lesson.slug}",
            lesson.title_zh,
            lesson.title_en,
        ),
        settings,
        parents=[_course(settings, course)],
        when=progress.completed_at,
        result=result,
    )


def attended(attendance: models.Attendance, settings: dict[str, Any]) -> dict[str, Any]:
    session = attendance.session
    parents = []
    if session.course is not None:
        parents.append(_course(settings, session.course))
    elif session.camp is not None:
        parents.append(_camp(settings, session.camp))
    return _statement(
        f"attended:{attendance.id}",
        "attended",
        attendance.user,
        activity(settings, "meeting", str(session.id), session.title_zh, session.title_en),
        settings,
        parents=parents,
        when=attendance.checked_in_at,
        result={"completion": True, "extensions": {"urn:camp-lms:status": attendance.status}},
    )


def _quiz_path(lesson: models.Lesson) -> str:
    course = lesson.module.course
    return f"{course.camp.slug}/{course.slug}/{lesson.slug}"


def quiz_result(attempt: models.QuizAttempt, settings: dict[str, Any]) -> dict[str, Any]:
    """``passed`` or ``failed`` for a submitted quiz attempt, with its score."""
    lesson = attempt.quiz.lesson
    verb = "passed" if attempt.passed else "failed"
    return _statement(
        f"quiz-{verb}:{attempt.id}",
        verb,
        attempt.user,
        activity(settings, "assessment", _quiz_path(lesson), lesson.title_zh, lesson.title_en),
        settings,
        parents=[_course(settings, lesson.module.course)],
        when=attempt.submitted_at,
        result={
            "score": {
                "scaled": round((attempt.score or 0) / 100, 4),
                "raw": attempt.earned,
                "min": 0,
                "max": attempt.max_points,
            },
            "success": bool(attempt.passed),
            "completion": True,
        },
    )


def question_answered(
    attempt: models.QuizAttempt, item: models.AttemptItem, settings: dict[str, Any]
) -> dict[str, Any]:
    """``answered`` for one question of a submitted attempt (its share of the points)."""
    lesson = attempt.quiz.lesson
    question = db.session.get(models.Question, item.question_id)
    obj = activity(
        settings,
        "question",
        f"{_quiz_path(lesson)}/questions/{question.id}",
        question.text_zh[:200],
        question.text_en[:200],
    )
    obj["definition"]["interactionType"] = INTERACTIONS[question.kind]
    return _statement(
        f"quiz-answered:{attempt.id}:{question.id}",
        "answered",
        attempt.user,
        obj,
        settings,
        parents=[
            activity(settings, "assessment", _quiz_path(lesson), lesson.title_zh, lesson.title_en)
        ],
        when=attempt.submitted_at,
        result={"score": {"scaled": round(item.fraction, 4)}, "success": item.fraction >= 1},
    )
