import json
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise

import pytest

from lms import create_app
from lms.database import mark_request_transactions
from lms.extensions import db
from lms.models import (
    Attendance,
    AttendanceCorrection,
    Camp,
    Course,
    Enrollment,
    LessonProgress,
    LiveSession,
    MediaAsset,
    PlaybackSession,
    Registration,
    TrainingTime,
    User,
)
from lms.models._base import aware
from lms.services import checkin, hours, live
from lms.services import intervals as iv
from tests.conftest import CSRF, Client, course_url, video_lessons_of


def test_twenty_concurrent_enrollments_give_one_row_and_no_error(app, client, learner, course):
    client.login(learner.email)
    token = client.csrf()
    cookie = client.raw.get_cookie("session").value
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def enroll() -> None:
        browser = Client(app.test_client())
        browser.raw.set_cookie("session", cookie)
        barrier.wait()
        response = browser.post(course_url(course) + "enroll", {"csrf_token": token})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=enroll) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * 20
    with app.app_context():
        rows = db.session.scalars(db.select(Enrollment)).all()
    assert [(row.user_id, row.course_id) for row in rows] == [(learner.id, course.id)]


# -- SQLite: transactions that read first and write later ----------------------------------


def sqlite_only(app) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's locking; PostgreSQL has row locks")


def test_many_learners_enrolling_while_others_browse_get_no_error(app, make_user):
    """Enrolling reads (the user, the course, an existing enrollment) before it writes; with
    twelve learners enrolling in three courses each at once and readers browsing the catalog,
    nobody gets "database is locked" (a 503) or any other error."""
    with app.app_context():
        camp = db.session.scalar(db.select(Camp).filter_by(slug="startup-growth"))
        courses = db.session.scalars(
            db.select(Course)
            .where(Course.camp_id == camp.id, Course.status == "published")
            .order_by(Course.id)
            .limit(3)
        ).all()
        urls = [f"/camps/{camp.slug}/{item.slug}/enroll" for item in courses]
    assert len(urls) == 3
    browsers = []
    for number in range(12):
        user = make_user(f"hammer{number}@example.com")
        browser = Client(app.test_client())
        browser.login(user.email)
        browsers.append((browser, browser.csrf()))
    barrier = threading.Barrier(len(browsers) + 4)
    statuses: list[int] = []
    pages: list[int] = []

    def learner(browser: Client, token: str) -> None:
        barrier.wait()
        for url in urls:
            statuses.append(browser.post(url, {"csrf_token": token}).status_code)

    def reader() -> None:
        visitor = app.test_client()
        barrier.wait()
        for _ in range(6):
            pages.append(visitor.get("/").status_code)

    threads = [threading.Thread(target=learner, args=pair) for pair in browsers]
    threads += [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * 36
    assert pages == [200] * 24
    with app.app_context():
        count = db.session.scalar(
            db.select(db.func.count(Enrollment.id)).where(
                Enrollment.course_id.in_([item.id for item in courses])
            )
        )
    assert count == 36


@pytest.mark.parametrize("method", ["POST", None])
def test_reading_first_then_writing_after_another_commit_works(app, learner, other_learner, method):
    """The case SQLite cannot do in a deferred transaction (SQLITE_BUSY_SNAPSHOT): read, let
    another connection commit, then write. In a write request or outside any (CLI, jobs)."""
    read_done, committed = threading.Event(), threading.Event()

    def other() -> None:
        with app.app_context():
            read_done.wait(10)
            db.session.get(User, other_learner.id).name = "changed meanwhile"
            db.session.commit()
            committed.set()

    thread = threading.Thread(target=other)
    thread.start()
    context = app.test_request_context("/", method=method) if method else app.app_context()
    with context:
        if method:
            mark_request_transactions(method)
        user = db.session.get(User, learner.id)  # read first
        read_done.set()
        assert committed.wait(10)
        user.name = "renamed"  # then write
        db.session.commit()
    thread.join()
    with app.app_context():
        assert db.session.get(User, learner.id).name == "renamed"
        assert db.session.get(User, other_learner.id).name == "changed meanwhile"


def test_a_writer_waits_for_the_lock_instead_of_failing(app, learner, other_learner):
    sqlite_only(app)
    holding = threading.Event()

    def holder() -> None:
        with app.app_context():
            db.session.get(User, learner.id).name = "first"
            db.session.flush()  # BEGIN IMMEDIATE + UPDATE: the write lock is ours
            holding.set()
            time.sleep(0.5)
            db.session.commit()

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    with app.app_context():
        db.session.get(User, other_learner.id).name = "second"
        db.session.commit()
    waited = time.monotonic() - started
    thread.join()
    assert waited >= 0.3


def test_a_read_only_request_sees_one_snapshot(app, make_user):
    sqlite_only(app)
    count = db.select(db.func.count(User.id))
    with app.test_request_context("/", method="GET"):
        mark_request_transactions("GET")
        before = db.session.scalar(count)
        writer = threading.Thread(target=make_user, args=("meanwhile@example.com",))
        writer.start()
        writer.join()  # a reader does not block a writer (WAL)
        assert db.session.scalar(count) == before  # still the snapshot of its first read
    with app.app_context():
        assert db.session.scalar(count) == before + 1


def test_transaction_control_is_ours_on_files_only(app, app_config):
    sqlite_only(app)
    with app.app_context():
        raw = db.session.connection().connection.dbapi_connection
        assert raw.isolation_level is None  # no pysqlite BEGINs: ours
    memory = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SQLALCHEMY_ENGINE_OPTIONS": {}}
    )
    with memory.app_context():
        raw = db.session.connection().connection.dbapi_connection
        assert raw.isolation_level == ""  # in memory: pysqlite's defaults, unchanged
        db.session.remove()


def test_a_get_request_that_writes_is_reported(app, learner, caplog):
    sqlite_only(app)
    with app.test_request_context("/", method="GET"):
        mark_request_transactions("GET")
        db.session.get(User, learner.id).name = "written by a GET"
        db.session.commit()
    assert "a read-only (GET) request writes: UPDATE users" in caplog.text


# -- Parallel requests through the HTTP layer: seats, check-ins, watch time, the ledger -----
#
# Every request runs in its own thread with its own test client, all released at once by a
# barrier. A 500 (an IntegrityError, a lost race) or a 503 ("database is locked") fails the
# test; so does any row written twice or any acknowledged write missing afterwards.


def at_once(*calls):
    """Run each call in its own thread, all released together; their results, in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call) -> None:
        try:
            barrier.wait(10)
            results[index] = call()
        except BaseException as exc:  # the test reports any error
            errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    return results


def logged_in(app, email: str) -> tuple[Client, str]:
    """A browser logged in as ``email``, and its CSRF token."""
    browser = Client(app.test_client())
    assert browser.login(email).status_code == 302
    return browser, browser.csrf()


def same_browser(app, browser: Client) -> Client:
    """Another client on the same login (another tab, a double click)."""
    twin = Client(app.test_client())
    twin.raw.set_cookie("session", browser.raw.get_cookie("session").value)
    return twin


def post_form(browser: Client, url: str, form: dict) -> int:
    return browser.post(url, form).status_code


def new_live_session(app, capacity: int = 10) -> int:
    """A live session starting in five minutes (check-in is open), of the activity day's
    three segments (170 minutes); its id."""
    with app.test_request_context():
        session = live.create_session(
            live.SessionValues(
                title_zh="活动日", title_en="Activity day", location="centre", capacity=capacity
            ),
            datetime.now(UTC) + timedelta(minutes=5),
            live.ACTIVITY_DAY_SEGMENTS,
        )
        return session.id


def register_now(app, user_id: int, session_id: int) -> None:
    with app.test_request_context():
        live.register(db.session.get(User, user_id), db.session.get(LiveSession, session_id))


def current_code(app, session_id: int) -> str:
    with app.test_request_context():
        return checkin.code_for(db.session.get(LiveSession, session_id))


def registrations(app, session_id: int) -> dict[int, str]:
    """The session's registrations by learner; a learner with two rows fails the test."""
    with app.app_context():
        rows = db.session.execute(
            db.select(Registration.user_id, Registration.status).filter_by(session_id=session_id)
        ).all()
    assert len(rows) == len({user_id for user_id, _ in rows})
    return dict(rows)


SESSION_SECONDS = 170 * 60  # the activity day's open class, salon and discussion
# A check-in is for the current segment (before the start: the open class, 60 minutes).
CHECKIN_SECONDS = 60 * 60


# -- 1. registration with a capacity ---------------------------------------------------------


def test_more_learners_than_seats_registering_at_once_fill_exactly_the_seats(app, make_user):
    session_id = new_live_session(app, capacity=5)
    users = [make_user(f"seat{n}@example.com") for n in range(15)]
    url = f"/live/{session_id}/register"
    calls = []
    for user in users:
        browser, token = logged_in(app, user.email)
        calls.append(partial(post_form, browser, url, {"csrf_token": token}))

    assert at_once(*calls) == [302] * 15

    found = registrations(app, session_id)
    assert set(found) == {user.id for user in users}
    assert sorted(found.values()) == ["registered"] * 5 + ["waitlisted"] * 10
    with app.app_context():
        assert live.seats_taken(db.session.get(LiveSession, session_id)) == 5
        waiting = db.session.scalars(
            db.select(Registration).filter_by(session_id=session_id, status="waitlisted")
        ).all()
        assert sorted(live.waitlist_position(row) for row in waiting) == list(range(1, 11))


def test_more_learners_than_cohort_seats_enrolling_at_once_fill_exactly_the_seats(
    app, make_user, monkeypatch
):
    import plugins.silicon_valley

    monkeypatch.setattr(plugins.silicon_valley, "COHORT_SEATS", 3)
    url = "/camps/silicon-valley/global-market-entry/enroll"
    calls = []
    for n in range(10):
        browser, token = logged_in(app, make_user(f"cohort{n}@example.com").email)
        calls.append(partial(post_form, browser, url, {"csrf_token": token}))
    assert sorted(at_once(*calls)) == [302] * 3 + [403] * 7
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Enrollment.id))) == 3


def test_one_learner_registering_from_ten_threads_gets_one_registration(app, learner):
    session_id = new_live_session(app, capacity=5)
    browser, token = logged_in(app, learner.email)
    url = f"/live/{session_id}/register"
    calls = [
        partial(post_form, same_browser(app, browser), url, {"csrf_token": token})
        for _ in range(10)
    ]

    assert at_once(*calls) == [302] * 10

    assert registrations(app, session_id) == {learner.id: "registered"}


def test_a_freed_seat_goes_to_exactly_one_waiting_learner_while_others_register(app, make_user):
    """Two seats, both taken, three on the waitlist. At once: the first seat's holder cancels
    from five tabs and three newcomers register. The freed seat goes to the first on the
    waitlist and to nobody else; the newcomers queue behind the waitlist."""
    session_id = new_live_session(app, capacity=2)
    holder, keeper, *waiting = [make_user(f"q{n}@example.com") for n in range(5)]
    for user in (holder, keeper, *waiting):  # in this order: the waitlist's order is known
        register_now(app, user.id, session_id)
    holder_browser, holder_token = logged_in(app, holder.email)
    cancel = f"/live/{session_id}/cancel-registration"
    calls = [
        partial(post_form, same_browser(app, holder_browser), cancel, {"csrf_token": holder_token})
        for _ in range(5)
    ]
    newcomers = [make_user(f"new{n}@example.com") for n in range(3)]
    for user in newcomers:
        browser, token = logged_in(app, user.email)
        calls.append(
            partial(post_form, browser, f"/live/{session_id}/register", {"csrf_token": token})
        )

    assert at_once(*calls) == [302] * 8

    assert registrations(app, session_id) == {
        holder.id: "cancelled",
        keeper.id: "registered",
        waiting[0].id: "registered",  # promoted, once
        waiting[1].id: "waitlisted",
        waiting[2].id: "waitlisted",
        **{user.id: "waitlisted" for user in newcomers},
    }


def test_cancelling_and_registering_at_once_never_leave_a_seat_free_or_overbooked(app, make_user):
    """Seats churn: three holders cancel while six others register, all at once. Whatever
    the order, every seat ends up taken (there are enough learners), and never more."""
    session_id = new_live_session(app, capacity=3)
    holders = [make_user(f"h{n}@example.com") for n in range(3)]
    for user in holders:
        register_now(app, user.id, session_id)
    others = [make_user(f"o{n}@example.com") for n in range(6)]
    calls = []
    for user, action in [(u, "cancel-registration") for u in holders] + [
        (u, "register") for u in others
    ]:
        browser, token = logged_in(app, user.email)
        calls.append(
            partial(post_form, browser, f"/live/{session_id}/{action}", {"csrf_token": token})
        )

    assert at_once(*calls) == [302] * 9

    found = registrations(app, session_id)
    assert {found[user.id] for user in holders} == {"cancelled"}
    assert sorted(found[user.id] for user in others) == ["registered"] * 3 + ["waitlisted"] * 3


# -- 2. check-in -----------------------------------------------------------------------------


def ledger_rows(app, user_id: int) -> list[tuple[str, int]]:
    with app.app_context():
        rows = db.session.execute(
            db.select(TrainingTime.source_key, TrainingTime.seconds)
            .filter_by(user_id=user_id)
            .order_by(TrainingTime.id)
        ).all()
    return [tuple(row) for row in rows]


def credit_at_the_end(app, session_id: int) -> None:
    """Run the task that credits live hours as it runs once the session has ended."""
    with app.app_context():
        ends_at = db.session.get(LiveSession, session_id).ends_at.replace(tzinfo=UTC)
        checkin.credit_ended_segments(ends_at + timedelta(minutes=1))


def attendance_rows(app, session_id: int) -> list[Attendance]:
    with app.app_context():
        rows = db.session.scalars(db.select(Attendance).filter_by(session_id=session_id)).all()
        db.session.expunge_all()
        return rows


def check_in_by_code(browser: Client, token: str, session_id: int, value: str) -> int:
    form = {"code": value, "substitute_for": "0", "csrf_token": token}
    return post_form(browser, f"/live/{session_id}/checkin", form)


def check_in_by_qr(browser: Client, session_id: int, value: str) -> int:
    """What scanning the trainer's QR code does: open its link (the code is filled in), send."""
    page = browser.get(f"/live/{session_id}/checkin?code={value}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    if 'data-test="attendance-status"' in html:  # another tab checked in first: no form
        assert "Checked in at" in html
        return 302
    assert f'value="{value}"' in html
    return check_in_by_code(browser, CSRF.search(html).group(1), session_id, value)


def test_one_learner_checking_in_ten_times_at_once_is_recorded_and_credited_once(app, learner):
    """Five tabs send the code, five scan the QR code, all at once."""
    session_id = new_live_session(app)
    register_now(app, learner.id, session_id)
    browser, token = logged_in(app, learner.email)
    value = current_code(app, session_id)
    calls = [
        partial(check_in_by_code, same_browser(app, browser), token, session_id, value)
        for _ in range(5)
    ] + [partial(check_in_by_qr, same_browser(app, browser), session_id, value) for _ in range(5)]

    assert at_once(*calls) == [302] * 10

    rows = attendance_rows(app, session_id)
    assert [(row.user_id, row.status, row.method) for row in rows] == [
        (learner.id, "present", "code")
    ]
    assert ledger_rows(app, learner.id) == []  # credited when the segments end
    credit_at_the_end(app, session_id)
    assert [seconds for _key, seconds in ledger_rows(app, learner.id)] == [CHECKIN_SECONDS]


def test_checking_in_while_the_organizer_marks_the_learner_present_credits_once(
    app, learner, organizer
):
    """The learner's check-ins race the organizer marking them present from two tabs: one
    attendance row, both markings kept as corrections, the time credited once."""
    session_id = new_live_session(app)
    register_now(app, learner.id, session_id)
    learner_browser, learner_token = logged_in(app, learner.email)
    organizer_browser, organizer_token = logged_in(app, organizer.email)
    value = current_code(app, session_id)
    mark = {
        "learner": learner.id, "status": "present", "reason": "seen", "csrf_token": organizer_token
    }  # fmt: skip
    attendance = f"/live/{session_id}/attendance"
    calls = [
        partial(
            check_in_by_code, same_browser(app, learner_browser), learner_token, session_id, value
        )
        for _ in range(4)
    ] + [
        partial(post_form, same_browser(app, organizer_browser), attendance, mark) for _ in range(2)
    ]

    assert at_once(*calls) == [302] * 6

    rows = attendance_rows(app, session_id)
    assert [(row.user_id, row.status) for row in rows] == [(learner.id, "present")]
    with app.app_context():
        corrections = db.session.scalars(db.select(AttendanceCorrection)).all()
        assert [c.new_status for c in corrections] == ["present", "present"]
    credit_at_the_end(app, session_id)
    entries = ledger_rows(app, learner.id)
    assert len(entries) == 1 and entries[0][1] == SESSION_SECONDS


def test_parallel_attendance_markings_are_chained_and_the_ledger_follows_the_last(
    app, learner, organizer
):
    """The organizer marks one learner present, absent, late, excused and present again from
    five tabs at once while the learner checks in. Each correction starts from the status the
    one before it left (none is lost), and the ledger adds up to what the final status is
    worth."""
    session_id = new_live_session(app)
    register_now(app, learner.id, session_id)
    learner_browser, learner_token = logged_in(app, learner.email)
    organizer_browser, token = logged_in(app, organizer.email)
    value = current_code(app, session_id)
    attendance = f"/live/{session_id}/attendance"
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        arrival = f"{live.local(session.starts_at, session.timezone) + timedelta(minutes=20):%H:%M}"
    calls = [partial(check_in_by_code, learner_browser, learner_token, session_id, value)] + [
        partial(
            post_form,
            same_browser(app, organizer_browser),
            attendance,
            {
                "learner": learner.id,
                "status": status,
                "reason": "seen",
                "csrf_token": token,
                "arrived": arrival if status == "late" else "",
            },
        )
        for status in ("present", "absent", "late", "excused", "present")
    ]

    assert at_once(*calls) == [302] * 6

    with app.app_context():
        row = db.session.scalars(db.select(Attendance).filter_by(session_id=session_id)).one()
        chain = db.session.scalars(
            db.select(AttendanceCorrection).order_by(AttendanceCorrection.id)
        ).all()
        assert len(chain) == 5
        for before, after in pairwise(chain):
            assert after.old_status == before.new_status
        assert row.status == chain[-1].new_status
    credit_at_the_end(app, session_id)
    with app.app_context():
        row = db.session.scalars(db.select(Attendance).filter_by(session_id=session_id)).one()
        session = db.session.get(LiveSession, session_id)
        ended = session.ends_at.replace(tzinfo=UTC) + timedelta(minutes=1)
        worth = hours.attended_seconds(session, row, ended)
    assert sum(seconds for _, seconds in ledger_rows(app, learner.id)) == worth


def test_many_learners_checking_in_at_once_are_all_recorded(app, make_user):
    session_id = new_live_session(app, capacity=20)
    users = [make_user(f"att{n}@example.com") for n in range(12)]
    for user in users:
        register_now(app, user.id, session_id)
    value = current_code(app, session_id)
    calls = []
    for number, user in enumerate(users):
        browser, token = logged_in(app, user.email)
        if number % 2:
            calls.append(partial(check_in_by_code, browser, token, session_id, value))
        else:
            calls.append(partial(check_in_by_qr, browser, session_id, value))

    assert at_once(*calls) == [302] * 12

    rows = attendance_rows(app, session_id)
    assert sorted(row.user_id for row in rows) == sorted(user.id for user in users)
    credit_at_the_end(app, session_id)
    with app.app_context():
        credited = db.session.execute(
            db.select(TrainingTime.user_id, db.func.sum(TrainingTime.seconds)).group_by(
                TrainingTime.user_id
            )
        ).all()
    assert dict(credited) == {user.id: CHECKIN_SECONDS for user in users}


def test_colleagues_racing_to_substitute_for_one_absent_learner_let_only_one_in(app, make_user):
    session_id = new_live_session(app)
    absent = make_user("absent@example.com", organization="Acme")
    register_now(app, absent.id, session_id)
    value = current_code(app, session_id)
    url = f"/live/{session_id}/checkin"
    calls = []
    for number in range(6):
        browser, token = logged_in(
            app, make_user(f"sub{number}@example.com", "learner", "Acme").email
        )
        form = {"code": value, "substitute_for": str(absent.id), "csrf_token": token}
        calls.append(partial(browser.post, url, form))

    responses = at_once(*calls)

    assert sorted(response.status_code for response in responses) == [302] + [400] * 5
    for response in responses:
        if response.status_code == 400:
            assert "Someone already attends for this colleague" in response.get_data(as_text=True)
    rows = sorted(attendance_rows(app, session_id), key=lambda row: row.id)
    assert [(row.substitute_for_id, row.status) for row in rows] == [
        (absent.id, "present"),  # the one substitute
        (None, "replaced"),  # the holder, whose seat they took
    ]
    assert rows[1].user_id == absent.id
    credit_at_the_end(app, session_id)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(TrainingTime.id))) == 1


# -- 3. progress reports -----------------------------------------------------------------------

VIDEO_SECONDS = 600.0


@pytest.fixture
def ten_minute_lesson(app, course) -> int:
    """A video lesson of the course whose video is ten minutes long (only its facts are used:
    the server never plays it)."""
    with app.app_context():
        lesson = video_lessons_of(course.id)[0]
        lesson.media = MediaAsset(
            storage_key="ten-minutes.webm", sha256="0" * 64, original_name="ten-minutes.webm",
            mime_type="video/webm", size_bytes=1, status="ready", duration_seconds=VIDEO_SECONDS,
        )  # fmt: skip
        db.session.commit()
        return lesson.id


@pytest.fixture
def watching(app, learner, course, ten_minute_lesson) -> tuple[Client, str]:
    """The learner, enrolled in the course, in a browser: (browser, CSRF token)."""
    browser, token = logged_in(app, learner.email)
    assert post_form(browser, course_url(course) + "enroll", {"csrf_token": token}) == 302
    return browser, token


def api_post(browser: Client, token: str, url: str, body: dict | None = None):
    return browser.raw.post(
        url,
        data=json.dumps(body) if body is not None else None,
        headers={"X-CSRFToken": token},
        content_type="application/json",
    )


def open_playback(app, browser: Client, token: str, lesson_id: int, opened_ago: int) -> str:
    """A playback session opened ``opened_ago`` seconds ago (so that much may be credited)."""
    response = api_post(browser, token, f"/api/lessons/{lesson_id}/playback")
    assert response.status_code == 201
    session_id = response.get_json()["session_id"]
    with app.app_context():
        session = db.session.get(PlaybackSession, session_id)
        session.started_at = session.started_at - timedelta(seconds=opened_ago)
        db.session.commit()
    return session_id


def send_report(
    app,
    browser: Client,
    token: str,
    session_id: str,
    seq: int,
    played: list,
    played_seconds: float | None = None,
):
    """One progress report, from its own client; (status, JSON answer)."""
    body = {"seq": seq, "position": played[-1][1], "intervals": played}
    if played_seconds is not None:
        body["played_seconds"] = played_seconds
    url = f"/api/playback/{session_id}/progress"
    response = api_post(same_browser(app, browser), token, url, body)
    return response.status_code, response.get_json()


WINDOW, SLACK = 15.0, 2.0  # the defaults of WATCH_WINDOW and WATCH_SLACK


def test_parallel_reports_from_two_players_and_their_replays_lose_nothing_and_credit_once(
    app, learner, ten_minute_lesson, watching
):
    """Two playback sessions of one learner report overlapping stretches of the same video at
    once (each report carries the session's totals, as the player's do), and every report is
    sent three times (retries). Afterwards each session has its last report, the coverage
    grew by exactly what the answers credited, the time by what they said, the two sessions
    together earned one window of time (not one each), and the ledger holds the whole seconds
    of each session once."""
    browser, token = watching
    first = open_playback(app, browser, token, ten_minute_lesson, opened_ago=1000)
    second = open_playback(app, browser, token, ten_minute_lesson, opened_ago=1000)
    reports = [
        (first, 1, [[0, 10]], 10), (first, 2, [[0, 20]], 20), (first, 3, [[0, 30]], 30),
        (second, 1, [[15, 25]], 10), (second, 2, [[15, 35]], 20), (second, 3, [[15, 45]], 30),
    ]  # fmt: skip
    calls = [partial(send_report, app, browser, token, *report) for report in reports] * 3

    began = datetime.now(UTC)
    answers = at_once(*calls)
    burst = (datetime.now(UTC) - began).total_seconds()

    assert [status for status, _ in answers] == [200] * 18
    credited = sum(answer["credited"] for _, answer in answers)
    trained = sum(answer["training_seconds"] for _, answer in answers)
    with app.app_context():
        row = db.session.scalars(
            db.select(LessonProgress).filter_by(user_id=learner.id, lesson_id=ten_minute_lesson)
        ).one()
        covered = iv.merge(tuple(pair) for pair in row.watched)
        assert iv.subtract(covered, [(0, 45)]) == []  # nothing that was not reported
        assert row.covered_seconds == pytest.approx(credited, abs=0.01)  # each second once
        sessions = db.session.scalars(db.select(PlaybackSession)).all()
        assert {session.last_seq for session in sessions} == {3}
        for session in sessions:  # never more time than the session's wall clock
            elapsed = aware(session.last_report_at) - aware(session.started_at)
            assert session.training_seconds <= elapsed.total_seconds() + SLACK
        total = sum(session.training_seconds for session in sessions)
        whole = sum(session.ledger_seconds for session in sessions)
        assert whole == sum(int(session.training_seconds) for session in sessions)
        assert sum(s.credited_seconds for s in sessions) == pytest.approx(credited, abs=0.01)
    assert total == pytest.approx(trained, abs=0.01)  # acknowledged once each
    assert 10 <= total <= WINDOW + SLACK + burst  # one window for both players, not two
    ledger = ledger_rows(app, learner.id)
    assert all(key.startswith("video:") for key, _ in ledger)
    assert len({key for key, _ in ledger}) == len(ledger)
    assert sum(seconds for _, seconds in ledger) == whole  # no second lost or twice


def test_one_report_replayed_ten_times_at_once_is_credited_once(
    app, learner, ten_minute_lesson, watching
):
    browser, token = watching
    session_id = open_playback(app, browser, token, ten_minute_lesson, opened_ago=1000)
    calls = [partial(send_report, app, browser, token, session_id, 1, [[0, 120]], 10)] * 10

    answers = at_once(*calls)

    assert [status for status, _ in answers] == [200] * 10
    # Ten seconds played: ten of time, and at most 2 × (10 + slack) of video.
    assert sorted(answer["training_seconds"] for _, answer in answers) == [0] * 9 + [10]
    assert sorted(answer["credited"] for _, answer in answers) == [0] * 9 + [24]
    assert {(answer["covered_seconds"], answer["position"]) for _, answer in answers} == {(24, 120)}
    with app.app_context():
        session = db.session.get(PlaybackSession, session_id)
        assert (session.credited_seconds, session.training_seconds) == (24, 10)
    assert ledger_rows(app, learner.id) == [(f"video:{session_id}:1", 10)]


def test_reports_faster_than_the_wall_clock_are_capped_even_in_parallel(
    app, learner, ten_minute_lesson, watching
):
    """Two players opened a minute ago claim ten different minutes between them, in six
    requests at once (without played_seconds, as an old player): together they earn one
    window of time and twice that of video, no more."""
    browser, token = watching
    first, second = (
        open_playback(app, browser, token, ten_minute_lesson, opened_ago=60) for _ in range(2)
    )
    claims = [
        (first, 1, [[0, 100]]), (first, 2, [[100, 200]]), (first, 3, [[200, 300]]),
        (second, 1, [[300, 400]]), (second, 2, [[400, 500]]), (second, 3, [[500, 600]]),
    ]  # fmt: skip

    began = datetime.now(UTC)
    answers = at_once(*(partial(send_report, app, browser, token, *claim) for claim in claims))
    burst = (datetime.now(UTC) - began).total_seconds()

    assert [status for status, _ in answers] == [200] * 6
    total = sum(answer["credited"] for _, answer in answers)
    trained = sum(answer["training_seconds"] for _, answer in answers)
    assert total >= 2 * (WINDOW + SLACK) - 0.01  # the first report credited earns a window
    assert total <= 2 * (WINDOW + SLACK + burst) + 0.01
    assert WINDOW + SLACK - 0.01 <= trained <= WINDOW + SLACK + burst + 0.01
    with app.app_context():
        row = db.session.scalars(db.select(LessonProgress).filter_by(user_id=learner.id)).one()
        assert row.covered_seconds == pytest.approx(total, abs=0.01)  # answers are rounded
        sessions = db.session.scalars(db.select(PlaybackSession)).all()
    assert sum(session.credited_seconds for session in sessions) == pytest.approx(total, abs=0.01)
    # Each no more time than its own wall clock, its start to its last report, plus one slack
    # (what ``lms check`` verifies): the last report must not carry an earlier time than one
    # credited before it.
    for session in sessions:
        elapsed = aware(session.last_report_at) - aware(session.started_at)
        assert session.training_seconds <= elapsed.total_seconds() + SLACK + 1e-6


# -- 4. the training-time ledger ---------------------------------------------------------------


def test_parallel_ledger_writes_with_one_source_key_give_one_row(app, learner):
    """A job retried on two workers, a report sent twice: one key, one entry."""

    def write() -> bool:
        with app.app_context():
            written = hours.add(
                key="retried:1", user_id=learner.id, source="video", seconds=60,
                day=datetime.now(UTC).date(),
            )  # fmt: skip
            db.session.commit()
            return written

    assert sorted(at_once(*[write] * 10)) == [False] * 9 + [True]
    assert ledger_rows(app, learner.id) == [("retried:1", 60)]
