"""Attendance states and corrections (issue 17): reasons, seats credited once, arrival and
departure times, hours credited as segments end, marking everyone present, the roster's
exports."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from lms.extensions import db
from lms.models import Attendance, AttendanceCorrection, LiveSession, TrainingTime
from lms.services import checkin, schedule
from tests.test_checkin import add_attendance, code, end_of, ledger, make_session, post_code


def registered(app, session_id, *users):
    with app.app_context():
        for user in users:
            db.session.add(
                checkin.Registration(session_id=session_id, user_id=user.id, status="registered")
            )
        db.session.commit()


def named(app, user, name):
    with app.app_context():
        db.session.get(type(user), user.id).name = name
        db.session.commit()
    return user


def statuses(app, session_id):
    with app.app_context():
        return dict(
            db.session.execute(
                db.select(Attendance.user_id, Attendance.status).filter_by(session_id=session_id)
            ).all()
        )


def correct(client, session_id, learner_id, status, reason="seen", **times):
    return client.post(
        f"/live/{session_id}/attendance",
        {"learner": learner_id, "status": status, "reason": reason, **times},
    )


@pytest.fixture
def ended(app):
    """A session that ended an hour ago (segments at start+0, +70, +140 min; 170 min)."""
    return make_session(app, starts_in=timedelta(minutes=-230))


def test_every_correction_needs_a_reason(app, client, learner, organizer, ended):
    registered(app, ended, learner)
    client.login(organizer.email)
    for status in ("present", "late", "excused", "absent"):
        assert correct(client, ended, learner.id, status, reason="  ").status_code == 400
    assert correct(client, ended, learner.id, "replaced").status_code == 400  # not a choice
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AttendanceCorrection.id))) == 0
        assert db.session.scalar(db.select(db.func.count(Attendance.id))) == 0


def test_a_seat_is_never_credited_twice(app, client, make_user, organizer, ended):
    holder = make_user("holder@example.com", organization="Acme")
    substitute = make_user("sub@example.com", organization="Acme")
    registered(app, ended, holder)
    add_attendance(app, ended, substitute.id, substitute_for_id=holder.id)
    with app.app_context():
        db.session.add(Attendance(session_id=ended, user_id=holder.id, status="replaced"))
        db.session.commit()
    client.login(organizer.email)
    refused = correct(client, ended, holder.id, "present", reason="was there")
    assert refused.status_code == 409
    assert "attended in this learner" in refused.get_data(as_text=True)
    assert statuses(app, ended) == {holder.id: "replaced", substitute.id: "present"}
    # The substitute did not come after all: the seat goes back to its holder, as absent.
    assert correct(client, ended, substitute.id, "absent", reason="not seen").status_code == 302
    assert statuses(app, ended) == {holder.id: "absent", substitute.id: "absent"}
    assert correct(client, ended, holder.id, "present", reason="was there").status_code == 302
    refused = correct(client, ended, substitute.id, "present", reason="both?")
    assert refused.status_code == 409
    assert "is credited for this seat" in refused.get_data(as_text=True)
    end_of(app, ended)
    assert sum(ledger(app, holder.id)) == 170 * 60 and sum(ledger(app, substitute.id)) == 0
    # Back the other way: the holder absent, the substitute present, the holder replaced.
    assert correct(client, ended, holder.id, "absent", reason="mixed up").status_code == 302
    assert correct(client, ended, substitute.id, "present", reason="mixed up").status_code == 302
    assert statuses(app, ended) == {holder.id: "replaced", substitute.id: "present"}
    assert sum(ledger(app, holder.id)) == 0 and sum(ledger(app, substitute.id)) == 170 * 60
    with app.app_context():
        log = db.session.scalars(
            db.select(AttendanceCorrection).order_by(AttendanceCorrection.id)
        ).all()
        whom = {row.id: row.user_id for row in db.session.scalars(db.select(Attendance))}
        assert [(whom[c.attendance_id], c.old_status, c.new_status) for c in log] == [
            (substitute.id, "present", "absent"),
            (holder.id, "replaced", "absent"),
            (holder.id, "absent", "present"),
            (holder.id, "present", "absent"),
            (substitute.id, "absent", "present"),
            (holder.id, "absent", "replaced"),
        ]


def test_late_with_an_arrival_time_credits_from_then(app, client, learner, organizer, ended):
    registered(app, ended, learner)
    client.login(organizer.email)
    no_arrival = correct(client, ended, learner.id, "late", reason="came late")
    assert no_arrival.status_code == 400
    assert "arrival time" in no_arrival.get_data(as_text=True)
    with app.app_context():
        session = db.session.get(LiveSession, ended)
        start = checkin.local(session.starts_at, session.timezone)
    arrival = (start + timedelta(minutes=80)).strftime("%H:%M")  # ten minutes into the salon
    outside = (start - timedelta(minutes=20)).strftime("%H:%M")
    assert correct(client, ended, learner.id, "late", arrived=outside).status_code == 400
    assert correct(client, ended, learner.id, "late", arrived=arrival).status_code == 302
    assert sum(ledger(app, learner.id)) == (50 + 50) * 60  # salon from 80', the discussion
    # Left early: at the start of the discussion.
    left = (start + timedelta(minutes=140)).strftime("%H:%M")
    response = correct(client, ended, learner.id, "late", arrived=arrival, left=left)
    assert response.status_code == 302
    assert sum(ledger(app, learner.id)) == 50 * 60
    assert ledger(app, learner.id) == [100 * 60, -50 * 60]  # difference entries
    page = client.get(f"/live/{ended}/roster").get_data(as_text=True)
    log = page.split('data-test="corrections"')[1]
    assert f"arrived {arrival}" in log and f"left {left}" in log, log


def test_hours_are_credited_as_each_segment_ends(app, client, learner):
    session_id = make_session(app)
    registered(app, session_id, learner)
    client.login(learner.email)
    assert post_code(client, session_id, code(app, session_id)).status_code == 302
    assert ledger(app, learner.id) == []
    page = client.get(f"/live/{session_id}/checkin").get_data(as_text=True)
    assert "Hours credited so far: 0.0 h" in page
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        first_end = session.segments[0].ends_at.replace(tzinfo=UTC)
        assert checkin.credit_ended_segments(first_end + timedelta(minutes=1)) == 60 * 60
        assert checkin.credit_ended_segments(first_end + timedelta(minutes=2)) == 0
    assert ledger(app, learner.id) == [60 * 60]
    # The learner skips the salon and checks in for the discussion, two minutes in (on time):
    # segments are attended separately, and the salon between them is not credited.
    with app.test_request_context():
        session = db.session.get(LiveSession, session_id)
        discussion = session.segments[2]
        at = discussion.starts_at.replace(tzinfo=UTC) + timedelta(minutes=2)
        user = db.session.get(type(learner), learner.id)
        assert checkin.check_in(user, session, checkin.code_for(session, at), now=at).created
        row = db.session.scalars(db.select(Attendance)).one()
        assert row.status == "present"
        assert [s.segment_id for s in row.segments] == [session.segments[0].id, discussion.id]
    end_of(app, session_id)
    assert ledger(app, learner.id) == [60 * 60, 50 * 60]
    assert "Hours credited so far: 1.8 h" in client.get(f"/live/{session_id}/checkin").get_data(
        as_text=True
    )


def test_the_crediting_task_is_scheduled_and_skips_cancelled_sessions(app, learner):
    session_id = make_session(app, starts_in=timedelta(hours=-5))
    add_attendance(app, session_id, learner.id)
    called_off = make_session(app, starts_in=timedelta(hours=-5))
    add_attendance(app, called_off, learner.id)
    with app.app_context():
        db.session.get(LiveSession, called_off).status = "cancelled"
        db.session.commit()
        assert "credit live hours" in schedule.run_due()
        assert schedule.run_due() == []  # not due again yet
    assert ledger(app, learner.id) == [170 * 60]


def test_the_roster_preselects_the_current_status_and_logs_in_chinese(
    app, client, make_user, organizer, ended
):
    ann = named(app, make_user("ann@example.com"), "安妮")
    bob = make_user("bob@example.com")
    registered(app, ended, ann, bob)
    add_attendance(app, ended, ann.id, "late")
    client.login(organizer.email)
    page = client.get(f"/live/{ended}/roster").get_data(as_text=True)
    ann_row = page.split(f'data-learner="{ann.id}"')[1].split("</tr>")[0]
    bob_row = page.split(f'data-learner="{bob.id}"')[1].split("</tr>")[0]
    assert '<option value="late" selected>' in ann_row
    assert '<option value="" selected>' in bob_row and " selected>" not in bob_row.replace(
        '<option value="" selected>', ""
    )
    assert correct(client, ended, ann.id, "excused", reason="家里有事").status_code == 302
    chinese = client.get(f"/live/{ended}/roster", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True
    )
    log = chinese.split('data-test="corrections"')[1]
    assert "安妮" in log and "迟到 → 请假" in log and "家里有事" in log
    assert "late" not in log and "excused" not in log


def test_mark_everyone_present(app, client, make_user, organizer):
    session_id = make_session(app, starts_in=timedelta(hours=2))
    people = [make_user(f"p{n}@example.com", organization="Acme") for n in range(4)]
    registered(app, session_id, *people[:3])
    client.login(organizer.email)
    url = f"/live/{session_id}/attendance/all-present"
    early = client.post(url, {"reason": "all here"})
    assert early.status_code == 409  # check-in has not opened
    assert 'data-test="mark-all"' not in client.get(f"/live/{session_id}/roster").get_data(
        as_text=True
    )
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        shift = timedelta(hours=2, minutes=-5)
        session.starts_at -= shift
        session.ends_at -= shift
        for segment in session.segments:
            segment.starts_at -= shift
            segment.ends_at -= shift
        db.session.commit()
    add_attendance(app, session_id, people[0].id, "late")  # checked in already: kept
    add_attendance(app, session_id, people[3].id, substitute_for_id=people[1].id)
    assert client.post(url, {"reason": ""}).status_code == 400
    assert client.post(url, {"reason": "all here"}).status_code == 302
    assert statuses(app, session_id) == {
        people[0].id: "late",
        people[2].id: "present",
        people[3].id: "present",
    }
    assert client.post(url, {"reason": "all here"}).status_code == 302  # nobody left: 0
    with app.app_context():
        log = db.session.scalars(db.select(AttendanceCorrection)).all()
        assert [(c.old_status, c.new_status, c.reason) for c in log] == [
            (None, "present", "all here")
        ]


def test_the_roster_exports_are_formula_safe_and_printable(app, client, make_user, organizer):
    session_id = make_session(app)
    evil = named(app, make_user("evil@example.com", organization="Acme"), '=HYPERLINK("x")')
    wang = named(app, make_user("wang@example.com", organization="Acme"), "王芳")
    registered(app, session_id, evil, wang)
    add_attendance(app, session_id, wang.id, "late")
    client.login(organizer.email)
    response = client.get(f"/live/{session_id}/roster.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert "'=HYPERLINK" in body and "\n=HYPERLINK" not in body.replace('"', "")
    assert "王芳" in body and "late" in body
    sheet = client.get(f"/live/{session_id}/sign-in-sheet")
    text = sheet.get_data(as_text=True)
    assert sheet.status_code == 200 and "王芳" in text and "sign-in-sheet.css" in text
    assert "=HYPERLINK(&#34;x&#34;)" in text or "=HYPERLINK(&quot;x&quot;)" in text
    chinese = client.get(f"/live/{session_id}/roster.csv", headers={"Accept-Language": "zh-CN"})
    assert "迟到" in chinese.get_data(as_text=True)


def test_a_no_show_marked_absent_credits_nothing_and_keeps_the_ledger_equal(
    app, learner, other_learner, ended
):
    registered(app, ended, learner, other_learner)
    add_attendance(app, ended, learner.id)
    with app.app_context():
        checkin.mark_no_shows()
        checkin.credit_ended_segments()
        total = dict(
            db.session.execute(
                db.select(TrainingTime.user_id, db.func.sum(TrainingTime.seconds)).group_by(
                    TrainingTime.user_id
                )
            ).all()
        )
    assert total == {learner.id: 170 * 60}
    assert statuses(app, ended) == {learner.id: "present", other_learner.id: "absent"}


def test_the_archive_keeps_the_attendance_history(app, client, learner, organizer, ended):
    registered(app, ended, learner)
    with app.app_context():
        session = db.session.get(LiveSession, ended)
        arrival = checkin.local(session.starts_at, session.timezone) + timedelta(minutes=70)
    client.login(organizer.email)
    response = correct(client, ended, learner.id, "late", arrived=f"{arrival:%H:%M}")
    assert response.status_code == 302
    client.logout()
    client.login(learner.email)
    page = client.get(f"/people/{learner.id}/archive").get_data(as_text=True)
    history = page.split('data-test="attendance-history"')[1].split("</table>")[0]
    assert "late" in history and f"{arrival:%H:%M}" in history and "1.8" in history  # 110 min
    assert 'data-test="attendance-rate">100%' in page
    chinese = client.get(
        f"/people/{learner.id}/archive", headers={"Accept-Language": "zh-CN"}
    ).get_data(as_text=True)
    assert "出勤记录" in chinese and "迟到" in chinese
