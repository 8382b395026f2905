"""The progress API: verified watch time, completion and certificates."""

import json
import time
from datetime import timedelta

import pytest
from flask import request

from lms.extensions import db
from lms.models import (
    Certificate,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Module,
    PlaybackSession,
    WatchClock,
)
from lms.services import media
from tests.conftest import CSRF, Client, course_url, video_lessons_of
from tests.test_watch_credit import fake_video

DURATION = 3.0  # the demo video


@pytest.fixture
def video_lessons(app, course, demo_video):
    """Every video lesson of the course plays the 3-second demo video."""
    with app.app_context():
        asset, _ = media.import_file(demo_video)
        lessons = video_lessons_of(course.id)
        for lesson in lessons:
            lesson.media = asset
        db.session.commit()
        return [lesson.id for lesson in lessons]


class Api:
    def __init__(self, client: Client):
        self.client = client
        page = client.get("/").get_data(as_text=True)
        self.token = CSRF.search(page).group(1) if CSRF.search(page) else client.csrf()

    def post(self, url, body=None, token=True, raw=None):
        headers = {"X-CSRFToken": self.token} if token else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return self.client.raw.post(
            url, data=data, headers=headers, content_type="application/json"
        )

    def open(self, lesson_id):
        return self.post(f"/api/lessons/{lesson_id}/playback")

    def report(self, session_id, intervals, position=None, seq=1):
        body = {
            "seq": seq,
            "position": position
            if position is not None
            else (intervals[-1][1] if intervals else 0),
            "intervals": intervals,
        }
        return self.post(f"/api/playback/{session_id}/progress", body)


@pytest.fixture
def api(client, learner, course, video_lessons):
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    return Api(client)


def age_session(app, session_id, seconds):
    """Pretend the playback session was opened ``seconds`` ago (and nothing credited since)."""
    with app.app_context():
        session = db.session.get(PlaybackSession, session_id)
        session.started_at = session.started_at - timedelta(seconds=seconds)
        clock = db.session.get(WatchClock, session.user_id)
        if clock is not None:
            clock.credited_until = clock.credited_until - timedelta(seconds=seconds)
        db.session.commit()


def opened(api, lesson_id):
    response = api.open(lesson_id)
    assert response.status_code == 201
    return response.get_json()["session_id"]


def test_opening_a_session_gives_the_resume_position(api, video_lessons):
    body = api.open(video_lessons[0]).get_json()
    assert body["position"] == 0
    assert body["duration"] == pytest.approx(DURATION, abs=0.1)
    assert body["threshold"] == 0.8  # Startup Growth's own rule
    assert body["completed"] is False


def test_real_playback_is_credited_and_completes_the_lesson(app, api, video_lessons):
    session = opened(api, video_lessons[0])
    age_session(app, session, 10)
    body = api.report(session, [[0, 2.9]]).get_json()
    assert body["credited"] == pytest.approx(2.9, abs=0.01)
    assert body["completed"] is True
    assert body["covered_fraction"] > 0.9


def test_no_credit_beyond_the_wall_clock(app, api, video_lessons):
    with app.app_context():  # a ten-minute video
        db.session.get(Lesson, video_lessons[0]).media = fake_video(600.0)
        db.session.commit()
    began = time.monotonic()
    session = opened(api, video_lessons[0])
    body = api.report(session, [[0, 600.0]]).get_json()  # "watched" ten minutes in ~0 s
    elapsed = time.monotonic() - began
    assert body["credited"] <= 2.0 * (2.0 + elapsed) + 0.01  # max rate × (Δwall + slack)
    assert body["training_seconds"] <= 2.0 + elapsed + 0.01
    assert body["completed"] is False


def test_skipping_ahead_earns_nothing_for_the_skipped_part(app, api, video_lessons):
    session = opened(api, video_lessons[0])
    age_session(app, session, 10)
    body = api.report(session, [[0, 0.5], [2.5, 3.0]], position=3.0).get_json()
    assert body["covered_seconds"] == pytest.approx(1.0, abs=0.01)
    assert body["completed"] is False


def test_replayed_and_out_of_order_reports_change_nothing(app, api, video_lessons):
    session = opened(api, video_lessons[0])
    age_session(app, session, 10)
    first = api.report(session, [[0, 1.0]], seq=2).get_json()
    replay = api.report(session, [[0, 1.0]], seq=2).get_json()
    older = api.report(session, [[0, 0.5]], position=0.5, seq=1).get_json()
    assert replay["credited"] == older["credited"] == 0
    assert replay["covered_seconds"] == older["covered_seconds"] == first["covered_seconds"]
    assert older["position"] == pytest.approx(1.0)  # an older report does not move the playhead


def test_two_tabs_at_once_earn_no_double_credit(app, api, video_lessons):
    began = time.monotonic()
    first = opened(api, video_lessons[0])
    second = opened(api, video_lessons[1])
    age_session(app, first, 2)
    with app.app_context():
        s = db.session.get(PlaybackSession, second)
        s.started_at = s.started_at - timedelta(seconds=2)
        db.session.commit()
    one = api.report(first, [[0, 2.0]]).get_json()
    two = api.report(second, [[0, 2.0]]).get_json()
    elapsed = time.monotonic() - began  # real time since the first tab opened, a fraction
    assert one["credited"] == pytest.approx(2.0, abs=0.05)
    # Both tabs claimed the same 2 s: together they earn the 2 s once plus at most the real
    # time that passed, not 4 s.
    assert two["credited"] <= elapsed + 0.01
    assert one["credited"] + two["credited"] <= 2.0 + elapsed + 0.01


def test_resume_position_is_kept_across_devices(app, api, client, learner, video_lessons):
    session = opened(api, video_lessons[0])
    age_session(app, session, 5)
    api.report(session, [[0, 1.7]], position=1.7)
    other_device = Client(app.test_client())
    other_device.login(learner.email)
    body = Api(other_device).open(video_lessons[0]).get_json()
    assert body["position"] == pytest.approx(1.7)


@pytest.mark.parametrize(
    "body",
    [
        {"seq": 1, "position": -1, "intervals": []},
        {"seq": 1, "position": 1e9, "intervals": []},
        {"seq": 1, "position": 1, "intervals": [[2, 1]]},
        {"seq": 1, "position": 1, "intervals": [[-1, 1]]},
        {"seq": 1, "position": 1, "intervals": [[0, 99]]},
        {"seq": 1, "position": 1, "intervals": [[0, "1"]]},
        {"seq": 1, "position": 1, "intervals": [[0]]},
        {"seq": 1, "position": "1", "intervals": []},
        {"seq": True, "position": 1, "intervals": []},
        {"seq": -1, "position": 1, "intervals": []},
        {"seq": 1, "position": 1, "intervals": [], "completed": True},
        {"seq": 1, "position": 1},
        {"seq": 1, "position": 1, "intervals": [[0, 1]] * 501},
        [],
        "nope",
    ],
)
def test_invalid_reports_are_400_and_write_nothing(app, api, video_lessons, body):
    session = opened(api, video_lessons[0])
    age_session(app, session, 10)
    response = api.post(f"/api/playback/{session}/progress", body)
    assert response.status_code == 400
    assert response.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LessonProgress.id))) == 0


@pytest.mark.parametrize("raw", ['{"seq": 1, "position": NaN, "intervals": []}', "{", ""])
def test_non_json_numbers_and_broken_json_are_400(app, api, video_lessons, raw):
    session = opened(api, video_lessons[0])
    response = api.post(f"/api/playback/{session}/progress", raw=raw)
    assert response.status_code == 400


def test_reports_need_the_csrf_header(app, api, video_lessons):
    session = opened(api, video_lessons[0])
    response = api.post(
        f"/api/playback/{session}/progress", {"seq": 1, "position": 0, "intervals": []}, token=False
    )
    assert response.status_code == 400
    assert api.post(f"/api/lessons/{video_lessons[0]}/playback", token=False).status_code == 400


def test_oversized_bodies_are_413(app, api, video_lessons):
    session = opened(api, video_lessons[0])
    response = api.post(f"/api/playback/{session}/progress", raw="[" + " " * 70_000 + "]")
    assert response.status_code == 413


def test_another_learners_session_is_not_found(app, api, video_lessons, other_learner, course):
    session = opened(api, video_lessons[0])
    thief = Client(app.test_client())
    thief.login(other_learner.email)
    thief.post(course_url(course) + "enroll")
    stolen = Api(thief).report(session, [[0, 1]])
    missing = Api(thief).report("0" * 32, [[0, 1]])
    assert stolen.status_code == missing.status_code == 404
    assert stolen.get_json() == missing.get_json()


def test_access_rules_for_the_api(app, client, learner, other_learner, course, video_lessons):
    anonymous = Api(client)
    assert anonymous.open(video_lessons[0]).status_code == 401
    client.login(other_learner.email)
    api = Api(client)
    assert api.open(video_lessons[0]).status_code == 403  # not enrolled
    assert api.open(999999).status_code == 404
    with app.app_context():
        reading = db.session.scalar(
            db.select(Lesson.id)
            .join(Module)
            .where(Module.course_id == course.id, Lesson.kind == "reading")
        )
    assert api.open(reading).status_code == 404  # not a video lesson
    with app.app_context():
        db.session.get(Course, course.id).status = "draft"
        db.session.commit()
    assert api.open(video_lessons[0]).status_code == 404


def test_completing_every_required_lesson_completes_the_course(
    app, api, client, learner, course, video_lessons
):
    with app.app_context():
        lessons = db.session.scalars(
            db.select(Lesson).join(Module).where(Module.course_id == course.id)
        ).all()
        readings = [lesson.slug for lesson in lessons if lesson.kind == "reading"]
        others = [lesson.id for lesson in lessons if lesson.kind == "live"]
    for slug in readings:
        client.post(course_url(course) + f"lessons/{slug}/read")
    with app.app_context():  # live lessons are attended, not watched: mark them done here
        for lesson_id in others:
            db.session.add(
                LessonProgress(user_id=learner.id, lesson_id=lesson_id, completed_at=db.func.now())
            )
        db.session.commit()
    last = None
    for lesson_id in video_lessons:
        session = opened(api, lesson_id)
        age_session(app, session, 10)
        last = api.report(session, [[0, 3.0]]).get_json()
    assert last["course_completed"] is True
    with app.app_context():
        enrollment = db.session.scalar(db.select(Enrollment))
        certificate = db.session.scalar(db.select(Certificate))
        assert enrollment.status == "completed" and enrollment.completed_at is not None
        code = certificate.code
    page = client.get(course_url(course)).get_data(as_text=True)
    assert f"/certificates/{code}" in page
    verify = Client(app.test_client()).get(f"/certificates/{code}")
    assert verify.status_code == 200
    assert learner.name in verify.get_data(as_text=True)
    assert Client(app.test_client()).get("/certificates/AAAA-BBBB-CCCC").status_code == 404


def test_lesson_and_course_pages_show_watched_percentages(app, api, client, course, video_lessons):
    session = opened(api, video_lessons[0])
    age_session(app, session, 10)
    body = api.report(session, [[0, 1.5]]).get_json()
    expected = int(100 * body["covered_seconds"] / body["duration"])
    page = client.get(course_url(course)).get_data(as_text=True)
    assert f'<span class="lesson-percent" title="Watched">{expected}%</span>' in page


def test_openapi_document_is_valid(client):
    from openapi_spec_validator import validate

    document = client.get("/api/openapi.json").get_json()
    validate(document)
    assert "/api/playback/{session_id}/progress" in document["paths"]


def test_many_tiny_intervals_cover_only_what_they_cover(app, api, video_lessons):
    session = opened(api, video_lessons[0])
    age_session(app, session, 10)
    comb = [[i * 0.1, i * 0.1 + 0.01] for i in range(30)]  # 1% of each tenth of a second
    body = api.report(session, comb, position=2.9).get_json()
    assert body["covered_seconds"] == pytest.approx(0.3, abs=0.01)
    assert body["completed"] is False


def test_verified_seconds_go_to_the_training_ledger_once(app, api, video_lessons):
    from lms.models import TrainingTime

    session = opened(api, video_lessons[0])
    age_session(app, session, 10)
    body = {"seq": 1, "position": 1.0, "intervals": [[0, 1.0]], "played_seconds": 2.5}
    for _ in range(3):  # the same report, retried
        answer = api.post(f"/api/playback/{session}/progress", body).get_json()
    assert (answer["session_training_seconds"], answer["recorded_seconds"]) == (2.5, 2)
    with app.app_context():
        entries = db.session.scalars(db.select(TrainingTime)).all()
        assert [(e.source, e.seconds, e.source_key) for e in entries] == [
            ("video", 2, f"video:{session}:1")
        ]


@pytest.mark.parametrize(
    ("content_type", "body", "form", "left"),
    [
        ("application/json", b'{"seq": 1}', {}, b'{"seq": 1}'),
        ("application/json; charset=utf-8", b"[]", {}, b"[]"),
        ("text/plain", b"a=1", {}, b"a=1"),
        ("application/x-www-form-urlencoded", b"a=1&b=2", {"a": "1", "b": "2"}, b""),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="a"'
         b"\r\n\r\n1\r\n--x--\r\n", {"a": "1"}, b""),
    ],
)  # fmt: skip
def test_only_form_bodies_are_parsed_as_forms(app, content_type, body, form, left):
    """``request.form`` of a JSON body is empty without running the form parser (Flask-WTF
    looks there first for every API call's token); its body is still there to read."""
    with app.test_request_context("/", method="POST", data=body, content_type=content_type):
        assert request.want_form_data_parsed is bool(form)
        assert request.form.to_dict() == form
        assert request.get_data() == left
