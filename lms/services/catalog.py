"""Reading the catalog: camps, courses and syllabi with each learner's progress.

Every function here runs a fixed number of queries whatever the amount of data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, func, literal, select, union_all
from sqlalchemy.orm import Session, contains_eager, selectinload, with_loader_criteria
from sqlalchemy.orm.attributes import set_committed_value

from lms.cache import cached, detached, fast_paths, shared_cache, shared_objects, versioned
from lms.extensions import db
from lms.models import (
    COURSE_LEVELS,
    Camp,
    Course,
    CourseTrainer,
    Enrollment,
    Lesson,
    LessonProgress,
    Module,
    User,
)
from lms.services.camps import get_visible_camp, registry, visible_camps

LEVEL_LABELS = {
    "foundation": _l("Foundation"),
    "intermediate": _l("Intermediate"),
    "advanced": _l("Advanced"),
}
assert tuple(LEVEL_LABELS) == COURSE_LEVELS  # noqa: S101 - one label per level


def level_label(level: str) -> str:
    """A course level in the reader's language ("" for none)."""
    label = LEVEL_LABELS.get(level)
    return str(label) if label is not None else ""


@dataclass
class CourseCard:
    course: Course
    lessons: int = 0
    minutes: int = 0
    enrolled: bool = False
    percent: int = 0


@dataclass
class CampSection:
    camp: Camp
    cards: list[CourseCard] = field(default_factory=list)
    total: int = 0  # published courses in the camp (the cards may be a page of them)
    page: int = 1
    per_page: int = 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page)) if self.per_page else 1


# The catalog shows the first courses of each camp; the camp's page lists them all.
CARDS_PER_CAMP = 6
# Courses per page on a camp's page.
COURSES_PER_PAGE = 24


def _published(camp_ids: list[int]) -> Select[Course]:
    return (
        select(Course)
        .where(
            Course.camp_id.in_(camp_ids),
            Course.status == "published",
            Course.archived_at.is_(None),
        )
        .order_by(Course.camp_id, Course.position, Course.id)
    )


def _lesson_totals(course_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """course id -> (lessons, minutes, required lessons) of live (not archived) lessons.

    With a shared cache (Redis), the totals of every course are cached together (the same for
    every learner; any change to courses, modules or lessons invalidates them).
    """
    if shared_objects():  # kept by the process behind the content version
        every = versioned("catalog.lesson_totals", "content", partial(_query_lesson_totals, None))
        return {course_id: every[course_id] for course_id in course_ids if course_id in every}
    if shared_cache() is not None:
        every = cached("catalog.lesson_totals", lambda: _query_lesson_totals(None))
        return {course_id: every[course_id] for course_id in course_ids if course_id in every}
    return _query_lesson_totals(course_ids)


def _query_lesson_totals(course_ids: list[int] | None) -> dict[int, tuple[int, int, int]]:
    """The totals of ``course_ids`` (None: of every course)."""
    where = [Module.archived_at.is_(None), Lesson.archived_at.is_(None)]
    if course_ids is not None:
        where.append(Module.course_id.in_(course_ids))
    rows = db.session.execute(
        select(
            Module.course_id,
            func.count(Lesson.id),
            func.coalesce(func.sum(Lesson.minutes), 0),
            func.count(Lesson.id).filter(Lesson.required.is_(True)),
        )
        .join(Lesson, Lesson.module_id == Module.id)
        .where(*where)
        .group_by(Module.course_id)
    )
    return {
        course_id: (int(count), int(minutes), int(required))
        for course_id, count, minutes, required in rows
    }


def _completed_required_query(*leading: Any) -> Select[*tuple[Any, ...]]:
    """A learner's completed required lessons per course (``course_ids``, ``user_id``)."""
    return (
        select(*leading, Module.course_id, func.count(LessonProgress.id))
        .join(Lesson, Lesson.module_id == Module.id)
        .join(LessonProgress, LessonProgress.lesson_id == Lesson.id)
        .where(
            Module.course_id.in_(bindparam("course_ids", expanding=True)),
            LessonProgress.user_id == bindparam("user_id"),
            LessonProgress.completed_at.is_not(None),
            Lesson.required.is_(True),
            Lesson.archived_at.is_(None),
            Module.archived_at.is_(None),
        )
        .group_by(Module.course_id)
    )


# Built once. The cards' personal part in one statement: ("enrolled", course, 0) for each
# enrollment, ("done", course, n) for the required lessons completed.
_COMPLETED_REQUIRED = _completed_required_query()
_CARDS_OF_LEARNER = union_all(
    select(literal("enrolled"), Enrollment.course_id, literal(0)).where(
        Enrollment.user_id == bindparam("user_id"),
        Enrollment.course_id.in_(bindparam("course_ids", expanding=True)),
    ),
    _completed_required_query(literal("done")),
)


def _completed_required(user: User, course_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(_COMPLETED_REQUIRED, {"course_ids": course_ids, "user_id": user.id})
    return {course_id: count for course_id, count in rows}


def course_percent(done: int, required: int) -> int:
    """A course's progress, 0..100: required lessons completed of the required lessons. Every
    page (the course, the lesson sidebar, the dashboard, the progress answer) uses this."""
    return min(100, round(100 * done / required)) if required else 0


def course_progress(user: User, course: Course) -> int:
    """``user``'s progress in one course (two queries; cached totals make it one)."""
    _lessons, _minutes, required = _lesson_totals([course.id]).get(course.id, (0, 0, 0))
    return course_percent(_completed_required(user, [course.id]).get(course.id, 0), required)


def _cards(courses: list[Course], user: User | None) -> list[CourseCard]:
    ids = [course.id for course in courses]
    totals = _lesson_totals(ids) if ids else {}
    enrolled: set[int] = set()
    done: dict[int, int] = {}
    if user is not None and user.is_authenticated and ids:
        params = {"course_ids": ids, "user_id": user.id}
        for kind, course_id, count in db.session.connection().execute(_CARDS_OF_LEARNER, params):
            if kind == "enrolled":
                enrolled.add(course_id)
            else:
                done[course_id] = count
    cards = []
    for course in courses:
        lessons, minutes, required = totals.get(course.id, (0, 0, 0))
        percent = course_percent(done.get(course.id, 0), required)
        cards.append(CourseCard(course, lessons, minutes, course.id in enrolled, percent))
    return cards


def catalog(user: User | None, per_camp: int = CARDS_PER_CAMP) -> list[CampSection]:
    """Every visible camp with its first ``per_camp`` published courses and their number."""
    camps = visible_camps()
    sections = {camp.id: CampSection(camp) for camp in camps}
    if not sections:
        return []
    if shared_objects():
        camps_by_id = {camp.id: camp for camp in camps}
        load = partial(_kept_rows, partial(_first_courses, list(sections), per_camp), camps_by_id)
        rows: Sequence[tuple[Course, int]] = versioned(
            "catalog.first", "content", load, key=(tuple(sections), per_camp)
        )
    else:
        rows = db.session.execute(_first_courses(list(sections), per_camp)).all()
    for course, total in rows:
        sections[course.camp_id].total = total
    for card in _cards([course for course, _total in rows], user):
        sections[card.course.camp_id].cards.append(card)
    return list(sections.values())


def _first_courses(camp_ids: list[int], per_camp: int) -> Select[Course, int]:
    """The first ``per_camp`` published courses of each camp, with the camp's number of them."""
    published = _published(camp_ids).subquery()
    ranked = select(
        published.c.id,
        func.row_number()
        .over(partition_by=published.c.camp_id, order_by=(published.c.position, published.c.id))
        .label("rank"),
        func.count().over(partition_by=published.c.camp_id).label("total"),
    ).subquery()
    return (
        select(Course, ranked.c.total)
        .join(ranked, ranked.c.id == Course.id)
        .where(ranked.c.rank <= per_camp)
        .order_by(Course.camp_id, Course.position, Course.id)
    )


def camp_section(
    slug: str, user: User | None, page: int = 1, per_page: int = COURSES_PER_PAGE
) -> CampSection | None:
    """A visible camp with one page of its published courses (None: no such camp)."""
    camp = get_visible_camp(slug)
    if camp is None:
        return None
    if shared_objects():
        load = partial(_camp_page, camp, page, per_page, True)
        total, section_page, courses = versioned(
            "catalog.camp_page", "content", load, key=(camp.id, page, per_page)
        )
    else:
        total, section_page, courses = _camp_page(camp, page, per_page, False)
    section = CampSection(camp, total=total, per_page=per_page, page=section_page)
    section.cards = _cards(list(courses), user)
    return section


def _camp_page(
    camp: Camp, page: int, per_page: int, keep: bool
) -> tuple[int, int, tuple[Course, ...]]:
    """(published courses, the page shown, its courses) of a camp's page; with ``keep``,
    detached with their camp set, for the process to keep."""

    def load(session: Session) -> tuple[int, int, tuple[Course, ...]]:
        query = _published([camp.id])
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        pages = max(1, -(-total // per_page)) if per_page else 1
        shown = min(max(1, page), pages)
        courses = tuple(session.scalars(query.offset((shown - 1) * per_page).limit(per_page)))
        if keep:
            for course in courses:
                set_committed_value(course, "camp", camp)
        return total, shown, courses

    return detached(load) if keep else load(db.session())


def _kept_rows(
    query: Callable[[], Select[Course, int]], camps: dict[int, Camp]
) -> list[tuple[Course, int]]:
    """The rows of ``query()`` (a course and a number), detached, each course's camp set."""

    def load(session: Session) -> list[tuple[Course, int]]:
        rows = [(course, total) for course, total in session.execute(query())]
        for course, _total in rows:
            set_committed_value(course, "camp", camps[course.camp_id])
        return rows

    return detached(load)


def find_course(camp_slug: str, course_slug: str, user: User | None) -> Course | None:
    """A course learners may see: camp visible, course published (trainers also see drafts)."""
    camp = get_visible_camp(camp_slug)
    if camp is None:
        return None
    if shared_objects() and not _edits_courses(user):
        # The learners' read path: the published course and its syllabus as this process
        # keeps them (detached, behind the content version).
        load = partial(_kept_course, camp, course_slug)
        return versioned("catalog.course", "content", load, key=(camp.id, course_slug))
    course = db.session.scalar(
        select(Course).filter_by(camp_id=camp.id, slug=course_slug, archived_at=None)
    )
    if course is None:
        return None
    # The camp just read is the course's: kept on it, course.camp is no second query.
    set_committed_value(course, "camp", camp)
    if course.status != "published" and not (user is not None and can_edit(user, course)):
        return None
    return course


@dataclass
class LessonAccess:
    lesson: Lesson
    enrolled: bool

    @property
    def course(self) -> Course:
        return self.lesson.module.course


LessonQuery = TypeVar("LessonQuery", bound=Select[*tuple[Any, ...]])


def on_live_path(query: LessonQuery, load: bool = True) -> LessonQuery:
    """``query`` of lessons joined to their module, course, camp and media, which it loads
    with them (unless ``load`` is false: a query of columns), and kept to live lessons:
    nothing archived on the way, the camp enabled."""
    query = (
        query.join(Lesson.module)
        .join(Module.course)
        .join(Course.camp)
        .outerjoin(Lesson.media)
        .where(
            Lesson.archived_at.is_(None),
            Module.archived_at.is_(None),
            Course.archived_at.is_(None),
            Camp.enabled.is_(True),
        )
    )
    if not load:
        return query
    return query.options(
        contains_eager(Lesson.module).contains_eager(Module.course).contains_eager(Course.camp),
        contains_eager(Lesson.media),
    )


def lesson_access(lesson_id: int, user: User) -> LessonAccess | None:
    """A lesson ``user`` may see, with its module, course, camp and media, in one query.

    None when it does not exist for this user: unknown, archived, in a disabled or unloaded
    camp, or in a course the user may not see (drafts are for their editors).
    """
    enrollment = Enrollment.id if user.is_authenticated else None
    query = on_live_path(
        select(Lesson, enrollment if enrollment is not None else literal(None))
    ).where(Lesson.id == lesson_id)
    if enrollment is not None:
        query = query.outerjoin(
            Enrollment, (Enrollment.course_id == Course.id) & (Enrollment.user_id == user.id)
        )
    row = db.session.execute(query).first()
    if row is None:
        return None
    lesson, enrollment_id = row
    course = lesson.module.course
    if course.camp.slug not in registry().camps:
        return None
    if course.status != "published" and not can_edit(user, course):
        return None
    return LessonAccess(lesson, enrollment_id is not None)


# Built once: a lesson of a published course, with its module, course, camp and media.
_PUBLISHED_LESSON = on_live_path(select(Lesson)).where(
    Lesson.id == bindparam("lesson_id"), Course.status == "published"
)


def published_lesson(lesson_id: int) -> Lesson | None:
    """A lesson of a published course in an enabled camp that is loaded, with its module,
    course, camp and media; None otherwise (drafts, archived, unknown).

    With the fast paths on, the process keeps it (detached, behind the content version):
    callers only read it — it is shared by every request, POSTs included (a progress report
    reads its media and hands it to the camp's rule hooks), and never attached to a session.
    """
    if fast_paths():
        load = partial(detached, partial(_published_lesson, lesson_id=lesson_id))
        lesson = versioned("catalog.published_lesson", "content", load, key=lesson_id)
    else:
        lesson = _published_lesson(db.session(), lesson_id)
    if lesson is None or lesson.module.course.camp.slug not in registry().camps:
        return None
    return lesson


def _published_lesson(session: Session, lesson_id: int) -> Lesson | None:
    lesson: Lesson | None = session.scalar(_PUBLISHED_LESSON, {"lesson_id": lesson_id})
    return lesson


def is_preview(lesson: Lesson) -> bool:
    """A preview lesson of a published course: open to everyone (not a quiz: attempts are
    for enrolled learners)."""
    return lesson.preview and lesson.kind != "quiz" and lesson.module.course.is_published


def may_watch(user: User, access: LessonAccess) -> bool:
    """Whether ``user`` may open the lesson of ``access`` and fetch its media: enrolled
    learners and the course's editors; everyone, anonymous visitors included, when it is a
    preview lesson of a published course (``lesson_access`` already hid drafts)."""
    return access.enrolled or can_edit(user, access.course) or is_preview(access.lesson)


def enrollment_of(user: User, course: Course) -> Enrollment | None:
    if not user.is_authenticated:
        return None
    return db.session.scalar(select(Enrollment).filter_by(user_id=user.id, course_id=course.id))


def may_study(user: User, course: Course, enrollment: Enrollment | None) -> bool:
    """Lessons and their media are for enrolled learners and the course's editors."""
    return enrollment is not None or can_edit(user, course)


def can_edit(user: User, course: Course) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_organizer:
        return True
    if user.role != "trainer":
        return False
    if course.owner_id == user.id:
        return True
    if "trainers" in course.__dict__:  # loaded with the course (the authoring pages)
        return any(t.id == user.id for t in course.trainers)
    return db.session.get(CourseTrainer, (course.id, user.id)) is not None


@dataclass
class Outline:
    course: Course
    modules: list[Module]
    progress: dict[int, LessonProgress]
    enrollment: Enrollment | None

    @property
    def lessons(self) -> list[Lesson]:
        return [lesson for module in self.modules for lesson in module.lessons]

    @property
    def percent(self) -> int:
        required = [lesson for lesson in self.lessons if lesson.required]
        done = sum(1 for lesson in required if self.is_complete(lesson))
        return course_percent(done, len(required))

    def is_complete(self, lesson: Lesson) -> bool:
        progress = self.progress.get(lesson.id)
        return progress is not None and progress.completed_at is not None

    def watched_percent(self, lesson: Lesson) -> int:
        """100 when complete, else the share of the video watched (verified time)."""
        if self.is_complete(lesson):
            return 100
        progress = self.progress.get(lesson.id)
        media = lesson.media
        if progress is None or media is None or not media.duration_seconds:
            return 0
        return min(99, int(100 * progress.covered_seconds / media.duration_seconds))

    def next_lesson(self) -> Lesson | None:
        lessons = self.lessons
        return next(
            (x for x in lessons if not self.is_complete(x)), lessons[0] if lessons else None
        )


def outline(course: Course, user: User | None) -> Outline:
    """The syllabus of ``course`` (live modules and lessons) with ``user``'s progress."""
    kept = getattr(course, KEPT_SYLLABUS, None)
    if kept is not None:  # a course of the learners' read path (find_course)
        return _kept_outline(course, kept, user)
    modules = list(
        db.session.scalars(
            select(Module)
            .where(Module.course_id == course.id, Module.archived_at.is_(None))
            .order_by(Module.position, Module.id)
            .options(
                selectinload(Module.lessons).selectinload(Lesson.media),
                with_loader_criteria(Lesson, Lesson.archived_at.is_(None)),
            )
        )
    )
    progress: dict[int, LessonProgress] = {}
    enrollment = None
    if user is not None and user.is_authenticated:
        lesson_ids = [lesson.id for module in modules for lesson in module.lessons]
        if lesson_ids:
            rows = db.session.scalars(
                select(LessonProgress).where(
                    LessonProgress.user_id == user.id, LessonProgress.lesson_id.in_(lesson_ids)
                )
            )
            progress = {row.lesson_id: row for row in rows}
        enrollment = enrollment_of(user, course)
    return Outline(course, modules, progress, enrollment)


# -- the learners' read path of course and lesson pages (issue 20) --------------------------
#
# In a read-only request of a learner (or a visitor), the course and its live syllabus
# (modules, lessons, media, captions) come from the process's copy, kept behind the content
# version: every write to camps, courses, modules, lessons, media or captions moves it in its
# own transaction. The statements are built once; only the learner's progress and enrollment
# are read per request. Trainers and organizers (drafts, editing) take the general path.

KEPT_SYLLABUS = "_lms_kept_syllabus"  # a kept course's modules, an attribute of the object
_COURSE_BY_SLUG = select(Course).where(
    Course.camp_id == bindparam("camp_id"),
    Course.slug == bindparam("slug"),
    Course.archived_at.is_(None),
    Course.status == "published",
)
_SYLLABUS = (
    select(Module)
    .where(Module.course_id == bindparam("course_id"), Module.archived_at.is_(None))
    .order_by(Module.position, Module.id)
    .options(
        selectinload(Module.lessons).options(
            selectinload(Lesson.media), selectinload(Lesson.captions)
        ),
        with_loader_criteria(Lesson, Lesson.archived_at.is_(None)),
    )
)
_PROGRESS = select(LessonProgress.__table__).where(
    LessonProgress.user_id == bindparam("user_id"),
    LessonProgress.lesson_id.in_(bindparam("lesson_ids", expanding=True)),
)
_ENROLLMENT = select(Enrollment).where(
    Enrollment.user_id == bindparam("user_id"), Enrollment.course_id == bindparam("course_id")
)


def _edits_courses(user: User | None) -> bool:
    return user is not None and user.is_authenticated and user.is_trainer


def _kept_course(camp: Camp, slug: str) -> Course | None:
    """The published course ``slug`` of ``camp`` with its syllabus, detached, every
    reference a page follows set (course.camp, module.course, lesson.module)."""

    def load(session: Session) -> Course | None:
        course = session.scalar(_COURSE_BY_SLUG, {"camp_id": camp.id, "slug": slug})
        if course is None:
            return None
        modules = tuple(session.scalars(_SYLLABUS, {"course_id": course.id}))
        set_committed_value(course, "camp", camp)
        for module in modules:
            set_committed_value(module, "course", course)
            for lesson in module.lessons:
                set_committed_value(lesson, "module", module)
        setattr(course, KEPT_SYLLABUS, modules)
        return course

    return detached(load)


def _kept_outline(course: Course, modules: tuple[Module, ...], user: User | None) -> Outline:
    progress: dict[int, Any] = {}
    enrollment = None
    if user is not None and user.is_authenticated:
        lesson_ids = [lesson.id for module in modules for lesson in module.lessons]
        if lesson_ids:
            rows = db.session.connection().execute(
                _PROGRESS, {"user_id": user.id, "lesson_ids": lesson_ids}
            )
            progress = {row.lesson_id: row for row in rows}
        enrollment = db.session.scalar(_ENROLLMENT, {"user_id": user.id, "course_id": course.id})
    return Outline(course, list(modules), progress, enrollment)


# Built once: the learner's enrolled courses, most recent first, each with the required
# lessons they completed (the dashboard's cards in one statement).
_MY_COURSES = (
    select(
        Course,
        select(func.count(LessonProgress.id))
        .join(Lesson, LessonProgress.lesson_id == Lesson.id)
        .join(Module, Lesson.module_id == Module.id)
        .where(
            Module.course_id == Course.id,
            LessonProgress.user_id == bindparam("user_id"),
            LessonProgress.completed_at.is_not(None),
            Lesson.required.is_(True),
            Lesson.archived_at.is_(None),
            Module.archived_at.is_(None),
        )
        .scalar_subquery(),
    )
    .join(Enrollment, Enrollment.course_id == Course.id)
    .where(
        Enrollment.user_id == bindparam("user_id"),
        Course.camp_id.in_(bindparam("camp_ids", expanding=True)),
    )
    .order_by(Enrollment.enrolled_at.desc())
)


def my_courses(user: User, camps: list[Camp] | None = None) -> list[CourseCard]:
    """The learner's enrolled courses in visible camps (``camps``, when the caller has read
    them already), most recent first: one statement (the lesson totals are kept)."""
    visible = {camp.id: camp for camp in (visible_camps() if camps is None else camps)}
    if not visible:
        return []
    rows = db.session.execute(_MY_COURSES, {"user_id": user.id, "camp_ids": list(visible)}).all()
    totals = _lesson_totals([course.id for course, _done in rows]) if rows else {}
    cards = []
    for course, done in rows:  # the camps just read: course.camp is no second query
        set_committed_value(course, "camp", visible[course.camp_id])
        lessons, minutes, required = totals.get(course.id, (0, 0, 0))
        cards.append(CourseCard(course, lessons, minutes, True, course_percent(done, required)))
    return cards
