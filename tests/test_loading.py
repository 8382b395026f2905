"""No hidden lazy loads (issue 20, docs/architecture.md#loading).

The relationships of the core content and people models raise instead of loading silently
(``lazy="raise_on_sql"``); the services load what pages read. These tests pin the loader
strategy of each relationship, and walk the main pages of each role watching for any
lazy load at all (a raising relationship would answer 500; one still lazy, a statement
issued by a lazy load).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy import inspect as orm_inspect
from sqlalchemy.orm import ORMExecuteState, Session

import lms.models
from lms.extensions import db
from lms.models import (
    AccountToken,
    AuthSession,
    Camp,
    Certificate,
    Course,
    Enrollment,
    Invite,
    Lesson,
    LessonProgress,
    Module,
    Organization,
    StaffGroup,
    User,
)
from lms.services import authoring, catalog, enrollment, loading, plans, staff_groups
from tests.conftest import Client, course_url, video_lessons_of
from tests.test_query_counts import count_queries

# Every relationship of these models raises on SQL (a many-to-one already in the identity
# map is still read without SQL).
RAISING: dict[type, set[str]] = {
    Camp: {"courses"},
    Course: {"camp", "modules", "trainers"},
    Module: {"course", "lessons"},
    Lesson: {"module", "media", "captions"},
    Organization: {"members"},
    User: {"organization"},
    AuthSession: {"user"},
    StaffGroup: {"organization", "members"},
    Invite: {"organization", "group"},
    AccountToken: {"user"},
    Enrollment: {"user", "course"},
    LessonProgress: {"lesson"},
    Certificate: {"user", "course"},
}


def _mappers() -> list:
    return sorted(db.Model.registry.mappers, key=lambda mapper: mapper.class_.__name__)


def test_the_core_relationships_raise_on_sql():
    for model, names in RAISING.items():
        assert set(model.__mapper__.relationships.keys()) == names, model.__name__
        for name in names:
            strategy = model.__mapper__.relationships[name].lazy
            assert strategy == "raise_on_sql", f"{model.__name__}.{name} is lazy={strategy!r}"


def _commented(model: type, name: str) -> bool:
    """Whether the declaration of ``model.name`` has a comment: on its line, or above the
    block of relationship declarations it belongs to."""
    for cls in model.__mro__:
        try:
            lines, _first = inspect.getsourcelines(cls)
        except (OSError, TypeError):
            continue
        for index, line in enumerate(lines):
            if not line.strip().startswith((f"{name}:", f"def {name}(")):
                continue
            if "#" in line:
                return True
            indent = len(line) - len(line.lstrip())
            above = index - 1
            while above >= 0 and _in_declarations(lines[above], indent):
                above -= 1
            return above >= 0 and lines[above].strip().startswith("#")
    return False


def _in_declarations(line: str, indent: int) -> bool:
    """A line of a block of relationship declarations (or a decorator above one)."""
    stripped = line.strip()
    deeper = len(line) - len(line.lstrip()) > indent
    return bool(stripped) and (
        "relationship(" in stripped
        or stripped.startswith((")", "@"))
        or (deeper and not stripped.startswith("#"))
    )


def test_a_relationship_left_lazy_says_why():
    """Each relationship raises on SQL, or its declaration says in a comment why it is still
    read lazily; a new relationship has to choose."""
    unexplained = []
    for mapper in _mappers():
        for prop in mapper.relationships:
            if prop.parent is not mapper:
                continue
            if prop.lazy != "raise_on_sql" and not _commented(mapper.class_, prop.key):
                unexplained.append(f"{mapper.class_.__name__}.{prop.key} (lazy={prop.lazy!r})")
    assert not unexplained, unexplained


def test_the_models_are_where_the_test_reads_them():
    """The comment check above reads the models' sources: they are files of lms/models."""
    folder = Path(lms.models.__file__).parent
    assert ast.parse((folder / "catalog.py").read_text())
    assert all(Path(inspect.getsourcefile(model) or "").parent == folder for model in RAISING), (
        "a model moved out of lms/models"
    )


# The argument name each model has when a hook receives it (lms/hookspecs.py).
HOOK_ARGUMENTS = {
    "Course": "course",
    "Lesson": "lesson",
    "Enrollment": "enrollment",
    "LessonProgress": "progress",
    "QuizAttempt": "attempt",
    "Attendance": "attendance",
}


def test_the_guide_lists_what_hook_arguments_have_loaded():
    guide = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
    assert {model.__name__ for model in loading.HOOK_PATHS} == set(HOOK_ARGUMENTS)
    for model, paths in loading.HOOK_PATHS.items():
        for path in paths:
            written = ".".join((HOOK_ARGUMENTS[model.__name__], *path))
            assert f"`{written}`" in guide, f"docs/plugins.md does not say {written} is loaded"


@contextmanager
def lazy_loads() -> Iterator[list[str]]:
    """The relationships loaded lazily (by a statement) while the block runs."""
    found: list[str] = []

    def watch(state: ORMExecuteState) -> None:
        if state.lazy_loaded_from is not None and state.is_relationship_load:
            path = state.load_options._current_path if state.load_options else None
            found.append(f"{state.lazy_loaded_from.class_.__name__} {path or state.statement}")

    event.listen(Session, "do_orm_execute", watch)
    try:
        yield found
    finally:
        event.remove(Session, "do_orm_execute", watch)


@pytest.fixture
def world(app: Flask, make_user, course: Course) -> dict:
    """A learner enrolled in the course (a lesson done), a trainer of it, an organizer, a
    manager of an organization with the learner on its staff."""
    learner = make_user("learner@example.com", organization="Acme")
    manager = make_user("boss@example.com", organization="Acme", is_manager=True)
    trainer = make_user("trainer@example.com", role="trainer")
    organizer = make_user("organizer@example.com", role="organizer")
    with app.app_context():
        found = db.session.get(Course, course.id)
        user = db.session.get(User, learner.id)
        enrollment.enroll(user, found)
        authoring.add_trainer(
            db.session.get(User, organizer.id), found, db.session.get(User, trainer.id)
        )
        lessons = video_lessons_of(course.id)
        module = db.session.get(Lesson, lessons[0].id).module_id
        org = loading.load(db.session.get(User, manager.id), "organization")
        # Assignments of the learner's own and of their group, a course and a whole camp.
        boss = db.session.get(User, manager.id)
        group = staff_groups.create_group(org, "Sales")
        staff_groups.add_to_group(group, learner.id)
        due = plans.today() + timedelta(days=30)
        plans.assign(org.id, boss, due_on=due, user_id=learner.id, course_id=course.id)
        plans.assign(org.id, boss, due_on=due, group_id=group.id, camp_id=found.camp_id)
        return {
            "learner": learner.email,
            "manager": manager.email,
            "trainer": trainer.email,
            "organizer": organizer.email,
            "course_id": course.id,
            "module_id": module,
            "lesson_id": lessons[0].id,
            "lesson_slug": lessons[0].slug,
            "org_id": org.id,
            "learner_id": learner.id,
            "url": course_url(course),
            "camp_url": f"/camps/{course.camp.slug}/",
        }


def pages(world: dict) -> dict[str, list[str]]:
    course, lesson = world["url"], f"{world['url']}lessons/{world['lesson_slug']}"
    learning = ["/", world["camp_url"], course, lesson, "/dashboard", "/account", "/archive"]
    return {
        "learner": [*learning, "/plan", "/notifications", "/search?q=strategy"],
        "trainer": [
            *learning[:4],
            "/teach/",
            f"/teach/courses/{world['course_id']}",
            f"/teach/modules/{world['module_id']}",
            f"/teach/lessons/{world['lesson_id']}",
            f"/teach/courses/{world['course_id']}/questions",
            "/teach/media",
            "/account",
        ],
        "organizer": [
            *learning[:4],
            "/teach/",
            f"/teach/courses/{world['course_id']}",
            f"/teach/lessons/{world['lesson_id']}",
            "/admin/users",
            "/admin/organizations",
            f"/admin/organizations/{world['org_id']}",
            "/reports/",
            "/reports/hours",
            "/reports/completion",
            "/reports/overdue",
            f"/people/{world['learner_id']}/archive",
        ],
        "manager": [
            "/",
            "/dashboard",
            "/account",
            f"/organizations/{world['org_id']}/",
            f"/organizations/{world['org_id']}/groups",
            f"/organizations/{world['org_id']}/plan",
            f"/people/{world['learner_id']}/archive",
            "/reports/hours",
            "/salon/new",
        ],
    }


@pytest.mark.parametrize("role", ["learner", "trainer", "organizer", "manager"])
@pytest.mark.parametrize("fast_paths", [True, False], ids=["fast", "general"])
def test_the_main_pages_of_each_role_load_nothing_lazily(make_app, world, role, fast_paths):
    app = make_app(sync=False, FAST_PATHS=fast_paths)
    client = Client(app.test_client())
    assert client.login(world[role]).status_code == 302
    for url in pages(world)[role]:
        with lazy_loads() as found:
            response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, f"{role} {url}: {response.status_code}"
        assert not found, f"{role} {url} loaded lazily: {found}"


def test_hook_arguments_the_process_keeps_are_handed_over_as_they_are(app, course):
    """A kept lesson (detached, with its paths) needs nothing loaded or held for a hook; a
    lesson of the request's session gets its paths loaded from the identity map or by SQL."""
    with app.test_request_context("/", method="POST"):
        lesson_id = video_lessons_of(course.id)[0].id
        db.session.remove()
        kept = catalog.published_lesson(lesson_id)
        assert kept is not None and orm_inspect(kept).detached
        with lazy_loads() as issued, count_queries(app) as statements:
            assert loading.for_hook(kept) == []
            assert loading.for_hook_arguments({"lesson": kept}) == [kept]
        assert issued == [] and statements == []
        assert kept.module.course.camp.slug == "startup-growth"

        attached = db.session.get(Lesson, lesson_id)
        with count_queries(app) as statements:
            reached = loading.for_hook(attached)
        assert {type(obj) for obj in reached} >= {Module, Course, Camp}
        assert statements  # the module, course and camp were not loaded yet
        assert attached.module.course.camp.slug == "startup-growth"
