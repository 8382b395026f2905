"""The fast paths answer exactly what the general ones do (issue 20: no change of output).

nginx's authorize (``lms.services.media_access``): one pre-built statement, compared with the
general rule (``catalog.lesson_access`` and ``catalog.can_edit`` through the ORM) for every
kind of visitor and lesson.
"""

from __future__ import annotations

import secrets

import pytest
from flask import Flask

from lms.extensions import db
from lms.models import Camp, Course, CourseTrainer, Enrollment, Lesson, MediaAsset, Module, User
from lms.services import catalog
from tests.conftest import Client, video_lessons_of


def ready_video() -> MediaAsset:
    key = secrets.token_hex(16)
    rendition = {"height": 360, "file": "360p.mp4", "playlist": "360p/index.m3u8"}
    return MediaAsset(
        storage_key=f"{key}.mp4", sha256=secrets.token_hex(32), original_name="a.mp4",
        mime_type="video/mp4", size_bytes=1, duration_seconds=60.0, status="ready",
        stream_dir=key, renditions=[rendition],
    )  # fmt: skip


@pytest.fixture
def site(make_app, make_user):
    """Behind nginx: lessons in every state, people in every role, each logged in."""
    app = make_app(MEDIA_ACCEL_REDIRECT="/protected-media/")
    people = {
        name: make_user(f"{name}@example.com", role=role)
        for name, role in (
            ("enrolled", "learner"),
            ("stranger", "learner"),
            ("owner", "trainer"),
            ("co_trainer", "trainer"),
            ("other_trainer", "trainer"),
            ("organizer", "organizer"),
        )
    }
    with app.app_context():
        course = db.session.scalar(db.select(Course).filter_by(slug="strategy-toolkit"))
        lessons = video_lessons_of(course.id)[:3]
        ready, pending, none = lessons
        ready.media, pending.media = ready_video(), ready_video()
        pending.media.status = "processing"
        course.owner_id = people["owner"].id
        draft = Course(
            camp=course.camp, slug="draft-course", title_zh="草稿", title_en="Draft", status="draft"
        )
        module = Module(course=draft, slug="m", title_zh="单元", title_en="Unit")
        in_draft = Lesson(module=module, slug="l", title_zh="课", title_en="Lesson")
        db.session.add_all([draft, module, in_draft])
        in_draft.media = ready_video()
        archived = Lesson(module=ready.module, slug="gone", title_zh="旧", title_en="Old")
        archived.media = ready_video()
        archived.archived_at = db.func.now()
        db.session.add(archived)
        db.session.flush()
        db.session.add_all(
            [
                Enrollment(user_id=people["enrolled"].id, course_id=course.id),
                Enrollment(user_id=people["enrolled"].id, course_id=draft.id),
                CourseTrainer(course_id=course.id, user_id=people["co_trainer"].id),
                CourseTrainer(course_id=draft.id, user_id=people["co_trainer"].id),
            ]
        )
        db.session.commit()
        lesson_ids = [ready.id, pending.id, none.id, in_draft.id, archived.id, 999_999]
    clients = {}
    for name, user in people.items():
        clients[name] = Client(app.test_client())
        clients[name].login(user.email)
    clients["anonymous"] = Client(app.test_client())
    return app, people, clients, lesson_ids


def general_decision(app: Flask, user_id: int | None, lesson_id: int) -> tuple[int, str | None]:
    """What the general path decides: the ORM's lesson access and the editors' rule."""
    if user_id is None:
        return 401, None
    with app.test_request_context():
        user = db.session.get(User, user_id)
        access = catalog.lesson_access(lesson_id, user)
        asset = access.lesson.media if access is not None else None
        allowed = access is not None and (access.enrolled or catalog.can_edit(user, access.course))
        if not allowed or asset is None or asset.status != "ready":
            return 403, None
        return 200, f"streams/{asset.stream_dir}/{asset.renditions[-1]['file']}"


def test_authorize_decides_as_the_general_rule_for_everyone(site):
    app, people, clients, lesson_ids = site
    seen = set()
    for name, client in clients.items():
        user = people.get(name)
        for lesson_id in lesson_ids:
            answer = client.get(f"/media/lessons/{lesson_id}/authorize")
            expected = general_decision(app, user.id if user else None, lesson_id)
            assert (answer.status_code, answer.headers.get("X-Media-File")) == expected, (
                name,
                lesson_id,
            )
            seen.add(answer.status_code)
    assert seen == {200, 401, 403}


def test_authorize_follows_a_disabled_camp_and_the_end_of_a_login_at_once(site):
    app, _people, clients, lesson_ids = site
    url = f"/media/lessons/{lesson_ids[0]}/authorize"
    viewer = clients["enrolled"]
    copy = Client(make_copy(app, viewer))
    assert viewer.get(url).status_code == 200 and copy.get(url).status_code == 200
    with app.app_context():
        db.session.scalar(db.select(Camp).filter_by(slug="startup-growth")).enabled = False
        db.session.commit()
    assert viewer.get(url).status_code == 403
    with app.app_context():
        db.session.scalar(db.select(Camp).filter_by(slug="startup-growth")).enabled = True
        db.session.commit()
    viewer.logout()
    assert copy.get(url).status_code == 401


def make_copy(app: Flask, client: Client):
    """Another browser holding a copy of ``client``'s session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.raw.get_cookie("session").value)
    return other


def test_authorize_writes_no_cookie(site):
    _app, _people, clients, lesson_ids = site
    answer = clients["enrolled"].get(f"/media/lessons/{lesson_ids[0]}/authorize")
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
