"""Curricula: the bundled ones follow the schema, broken ones are refused with a clear
reason, and syncing into the database is idempotent and never loses a learner's data."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from lms.extensions import db
from lms.models import Camp, Course, Lesson, LessonProgress, Module, Question, User
from lms.models._base import utcnow
from lms.services import camps as camp_service
from lms.services.curriculum import (
    CurriculumError,
    SyncReport,
    load_curriculum,
    sync_camp,
)
from lms.services.enrollment import enroll
from lms.services.loading import load, load_path

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = {
    "startup-growth": ROOT / "plugins" / "startup_growth" / "curriculum.yaml",
    "entrepreneur": ROOT / "plugins" / "entrepreneur" / "curriculum.yaml",
    "silicon-valley": ROOT / "plugins" / "silicon_valley" / "curriculum.yaml",
    "practitioner": ROOT / "plugins" / "practitioner" / "curriculum.yaml",
}
COURSE = "strategy-toolkit"
LESSON = "why-strategy-matters-early"
COURSE_PAGE = f"/camps/startup-growth/{COURSE}/"


# -- the bundled curricula -------------------------------------------------------------


@pytest.mark.parametrize("slug", list(BUNDLED))
def test_each_bundled_curriculum_is_complete(slug):
    curriculum = load_curriculum(BUNDLED[slug], slug)
    assert curriculum.camp == slug
    assert len(curriculum.courses) >= 3
    kinds = []
    for course in curriculum.courses:
        assert course.modules, course.slug
        assert len(course.lessons()) >= 3, course.slug
        for item in (course, *course.modules, *course.lessons()):
            assert item.title.zh.strip() and item.title.en.strip(), item.slug
            assert item.title.zh != item.title.en, item.slug
        kinds += [lesson.kind for lesson in course.lessons()]
    assert kinds.count("video") > len(kinds) / 2


# -- schema errors ---------------------------------------------------------------------


def minimal() -> dict:
    def lesson(slug: str) -> dict:
        return {"slug": slug, "title": {"zh": "课时", "en": f"Lesson {slug}"}}

    return {
        "camp": "design",
        "courses": [
            {
                "slug": "basics",
                "title": {"zh": "基础", "en": "Basics"},
                "modules": [
                    {
                        "slug": "first",
                        "title": {"zh": "第一单元", "en": "First"},
                        "lessons": [lesson("one"), lesson("two")],
                    },
                    {
                        "slug": "second",
                        "title": {"zh": "第二单元", "en": "Second"},
                        "lessons": [lesson("three")],
                    },
                ],
            }
        ],
    }


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "curriculum.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_minimal_curriculum_loads(tmp_path):
    curriculum = load_curriculum(write(tmp_path, minimal()), "design")
    lessons = curriculum.courses[0].lessons()
    assert [lesson.slug for lesson in lessons] == ["one", "two", "three"]
    assert {lesson.kind for lesson in lessons} == {"video"}


def test_a_file_edited_in_place_is_read_again_and_copies_are_independent(tmp_path):
    """Loads of an unchanged text are served from memory, as copies; an edit is seen at once."""
    path = write(tmp_path, minimal())
    first = load_curriculum(path, "design")
    first.courses[0].slug = "changed-by-a-caller"
    assert load_curriculum(path, "design").courses[0].slug != "changed-by-a-caller"

    edited = minimal()
    edited["courses"][0]["slug"] = "edited"  # same length, written within the same tick
    path.write_text(yaml.safe_dump(edited, allow_unicode=True), encoding="utf-8")
    assert load_curriculum(path, "design").courses[0].slug == "edited"
    with pytest.raises(CurriculumError, match="not 'studio'"):
        load_curriculum(path, "studio")


def lessons_of(data: dict, module: int = 0) -> list[dict]:
    return data["courses"][0]["modules"][module]["lessons"]


def duplicate_in_module(data: dict) -> None:
    lessons_of(data)[1]["slug"] = "one"


def duplicate_across_modules(data: dict) -> None:
    lessons_of(data, 1)[0]["slug"] = "one"


def missing_zh_title(data: dict) -> None:
    del lessons_of(data)[0]["title"]["zh"]


def unknown_kind(data: dict) -> None:
    lessons_of(data)[0]["kind"] = "podcast"


def extra_key(data: dict) -> None:
    lessons_of(data)[0]["duration"] = 12


def no_lessons(data: dict) -> None:
    data["courses"][0]["modules"][1]["lessons"] = []


def bad_slug(data: dict) -> None:
    lessons_of(data)[0]["slug"] = "Lesson One"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (duplicate_in_module, "duplicate lesson slug in course basics: one"),
        (duplicate_across_modules, "duplicate lesson slug in course basics: one"),
        (missing_zh_title, "courses.0.modules.0.lessons.0.title.zh\n  Field required"),
        (unknown_kind, "courses.0.modules.0.lessons.0.kind\n  Input should be 'video'"),
        (extra_key, "courses.0.modules.0.lessons.0.duration\n  Extra inputs are not permitted"),
        (no_lessons, "courses.0.modules.1.lessons\n  List should have at least 1 item"),
        (bad_slug, "courses.0.modules.0.lessons.0.slug\n  String should match pattern"),
    ],
)
def test_schema_errors_name_the_problem(tmp_path, change: Callable[[dict], None], reason):
    data = minimal()
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(CurriculumError) as error:
        load_curriculum(path, "design")
    assert str(error.value).startswith(f"{path}: ")
    assert reason in str(error.value)


def test_a_curriculum_for_another_camp_is_refused(tmp_path):
    path = write(tmp_path, minimal())
    with pytest.raises(CurriculumError, match="written for camp 'design', not 'studio'"):
        load_curriculum(path, "studio")


@pytest.mark.parametrize(
    "content", ["camp: design\ncourses: [\n", "camp: design\n\tcourses: []\n", "", "- a list\n"]
)
def test_unreadable_or_empty_yaml_is_refused(tmp_path, content):
    path = tmp_path / "curriculum.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CurriculumError, match=str(path)):
        load_curriculum(path, "design")


def test_the_example_curriculum_of_the_plugin_guide_is_valid(tmp_path):
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    example = guide.split("<!-- example-curriculum -->\n```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "curriculum.yaml"
    path.write_text(example, encoding="utf-8")
    curriculum = load_curriculum(path, "design")
    kinds = [lesson.kind for lesson in curriculum.courses[0].lessons()]
    assert kinds == ["video", "reading", "live"]


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(CurriculumError, match="No such file"):
        load_curriculum(tmp_path / "nowhere.yaml", "design")


# -- syncing ---------------------------------------------------------------------------


def counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(db.select(db.func.count()).select_from(model))
        for model in (Camp, Course, Module, Lesson, Question)
    }


def test_the_first_sync_creates_and_the_second_changes_nothing(make_app):
    app = make_app(sync=False)
    with app.app_context():
        first = camp_service.sync()
        assert all(report.created > 0 for report in first.values())
        before = counts()
        assert before["Camp"] == 4
        created = before["Course"] + before["Module"] + before["Lesson"] + before["Question"]
        assert sum(report.created for report in first.values()) == created

        second = camp_service.sync()
        assert set(second) == set(BUNDLED)
        assert all(report == SyncReport() for report in second.values())
        assert counts() == before


def bundled_data(slug: str = "startup-growth") -> dict:
    return yaml.safe_load(BUNDLED[slug].read_text(encoding="utf-8"))


def modules_of(data: dict, course: str = COURSE) -> list[dict]:
    return next(c for c in data["courses"] if c["slug"] == course)["modules"]


def resync(app, tmp_path: Path, data: dict | None = None) -> SyncReport:
    """Sync the Startup Growth camp from ``data`` (a changed copy of its curriculum)."""
    path = BUNDLED["startup-growth"]
    if data is not None:
        path = tmp_path / "changed.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with app.app_context():
        camp = db.session.scalar(db.select(Camp).filter_by(slug="startup-growth"))
        return sync_camp(camp, load_curriculum(path, "startup-growth"))


def the_lesson(slug: str = LESSON) -> Lesson:
    return db.session.scalar(
        db.select(Lesson)
        .join(Module)
        .join(Course)
        .filter(Course.slug == COURSE, Lesson.slug == slug)
    )


@pytest.fixture
def learner_progress(app, learner) -> int:
    """The learner enrolled in the course and finished the lesson; the progress row's id."""
    with app.app_context():
        course = db.session.scalar(db.select(Course).filter_by(slug=COURSE))
        enroll(db.session.merge(learner), course)
        progress = LessonProgress(
            user_id=learner.id,
            lesson_id=the_lesson().id,
            position_seconds=600.0,
            completed_at=utcnow(),
        )
        db.session.add(progress)
        db.session.commit()
        return progress.id


def without_lesson(slug: str = LESSON) -> dict:
    data = bundled_data()
    for module in modules_of(data):
        module["lessons"] = [lesson for lesson in module["lessons"] if lesson["slug"] != slug]
    return data


def test_a_removed_lesson_is_archived_with_its_progress_kept(
    app, client, learner, learner_progress, tmp_path
):
    with app.app_context():
        lesson_id, title = the_lesson().id, the_lesson().title_en
    client.login(learner.email)
    assert title in client.get(COURSE_PAGE).get_data(as_text=True)

    report = resync(app, tmp_path, without_lesson())
    assert (report.created, report.archived) == (0, 1)

    with app.app_context():
        lesson = db.session.get(Lesson, lesson_id)
        assert lesson.archived_at is not None
        progress = db.session.get(LessonProgress, learner_progress)
        assert progress.lesson_id == lesson_id
        assert progress.completed_at is not None
    page = client.get(COURSE_PAGE).get_data(as_text=True)
    assert title not in page
    assert "SWOT Analysis and the Business Model Canvas" in page
    assert client.get(f"{COURSE_PAGE}lessons/{LESSON}").status_code == 404

    assert resync(app, tmp_path, without_lesson()) == SyncReport()


def test_a_lesson_that_returns_is_unarchived_with_its_progress(
    app, client, learner, learner_progress, tmp_path
):
    resync(app, tmp_path, without_lesson())
    report = resync(app, tmp_path)
    # updated: the lesson itself, and the two after it that move back one place
    assert (report.created, report.updated, report.archived) == (0, 3, 0)

    with app.app_context():
        lesson = the_lesson()
        assert lesson.archived_at is None
        progress = db.session.get(LessonProgress, learner_progress)
        assert (progress.lesson_id, progress.position_seconds) == (lesson.id, 600.0)
        title = lesson.title_en
    client.login(learner.email)
    page = client.get(COURSE_PAGE).get_data(as_text=True)
    assert title in page
    assert "Completed" in page


def test_a_sync_keeps_what_a_trainer_archived(app, organizer, tmp_path):
    from lms.services import authoring

    with app.app_context():
        lesson = the_lesson()
        load_path(lesson, "module", "course")
        authoring.archive(db.session.get(User, organizer.id), lesson.module.course, lesson)
        lesson_id = lesson.id
    report = resync(app, tmp_path)
    assert report.kept_local_edits == [f"{COURSE}/{LESSON}.archived"]
    assert (report.created, report.updated, report.archived) == (0, 0, 0)
    with app.app_context():
        assert db.session.get(Lesson, lesson_id).archived_at is not None


def test_a_removed_course_is_archived_and_hidden(app, client, learner, learner_progress, tmp_path):
    data = bundled_data()
    data["courses"] = [course for course in data["courses"] if course["slug"] != COURSE]
    report = resync(app, tmp_path, data)
    assert report.archived == 1  # the course; its modules and lessons stay as they were

    client.login(learner.email)
    assert client.get(COURSE_PAGE).status_code == 404
    assert f'href="{COURSE_PAGE}"' not in client.get("/").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(LessonProgress, learner_progress) is not None

    resync(app, tmp_path)
    assert client.get(COURSE_PAGE).status_code == 200


def test_a_trainers_edit_survives_a_resync(app, tmp_path):
    with app.app_context():
        lesson = the_lesson()
        lesson.title_en = "Why Strategy Matters (our park's version)"
        db.session.commit()

    report = resync(app, tmp_path)
    assert report.kept_local_edits == [f"{COURSE}/{LESSON}.title_en"]
    assert (report.created, report.updated, report.archived) == (0, 0, 0)

    data = bundled_data()
    changed = modules_of(data)[0]["lessons"][0]
    assert changed["slug"] == LESSON
    changed["title"] = {"zh": "战略从第一天开始", "en": "Strategy from Day One"}
    changed["summary"]["en"] = "A new summary from the curriculum."
    changed["minutes"] = 17
    report = resync(app, tmp_path, data)
    assert report.kept_local_edits == [f"{COURSE}/{LESSON}.title_en"]
    assert report.updated == 1

    with app.app_context():
        lesson = the_lesson()
        assert lesson.title_en == "Why Strategy Matters (our park's version)"
        assert lesson.title_zh == "战略从第一天开始"
        assert lesson.summary_en == "A new summary from the curriculum."
        assert lesson.minutes == 17


def test_a_lesson_moved_to_another_module_keeps_its_id_and_progress(
    app, client, learner, learner_progress, tmp_path
):
    with app.app_context():
        before = the_lesson()
        lesson_id, old_module = before.id, load(before, "module").slug
    data = bundled_data()
    first, second = modules_of(data)[:2]
    moved = next(lesson for lesson in first["lessons"] if lesson["slug"] == LESSON)
    first["lessons"].remove(moved)
    second["lessons"].append(moved)

    report = resync(app, tmp_path, data)
    assert (report.created, report.archived) == (0, 0)

    with app.app_context():
        lesson = the_lesson()
        assert lesson.id == lesson_id
        assert lesson.archived_at is None
        assert (old_module, load(lesson, "module").slug) == (first["slug"], second["slug"])
        assert lesson.position == len(second["lessons"]) - 1
        assert db.session.get(LessonProgress, learner_progress).lesson_id == lesson_id
        title, second_title = lesson.title_en, lesson.module.title_en
    client.login(learner.email)
    page = client.get(COURSE_PAGE).get_data(as_text=True)
    assert page.index(second_title) < page.index(title)
    assert resync(app, tmp_path, copy.deepcopy(data)) == SyncReport()
