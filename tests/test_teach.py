"""Authoring under /teach: who may edit what, the course life cycle, and curriculum syncs."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from lms.extensions import db
from lms.models import Caption, Course, CourseTrainer, Lesson, LessonProgress, MediaAsset, Module
from lms.services import camps as camp_service
from lms.services.loading import load
from tests.conftest import Client, course_url

CAMP = "startup-growth"
VTT = b"WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello\n"
MISSING = 999_999
SLUG_TAKEN = "This address name is already used here. Choose another, or leave it empty."


# -- helpers ---------------------------------------------------------------------------


# The suite reads English messages; Chinese is the default, and statuses must not depend on it.
LANGUAGES = {"en": "en", "zh_CN": "zh-CN,zh;q=0.9"}


def in_language(app: Flask, language: str, message: str) -> str:
    """``message`` as a visitor asking for ``language`` reads it."""
    from flask_babel import gettext

    with app.test_request_context(headers={"Accept-Language": LANGUAGES[language]}):
        return gettext(message)


def client_for(app: Flask, email: str | None = None, language: str = "en") -> Client:
    client = Client(app.test_client())
    client.raw.environ_base["HTTP_ACCEPT_LANGUAGE"] = LANGUAGES[language]
    if email is not None:
        assert client.login(email).status_code == 302
    return client


def first_module_and_lesson(app: Flask, course_id: int) -> tuple[int, int]:
    with app.app_context():
        module = db.session.scalars(
            db.select(Module)
            .where(Module.course_id == course_id, Module.archived_at.is_(None))
            .order_by(Module.position, Module.id)
        ).first()
        lesson = sorted(load(module, "lessons"), key=lambda x: (x.position, x.id))[0]
        return module.id, lesson.id


def course_fields(**changes: str) -> dict[str, str]:
    fields = {
        "slug": "park-basics",
        "title_zh": "园区基础",
        "title_en": "Park Basics",
        "summary_zh": "",
        "summary_en": "",
        "level": "",
    }
    return {**fields, **changes}


def module_fields(**changes: str) -> dict[str, str]:
    return {"slug": "getting-started", "title_zh": "入门", "title_en": "Getting Started", **changes}


def lesson_fields(**changes: str) -> dict[str, str]:
    fields = {
        "kind": "video",
        "slug": "welcome",
        "title_zh": "欢迎",
        "title_en": "Welcome",
        "summary_zh": "",
        "summary_en": "",
        "body_zh": "",
        "body_en": "",
        "minutes": "5",
        "required": "y",
    }
    return {**fields, **changes}


def snapshot(app: Flask, course_id: int) -> dict:
    """Everything a teach POST could change about a course, plus the media store."""
    with app.app_context():
        course = db.session.get(Course, course_id)
        modules = db.session.scalars(db.select(Module).filter_by(course_id=course_id))
        lessons = db.session.scalars(
            db.select(Lesson).join(Module).where(Module.course_id == course_id)
        )
        root = Path(app.config["MEDIA_ROOT"])
        return {
            "course": (
                course.slug,
                course.title_zh,
                course.title_en,
                course.summary_en,
                course.level,
                course.status,
                course.archived_at,
                course.owner_id,
            ),
            "trainers": sorted(t.id for t in load(course, "trainers")),
            "modules": sorted(
                (m.id, m.slug, m.title_en, m.position, m.archived_at) for m in modules
            ),
            "lessons": sorted(
                (x.id, x.slug, x.kind, x.title_en, x.position, x.archived_at, x.media_id, x.minutes)
                for x in lessons
            ),
            "captions": db.session.scalar(db.select(db.func.count(Caption.id))),
            "assets": db.session.scalar(db.select(db.func.count(MediaAsset.id))),
            "courses": db.session.scalar(db.select(db.func.count(Course.id))),
            "files": sorted(str(p) for p in root.rglob("*") if p.is_file()),
        }


def multipart(field: str, content: bytes, name: str, **extra: str) -> Callable[[], dict]:
    return lambda: {field: (io.BytesIO(content), name), **extra}


def course_requests(course_id: int, module_id: int, lesson_id: int, video: bytes) -> list:
    """Every teach request about one course: (method, url, form data factory, multipart)."""
    c, m, x = course_id, module_id, lesson_id
    form = lambda data: lambda: dict(data)  # noqa: E731
    requests = [
        ("GET", f"/teach/courses/{c}", None, False),
        ("POST", f"/teach/courses/{c}", form(course_fields(title_en="Hijacked")), False),
        ("POST", f"/teach/courses/{c}/publish", form({}), False),
        ("POST", f"/teach/courses/{c}/unpublish", form({}), False),
        ("POST", f"/teach/courses/{c}/trainers", form({"email": "trainer@example.com"}), False),
        ("POST", f"/teach/courses/{c}/modules", form(module_fields(slug="hijack")), False),
        ("GET", f"/teach/modules/{m}", None, False),
        ("POST", f"/teach/modules/{m}", form(module_fields(title_en="Hijacked")), False),
        ("POST", f"/teach/modules/{m}/lessons", form(lesson_fields(slug="hijack")), False),
        ("GET", f"/teach/lessons/{x}", None, False),
        ("POST", f"/teach/lessons/{x}", form(lesson_fields(title_en="Hijacked")), False),
        ("POST", f"/teach/lessons/{x}/video", multipart("video", video, "x.webm"), True),
        ("POST", f"/teach/lessons/{x}/media", form({"media": "0"}), False),
        (
            "POST",
            f"/teach/lessons/{x}/captions",
            multipart("captions", VTT, "en.vtt", language="en"),
            True,
        ),
    ]
    for kind, item in (("modules", m), ("lessons", x)):
        for change in ("up", "down", "archive"):
            requests.append(("POST", f"/teach/{kind}/{item}/{change}", form({}), False))
    return requests


GENERAL_REQUESTS = [
    ("GET", "/teach/", None, False),
    ("GET", "/teach/courses/new", None, False),
    ("POST", "/teach/courses/new", lambda: {"camp": CAMP, **course_fields()}, False),
    ("GET", "/teach/media", None, False),
    ("POST", "/teach/media", None, True),  # data filled in by send()
    ("GET", "/teach/media/1/download", None, False),
    ("GET", "/teach/media/1/status", None, False),
    ("POST", "/teach/media/1/retry", lambda: {}, False),
]


def send(client: Client, method: str, url: str, data: Callable | None, is_multipart: bool, video):
    if method == "GET":
        return client.get(url)
    if data is None:
        data = multipart("video", video, "x.webm")
    kwargs = {"content_type": "multipart/form-data"} if is_multipart else {}
    return client.post(url, data(), **kwargs)


@pytest.fixture
def video_bytes(demo_video: Path) -> bytes:
    return demo_video.read_bytes()


@pytest.fixture
def ids(app: Flask, course) -> tuple[int, int, int]:
    module_id, lesson_id = first_module_and_lesson(app, course.id)
    return course.id, module_id, lesson_id


# -- permissions -----------------------------------------------------------------------


def test_the_matrix_covers_every_teach_route(app, ids, video_bytes):
    """A new teach route must be added to the permission tests below."""
    adapter = app.url_map.bind("localhost")
    covered = {
        (adapter.match(url, method=method)[0], method)
        for method, url, _data, _multi in course_requests(*ids, video_bytes) + GENERAL_REQUESTS
    }
    routes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("teach.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == covered


def test_anonymous_visitors_are_sent_to_log_in(app, ids, video_bytes):
    client = client_for(app)
    for method, url, data, is_multipart in course_requests(*ids, video_bytes) + GENERAL_REQUESTS:
        response = send(client, method, url, data, is_multipart, video_bytes)
        assert response.status_code == 302, (method, url)
        assert response.location.startswith("/login"), (method, url)


def test_learners_are_forbidden_everywhere(app, ids, learner, video_bytes):
    before = snapshot(app, ids[0])
    client = client_for(app, learner.email)
    for method, url, data, is_multipart in course_requests(*ids, video_bytes) + GENERAL_REQUESTS:
        response = send(client, method, url, data, is_multipart, video_bytes)
        assert response.status_code == 403, (method, url)
    assert snapshot(app, ids[0]) == before


def test_a_trainer_not_on_the_course_can_change_nothing(app, ids, trainer, video_bytes):
    before = snapshot(app, ids[0])
    client = client_for(app, trainer.email)
    for method, url, data, is_multipart in course_requests(*ids, video_bytes):
        response = send(client, method, url, data, is_multipart, video_bytes)
        assert response.status_code == 403, (method, url)
    assert snapshot(app, ids[0]) == before
    index = client.get("/teach/")
    assert index.status_code == 200
    assert f'href="/teach/courses/{ids[0]}"' not in index.get_data(as_text=True)


def test_an_organizer_adds_a_trainer_who_can_then_edit(app, ids, trainer, organizer, learner):
    course_id = ids[0]
    trainer_client = client_for(app, trainer.email)
    assert trainer_client.get(f"/teach/courses/{course_id}").status_code == 403

    organizer_client = client_for(app, organizer.email)
    unknown = organizer_client.post(
        f"/teach/courses/{course_id}/trainers", {"email": "nobody@example.com"}
    )
    assert unknown.status_code == 400
    assert "No trainer with this e-mail address." in unknown.get_data(as_text=True)
    not_a_trainer = organizer_client.post(
        f"/teach/courses/{course_id}/trainers", {"email": learner.email}
    )
    assert not_a_trainer.status_code == 400
    added = organizer_client.post(
        f"/teach/courses/{course_id}/trainers", {"email": "  Trainer@Example.com "}
    )
    assert added.status_code == 302
    page = organizer_client.get(added.location).get_data(as_text=True)
    assert "trainer can now edit this course." in page
    with app.app_context():
        assert db.session.get(CourseTrainer, (course_id, trainer.id)) is not None

    assert trainer_client.get(f"/teach/courses/{course_id}").status_code == 200
    assert f'href="/teach/courses/{course_id}"' in trainer_client.get("/teach/").get_data(
        as_text=True
    )
    with app.app_context():
        course = db.session.get(Course, course_id)
        fields = course_fields(
            slug=course.slug,
            title_zh=course.title_zh,
            title_en="Strategy Toolkit (park edition)",
            summary_zh=course.summary_zh,
            summary_en=course.summary_en,
            level=course.level,
        )
    saved = trainer_client.post(f"/teach/courses/{course_id}", fields)
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.get(Course, course_id).title_en == "Strategy Toolkit (park edition)"
    # Only organizers add trainers, even trainers of the course.
    assert (
        trainer_client.post(
            f"/teach/courses/{course_id}/trainers", {"email": trainer.email}
        ).status_code
        == 403
    )


def test_an_organizer_edits_any_course(app, ids, organizer, video_bytes):
    course_id, module_id, lesson_id = ids
    client = client_for(app, organizer.email)
    for url in (
        f"/teach/courses/{course_id}",
        f"/teach/modules/{module_id}",
        f"/teach/lessons/{lesson_id}",
        "/teach/media",
    ):
        assert client.get(url).status_code == 200, url
    assert f'href="/teach/courses/{course_id}"' in client.get("/teach/").get_data(as_text=True)
    with app.app_context():
        module = db.session.get(Module, module_id)
        fields = module_fields(slug=module.slug, title_zh=module.title_zh, title_en="Renamed")
    assert client.post(f"/teach/modules/{module_id}", fields).status_code == 302
    assert client.post(f"/teach/courses/{course_id}/unpublish").status_code == 302
    with app.app_context():
        assert db.session.get(Module, module_id).title_en == "Renamed"
        assert db.session.get(Course, course_id).status == "draft"


def test_unknown_or_archived_items_are_404(app, ids, organizer, video_bytes):
    client = client_for(app, organizer.email)
    for method, url, data, is_multipart in course_requests(MISSING, MISSING, MISSING, video_bytes):
        response = send(client, method, url, data, is_multipart, video_bytes)
        assert response.status_code == 404, (method, url)
    _course_id, module_id, lesson_id = ids
    assert client.post(f"/teach/lessons/{lesson_id}/archive").status_code == 302
    assert client.get(f"/teach/lessons/{lesson_id}").status_code == 404
    assert client.post(f"/teach/lessons/{lesson_id}/up").status_code == 404
    assert client.post(f"/teach/modules/{module_id}/archive").status_code == 302
    assert client.get(f"/teach/modules/{module_id}").status_code == 404
    with app.app_context():
        other_lesson = db.session.scalars(
            db.select(Lesson.id).where(Lesson.module_id == module_id, Lesson.id != lesson_id)
        ).first()
    assert client.get(f"/teach/lessons/{other_lesson}").status_code == 404  # module archived
    assert client.get("/teach/courses/abc").status_code == 404
    assert client.post(f"/teach/lessons/{other_lesson}/sideways").status_code == 404


def test_state_changes_need_the_csrf_token(app, ids, organizer):
    course_id = ids[0]
    client = client_for(app, organizer.email)
    response = client.post(f"/teach/courses/{course_id}/unpublish", csrf=False)
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Course, course_id).status == "published"


# -- a course's life -------------------------------------------------------------------


def create_course(client: Client, **changes: str) -> int:
    response = client.post("/teach/courses/new", {"camp": CAMP, **course_fields(**changes)})
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.fullmatch(r"/teach/courses/(\d+)", response.location)
    assert match, response.location
    return int(match.group(1))


def add_module(client: Client, course_id: int, **changes: str) -> int:
    response = client.post(f"/teach/courses/{course_id}/modules", module_fields(**changes))
    assert response.status_code == 302, response.get_data(as_text=True)
    with client.raw.application.app_context():
        return db.session.scalar(
            db.select(Module.id).filter_by(
                course_id=course_id, slug=module_fields(**changes)["slug"]
            )
        )


def add_lesson(client: Client, module_id: int, **changes: str) -> int:
    response = client.post(f"/teach/modules/{module_id}/lessons", lesson_fields(**changes))
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.fullmatch(r"/teach/lessons/(\d+)", response.location)
    assert match, response.location
    return int(match.group(1))


def test_a_trainer_builds_publishes_and_rearranges_a_course(app, trainer, learner):
    teacher = client_for(app, trainer.email)
    course_id = create_course(teacher)
    page = teacher.get(f"/teach/courses/{course_id}").get_data(as_text=True)
    assert "Course created as a draft." in page
    with app.app_context():
        course = db.session.get(Course, course_id)
        assert (course.status, course.owner_id, course.synced) == ("draft", trainer.id, None)
        assert load(course, "camp").slug == CAMP
        assert [t.id for t in load(course, "trainers")] == [trainer.id]

    public_url = f"/camps/{CAMP}/park-basics/"
    student = client_for(app, learner.email)
    assert student.get(public_url).status_code == 404
    assert "Park Basics" not in student.get("/").get_data(as_text=True)
    assert "Park Basics" not in student.get(f"/camps/{CAMP}/").get_data(as_text=True)
    assert teacher.get(public_url).status_code == 200  # editors preview drafts

    module_id = add_module(teacher, course_id)
    video_id = add_lesson(teacher, module_id)
    reading_id = add_lesson(
        teacher,
        module_id,
        kind="reading",
        slug="read-me",
        title_en="Read Me",
        body_en="Read **this** first.\n\n- one\n- two\n\n<script>alert(1)</script>",
        minutes="3",
    )
    quiz_id = add_lesson(teacher, module_id, slug="wrap-up", title_en="Wrap Up")

    assert teacher.post(f"/teach/courses/{course_id}/publish").status_code == 302
    assert student.get(public_url).status_code == 200
    assert "Park Basics" in student.get("/").get_data(as_text=True)
    assert teacher.post(f"/teach/courses/{course_id}/unpublish").status_code == 302
    assert student.get(public_url).status_code == 404
    assert "Park Basics" not in student.get("/").get_data(as_text=True)
    assert teacher.post(f"/teach/courses/{course_id}/publish").status_code == 302

    assert student.post(public_url + "enroll").status_code == 302
    reading = student.get(public_url + "lessons/read-me").get_data(as_text=True)
    assert "<strong>this</strong>" in reading
    assert "<li>one</li>" in reading
    assert "<script>alert(1)" not in reading
    video = student.get(public_url + "lessons/welcome").get_data(as_text=True)
    assert "The video for this lesson is not available yet." in video
    assert student.post(public_url + "lessons/read-me/read").status_code == 302

    def order() -> list[int]:
        with app.app_context():
            return list(
                db.session.scalars(
                    db.select(Lesson.id)
                    .filter_by(module_id=module_id, archived_at=None)
                    .order_by(Lesson.position, Lesson.id)
                )
            )

    assert order() == [video_id, reading_id, quiz_id]
    assert teacher.post(f"/teach/lessons/{quiz_id}/up").status_code == 302
    assert order() == [video_id, quiz_id, reading_id]
    assert teacher.post(f"/teach/lessons/{video_id}/down").status_code == 302
    assert order() == [quiz_id, video_id, reading_id]
    assert teacher.post(f"/teach/lessons/{quiz_id}/up").status_code == 302  # already first
    assert order() == [quiz_id, video_id, reading_id]
    with app.app_context():
        positions = db.session.scalars(
            db.select(Lesson.position).filter_by(module_id=module_id).order_by(Lesson.position)
        )
        assert list(positions) == [0, 1, 2]

    assert "Read Me" in student.get(public_url).get_data(as_text=True)
    archived = teacher.post(
        f"/teach/lessons/{reading_id}/archive",
        headers={"Referer": f"http://localhost/teach/courses/{course_id}"},
    )
    assert archived.status_code == 302
    assert archived.location.endswith(f"/teach/courses/{course_id}")
    assert "Learners&#39; progress is kept." in teacher.get(archived.location).get_data(
        as_text=True
    )
    with app.app_context():
        lesson = db.session.get(Lesson, reading_id)
        assert lesson.archived_at is not None
        progress = db.session.scalar(
            db.select(LessonProgress).filter_by(user_id=learner.id, lesson_id=reading_id)
        )
        assert progress is not None and progress.completed_at is not None
    assert order() == [quiz_id, video_id]
    assert "Read Me" not in student.get(public_url).get_data(as_text=True)
    assert "Read Me" not in teacher.get(f"/teach/courses/{course_id}").get_data(as_text=True)
    assert student.get(public_url + "lessons/read-me").status_code == 404


def test_an_outside_referrer_is_not_followed_after_arranging(app, organizer, ids):
    client = client_for(app, organizer.email)
    response = client.post(
        f"/teach/lessons/{ids[2]}/down", headers={"Referer": "https://evil.example/x"}
    )
    assert response.status_code == 302
    assert response.location == f"/teach/courses/{ids[0]}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "what",
    ["course", "module", "lesson in another module", "renamed course", "renamed lesson"],
)
def test_a_slug_clash_is_a_409_and_writes_nothing(app, trainer, course, what, language):
    teacher = client_for(app, trainer.email, language)
    course_id = create_course(teacher)
    first = add_module(teacher, course_id)
    second = add_module(teacher, course_id, slug="going-further", title_en="Going Further")
    add_lesson(teacher, first)
    other = add_lesson(teacher, second, slug="deep-dive", title_en="Deep Dive")
    before = snapshot(app, course_id)

    if what == "course":  # the curriculum's own course in the same camp
        response = teacher.post(
            "/teach/courses/new", {"camp": CAMP, **course_fields(slug=course.slug)}
        )
    elif what == "module":
        response = teacher.post(f"/teach/courses/{course_id}/modules", module_fields())
    elif what == "lesson in another module":  # lesson addresses are unique per course
        response = teacher.post(f"/teach/modules/{second}/lessons", lesson_fields())
    elif what == "renamed course":
        response = teacher.post("/teach/courses/new", {"camp": CAMP, **course_fields(slug="x")})
        assert response.status_code == 302
        before = snapshot(app, course_id)
        response = teacher.post(response.location, course_fields(slug="park-basics"))
    else:
        response = teacher.post(f"/teach/lessons/{other}", lesson_fields(title_en="Deep Dive"))
    assert response.status_code == 409, what
    assert in_language(app, language, SLUG_TAKEN) in response.get_data(as_text=True)
    assert snapshot(app, course_id) == before
    # The app still works after the rolled-back write.
    assert teacher.get(f"/teach/courses/{course_id}").status_code == 200


INVALID = [
    ("title_en", "", "This field is required."),
    ("title_zh", "   ", "This field is required."),
    ("slug", "Bad Slug!", "Use lowercase letters, digits and hyphens."),
    ("slug", "-park", "Use lowercase letters, digits and hyphens."),
    ("title_en", "Bell\x07Title", "Remove control characters."),
    ("title_zh", "Null\x00", "Remove control characters."),
    ("title_en", "x" * 201, "Field cannot be longer than 200 characters."),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("field", "value", "message"), INVALID)
def test_invalid_course_fields_are_refused(app, trainer, field, value, message, course, language):
    teacher = client_for(app, trainer.email, language)
    before = snapshot(app, course.id)
    response = teacher.post("/teach/courses/new", {"camp": CAMP, **course_fields(**{field: value})})
    assert response.status_code == 400
    if language == "en":  # the form's own messages (WTForms') are checked in English
        assert message in response.get_data(as_text=True)
    assert snapshot(app, course.id) == before
    with app.app_context():
        assert db.session.scalar(db.select(Course).filter_by(title_en="Park Basics")) is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        *INVALID,
        ("minutes", "-1", "Number must be between 0 and 600."),
        ("minutes", "1000", "Number must be between 0 and 600."),
        ("minutes", "ten", "Not a valid integer value."),
        ("kind", "exam", "Not a valid choice."),
    ],
)
def test_invalid_lesson_fields_are_refused(app, trainer, field, value, message):
    teacher = client_for(app, trainer.email)
    course_id = create_course(teacher)
    module_id = add_module(teacher, course_id)
    lesson_id = add_lesson(teacher, module_id)
    before = snapshot(app, course_id)

    added = teacher.post(
        f"/teach/modules/{module_id}/lessons", lesson_fields(**{"slug": "another", field: value})
    )
    assert added.status_code == 400
    assert message in added.get_data(as_text=True)
    edited = teacher.post(f"/teach/lessons/{lesson_id}", lesson_fields(**{field: value}))
    assert edited.status_code == 400
    assert message in edited.get_data(as_text=True)
    assert snapshot(app, course_id) == before


@pytest.mark.parametrize(("field", "value", "message"), INVALID[:5])
def test_invalid_module_and_course_edits_are_refused(app, trainer, field, value, message):
    teacher = client_for(app, trainer.email)
    course_id = create_course(teacher)
    module_id = add_module(teacher, course_id)
    before = snapshot(app, course_id)
    for url, fields in (
        (f"/teach/courses/{course_id}/modules", module_fields(slug="other")),
        (f"/teach/modules/{module_id}", module_fields()),
        (f"/teach/courses/{course_id}", course_fields()),
    ):
        response = teacher.post(url, {**fields, field: value})
        assert response.status_code == 400, url
        assert message in response.get_data(as_text=True), url
    assert snapshot(app, course_id) == before


def test_a_course_in_an_unknown_camp_is_refused(app, trainer):
    teacher = client_for(app, trainer.email)
    response = teacher.post("/teach/courses/new", {"camp": "no-such-camp", **course_fields()})
    assert response.status_code == 400
    assert "Not a valid choice." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(Course).filter_by(slug="park-basics")) is None


# -- curriculum syncs ------------------------------------------------------------------


def test_trainers_work_survives_a_curriculum_sync(app, ids, trainer, organizer):
    course_id = ids[0]
    client_for(app, organizer.email).post(
        f"/teach/courses/{course_id}/trainers", {"email": trainer.email}
    )
    teacher = client_for(app, trainer.email)
    with app.app_context():
        course = db.session.get(Course, course_id)
        fields = course_fields(
            slug=course.slug,
            title_zh=course.title_zh,
            title_en="Strategy Toolkit (park edition)",
            summary_zh=course.summary_zh,
            summary_en=course.summary_en,
            level=course.level,
        )
    assert teacher.post(f"/teach/courses/{course_id}", fields).status_code == 302
    extra_module = add_module(teacher, course_id, slug="park-extras", title_en="Park Extras")
    extra_lesson = add_lesson(teacher, extra_module, slug="park-tour", title_en="Park Tour")
    own_course = create_course(teacher)
    own_module = add_module(teacher, own_course)
    own_lesson = add_lesson(teacher, own_module)

    with app.test_request_context():
        reports = camp_service.sync()
    assert f"{fields['slug']}.title_en" in reports[CAMP].kept_local_edits
    assert reports[CAMP].archived == 0

    with app.app_context():
        assert db.session.get(Course, course_id).title_en == "Strategy Toolkit (park edition)"
        own = db.session.get(Course, own_course)
        assert own.archived_at is None and own.status == "draft"
        for model, item in (
            (Module, extra_module),
            (Lesson, extra_lesson),
            (Module, own_module),
            (Lesson, own_lesson),
        ):
            assert db.session.get(model, item).archived_at is None, (model, item)
    page = teacher.get(f"/teach/courses/{course_id}").get_data(as_text=True)
    assert "Strategy Toolkit (park edition)" in page and "Park Tour" in page
    assert teacher.post(f"/teach/courses/{own_course}/publish").status_code == 302
    learner_page = client_for(app).get(course_url(own_course_of(app, own_course)))
    assert learner_page.status_code == 200


def own_course_of(app: Flask, course_id: int) -> Course:
    with app.app_context():
        course = db.session.get(Course, course_id)
        load(course, "camp")  # read after leaving the session
        db.session.expunge_all()
        return course


def test_another_trainers_draft_answers_like_an_unknown_id(app, ids, trainer):
    """A published course is public (403: not yours); a draft is not (404, as if absent)."""
    with app.app_context():
        draft = db.session.get(Course, ids[0])
        draft.status = "draft"
        db.session.commit()
    client = client_for(app, trainer.email)
    for kind, number in zip(("courses", "modules", "lessons"), ids, strict=True):
        mine_not = client.get(f"/teach/{kind}/{number}")
        unknown = client.get(f"/teach/{kind}/2000000000")
        assert mine_not.status_code == unknown.status_code == 404, kind
