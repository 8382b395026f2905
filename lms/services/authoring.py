"""Trainers' authoring: courses, modules and lessons created and edited in the app.

Who may edit is :func:`lms.services.catalog.can_edit`. Rows created here have no
``synced`` values, so a curriculum sync never archives or overwrites them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from lms.extensions import db
from lms.models import Camp, Course, CourseTrainer, Lesson, MediaAsset, Module, User
from lms.models._base import utcnow
from lms.services import search
from lms.services.catalog import can_edit


class SlugTaken(ValueError):
    """Another item of the same parent already uses this slug."""


class NotAllowed(PermissionError):
    """The user may not edit this course."""


def editable_courses(user: User) -> list[Course]:
    """Courses ``user`` may edit, by camp and position (organizers: all)."""
    query = (
        db.select(Course)
        .join(Camp, Course.camp_id == Camp.id)
        .where(Course.archived_at.is_(None))
        .order_by(Camp.position, Course.position, Course.id)
    )
    if not user.is_organizer:
        trained = db.select(CourseTrainer.course_id).where(CourseTrainer.user_id == user.id)
        query = query.where((Course.owner_id == user.id) | Course.id.in_(trained))
    return list(db.session.scalars(query))


def check(user: User, course: Course) -> None:
    if not can_edit(user, course):
        raise NotAllowed


def _commit_unique() -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise SlugTaken from exc


def _apply(obj: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        setattr(obj, key, value)


def create_course(user: User, camp: Camp, values: dict[str, Any]) -> Course:
    """A new draft course owned by ``user`` (a trainer or organizer)."""
    if not user.is_trainer:
        raise NotAllowed
    position = len(camp.courses)
    course = Course(camp_id=camp.id, owner_id=user.id, status="draft", position=position)
    _apply(course, values)
    db.session.add(course)
    _commit_unique()
    if user.role == "trainer":
        db.session.add(CourseTrainer(course_id=course.id, user_id=user.id))
        db.session.commit()
    search.index_course(course)
    return course


def update(user: User, course: Course, obj: Any, values: dict[str, Any]) -> None:
    """Edit a course, module or lesson of ``course``."""
    check(user, course)
    if isinstance(obj, Lesson) and "slug" in values:  # lesson addresses are per course
        taken = db.session.scalar(
            db.select(Lesson.id)
            .join(Module, Lesson.module_id == Module.id)
            .where(
                Module.course_id == course.id, Lesson.slug == values["slug"], Lesson.id != obj.id
            )
        )
        if taken is not None:
            raise SlugTaken
    _apply(obj, values)
    if isinstance(obj, Lesson):
        _minutes_from_video(obj)  # not a hand-typed number while a probed video is attached
    _commit_unique()
    search.index(obj)


def set_status(user: User, course: Course, status: str) -> None:
    check(user, course)
    if status not in ("draft", "published"):
        raise ValueError(status)
    course.status = status
    db.session.commit()


def live_modules(course: Course) -> list[Module]:
    return [m for m in course.modules if m.archived_at is None]


def live_lessons(module: Module) -> list[Lesson]:
    return [lesson for lesson in module.lessons if lesson.archived_at is None]


def add_module(user: User, course: Course, values: dict[str, Any]) -> Module:
    check(user, course)
    module = Module(course_id=course.id, position=len(course.modules))
    _apply(module, values)
    db.session.add(module)
    _commit_unique()
    return module


def add_lesson(user: User, module: Module, values: dict[str, Any]) -> Lesson:
    course = module.course
    check(user, course)
    slug = values.get("slug")
    taken = db.session.scalar(
        db.select(Lesson.id)
        .join(Module, Lesson.module_id == Module.id)
        .where(Module.course_id == course.id, Lesson.slug == slug)
    )
    if taken is not None:
        raise SlugTaken
    lesson = Lesson(module_id=module.id, position=len(module.lessons))
    _apply(lesson, values)
    db.session.add(lesson)
    _commit_unique()
    search.index_lesson(lesson)
    return lesson


def move(
    user: User, course: Course, item: Module | Lesson, siblings: Sequence[Any], step: int
) -> None:
    """Move ``item`` one place up (-1) or down (+1) among its live siblings."""
    check(user, course)
    ordered = sorted(siblings, key=lambda x: (x.position, x.id))
    index = ordered.index(item)
    target = index + step
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
    for position, sibling in enumerate(ordered):
        sibling.position = position
    db.session.commit()


def archive(user: User, course: Course, item: Module | Lesson) -> None:
    """Take a module or lesson out of the course; learners' progress is kept."""
    check(user, course)
    item.archived_at = utcnow()
    db.session.commit()


def listed_minutes(duration_seconds: float) -> int:
    """A video's length as a lesson lists it: whole minutes, halves rounded up, at least 1."""
    return max(1, math.floor(duration_seconds / 60 + 0.5))


def _minutes_from_video(lesson: Lesson) -> None:
    asset = lesson.media
    if asset is not None and asset.status == "ready" and asset.duration_seconds:
        lesson.minutes = listed_minutes(asset.duration_seconds)


def attach_media(user: User, lesson: Lesson, asset: MediaAsset | None) -> None:
    """Attach a library video (or none) to a lesson; a probed video sets its minutes."""
    check(user, lesson.module.course)
    lesson.media = asset
    _minutes_from_video(lesson)
    db.session.commit()


def add_trainer(user: User, course: Course, trainer: User) -> None:
    """Organizers let a trainer edit a course."""
    if not user.is_organizer:
        raise NotAllowed
    if trainer.role != "trainer":
        raise ValueError("only trainers can be added to a course")
    exists = db.session.get(CourseTrainer, (course.id, trainer.id))
    if exists is None:
        db.session.add(CourseTrainer(course_id=course.id, user_id=trainer.id))
        db.session.commit()
