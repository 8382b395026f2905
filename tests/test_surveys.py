"""Course evaluations and live-session feedback: once per learner, aggregates only from five."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lms.extensions import db
from lms.models import Attendance, Course, LiveSession, SurveyResponse, User
from lms.services import enrollment, live, surveys
from tests.conftest import Client, course_url

GOOD = {"useful": "5", "clear": "4", "pace": "3", "recommend": "5", "comment": "案例很实用"}


def responses(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(SurveyResponse))


def enrolled_client(app, make_user, course, email: str) -> Client:
    user = make_user(email)
    with app.app_context():
        enrollment.enroll(db.session.get(User, user.id), db.session.get(Course, course.id))
    client = Client(app.test_client())
    client.login(email)
    return client


def test_an_enrolled_learner_evaluates_a_course_once(app, make_user, course):
    client = enrolled_client(app, make_user, course, "a@example.com")
    url = course_url(course) + "survey"
    assert "Evaluate this course" in client.get(course_url(course)).get_data(as_text=True)
    assert "The content helps me in my work" in client.get(url).get_data(as_text=True)
    assert client.post(url, GOOD).status_code == 302
    assert client.post(url, GOOD).status_code == 409
    assert responses(app) == 1
    assert "You have answered this survey" in client.get(url).get_data(as_text=True)


@pytest.mark.parametrize(
    "changes",
    [{"useful": ""}, {"clear": "6"}, {"pace": "0"}, {"recommend": "abc"}, {"comment": "长" * 2001}],
)
def test_invalid_answers_are_refused_and_nothing_is_written(app, make_user, course, changes):
    client = enrolled_client(app, make_user, course, "a@example.com")
    assert client.post(course_url(course) + "survey", {**GOOD, **changes}).status_code == 400
    assert responses(app) == 0


def test_only_enrolled_learners_answer(app, client, make_user, course):
    make_user("x@example.com")
    client.login("x@example.com")
    assert client.get(course_url(course) + "survey").status_code == 404
    assert client.post(course_url(course) + "survey", GOOD).status_code == 404
    assert responses(app) == 0


def test_results_are_anonymous_and_shown_from_five_answers(app, make_user, course, organizer):
    url = f"/reports/surveys/courses/{course.id}"
    editor = Client(app.test_client())
    editor.login(organizer.email)
    for n in range(4):
        answers = {**GOOD, "useful": str(n + 1), "comment": f"意见{n}"}
        enrolled_client(app, make_user, course, f"l{n}@example.com").post(
            course_url(course) + "survey", answers
        )
    page = editor.get(url).get_data(as_text=True)
    assert "from 5 answers on" in page and "意见0" not in page
    enrolled_client(app, make_user, course, "l4@example.com").post(
        course_url(course) + "survey", {**GOOD, "useful": "5", "comment": ""}
    )
    page = editor.get(url).get_data(as_text=True)
    assert "意见0" in page and "意见3" in page
    assert "<td>3.0</td>" in page  # the mean of 1, 2, 3, 4, 5
    assert "l0@example.com" not in page and ">l0<" not in page


def past_session(app, title_zh: str, title_en: str) -> int:
    """An activity day that began three hours ago; its id."""
    with app.test_request_context():
        return live.create_session(
            live.SessionValues(
                title_zh=title_zh, title_en=title_en, location="远教中心", capacity=10,
                lecturer_id=None,
            ),
            datetime.now(UTC) - timedelta(hours=3),
            live.ACTIVITY_DAY_SEGMENTS,
        ).id  # fmt: skip


def test_attendees_give_feedback_on_a_live_session(app, make_user):
    session_id = past_session(app, "活动日", "Activity day")
    came, stayed_away = make_user("came@example.com"), make_user("away@example.com")
    with app.app_context():
        db.session.add(
            Attendance(session_id=session_id, user_id=came.id, status="present", method="code")
        )
        db.session.commit()
    url = f"/live/{session_id}/survey"
    away = Client(app.test_client())
    away.login(stayed_away.email)
    assert away.get(url).status_code == 404
    attendee = Client(app.test_client())
    attendee.login(came.email)
    answers = {"worthwhile": "5", "speaker": "4", "organised": "5", "comment": ""}
    assert attendee.post(url, answers).status_code == 302
    assert attendee.post(url, answers).status_code == 409
    with app.app_context():
        assert db.session.get(LiveSession, session_id).id == session_id
    assert responses(app) == 1


def test_whose_feedback_a_session_takes(app, make_user):
    """Present and late attendees give feedback; the absent, the unknown and strangers do not."""
    session_id = past_session(app, "路演日", "Pitch day")
    people = {
        status: make_user(f"{status}@example.com") for status in ("present", "late", "absent")
    }
    stranger = make_user("stranger@example.com")
    with app.app_context():
        for status, user in people.items():
            db.session.add(
                Attendance(session_id=session_id, user_id=user.id, status=status, method="code")
            )
        db.session.commit()

        def attended(user: User) -> bool:
            found = surveys.attended_session(db.session.get(User, user.id), session_id)
            assert found is None or found.id == session_id
            return found is not None

        assert [attended(people["present"]), attended(people["late"])] == [True, True]
        assert [attended(people["absent"]), attended(stranger)] == [False, False]
        assert surveys.attended_session(db.session.get(User, stranger.id), 999999) is None
        assert surveys.find_session(session_id).title_zh == "路演日"
        assert surveys.find_session(999999) is None
