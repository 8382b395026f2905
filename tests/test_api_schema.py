"""The JSON API keeps to its own OpenAPI document, checked by Schemathesis.

The schema is loaded from the app in-process (GET /api/openapi.json through WSGI) and every
operation in it is called with generated requests: valid ones, and invalid ones (negative data:
wrong types, missing headers and fields, broken bodies, unexpected methods). Each response goes
through all of Schemathesis' checks, among them: no 5xx (not_a_server_error), only documented
status codes (status_code_conformance), content types and bodies as documented
(content_type_conformance, response_schema_conformance, response_headers_conformance), invalid
requests refused with a 4xx (negative_data_rejection, missing_required_header), valid ones
accepted (positive_data_acceptance), 405 and Allow for other methods (unsupported_method), and
the session cookie really required (ignored_auth).

The learner is logged in and enrolled, with real rows behind the generated ids: video lessons
with a ready video, one whose video is still processing, a reading lesson, a lesson of a course
they are not enrolled in, open playback sessions (theirs, and another learner's). Generated ids
are swapped for those most of the time, so requests reach the code behind the 404s.

The run is bounded and reproducible: MAX_EXAMPLES per operation, no deadline, derandomized.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from lms.extensions import db
from lms.models import Course, Lesson, MediaAsset, Module, PlaybackSession
from tests.conftest import Client, course_url
from tests.test_progress_api import Api, api, video_lessons  # noqa: F401 - fixtures

MAX_EXAMPLES = 100  # per operation, for the fuzzing phase; the coverage phase adds its own cases

# What the run must reach, per operation: real code paths, not only 404s.
EXPECTED_STATUSES = {
    "POST /api/lessons/{lesson_id}/playback": {201, 400, 403, 404, 409},
    "GET /api/lessons/{lesson_id}/progress": {200, 403, 404, 409},
    "POST /api/playback/{session_id}/progress": {200, 400, 404, 409, 415},
}
# Near misses of a session id, for invalid cases (Schemathesis puts no NUL byte in a path:
# test_what_is_not_a_session_id_is_not_found does).
NOT_SESSION_IDS = ["A" * 32, "é" * 32, "0" * 33, "0" * 31]


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """Schemathesis' from_fixture() reads and renames ``Node._nodeid``, which pytest 9.2 no
    longer has (the id is structured now); the string id serves its reporting."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@dataclass
class World:
    cookie_name: str
    cookie: str  # the learner's logged-in session
    token: str  # their CSRF token
    lessons: list[int]
    sessions: list[str]  # the first one is the learner's, on a ready video, an hour old
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))


@pytest.fixture
def world(app, learner, other_learner, course, video_lessons):  # noqa: F811 - the fixture
    client = Client(app.test_client())
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    learner_api = Api(client)
    waiting = video_lessons[-1]
    sessions = [
        learner_api.open(lesson_id).get_json()["session_id"]
        for lesson_id in (video_lessons[0], video_lessons[1], waiting)
    ]
    other = Client(app.test_client())
    other.login(other_learner.email)
    other.post(course_url(course) + "enroll")
    sessions.append(Api(other).open(video_lessons[0]).get_json()["session_id"])
    with app.app_context():
        for session_id in sessions:  # opened an hour ago: reports earn credit
            db.session.get(PlaybackSession, session_id).started_at -= timedelta(hours=1)
        db.session.get(Lesson, waiting).media = MediaAsset(
            storage_key="processing.webm",
            sha256="0" * 64,
            original_name="processing.webm",
            mime_type="video/webm",
            size_bytes=1,
            status="processing",
        )
        reading = db.session.scalar(
            db.select(Lesson.id)
            .join(Module)
            .where(Module.course_id == course.id, Lesson.kind == "reading")
        )
        not_enrolled = db.session.scalar(
            db.select(Lesson.id)
            .join(Module)
            .join(Course)
            .where(Course.id != course.id, Course.status == "published", Lesson.kind == "video")
        )
        db.session.commit()
    sessions.append(learner_api.open(video_lessons[0]).get_json()["session_id"])  # a fresh one
    name = app.config["SESSION_COOKIE_NAME"]
    world = World(
        cookie_name=name,
        cookie=client.raw.get_cookie(name).value,
        token=learner_api.token,
        lessons=[*video_lessons, reading, not_enrolled],
        sessions=sessions,
    )
    yield world
    for operation, expected in EXPECTED_STATUSES.items():
        reached = set(world.statuses[operation])
        assert expected <= reached, f"{operation} never answered {expected - reached}"


@pytest.fixture
def api_schema(app, world: World):
    config = schemathesis.Config.from_dict(
        {
            # The learner's session cookie, for the document's "session" security scheme: sent
            # unless a case leaves it out on purpose, and left out to check it is required.
            "auth": {"openapi": {"session": {"api_key": world.cookie}}},
            # Generated from the document and the seed alone, not from earlier answers (their
            # session ids are random): the same cases at every run.
            "phases": {
                "coverage": {"extra-data-sources": {"responses": False}},
                "fuzzing": {"extra-data-sources": {"responses": False}},
            },
            "operations": [
                {
                    # A report the document accepts can still be refused: its numbers are
                    # checked against the video's duration, which the document cannot know.
                    "include-path": "/api/playback/{session_id}/progress",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "5xx"]
                        }
                    },
                }
            ],
        }
    )
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


def _real_ids(case, world: World) -> None:
    """Send four valid cases out of five to the world's rows, and one invalid case out of three
    to a near miss of a session id, picked by the case's content: evenly spread over the rows,
    and the same case always goes to the same row (so Hypothesis can replay and shrink it)."""
    body = case.body if isinstance(case.body, dict | list | str | int | float) else None
    pick = zlib.crc32(repr((case.method, case.path_parameters, body)).encode())
    negative = case.meta.is_negative_at("path")
    for name, rows in (("lesson_id", world.lessons), ("session_id", world.sessions)):
        if name not in case.path_parameters:
            continue
        if not negative and name == "session_id" and case.meta.phase.name.value == "coverage":
            case.path_parameters[name] = rows[0]  # cases about the body: to a session that reads it
        elif not negative and pick % 5:
            case.path_parameters[name] = rows[pick % len(rows)]
        elif negative and name == "session_id" and not pick % 3:
            case.path_parameters[name] = NOT_SESSION_IDS[pick % len(NOT_SESSION_IDS)]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_openapi_document(case, world: World):
    if "X-CSRFToken" in case.headers and not case.meta.is_negative_at("header"):
        case.headers["X-CSRFToken"] = world.token
    _real_ids(case, world)
    response = case.call_and_validate()
    world.statuses[case.operation.label][response.status_code] += 1


# -- what the run found, pinned ---------------------------------------------------------------


@pytest.mark.parametrize("session_id", ["%00" * 32, "0" * 31 + "%00", "A" * 32, "%C3%A9" * 32])
def test_what_is_not_a_session_id_is_not_found(api, session_id):  # noqa: F811 - the fixture
    response = api.post(f"/api/playback/{session_id}/progress", {"seq": 1, "position": 0})
    assert response.status_code == 404
    assert response.is_json


def test_a_body_that_is_not_json_is_415(api, video_lessons):  # noqa: F811 - fixtures
    session_id = api.open(video_lessons[0]).get_json()["session_id"]
    response = api.client.raw.post(
        f"/api/playback/{session_id}/progress",
        data="seq=1&position=0",
        headers={"X-CSRFToken": api.token},
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert response.get_json()["error"]


def test_anonymous_calls_are_401_even_without_a_csrf_token(app, video_lessons):  # noqa: F811
    client = app.test_client()
    assert client.post(f"/api/lessons/{video_lessons[0]}/playback").status_code == 401
    assert client.post("/api/playback/" + "0" * 32 + "/progress", json={}).status_code == 401


def test_other_methods_are_405_with_allow(api, client, video_lessons):  # noqa: F811 - fixtures
    response = api.client.raw.put(f"/api/lessons/{video_lessons[0]}/playback")
    assert response.status_code == 405
    assert response.is_json
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    page = client.raw.post("/certificates/AAAA-BBBB-CCCC")  # an HTML page
    assert page.status_code == 405
    assert "GET" in page.headers["Allow"]
