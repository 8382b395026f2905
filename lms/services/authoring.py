"""Trainers' authoring: courses, modules and lessons created and edited in the app.

Who may edit is :func:`lms.services.catalog.can_edit`. Rows created here have no
``synced`` values, so a curriculum sync never archives or overwrites them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from lms.extensions import db
from lms.models import COURSE_LEVELS, Camp, Course, CourseTrainer, Lesson, MediaAsset, Module, User
from lms.models._base import utcnow
from lms.services import loading, search
from lms.services.catalog import can_edit
from lms.services.errors import Conflict, Forbidden, Invalid
from lms.services.slugs import slugify, unique_slug


class SlugTaken(Conflict, ValueError):
    """Another item of the same parent already uses this slug."""


class BadLevel(Invalid):
    """A course level outside :data:`lms.models.COURSE_LEVELS`."""


class NotAllowed(Forbidden, PermissionError):
    """The user may not edit this course."""


def editable_courses(user: User) -> list[Course]:
    """Courses ``user`` may edit, by camp and position (organizers: all)."""
    query = (
        db.select(Course)
        .join(Camp, Course.camp_id == Camp.id)
        .where(Course.archived_at.is_(None))
        .order_by(Camp.position, Course.position, Course.id)
        .options(contains_eager(Course.camp))
    )
    if not user.is_organizer:
        trained = db.select(CourseTrainer.course_id).where(CourseTrainer.user_id == user.id)
        query = query.where((Course.owner_id == user.id) | Course.id.in_(trained))
    return list(db.session.scalars(query))


def check(user: User, course: Course) -> None:
    if not can_edit(user, course):
        raise NotAllowed


def is_slug_clash(exc: IntegrityError) -> bool:
    """Whether ``exc`` is the violation of a ``(parent, slug)`` unique constraint.

    PostgreSQL names the constraint (``uq_courses_camp_id_slug``, SQLSTATE 23505); SQLite
    lists its columns ("UNIQUE constraint failed: courses.camp_id, courses.slug").
    """
    orig = exc.orig
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
    if constraint is not None:
        return getattr(orig, "sqlstate", None) == "23505" and constraint.endswith("_slug")
    message = str(orig)
    return message.startswith("UNIQUE constraint failed") and ".slug" in message


def _commit_unique() -> None:
    """Commit; a slug clash (a concurrent save took it) is :class:`SlugTaken`, and any other
    integrity error is raised as it is, after the rollback."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        if is_slug_clash(exc):
            raise SlugTaken from exc
        raise


def _apply(obj: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        setattr(obj, key, value)


# Who else may hold a slug: courses per camp, modules per course, lessons per course (a
# lesson moves between modules of its course without changing its address).
def _course_slug_taken(camp_id: int, slug: str, exclude: int | None = None) -> bool:
    query = db.select(Course.id).where(Course.camp_id == camp_id, Course.slug == slug)
    if exclude is not None:
        query = query.where(Course.id != exclude)
    return db.session.scalar(query.limit(1)) is not None


def _module_slug_taken(course_id: int, slug: str, exclude: int | None = None) -> bool:
    query = db.select(Module.id).where(Module.course_id == course_id, Module.slug == slug)
    if exclude is not None:
        query = query.where(Module.id != exclude)
    return db.session.scalar(query.limit(1)) is not None


def _lesson_slug_taken(course_id: int, slug: str, exclude: int | None = None) -> bool:
    query = (
        db.select(Lesson.id)
        .join(Module, Lesson.module_id == Module.id)
        .where(Module.course_id == course_id, Lesson.slug == slug)
    )
    if exclude is not None:
        query = query.where(Lesson.id != exclude)
    return db.session.scalar(query.limit(1)) is not None


def _settle_slug(values: dict[str, Any], obj: Any, taken: Any, fallback: str) -> None:
    """Fill an empty ``slug`` from the title (Chinese first, as pinyin), made unique in its
    scope; a slug the trainer typed that is taken raises :class:`SlugTaken`."""
    if "slug" not in values:
        return
    slug = (values["slug"] or "").strip()
    if slug:
        if taken(slug):
            raise SlugTaken
        values["slug"] = slug
        return
    titles = [values.get("title_zh"), values.get("title_en")]
    titles += [getattr(obj, "title_zh", None), getattr(obj, "title_en", None)]
    base = next((made for made in map(slugify, filter(None, titles)) if made), "")
    values["slug"] = unique_slug(base, taken, fallback)


def _check_level(values: dict[str, Any]) -> None:
    level = values.get("level")
    if level is not None and level != "" and level not in COURSE_LEVELS:
        raise BadLevel(level)


def create_course(user: User, camp: Camp, values: dict[str, Any]) -> Course:
    """A new draft course owned by ``user`` (a trainer or organizer)."""
    if not user.is_trainer:
        raise NotAllowed
    _check_level(values)
    values = dict(values)
    _settle_slug(values, None, lambda slug: _course_slug_taken(camp.id, slug), "course")
    position = _count(select(func.count(Course.id)).where(Course.camp_id == camp.id))
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
    values = dict(values)
    if isinstance(obj, Lesson):
        _settle_slug(values, obj, lambda s: _lesson_slug_taken(course.id, s, obj.id), "lesson")
    elif isinstance(obj, Module):
        _settle_slug(values, obj, lambda s: _module_slug_taken(course.id, s, obj.id), "module")
    else:
        _check_level(values)
        _settle_slug(values, obj, lambda s: _course_slug_taken(obj.camp_id, s, obj.id), "course")
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
    """The course's live modules; their lessons (with media) are loaded with them when the
    course's modules were not loaded yet (two statements, whatever the syllabus)."""
    if not loading.is_loaded(course, "modules"):
        modules = db.session.scalars(
            select(Module)
            .where(Module.course_id == course.id)
            .order_by(Module.position, Module.id)
            .options(selectinload(Module.lessons).joinedload(Lesson.media))
        )
        loading.set_loaded(course, "modules", list(modules))
    return [m for m in course.modules if m.archived_at is None]


def live_lessons(module: Module) -> list[Lesson]:
    """The module's live lessons (loaded by :func:`live_modules`, or loaded here)."""
    return [lesson for lesson in loading.load(module, "lessons") if lesson.archived_at is None]


def _count(query: Any) -> int:
    return db.session.scalar(query) or 0


def add_module(user: User, course: Course, values: dict[str, Any]) -> Module:
    check(user, course)
    values = dict(values)
    _settle_slug(values, None, lambda slug: _module_slug_taken(course.id, slug), "module")
    position = _count(select(func.count(Module.id)).where(Module.course_id == course.id))
    module = Module(course_id=course.id, position=position)
    _apply(module, values)
    db.session.add(module)
    _commit_unique()
    return module


def add_lesson(user: User, module: Module, values: dict[str, Any]) -> Lesson:
    course = module.course
    check(user, course)
    values = dict(values)
    _settle_slug(values, None, lambda slug: _lesson_slug_taken(course.id, slug), "lesson")
    position = _count(select(func.count(Lesson.id)).where(Lesson.module_id == module.id))
    lesson = Lesson(module_id=module.id, position=position)
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
    asset: MediaAsset | None = loading.load(lesson, "media")
    if asset is not None and asset.status == "ready" and asset.duration_seconds:
        lesson.minutes = listed_minutes(asset.duration_seconds)


def attach_media(user: User, lesson: Lesson, asset: MediaAsset | None) -> None:
    """Attach a library video (or none) to a lesson; a probed video sets its minutes."""
    loading.load_path(lesson, "module", "course")
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


# Look-ups for the authoring pages (lms/web/teach.py runs no queries of its own).


def course_by_id(course_id: int) -> Course | None:
    """A course with its camp and trainers (what its pages show)."""
    return db.session.scalar(
        select(Course)
        .where(Course.id == course_id)
        .options(joinedload(Course.camp, innerjoin=True), selectinload(Course.trainers))
    )


def module_by_id(module_id: int) -> Module | None:
    """A module with its course and the course's camp."""
    return db.session.scalar(
        select(Module)
        .where(Module.id == module_id)
        .options(joinedload(Module.course, innerjoin=True).joinedload(Course.camp, innerjoin=True))
    )


def lesson_by_id(lesson_id: int) -> Lesson | None:
    """A lesson with its module, course and camp, its video and its captions."""
    return db.session.scalar(
        select(Lesson)
        .where(Lesson.id == lesson_id)
        .options(
            joinedload(Lesson.module, innerjoin=True)
            .joinedload(Module.course, innerjoin=True)
            .joinedload(Course.camp, innerjoin=True),
            joinedload(Lesson.media),
            selectinload(Lesson.captions),
        )
    )


def camp_by_slug(slug: str) -> Camp | None:
    return db.session.scalar(select(Camp).filter_by(slug=slug))


def trainer_by_email(email: str) -> User | None:
    """The trainer account with this e-mail address (any case, surrounding blanks ignored)."""
    address = (email or "").strip().lower()
    return db.session.scalar(select(User).filter_by(email=address, role="trainer"))


def media_by_id(asset_id: int) -> MediaAsset | None:
    return db.session.get(MediaAsset, asset_id)


def ready_media() -> list[MediaAsset]:
    """The ready videos of the courseware library, by name (what a lesson may use)."""
    return list(
        db.session.scalars(
            db.select(MediaAsset)
            .where(MediaAsset.status == "ready")
            .order_by(MediaAsset.original_name, MediaAsset.id)
        )
    )


def library_media() -> list[MediaAsset]:
    """Every video of the courseware library, newest first."""
    return list(
        db.session.scalars(
            db.select(MediaAsset).order_by(MediaAsset.created_at.desc(), MediaAsset.id.desc())
        )
    )
