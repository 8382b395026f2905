"""Segments attended separately (issue 17): check-in and check-out apply to the current
segment, a learner checks out to leave early, trainers correct one segment, hours are
credited per segment (never for a gap), and a session counts as attended when any segment was.

The activity day's segments: open class 0–60, salon 70–130, discussion 140–190 minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lms.extensions import db
from lms.models import Attendance, AttendanceCorrection, LiveSession, SegmentAttendance, User
from lms.services import archive, checkin, hours, live, reports
from lms.services import people as people_service
from tests.test_checkin import code, end_of, ledger, make_session, post_code, register
from tests.test_migrations import migrated


def at(app, session_id, minutes):
    """The instant ``minutes`` after the session's start."""
    with app.app_context():
        return live.aware(db.session.get(LiveSession, session_id).starts_at) + timedelta(
            minutes=minutes
        )


def check_in_at(app, session_id, user_id, minutes):
    moment = at(app, session_id, minutes)
    with app.test_request_context():
        session = db.session.get(LiveSession, session_id)
        user = db.session.get(User, user_id)
        return checkin.check_in(user, session, checkin.code_for(session, moment), now=moment)


def check_out_at(app, session_id, user_id, minutes):
    moment = at(app, session_id, minutes)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        session = db.session.get(LiveSession, session_id)
        return checkin.check_out(db.session.get(User, user_id), session, now=moment).status


def segments_of(app, session_id, user_id):
    """[(segment index, arrival minute or None, departure minute or None)]"""
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        start = live.aware(session.starts_at)
        index = {segment.id: n for n, segment in enumerate(session.segments)}
        row = db.session.scalars(
            db.select(Attendance).filter_by(session_id=session_id, user_id=user_id)
        ).one()

        def minute(moment):
            return None if moment is None else int((live.aware(moment) - start).seconds // 60)

        return sorted(
            (index[part.segment_id], minute(part.arrived_at), minute(part.left_at))
            for part in row.segments
        )


@pytest.fixture
def day(app, learner):
    """An activity day that started four hours ago (so the times below are in the past)."""
    session_id = make_session(app, starts_in=timedelta(hours=-4))
    with app.app_context():
        db.session.add(
            live.Registration(session_id=session_id, user_id=learner.id, status="registered")
        )
        db.session.commit()
    return session_id


def test_each_check_in_is_for_the_current_segment_and_gaps_are_not_credited(app, learner, day):
    assert check_in_at(app, day, learner.id, -10).created  # early: the open class
    assert not check_in_at(app, day, learner.id, 30).created  # the same segment again
    assert check_in_at(app, day, learner.id, 135).created  # the break: the discussion, on time
    assert segments_of(app, day, learner.id) == [(0, None, None), (2, None, None)]
    end_of(app, day)
    assert sum(ledger(app, learner.id)) == (60 + 50) * 60  # not the salon, nor the breaks


def test_a_late_check_in_into_the_salon_credits_from_the_arrival(app, learner, day):
    check_in_at(app, day, learner.id, 95)  # 25 minutes into the salon
    with app.app_context():
        row = db.session.scalars(db.select(Attendance)).one()
        assert row.status == "late"
    assert segments_of(app, day, learner.id) == [(1, 95, None)]
    end_of(app, day)
    assert ledger(app, learner.id) == [35 * 60]


def test_checking_out_ends_the_credited_time(app, learner, day):
    check_in_at(app, day, learner.id, 0)
    assert check_out_at(app, day, learner.id, 40) == "present"
    assert check_out_at(app, day, learner.id, 50) == "present"  # idempotent: still 40
    assert segments_of(app, day, learner.id) == [(0, None, 40)]
    end_of(app, day)
    assert ledger(app, learner.id) == [40 * 60]


def test_checking_out_in_a_break_gives_up_the_next_segment(app, learner, day):
    check_in_at(app, day, learner.id, 0)
    check_in_at(app, day, learner.id, 65)  # in the break: for the salon
    check_out_at(app, day, learner.id, 66)  # and leaves before it starts
    assert segments_of(app, day, learner.id) == [(0, None, None)]
    # Back for the discussion: a new check-in for it.
    assert check_in_at(app, day, learner.id, 141).created
    check_out_at(app, day, learner.id, 170)
    assert segments_of(app, day, learner.id) == [(0, None, None), (2, None, 170)]
    end_of(app, day)
    assert sum(ledger(app, learner.id)) == (60 + 30) * 60


@pytest.mark.parametrize(
    ("checked_in", "minutes", "message"),
    [
        (False, 30, "not checked in"),  # before check-in
        (True, 191, "over"),  # after the session ended
        (True, -5, "has not started"),  # before the segment checked in for starts
    ],
)
def test_check_out_is_refused_before_check_in_and_after_the_end(
    app, learner, day, checked_in, minutes, message
):
    if checked_in:
        check_in_at(app, day, learner.id, -10)
    with pytest.raises(checkin.CheckinError, match=message):
        check_out_at(app, day, learner.id, minutes)
    if checked_in:
        assert segments_of(app, day, learner.id) == [(0, None, None)]  # nothing changed


def test_the_check_out_button(app, client, learner):
    session_id = make_session(app, starts_in=timedelta(minutes=-20))  # the open class runs
    register(app, learner.id, session_id)
    client.login(learner.email)
    refused = client.post(f"/live/{session_id}/checkout", {})
    assert refused.status_code == 409  # not checked in
    assert post_code(client, session_id, code(app, session_id)).status_code == 302
    page = client.get(f"/live/{session_id}/checkin").get_data(as_text=True)
    assert 'data-test="checkout"' in page and 'data-test="my-segments"' in page
    assert client.post(f"/live/{session_id}/checkout", {}).status_code == 302
    assert client.post(f"/live/{session_id}/checkout", {}).status_code == 302  # idempotent
    page = client.get(f"/live/{session_id}/checkin", headers={"Accept-Language": "zh-CN"})
    text = page.get_data(as_text=True)
    assert 'data-test="checkout"' not in text and "离场" in text  # "left at"
    with app.app_context():
        (part,) = db.session.scalars(db.select(SegmentAttendance)).all()
        assert part.left_at is not None


def test_a_trainer_corrects_one_segment(app, client, learner, organizer, day):
    check_in_at(app, day, learner.id, 0)
    with app.app_context():
        session = db.session.get(LiveSession, day)
        salon_id = session.segments[1].id
        salon_start = checkin.local(session.segments[1].starts_at, session.timezone)
    client.login(organizer.email)
    late = (salon_start + timedelta(minutes=15)).strftime("%H:%M")
    left = (salon_start + timedelta(minutes=45)).strftime("%H:%M")
    data = {"learner": learner.id, "status": "late", "reason": "came back", "segment": salon_id}
    assert (
        client.post(f"/live/{day}/attendance", {**data, "arrived": late, "left": left}).status_code
        == 302
    )
    assert segments_of(app, day, learner.id) == [(0, None, None), (1, 85, 115)]
    # An arrival outside the segment is refused, and so is a segment of another session.
    outside = {**data, "arrived": (salon_start - timedelta(minutes=30)).strftime("%H:%M")}
    assert client.post(f"/live/{day}/attendance", outside).status_code == 400
    other = make_session(app, starts_in=timedelta(hours=-4))
    with app.app_context():
        foreign = db.session.get(LiveSession, other).segments[1].id
    assert client.post(f"/live/{day}/attendance", {**data, "segment": foreign}).status_code == 400
    assert client.post(f"/live/{day}/attendance", {**data, "segment": "x"}).status_code == 400
    end_of(app, day)
    assert sum(ledger(app, learner.id)) == (60 + 30) * 60
    # The open class was not attended after all: the ledger moves by the difference.
    open_class = {"learner": learner.id, "status": "absent", "reason": "elsewhere"}
    with app.app_context():
        open_class["segment"] = db.session.get(LiveSession, day).segments[0].id
    assert client.post(f"/live/{day}/attendance", open_class).status_code == 302
    assert ledger(app, learner.id)[-1] == -60 * 60 and sum(ledger(app, learner.id)) == 30 * 60
    with app.app_context():
        row = db.session.scalars(db.select(Attendance)).one()
        assert row.status == "late"  # the salon, where they came late, is what they attended
        log = db.session.scalars(
            db.select(AttendanceCorrection).order_by(AttendanceCorrection.id)
        ).all()
        assert [(c.old_status, c.new_status, c.segment_id is not None) for c in log] == [
            ("absent", "late", True), ("present", "absent", True),
        ]  # fmt: skip
    # The last segment removed: the session is absent, and nothing is credited.
    salon_only = {"learner": learner.id, "status": "absent", "reason": "no", "segment": salon_id}
    assert client.post(f"/live/{day}/attendance", salon_only).status_code == 302
    assert sum(ledger(app, learner.id)) == 0
    with app.app_context():
        assert db.session.scalars(db.select(Attendance)).one().status == "absent"
    roster = client.get(f"/live/{day}/roster", headers={"Accept-Language": "zh-CN"})
    assert "创客沙龙" in roster.get_data(as_text=True)


def test_a_session_counts_as_attended_when_any_segment_was(app, learner, day):
    check_in_at(app, day, learner.id, 141)  # the discussion only
    end_of(app, day)
    with app.test_request_context():
        session = db.session.get(LiveSession, day)
        today = hours.local_day(session.starts_at)
        (row,) = [
            r
            for r in reports.attendance_by_session(
                people_service.Scope(None, everyone=True), today, today
            )
            if r.session.id == day
        ]
        assert (row.present, row.registered, row.rate) == (1, 1, 100)
        totals = archive.build(db.session.get(User, learner.id)).totals
        assert totals.sessions_attended == 1
    assert ledger(app, learner.id) == [50 * 60]


def test_the_roster_csv_names_the_segments_attended(app, client, learner, organizer, day):
    check_in_at(app, day, learner.id, 0)
    check_in_at(app, day, learner.id, 150)
    client.login(organizer.email)
    body = client.get(f"/live/{day}/roster.csv", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    header, line = body.splitlines()[:2]
    assert header.endswith("Segments attended")
    assert "Open class;" in line and "Members' discussion" in line and "Maker salon" not in line


@pytest.fixture
def app_before_segments(app_config):
    """An app whose fresh database is migrated to the revision before segment attendance."""
    with migrated(app_config, "e5c1a7b3d920") as app:
        yield app


def _insert(connection, table: str, moment: datetime, **values) -> int:
    """A row with ``values``, and filler for the other required columns (as they were then)."""
    import sqlalchemy as sa

    for column in sa.inspect(connection).get_columns(table):
        name, kind = column["name"], str(column["type"]).upper()
        if name in values or name == "id" or column["nullable"] or column.get("default"):
            continue
        values[name] = (
            0 if "INT" in kind else False if "BOOL" in kind
            else moment if "DATE" in kind or "TIME" in kind else "x"
        )  # fmt: skip
    rows = sa.table(table, *(sa.column(name) for name in values), sa.column("id"))
    connection.execute(sa.insert(rows).values(**values))
    return connection.execute(sa.select(sa.func.max(rows.c.id))).scalar_one()


def test_the_migration_cuts_existing_presence_into_segments(app_before_segments):
    import flask_migrate
    import sqlalchemy as sa

    start = datetime(2031, 3, 25, 5, 30, tzinfo=UTC)
    minute = timedelta(minutes=1)
    with db.engine.begin() as connection:
        user = _insert(connection, "users", start, email="m@example.com", role="learner")
        session = _insert(
            connection, "live_sessions", start, starts_at=start, ends_at=start + 190 * minute,
            status="scheduled", delivery="lecture", capacity=9,
        )  # fmt: skip
        for kind, offset, length in (
            ("open_class", 0, 60),
            ("salon", 70, 60),
            ("discussion", 140, 50),
        ):
            _insert(
                connection, "live_segments", start, session_id=session, kind=kind,
                starts_at=start + offset * minute, ends_at=start + (offset + length) * minute,
            )  # fmt: skip
        _insert(
            connection, "attendance", start, session_id=session, user_id=user, status="late",
            arrived_at=start + 80 * minute, left_at=start + 150 * minute, method="trainer",
        )  # fmt: skip
        # Someone excused, and someone present all afternoon.
        other = _insert(connection, "users", start, email="n@example.com", role="learner")
        _insert(connection, "attendance", start, session_id=session, user_id=other,
                status="excused", method="trainer")  # fmt: skip
    flask_migrate.upgrade(revision="b8f3d2a6c417")
    with db.engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT g.kind, p.arrived_at, p.left_at FROM segment_attendance p "
                "JOIN live_segments g ON g.id = p.segment_id ORDER BY g.starts_at"
            )
        ).all()

    def read(value):  # SQLite answers raw SQL with text
        if value is None:
            return None
        return live.aware(datetime.fromisoformat(value) if isinstance(value, str) else value)

    found = [(kind, read(arrived), read(left)) for kind, arrived, left in rows]
    # The open class was before the arrival; nothing for the excused learner.
    assert found == [
        ("salon", start + 80 * minute, None),
        ("discussion", None, start + 150 * minute),
    ]


def test_mark_everyone_present_for_one_segment(app, client, make_user, organizer, learner, day):
    came, absent, holder, colleague = (
        make_user(f"{name}@example.com", organization="Acme")
        for name in ("came", "absent", "holder", "colleague")
    )
    with app.app_context():
        for user in (came, absent, holder):
            db.session.add(live.Registration(session_id=day, user_id=user.id, status="registered"))
        db.session.commit()
    check_in_at(app, day, came.id, 0)  # the open class only, so far
    moment = at(app, day, 5)
    with app.test_request_context():
        session = db.session.get(LiveSession, day)
        checkin.check_in(  # a colleague in the holder's place
            db.session.get(User, colleague.id), session, checkin.code_for(session, moment),
            substitute_for=db.session.get(User, holder.id), now=moment,
        )  # fmt: skip
        salon = session.segments[1].id
    client.login(organizer.email)
    url = f"/live/{day}/attendance/all-present"
    assert client.post(url, {"reason": "数人头", "segment": 999_999}).status_code == 400
    assert client.post(url, {"reason": "数人头", "segment": salon}).status_code == 302
    assert segments_of(app, day, came.id) == [(0, None, None), (1, None, None)]
    assert segments_of(app, day, colleague.id) == [(0, None, None), (1, None, None)]
    assert segments_of(app, day, absent.id) == [(1, None, None)]  # nobody had recorded them
    with app.app_context():
        statuses = dict(
            db.session.execute(
                db.select(Attendance.user_id, Attendance.status).filter_by(session_id=day)
            ).all()
        )
        assert statuses[holder.id] == "replaced" and statuses[absent.id] == "present"
        logged = db.session.scalars(db.select(AttendanceCorrection)).all()
        # came, the colleague, absent, and the day's registered learner
        assert len(logged) == 4 and all(c.segment_id == salon for c in logged)
    end_of(app, day)
    assert sum(ledger(app, came.id)) == 120 * 60 and sum(ledger(app, absent.id)) == 60 * 60
    # A second time: everyone has the salon already.
    assert client.post(url, {"reason": "again", "segment": salon}).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AttendanceCorrection.id))) == 4


def test_the_pages_offer_the_check_in_of_the_next_segment(app, client, learner):
    session_id = make_session(app, starts_in=timedelta(minutes=-75))  # the salon runs
    register(app, learner.id, session_id)
    check_in_at(app, session_id, learner.id, 5)  # came to the open class
    client.login(learner.email)
    page = client.get(f"/live/{session_id}", headers={"Accept-Language": "zh-CN"})
    assert 'data-test="segment-checkin"' in page.get_data(as_text=True)
    form = client.get(f"/live/{session_id}/checkin").get_data(as_text=True)
    assert 'data-test="next-segment"' in form and 'name="code"' in form
    assert post_code(client, session_id, code(app, session_id)).status_code == 302
    assert segments_of(app, session_id, learner.id) == [(0, None, None), (1, None, None)]
    done = client.get(f"/live/{session_id}/checkin").get_data(as_text=True)
    assert 'name="code"' not in done and 'data-test="checkout"' in done
    page = client.get(f"/live/{session_id}").get_data(as_text=True)
    assert 'data-test="segment-checkin"' not in page


def test_the_sign_in_sheet_has_a_column_per_segment_with_what_was_recorded(
    app, client, learner, organizer, day
):
    check_in_at(app, day, learner.id, 0)  # the open class, whole
    check_in_at(app, day, learner.id, 95)  # the salon, late: from its arrival
    client.login(organizer.email)
    page = client.get(f"/live/{day}/sign-in-sheet", headers={"Accept-Language": "zh-CN"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert text.count('data-test="segment-column"') == 3
    with app.app_context():
        session = db.session.get(LiveSession, day)
        titles = [segment.title for segment in session.segments]
        salon_start = live.aware(session.segments[1].starts_at)
        zone = session.timezone
    assert all(title in text for title in titles)
    assert "每个环节参加时各签一次" in text
    row = text[text.index(learner.name) :].split("</tr>")[0]
    cells = row.split('<td class="signature">')[1:]
    arrived = live.local(salon_start + timedelta(minutes=25), zone)
    assert "✓" in cells[0] and f"{arrived:%H:%M}–" in cells[1] and "span" not in cells[2]
