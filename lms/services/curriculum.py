"""A camp's curriculum: the schema its data file must follow, and the sync into the database.

The sync is idempotent and keyed by slugs. It never deletes: a course, module or
lesson that left the curriculum is archived, with its learners' data intact, and
comes back if it returns. A value a trainer changed in the app is kept; a value
nobody touched follows the curriculum (a three-way merge against ``synced``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lms.extensions import db
from lms.models import COURSE_LEVELS, Camp, Course, Lesson, Module
from lms.models._base import utcnow
from lms.services import search
from lms.services.quiz.curriculum import QuizSpec, question_slugs, sync_quiz

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,98}$"


class Text(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str = Field(min_length=1, max_length=2000)
    en: str = Field(min_length=1, max_length=2000)


class OptionalText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str = Field(default="", max_length=20000)
    en: str = Field(default="", max_length=20000)


# "" (none) or one of the fixed levels; a curriculum's free text is refused when it loads.
CourseLevel = Literal[("", *COURSE_LEVELS)]  # type: ignore[valid-type]  # built from the model's tuple


class LessonSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(pattern=SLUG_PATTERN)
    kind: Literal["video", "live", "reading", "quiz"] = "video"
    title: Text
    summary: OptionalText = OptionalText()
    body: OptionalText = OptionalText()
    minutes: int = Field(default=0, ge=0, le=600)
    required: bool = True
    video: Literal["demo"] | None = None
    quiz: QuizSpec | None = None  # kind quiz: settings and questions (lms.services.quiz.curriculum)


class ModuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(pattern=SLUG_PATTERN)
    title: Text
    summary: OptionalText = OptionalText()
    lessons: list[LessonSpec] = Field(min_length=1)


class CourseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(pattern=SLUG_PATTERN)
    title: Text
    summary: OptionalText = OptionalText()
    level: CourseLevel = ""
    status: Literal["draft", "published"] = "published"
    modules: list[ModuleSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def unique_slugs(self) -> CourseSpec:
        _no_duplicates((m.slug for m in self.modules), f"module slug in course {self.slug}")
        lessons = (lesson.slug for m in self.modules for lesson in m.lessons)
        _no_duplicates(lessons, f"lesson slug in course {self.slug}")
        _no_duplicates(question_slugs(self.lessons()), f"quiz question slug in course {self.slug}")
        return self

    def lessons(self) -> list[LessonSpec]:
        return [lesson for module in self.modules for lesson in module.lessons]


class Curriculum(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camp: str
    courses: list[CourseSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def unique_courses(self) -> Curriculum:
        _no_duplicates((c.slug for c in self.courses), "course slug")
        return self


def _no_duplicates(values: Any, what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what}: {value}")
        seen.add(value)


# libyaml's safe loader when PyYAML was built with it (its wheels are): the same documents,
# parsed about ten times faster than the pure-Python one (every app start reads every camp's).
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CurriculumError(ValueError):
    """The curriculum file is missing, unreadable or does not follow the schema."""


def load_curriculum(path: Path, camp_slug: str) -> Curriculum:
    """Read and validate a curriculum file; raise :class:`CurriculumError` with the reasons.

    A file whose text was validated before is not parsed again: every app a process builds
    (tests build thousands, a plugin reload one more) gets its own copy of the result.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CurriculumError(f"{path}: {exc}") from exc
    return _validated(text, str(path), camp_slug).model_copy(deep=True)


@functools.lru_cache(maxsize=32)
def _validated(text: str, path: str, camp_slug: str) -> Curriculum:
    """The curriculum in ``text`` (read from ``path``); errors are raised, not cached."""
    try:
        data = yaml.load(text, Loader=SafeLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise CurriculumError(f"{path}: {exc}") from exc
    try:
        curriculum = Curriculum.model_validate(data)
    except ValidationError as exc:
        raise CurriculumError(f"{path}: {exc}") from exc
    if curriculum.camp != camp_slug:
        raise CurriculumError(f"{path}: written for camp {curriculum.camp!r}, not {camp_slug!r}")
    return curriculum


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    archived: int = 0
    kept_local_edits: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.archived)


ARCHIVED_BY_SYNC = "_archived_by_sync"  # a key of ``synced``, never a column


def _merge(obj: Any, values: dict[str, Any], report: SyncReport, label: str) -> None:
    """Apply curriculum ``values`` to ``obj`` unless a trainer changed the field locally."""
    previous = obj.synced or {}
    is_new = obj.id is None
    changed = False
    for key, new in values.items():
        current = getattr(obj, key)
        if is_new or key not in previous or current == previous[key]:
            if current != new:
                setattr(obj, key, new)
                changed = True
        elif current != new:
            report.kept_local_edits.append(f"{label}.{key}")
    if obj.archived_at is not None:
        if previous.get(ARCHIVED_BY_SYNC):  # it left the curriculum and came back
            obj.archived_at = None
            changed = True
        else:  # a trainer archived it: that is a local edit too
            report.kept_local_edits.append(f"{label}.archived")
    if previous != values:
        obj.synced = values
    if is_new:
        report.created += 1
    elif changed:
        report.updated += 1


def _texts(prefix: str, text: Text | OptionalText) -> dict[str, str]:
    return {f"{prefix}_zh": text.zh, f"{prefix}_en": text.en}


def _archive(items: Any, report: SyncReport) -> None:
    """Archive what left the curriculum; what trainers created in the app is theirs.

    The archive is marked in ``synced``, so only what a sync archived comes back with the
    curriculum; what a trainer archived stays archived.
    """
    for item in items:
        if item.archived_at is None and item.synced is not None:
            item.archived_at = utcnow()
            item.synced = {**item.synced, ARCHIVED_BY_SYNC: True}
            report.archived += 1


def sync_camp(camp: Camp, curriculum: Curriculum) -> SyncReport:
    """Bring ``camp``'s courses, modules and lessons in line with ``curriculum``. Commits."""
    report = SyncReport()
    courses = {
        c.slug: c
        for c in db.session.scalars(
            select(Course)
            .filter_by(camp_id=camp.id)
            .options(selectinload(Course.modules).selectinload(Module.lessons))
        )
    }
    for position, spec in enumerate(curriculum.courses):
        course = courses.pop(spec.slug, None) or Course(camp=camp, slug=spec.slug)
        if course.id is None:
            db.session.add(course)
        values = {
            **_texts("title", spec.title),
            **_texts("summary", spec.summary),
            "level": spec.level,
            "status": spec.status,
            "position": position,
        }
        _merge(course, values, report, spec.slug)
        _sync_modules(course, spec, report)
    _archive(courses.values(), report)
    camp.synced_at = utcnow()
    db.session.commit()
    if report.changed:
        search.index_camp(camp)
    return report


def _sync_modules(course: Course, spec: CourseSpec, report: SyncReport) -> None:
    modules: dict[str, Module] = {m.slug: m for m in course.modules} if course.id else {}
    lessons: dict[str, Lesson] = {}
    for existing in modules.values():
        lessons.update({lesson.slug: lesson for lesson in existing.lessons})
    for position, module_spec in enumerate(spec.modules):
        module = modules.pop(module_spec.slug, None)
        if module is None:
            module = Module(course=course, slug=module_spec.slug)
            db.session.add(module)
        values = {
            **_texts("title", module_spec.title),
            **_texts("summary", module_spec.summary),
            "position": position,
        }
        _merge(module, values, report, f"{spec.slug}/{module_spec.slug}")
        for lesson_position, lesson_spec in enumerate(module_spec.lessons):
            lesson = lessons.pop(lesson_spec.slug, None)
            if lesson is None:
                lesson = Lesson(slug=lesson_spec.slug)
                db.session.add(lesson)
            lesson.module = module  # a lesson may move between modules and keeps its progress
            values = {
                **_texts("title", lesson_spec.title),
                **_texts("summary", lesson_spec.summary),
                **_texts("body", lesson_spec.body),
                "kind": lesson_spec.kind,
                "minutes": lesson_spec.minutes,
                "required": lesson_spec.required,
                "position": lesson_position,
            }
            _merge(lesson, values, report, f"{spec.slug}/{lesson_spec.slug}")
            sync_quiz(lesson, lesson_spec.quiz, report, f"{spec.slug}/{lesson_spec.slug}")
    _archive(modules.values(), report)
    _archive(lessons.values(), report)
