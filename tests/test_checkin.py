"""Check-in codes, attendance, substitutes, corrections and the hours they credit."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from lms.extensions import db
from lms.models import (
    Attendance,
    AttendanceCorrection,
    LiveSession,
    SegmentAttendance,
    TrainingTime,
    User,
)
from lms.services import checkin, live, live_attendance


def make_session(app, starts_in=timedelta(minutes=5), plan=None, capacity=10, lecturer_id=None):
    with app.test_request_context():
        session = live.create_session(
            live.SessionValues(
                title_zh="活动日", title_en="Activity day", location="centre",
                capacity=capacity, lecturer_id=lecturer_id,
            ),
            datetime.now(UTC) + starts_in,
            plan or live.ACTIVITY_DAY_SEGMENTS,
        )  # fmt: skip
        return session.id


def register(app, user_id, session_id):
    with app.test_request_context():
        live.register(db.session.get(User, user_id), db.session.get(LiveSession, session_id))


def code(app, session_id, now=None):
    with app.test_request_context():
        return checkin.code_for(db.session.get(LiveSession, session_id), now)


@pytest.fixture
def open_session(app, learner):
    session_id = make_session(app)
    register(app, learner.id, session_id)
    return session_id


def post_code(client, session_id, value, substitute=0):
    return client.post(
        f"/live/{session_id}/checkin", {"code": value, "substitute_for": str(substitute)}
    )


def end_of(app, session_id, after=timedelta(minutes=1)):
    """Run the crediting task as it would run just after the session ends."""
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        moment = session.ends_at.replace(tzinfo=UTC) + after
        return checkin.credit_ended_segments(moment)


def ledger(app, user_id):
    with app.app_context():
        return db.session.scalars(
            db.select(TrainingTime.seconds).filter_by(user_id=user_id).order_by(TrainingTime.id)
        ).all()


def test_registered_learner_checks_in_with_the_current_code(app, client, learner, open_session):
    client.login(learner.email)
    response = post_code(client, open_session, code(app, open_session))
    assert response.status_code == 302
    with app.app_context():
        attendance = db.session.scalars(db.select(Attendance)).one()
        assert (attendance.user_id, attendance.status, attendance.method) == (
            learner.id,
            "present",
            "code",
        )
    assert ledger(app, learner.id) == []  # nothing before the segments end
    end_of(app, open_session)
    # A check-in is for the current segment (here the open class, before the start): the
    # salon and the discussion are attended separately, each with its own check-in.
    assert ledger(app, learner.id) == [60 * 60]


def test_a_second_check_in_changes_nothing(app, client, learner, open_session):
    client.login(learner.email)
    post_code(client, open_session, code(app, open_session))
    again = post_code(client, open_session, code(app, open_session))
    assert again.status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Attendance.id))) == 1
        assert db.session.scalar(db.select(db.func.count(SegmentAttendance.id))) == 1
    end_of(app, open_session)
    assert ledger(app, learner.id) == [60 * 60]


def test_an_expired_code_is_refused(app, client, learner, open_session):
    client.login(learner.email)
    old = code(app, open_session, datetime.now(UTC) - timedelta(minutes=2))
    response = post_code(client, open_session, old)
    assert response.status_code == 400
    assert "Wrong or expired code" in response.get_data(as_text=True)


def test_the_code_of_another_session_is_refused(app, client, learner, open_session):
    other = make_session(app)
    client.login(learner.email)
    assert post_code(client, open_session, code(app, other)).status_code == 400


def test_an_unregistered_learner_is_refused(app, client, other_learner, open_session):
    client.login(other_learner.email)
    response = post_code(client, open_session, code(app, open_session))
    assert response.status_code == 400
    assert "not registered" in response.get_data(as_text=True)


def test_guessing_is_rate_limited(app, client, learner, open_session):
    client.login(learner.email)
    answers = [post_code(client, open_session, "000000").status_code for _ in range(6)]
    assert answers[:5] == [400] * 5 and answers[5] == 429
    assert post_code(client, open_session, code(app, open_session)).status_code == 429


def test_check_in_closes_after_the_session(app, client, learner):
    session_id = make_session(app, starts_in=timedelta(hours=-5))
    client.login(learner.email)
    assert post_code(client, session_id, code(app, session_id)).status_code == 400


def test_arriving_late_is_recorded_and_credits_the_rest(app, client, learner):
    session_id = make_session(app, starts_in=timedelta(minutes=-85))  # the salon began at 70
    register_at = datetime.now(UTC)
    with app.test_request_context():
        db.session.add(
            live.Registration(
                session_id=session_id,
                user_id=learner.id,
                status="registered",
                created_at=register_at,
            )
        )
        db.session.commit()
    client.login(learner.email)
    post_code(client, session_id, code(app, session_id))
    with app.app_context():
        attendance = db.session.scalars(db.select(Attendance)).one()
        assert attendance.status == "late"
        assert live.aware(attendance.arrived_at) == live.aware(attendance.checked_in_at)
    end_of(app, session_id)
    credited = ledger(app, learner.id)[0]
    assert 44 * 60 < credited <= 45 * 60  # the rest of the salon only: not the open class,
    # nor the discussion, for which the learner did not check in


def test_coming_on_time_for_the_salon_only_is_present_and_credits_its_hour(app, client, learner):
    session_id = make_session(app, starts_in=timedelta(minutes=-75))  # the salon began at 70
    register(app, learner.id, session_id)
    client.login(learner.email)
    assert post_code(client, session_id, code(app, session_id)).status_code == 302
    with app.app_context():
        attendance = db.session.scalars(db.select(Attendance)).one()
        assert (attendance.status, attendance.arrived_at) == ("present", None)
    end_of(app, session_id)
    assert ledger(app, learner.id) == [60 * 60]


def test_a_colleague_may_substitute(app, client, make_user):
    session_id = make_session(app)
    absent = make_user("absent@example.com", organization="Acme")
    substitute = make_user("sub@example.com", organization="Acme")
    register(app, absent.id, session_id)
    client.login(substitute.email)
    response = post_code(client, session_id, code(app, session_id), substitute=absent.id)
    assert response.status_code == 302
    with app.app_context():
        rows = db.session.scalars(db.select(Attendance).order_by(Attendance.id)).all()
        assert [(row.user_id, row.substitute_for_id, row.status) for row in rows] == [
            (substitute.id, absent.id, "present"),
            (absent.id, None, "replaced"),
        ]
    end_of(app, session_id)
    assert ledger(app, substitute.id) == [60 * 60] and ledger(app, absent.id) == []
    client.logout()
    client.login(absent.email)  # the holder comes after all: the seat is taken
    assert post_code(client, session_id, code(app, session_id)).status_code == 302
    page = client.get(f"/live/{session_id}/checkin").get_data(as_text=True)
    assert "Your attendance: replaced." in page and 'name="code"' not in page
    with app.test_request_context():
        session = db.session.get(LiveSession, session_id)
        with pytest.raises(checkin.SeatConflict):
            checkin.check_in(db.session.get(User, absent.id), session, checkin.code_for(session))
    end_of(app, session_id, after=timedelta(hours=1))
    assert ledger(app, absent.id) == []


@pytest.mark.parametrize("case", ["other_org", "no_org", "not_registered", "twice"])
def test_substitute_rules(app, client, make_user, case):
    session_id = make_session(app)
    absent = make_user("absent@example.com", organization="Acme")
    if case != "not_registered":
        register(app, absent.id, session_id)
    organization = {"other_org": "Globex", "no_org": None}.get(case, "Acme")
    substitute = make_user("sub@example.com", organization=organization)
    if case == "twice":
        first = make_user("first@example.com", organization="Acme")
        other = type(client)(app.test_client())
        other.login(first.email)
        assert (
            post_code(other, session_id, code(app, session_id), substitute=absent.id).status_code
            == 302
        )
    client.login(substitute.email)
    response = post_code(client, session_id, code(app, session_id), substitute=absent.id)
    assert response.status_code == 400
    with app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.count(Attendance.id)).filter_by(user_id=substitute.id)
            )
            == 0
        )


def test_trainer_corrections_are_kept_and_adjust_the_hours(
    app, client, learner, organizer, open_session
):
    learner_client = type(client)(app.test_client())
    learner_client.login(learner.email)
    post_code(learner_client, open_session, code(app, open_session))
    end_of(app, open_session)
    client.login(organizer.email)
    response = client.post(
        f"/live/{open_session}/attendance",
        {"learner": learner.id, "status": "absent", "reason": "left at once"},
    )
    assert response.status_code == 302
    client.post(
        f"/live/{open_session}/attendance",
        {"learner": learner.id, "status": "excused", "reason": "ill"},
    )
    assert ledger(app, learner.id) == [60 * 60, -60 * 60]  # excused is worth nothing too
    with app.app_context():
        corrections = db.session.scalars(
            db.select(AttendanceCorrection).order_by(AttendanceCorrection.id)
        ).all()
        assert [(c.old_status, c.new_status, c.by_id) for c in corrections] == [
            ("present", "absent", organizer.id),
            ("absent", "excused", organizer.id),
        ]
    page = client.get(f"/live/{open_session}/roster").get_data(as_text=True)
    assert "left at once" in page and "excused" in page


def test_corrections_credit_only_learners_on_the_roster(
    app, client, learner, other_learner, organizer, open_session
):
    client.login(organizer.email)
    for someone in (other_learner.id, organizer.id):  # not registered; the trainer themself
        response = client.post(
            f"/live/{open_session}/attendance",
            {"learner": someone, "status": "present", "reason": "trust me"},
        )
        assert response.status_code == 400
        assert ledger(app, someone) == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AttendanceCorrection.id))) == 0


def test_ledger_writes_are_idempotent(app, learner, open_session):
    with app.test_request_context():
        session = db.session.get(LiveSession, open_session)
        result = checkin.check_in(
            db.session.get(User, learner.id), session, checkin.code_for(session)
        )
        assert result.created
    assert end_of(app, open_session) == 60 * 60
    for _ in range(3):  # a second run, or a late one, adds nothing
        assert end_of(app, open_session, after=timedelta(hours=2)) == 0
    with app.app_context():
        session = db.session.get(LiveSession, open_session)
        row = db.session.scalars(db.select(Attendance)).one()
        from lms.services import hours

        for _ in range(3):  # a retried write under the same key adds nothing
            key = f"live:{open_session}:{learner.id}:segment:{session.segments[0].id}"
            hours.record_attendance(session, row, key, source="live")
        db.session.commit()
    assert ledger(app, learner.id) == [60 * 60]


@pytest.mark.parametrize("path", ["code", "code.json", "code.svg", "roster"])
def test_trainer_pages_by_role(
    app, client, learner, trainer, organizer, make_user, open_session, path
):
    url = f"/live/{open_session}/{path}"
    assert client.get(url).status_code == 302  # anonymous: log in
    client.login(learner.email)
    assert client.get(url).status_code == 403
    client.logout()
    client.login(trainer.email)  # a trainer who does not run this session
    assert client.get(url).status_code == 403
    client.logout()
    client.login(organizer.email)
    assert client.get(url).status_code == 200
    lecturer = make_user("lecturer@example.com", role="trainer")
    session_id = make_session(app, lecturer_id=lecturer.id)
    client.logout()
    client.login(lecturer.email)
    assert client.get(f"/live/{session_id}/{path}").status_code == 200


def test_code_json_gives_the_rotating_code(app, client, organizer, open_session):
    client.login(organizer.email)
    body = client.get(f"/live/{open_session}/code.json").get_json()
    assert body["code"] == code(app, open_session) or len(body["code"]) == 6
    assert 0 < body["seconds_left"] <= 30 and body["open"] is True
    svg = client.get(f"/live/{open_session}/code.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert b'xmlns="http://www.w3.org/2000/svg"' in svg.data  # valid as an image on its own


def test_registration_pages(app, client, learner, open_session):
    assert client.post(f"/live/{open_session}/register").status_code == 302  # to login
    client.login(learner.email)
    page = client.get(f"/live/{open_session}").get_data(as_text=True)
    assert "You have a seat" in page
    assert client.post(f"/live/{open_session}/cancel-registration").status_code == 302
    assert "You have a seat" not in client.get(f"/live/{open_session}").get_data(as_text=True)
    assert client.post(f"/live/{open_session}/register", csrf=False).status_code == 400
    assert client.get("/live/999999").status_code == 404


def test_trainers_create_an_activity_day_series(app, client, organizer, learner):
    client.login(learner.email)
    assert client.get("/live/new").status_code == 403
    client.logout()
    client.login(organizer.email)
    form = client.get("/live/new").get_data(as_text=True)
    assert 'value="monthly" selected' in form or 'selected value="monthly"' in form
    data = {
        "title_zh": "园区党员固定活动日", "title_en": "Park activity day", "camp": "",
        "plan": "activity_day", "minutes": "90", "date": "2031-01-25", "start": "13:30",
        "timezone": "Asia/Shanghai", "frequency": "monthly", "monthday": "25",
        "location": "Remote-education centre", "capacity": "80", "lecturer": "0",
        "delivery": "lecture", "action": "save",
    }  # fmt: skip
    preview = client.post("/live/new", data)  # saved only once the dates were shown
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "FREQ=MONTHLY;BYMONTHDAY=25" in page and "2031-02-25 13:30" in page
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LiveSession.id))) == 0
    response = client.post("/live/new", {**data, "previewed": "FREQ=MONTHLY;BYMONTHDAY=25"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LiveSession.id))) >= 12


@pytest.mark.parametrize(
    "change",
    [
        {"repeat": "FREQ=SECONDLY"},
        {"capacity": "0"},
        {"date": "not a date"},
        {"title_en": ""},
        {"timezone": "Mars/Base"},
        # the last half hour of datetime's range, eight hours behind UTC: no overflow
        {"date": "9999-12-31", "start": "23:30", "timezone": "America/Los_Angeles"},
        {"date": "9999-12-31", "start": "23:30", "repeat": "FREQ=DAILY"},
        {"date": "0001-01-01", "start": "00:00", "timezone": "Asia/Tokyo"},
    ],
)
def test_bad_session_forms_are_400_and_write_nothing(app, client, organizer, change):
    client.login(organizer.email)
    data = {
        "title_zh": "讲座", "title_en": "Lecture", "camp": "", "plan": "lecture", "minutes": "90",
        "date": "2031-02-01", "start": "09:00", "timezone": "Asia/Shanghai", "repeat": "",
        "location": "centre", "capacity": "20", "lecturer": "0", "delivery": "lecture",
    }  # fmt: skip
    data.update(change)
    assert client.post("/live/new", data).status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LiveSession.id))) == 0


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1969-12-31"])
def test_moving_a_session_to_an_edge_date_is_400(app, client, organizer, day):
    session_id = make_session(app)
    client.login(organizer.email)
    response = client.post(f"/live/{session_id}/manage", {"date": day, "start": "23:30"})
    assert response.status_code == 400


RUNNER_ONLY = [
    ("get", "/live/{id}/code"),
    ("get", "/live/{id}/code.json"),
    ("get", "/live/{id}/code.svg"),
    ("get", "/live/{id}/roster"),
    ("post", "/live/{id}/attendance"),
    ("get", "/live/{id}/manage"),
    ("post", "/live/{id}/manage"),
    ("post", "/live/{id}/cancel"),
    ("post", "/live/{id}/reinstate"),
    ("post", "/live/{id}/attendance/all-present"),
    ("post", "/live/{id}/end-series"),
    ("get", "/live/{id}/roster.csv"),
    ("get", "/live/{id}/sign-in-sheet"),
]
EVERYONE = [("get", "/live/"), ("get", "/live/calendar"), ("get", "/live/{id}")]
MEMBERS = [
    ("post", "/live/{id}/register"),
    ("post", "/live/{id}/cancel-registration"),
    ("get", "/live/{id}/checkin"),
    ("post", "/live/{id}/checkin"),
    ("post", "/live/{id}/checkout"),
]
TRAINERS = [("get", "/live/new"), ("post", "/live/new")]


def test_every_live_route_is_in_the_permission_matrix(app):
    covered = {path for _m, path in RUNNER_ONLY + EVERYONE + MEMBERS + TRAINERS}
    routes = {
        rule.rule.replace("<int:session_id>", "{id}").replace(
            "<any(cancel, reinstate):change>", "cancel"
        )
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("live.")
    }
    assert routes <= covered | {"/live/{id}/cancel"}


def test_live_routes_by_role(app, client, learner, trainer, organizer, open_session):
    def status(method, path):
        return (
            getattr(client, method)(path.format(id=open_session), {}).status_code
            if method == "post"
            else client.get(path.format(id=open_session)).status_code
        )

    for method, path in RUNNER_ONLY + MEMBERS + TRAINERS:
        assert status(method, path) in (302, 400), (path, "anonymous")  # to login (or bad form)
    for method, path in EVERYONE:
        assert status(method, path) == 200, path
    client.login(learner.email)
    for method, path in RUNNER_ONLY + TRAINERS:
        assert status(method, path) == 403, (path, "learner")
    client.logout()
    client.login(trainer.email)  # a trainer, but not of this session
    for method, path in RUNNER_ONLY:
        assert status(method, path) == 403, (path, "other trainer")
    assert status("get", "/live/new") == 200
    client.logout()
    client.login(organizer.email)
    for method, path in RUNNER_ONLY:
        assert status(method, path) in (200, 302, 400), (path, "organizer")


def test_a_session_tied_to_a_course_shows_it(app, client, organizer, course):
    client.login(organizer.email)
    response = client.post(
        "/live/new",
        {
            "title_zh": "战略工具工作坊", "title_en": "Strategy workshop", "camp": "",
            "course": str(course.id), "plan": "lecture", "minutes": "120",
            "date": "2031-03-10", "start": "14:00", "timezone": "Asia/Shanghai", "repeat": "",
            "location": "Room 2", "capacity": "30", "lecturer": "0", "delivery": "lecture",
            "guest_name": "Prof. Wang", "guest_title": "Zhejiang University",
        },
    )  # fmt: skip
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert course.title_en in page and "Prof. Wang, Zhejiang University" in page
    with app.app_context():
        session = db.session.scalars(db.select(LiveSession)).one()
        assert (session.course_id, session.camp_id) == (course.id, course.camp_id)


def test_lms_attended_fires_once_when_a_learner_comes_to_count_as_attending(
    make_app, learner, organizer
):
    from lms import hookimpl
    from tests.conftest import Client
    from tests.test_plugins import plugin

    seen = []

    def lms_attended(attendance):
        seen.append((attendance.user_id, attendance.status))

    app = make_app(EXTRA_PLUGINS={"listener": plugin(hookimpl(lms_attended), name="listener")})
    session_id = make_session(app)
    register(app, learner.id, session_id)
    client = Client(app.test_client())
    client.login(learner.email)
    post_code(client, session_id, code(app, session_id))
    post_code(client, session_id, code(app, session_id))  # a second check-in: no event
    assert seen == [(learner.id, "present")]
    client.logout()
    client.login(organizer.email)
    url = f"/live/{session_id}/attendance"
    client.post(url, {"learner": learner.id, "status": "late", "reason": "came late"})
    client.post(url, {"learner": learner.id, "status": "absent", "reason": "left"})
    client.post(url, {"learner": learner.id, "status": "present", "reason": "came back"})
    assert seen == [(learner.id, "present"), (learner.id, "present")]


# -- issue 17: attendance stays consistent --------------------------------------------


def add_attendance(app, session_id, user_id, status="present", substitute_for_id=None):
    """An attendance row as a trainer would record it: present or late from the start (late:
    from the check-in, now, if the session has started) to the end, over every segment."""
    with app.app_context():
        now = datetime.now(UTC)
        attendance = Attendance(session_id=session_id, user_id=user_id, status=status,
                                substitute_for_id=substitute_for_id, checked_in_at=now)  # fmt: skip
        db.session.add(attendance)
        db.session.flush()
        if status in checkin.ATTENDED:
            session = db.session.get(LiveSession, session_id)
            start, end = live.aware(session.starts_at), live.aware(session.ends_at)
            since = min(max(start, now), end - timedelta(minutes=1)) if status == "late" else start
            live_attendance.apply(
                session, attendance, live_attendance.spans_between(session, since, end), "trainer"
            )
            attendance.arrived_at = None
        db.session.commit()


def registration_status(app, session_id, user_id):
    with app.app_context():
        return db.session.scalar(
            db.select(live.Registration.status).filter_by(session_id=session_id, user_id=user_id)
        )


@pytest.mark.parametrize("case", ["checked_in", "replaced", "started", "ended"])
def test_a_registration_cannot_be_cancelled_once_attended_or_started(app, client, make_user, case):
    starts_in = {"started": timedelta(minutes=-5), "ended": timedelta(hours=-5)}.get(
        case, timedelta(minutes=5)
    )
    session_id = make_session(app, starts_in=starts_in)
    holder = make_user("holder@example.com", organization="Acme")
    with app.app_context():
        db.session.add(live.Registration(session_id=session_id, user_id=holder.id,
                                         status="registered"))  # fmt: skip
        db.session.commit()
    if case == "checked_in":
        add_attendance(app, session_id, holder.id)
    elif case == "replaced":
        colleague = make_user("colleague@example.com", organization="Acme")
        add_attendance(app, session_id, colleague.id, substitute_for_id=holder.id)
    client.login(holder.email)
    page = client.get(f"/live/{session_id}").get_data(as_text=True)
    assert "You have a seat" in page and "Cancel my registration" not in page
    response = client.post(f"/live/{session_id}/cancel-registration")
    assert response.status_code == 409
    assert "cannot be cancelled once the session has started" in response.get_data(as_text=True)
    assert registration_status(app, session_id, holder.id) == "registered"


def test_a_registration_is_cancelled_before_the_start_and_check_in(app, client, learner):
    session_id = make_session(app, starts_in=timedelta(minutes=20))  # check-in is open
    register(app, learner.id, session_id)
    client.login(learner.email)
    assert "Cancel my registration" in client.get(f"/live/{session_id}").get_data(as_text=True)
    assert client.post(f"/live/{session_id}/cancel-registration").status_code == 302
    assert registration_status(app, session_id, learner.id) == "cancelled"


def test_the_refusal_is_translated(app, client, learner):
    session_id = make_session(app, starts_in=timedelta(minutes=-5))
    with app.app_context():
        db.session.add(live.Registration(session_id=session_id, user_id=learner.id,
                                         status="registered"))  # fmt: skip
        db.session.commit()
    client.login(learner.email)
    response = client.post(
        f"/live/{session_id}/cancel-registration", headers={"Accept-Language": "zh-CN"}
    )
    assert response.status_code == 409
    assert "报名" in response.get_data(as_text=True)


def test_no_shows_become_absent_when_the_session_ends(app, client, make_user, organizer):
    from lms.services import schedule

    ended = make_session(app, starts_in=timedelta(hours=-5))
    future = make_session(app, starts_in=timedelta(hours=5))
    called_off = make_session(app, starts_in=timedelta(hours=-5))
    people = {
        name: make_user(f"{name}@example.com", organization="Acme")
        for name in ("ann", "bob", "cy", "sub", "di", "eve", "fay")
    }
    with app.app_context():
        statuses = {"eve": "waitlisted", "fay": "cancelled"}
        for name in ("ann", "bob", "cy", "di", "eve", "fay"):
            status = statuses.get(name, "registered")
            db.session.add(live.Registration(session_id=ended, user_id=people[name].id,
                                             status=status))  # fmt: skip
        for session_id in (future, called_off):
            db.session.add(live.Registration(session_id=session_id, user_id=people["ann"].id,
                                             status="registered"))  # fmt: skip
        db.session.get(LiveSession, called_off).status = "cancelled"
        db.session.commit()
    add_attendance(app, ended, people["bob"].id, "late")
    add_attendance(app, ended, people["sub"].id, substitute_for_id=people["cy"].id)
    add_attendance(app, ended, people["di"].id, "excused")
    assert "mark live no-shows absent" in [task.name for task in schedule.tasks()]

    def rows():
        with app.app_context():
            return sorted(
                (row.session_id, row.user_id, row.status, row.method)
                for row in db.session.scalars(db.select(Attendance))
            )

    with app.app_context():
        assert checkin.mark_no_shows() == 1
    after_first = rows()
    assert (ended, people["ann"].id, "absent", "auto") in after_first
    assert len(after_first) == 4  # bob, the substitute, di — and ann
    with app.app_context():
        assert checkin.mark_no_shows() == 0
        assert "mark live no-shows absent" in schedule.run_due()
    assert rows() == after_first
    assert ledger(app, people["ann"].id) == []
    # A trainer can still correct the automatic absence; the log keeps it.
    client.login(organizer.email)
    response = client.post(
        f"/live/{ended}/attendance",
        {"learner": people["ann"].id, "status": "excused", "reason": "ill"},
    )
    assert response.status_code == 302
    with app.app_context():
        correction = db.session.scalars(db.select(AttendanceCorrection)).one()
        assert (correction.old_status, correction.new_status) == ("absent", "excused")


def test_the_report_counts_the_automatic_absences(app, make_user):
    from lms.services import people as people_service
    from lms.services import reports

    session_id = make_session(app, starts_in=timedelta(hours=-5))
    ann = make_user("ann@example.com")
    bob = make_user("bob@example.com")
    with app.app_context():
        for user in (ann, bob):
            db.session.add(live.Registration(session_id=session_id, user_id=user.id,
                                             status="registered"))  # fmt: skip
        db.session.commit()
    add_attendance(app, session_id, bob.id)
    with app.app_context():
        checkin.mark_no_shows()
        day = datetime.now(UTC).date()  # the academy's day may be a day ahead of UTC's
        (row,) = reports.attendance_by_session(
            people_service.Scope(None, everyone=True), day - timedelta(days=1), day + timedelta(1)
        )
    assert (row.registered, row.present, row.absent, row.rate) == (2, 1, 1, 50)


# -- the check-in page -------------------------------------------------------------------


def test_the_check_in_page_says_when_check_in_opens_and_closes(app, client, learner):
    session_id = make_session(app, starts_in=timedelta(hours=3))
    register(app, learner.id, session_id)
    client.login(learner.email)
    page = client.get(f"/live/{session_id}/checkin").get_data(as_text=True)
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        opens = live.local(session.starts_at - timedelta(minutes=30), session.timezone)
        closes = live.local(session.ends_at, session.timezone)
    assert f"Check-in opens at {opens:%Y-%m-%d %H:%M} and closes at {closes:%Y-%m-%d %H:%M}" in page
    assert "Check-in is not open for this session." in page


def test_the_check_in_page_offers_only_what_is_accepted(app, client, make_user):
    session_id = make_session(app)
    me = make_user("me@example.com", organization="Acme")
    waiting = make_user("waiting@example.com", organization="Acme")
    came = make_user("came@example.com", organization="Acme")
    replaced = make_user("replaced@example.com", organization="Acme")
    stranger = make_user("stranger@example.com", organization="Acme")  # not registered
    other_org = make_user("other@example.com", organization="Globex")
    for user in (waiting, came, replaced, other_org):
        register(app, user.id, session_id)
    add_attendance(app, session_id, came.id)
    add_attendance(app, session_id, stranger.id, substitute_for_id=replaced.id)

    def offered(page):
        return re.findall(r'<option[^>]*value="(\d+)"', page)

    client.login(me.email)  # not registered: colleagues only, no "myself"
    page = client.get(f"/live/{session_id}/checkin").get_data(as_text=True)
    assert offered(page) == [str(waiting.id)]
    assert "myself" not in page
    register(app, me.id, session_id)
    page = client.get(f"/live/{session_id}/checkin").get_data(as_text=True)
    assert offered(page) == ["0", str(waiting.id)]


def test_a_learner_with_nothing_to_check_in_for_is_told_so(app, client, other_learner):
    session_id = make_session(app)
    client.login(other_learner.email)
    page = client.get(f"/live/{session_id}/checkin").get_data(as_text=True)
    assert 'data-test="nothing-to-check-in"' in page and 'data-test="checkin"' not in page


@pytest.mark.parametrize("starts_in", [timedelta(minutes=5), timedelta(minutes=-20)])
def test_after_check_in_the_page_shows_the_status_and_time(app, client, learner, starts_in):
    session_id = make_session(app, starts_in=starts_in)
    with app.app_context():
        db.session.add(live.Registration(session_id=session_id, user_id=learner.id,
                                         status="registered"))  # fmt: skip
        db.session.commit()
    client.login(learner.email)
    response = post_code(client, session_id, code(app, session_id))
    assert response.status_code == 302 and response.location.endswith(f"/live/{session_id}/checkin")
    page = client.get(f"/live/{session_id}/checkin").get_data(as_text=True)
    with app.app_context():
        attendance = db.session.scalars(db.select(Attendance)).one()
        zone = db.session.get(LiveSession, session_id).timezone
        at = live.local(attendance.checked_in_at, zone).strftime("%H:%M")
    status = "present" if starts_in > timedelta(0) else "late"
    assert attendance.status == status
    assert f"Checked in at {at}: {status}." in page
    assert 'data-test="checkin"' not in page and 'name="code"' not in page
    assert f"Checked in at {at}: {status}." in client.get(f"/live/{session_id}").get_data(
        as_text=True
    )
    again = post_code(client, session_id, code(app, session_id))  # changes nothing
    assert again.status_code == 302
