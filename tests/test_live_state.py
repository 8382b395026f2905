"""A state-machine property test of live attendance (issue 17): random sequences of register,
cancel, check-in, substitute, check-out, correct (the whole session or one segment), mark
everyone present, time passing from segment to segment and the session's end, on the engine
the suite runs on. After every step: no seat is credited twice, the ledger holds what the
attendance is worth, a cancelled registration has no attendance, the attendance report counts
what the roster shows, a person is present or late exactly when a segment was attended, each
segment's presence lies within it, and no time between or outside the segments attended is
credited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from lms.extensions import db
from lms.models import Attendance, LiveSession, Registration, TrainingTime, User
from lms.services import accounts, checkin, hours, live, live_corrections, reports
from lms.services import people as people_service

PEOPLE = 4  # learners of one organization, so any of them may substitute for another
STATUSES = st.sampled_from(checkin.CORRECTABLE)


def run_machine(app, make_user) -> None:
    trainer = make_user(f"trainer-{datetime.now(UTC).timestamp()}@example.com", role="organizer")

    class Attendance_(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            tag = f"{id(self)}-{datetime.now(UTC).timestamp()}"
            self.users = [
                accounts.create_user(
                    f"p{n}-{tag}@example.com", f"p{n}", "correct horse battery",
                    organization_id=self.org_id(),
                ).id
                for n in range(PEOPLE)
            ]  # fmt: skip
            self.session_id = live.create_session(
                live.SessionValues(title_zh="活动日", title_en="Day", location="c", capacity=3),
                datetime.now(UTC) - timedelta(minutes=5),  # started: check-in open, in reports
                live.ACTIVITY_DAY_SEGMENTS,
            ).id
            self.clock = datetime.now(UTC)
            self.ended = False

        @staticmethod
        def org_id() -> int:
            from lms.models import Organization

            org = db.session.scalar(db.select(Organization).filter_by(name="Acme"))
            if org is None:
                org = Organization(name="Acme")
                db.session.add(org)
                db.session.commit()
            return org.id

        def session(self) -> LiveSession:
            return db.session.get(LiveSession, self.session_id)

        def user(self, index: int) -> User:
            return db.session.get(User, self.users[index])

        def attempt(self, action) -> None:
            try:
                action()
            except (live.LiveError, checkin.CheckinError):
                db.session.rollback()

        @rule(who=st.integers(0, PEOPLE - 1))
        def register(self, who: int) -> None:
            self.attempt(lambda: live.register(self.user(who), self.session(), now=self.clock))

        @rule(who=st.integers(0, PEOPLE - 1))
        def cancel(self, who: int) -> None:
            self.attempt(
                lambda: live.cancel_registration(self.user(who), self.session(), now=self.clock)
            )

        @rule(who=st.integers(0, PEOPLE - 1))
        def check_in(self, who: int) -> None:
            session = self.session()
            self.attempt(
                lambda: checkin.check_in(
                    self.user(who), session, checkin.code_for(session, self.clock), now=self.clock
                )
            )

        @rule(who=st.integers(0, PEOPLE - 1), holder=st.integers(0, PEOPLE - 1))
        def substitute(self, who: int, holder: int) -> None:
            session = self.session()
            self.attempt(
                lambda: checkin.check_in(
                    self.user(who), session, checkin.code_for(session, self.clock),
                    substitute_for=self.user(holder), now=self.clock,
                )
            )  # fmt: skip

        @rule(who=st.integers(0, PEOPLE - 1), status=STATUSES, late_by=st.integers(0, 169))
        def correct(self, who: int, status: str, late_by: int) -> None:
            session = self.session()
            arrival = live.aware(session.starts_at) + timedelta(minutes=late_by)
            self.attempt(
                lambda: live_corrections.correct(
                    db.session.get(User, trainer.id), session, self.user(who), status, "seen",
                    arrived_at=arrival if status == "late" else None, now=self.clock,
                )
            )  # fmt: skip

        @rule(minutes=st.integers(1, 80))
        def time_passes(self, minutes: int) -> None:
            """The afternoon goes on (never past the end: ``end`` does that); the crediting
            task runs as it would, so each segment is credited as it ends."""
            if self.ended:
                return
            last = live.aware(self.session().ends_at) - timedelta(minutes=1)
            self.clock = min(self.clock + timedelta(minutes=minutes), last)
            checkin.credit_ended_segments(self.clock)

        @rule(who=st.integers(0, PEOPLE - 1))
        def check_out(self, who: int) -> None:
            self.attempt(lambda: checkin.check_out(self.user(who), self.session(), now=self.clock))

        @rule(
            who=st.integers(0, PEOPLE - 1),
            part=st.integers(0, len(live.ACTIVITY_DAY_SEGMENTS) - 1),
            status=STATUSES,
            late_by=st.integers(0, 59),
            left_after=st.none() | st.integers(1, 60),
        )
        def correct_segment(
            self, who: int, part: int, status: str, late_by: int, left_after: int | None
        ) -> None:
            session = self.session()
            segment = session.segments[part]
            start, end = live.aware(segment.starts_at), live.aware(segment.ends_at)
            arrival = min(start + timedelta(minutes=late_by), end - timedelta(minutes=1))
            left = None if left_after is None else min(arrival + timedelta(minutes=left_after), end)
            self.attempt(
                lambda: live_corrections.correct(
                    db.session.get(User, trainer.id), session, self.user(who), status, "seen",
                    arrived_at=arrival if status == "late" else None, left_at=left,
                    now=self.clock, segment=segment,
                )
            )  # fmt: skip

        @rule(part=st.none() | st.integers(0, len(live.ACTIVITY_DAY_SEGMENTS) - 1))
        def mark_all_present(self, part: int | None) -> None:
            session = self.session()
            self.attempt(
                lambda: live_corrections.mark_all_present(
                    db.session.get(User, trainer.id), session, "all here", now=self.clock,
                    segment=None if part is None else session.segments[part],
                )
            )  # fmt: skip

        @rule()
        def end(self) -> None:
            if self.ended:
                return
            self.ended = True
            self.clock = live.aware(self.session().ends_at) + timedelta(minutes=1)
            checkin.mark_no_shows(self.clock)
            checkin.credit_ended_segments(self.clock)

        @invariant()
        def a_seat_is_credited_once(self) -> None:
            rows = self.rows()
            for row in rows.values():
                if row.substitute_for_id and row.status in checkin.ATTENDED:
                    holder = rows.get(row.substitute_for_id)
                    assert holder is None or holder.status not in checkin.ATTENDED
            substitutes = [r.substitute_for_id for r in rows.values() if r.substitute_for_id]
            assert len(substitutes) == len(set(substitutes))

        @invariant()
        def the_ledger_holds_what_attendance_is_worth(self) -> None:
            session = self.session()
            rows = self.rows()
            for user_id in self.users:
                credited = db.session.scalar(
                    db.select(db.func.coalesce(db.func.sum(TrainingTime.seconds), 0)).where(
                        TrainingTime.user_id == user_id,
                        TrainingTime.live_session_id == self.session_id,
                    )
                )
                assert credited == hours.attended_seconds(session, rows.get(user_id), self.clock)

        @invariant()
        def attended_exactly_when_a_segment_was(self) -> None:
            session = self.session()
            segments = {segment.id: segment for segment in session.segments}
            for row in self.rows().values():
                assert (row.status in checkin.ATTENDED) == bool(row.segments), row.status
                for part in row.segments:
                    segment = segments[part.segment_id]
                    start, end = hours.segment_span(segment, part)
                    assert (
                        live.aware(segment.starts_at) <= start < end <= live.aware(segment.ends_at)
                    )

        @invariant()
        def no_gap_is_credited(self) -> None:
            """Credited time never exceeds the segments attended that have ended."""
            session = self.session()
            rows = self.rows()
            ended = {s.id: s for s in session.segments if live.aware(s.ends_at) <= self.clock}
            for user_id in self.users:
                row = rows.get(user_id)
                attended = [p.segment_id for p in row.segments] if row is not None else []
                most = sum(
                    (live.aware(ended[i].ends_at) - live.aware(ended[i].starts_at)).total_seconds()
                    for i in attended
                    if i in ended
                )
                assert hours.attended_seconds(session, row, self.clock) <= most

        @invariant()
        def a_cancelled_registration_has_no_attendance(self) -> None:
            rows = self.rows()
            for registration in db.session.scalars(
                db.select(Registration).filter_by(session_id=self.session_id, status="cancelled")
            ):
                assert registration.user_id not in rows
                assert all(r.substitute_for_id != registration.user_id for r in rows.values())

        @invariant()
        def the_report_counts_what_the_roster_shows(self) -> None:
            session = self.session()
            roster = checkin.roster(session)
            day = hours.local_day(session.starts_at)
            (row,) = [
                r
                for r in reports.attendance_by_session(
                    people_service.Scope(None, everyone=True), day, day
                )
                if r.session.id == self.session_id
            ]
            statuses = [r["attendance"].status for r in roster if r["attendance"]]
            registered = [
                r for r in roster if r["registration"] and r["registration"].status == "registered"
            ]
            assert row.registered == len(registered)
            for status in ("present", "late", "excused", "absent"):
                assert getattr(row, status) == statuses.count(status), status
            assert row.rate is None or 0 <= row.rate <= 100

        def rows(self) -> dict[int, Attendance]:
            db.session.expire_all()
            return {
                row.user_id: row
                for row in db.session.scalars(
                    db.select(Attendance).filter_by(session_id=self.session_id)
                )
            }

    with app.test_request_context():
        run_state_machine_as_test(
            Attendance_,
            settings=settings(
                max_examples=12,
                stateful_step_count=16,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
            ),
        )


def test_attendance_stays_consistent_whatever_happens(app, make_user):
    run_machine(app, make_user)
