"""Editing a recurring series from one occurrence on, like a calendar's "this and following":
new values for the rest of the series, a new time of day, or a new date that moves every
following occurrence by the same offset (the series split there, its rule's days moved), and
ending a series after an occurrence.

Creating a series and materializing its occurrences stay in :mod:`lms.services.live`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from flask_babel import gettext as _

from lms.database import lock_row
from lms.extensions import db
from lms.models import LiveSeries, LiveSession
from lms.models._base import aware, utcnow
from lms.services import live, notifications


def edit_following(
    session: LiveSession,
    edit: live.SessionEdit,
    start_time: time | None = None,
    now: datetime | None = None,
    *,
    starts_at: datetime | None = None,
    confirm_past: bool = False,
) -> int:
    """Edit this occurrence and every later one of its series, like a calendar's "this and
    following": the series itself takes the new values for the occurrences it makes later.

    A new start time (``start_time``, same day) applies to the occurrences that have not
    started (moved ones keep their own time of day). A new date and time (``starts_at``,
    zone-aware) moves this occurrence and every following one by the same offset (in local
    wall-clock time), with the guards of :func:`move`: nothing that has started moves, the
    past needs ``confirm_past`` and is refused for registered sessions. Either way the
    series is split here and continues at the new date and time. The number of sessions
    changed. Commits; on a refusal nothing is written (rolled back)."""
    if session.series is None:
        raise live.LiveError(_("This session is not part of a series."))
    now = now or utcnow()
    try:
        edited = _edit_following(
            session.series, session, edit, start_time, now, starts_at, confirm_past
        )
    except live.LiveError:
        db.session.rollback()
        raise
    db.session.commit()
    return edited


def _edit_following(
    series: LiveSeries,
    session: LiveSession,
    edit: live.SessionEdit,
    start_time: time | None,
    now: datetime,
    starts_at: datetime | None,
    confirm_past: bool,
) -> int:
    lock_row(LiveSeries, series.id)
    following = list(
        db.session.scalars(
            db.select(LiveSession)
            .where(
                LiveSession.series_id == series.id,
                LiveSession.starts_at >= aware(session.starts_at),
            )
            .order_by(LiveSession.starts_at)
        )
    )
    shift, days = timedelta(), 0
    if starts_at is not None:
        live.check_year(starts_at.year)
        here = live.local(session.starts_at, session.timezone)
        target = starts_at.astimezone(here.tzinfo).replace(second=0, microsecond=0)
        start_time, days = target.time(), (target.date() - here.date()).days
        if days:  # another day: everything from here moves by the same offset
            shift = target.replace(tzinfo=None) - here.replace(tzinfo=None)
    edited = 0
    for occurrence in following:
        changed_here = live.apply_edit(occurrence, edit, now)
        new_start = None
        if shift:
            new_start = _shifted(occurrence, shift)
            if live.has_started(occurrence, now):
                raise live.LiveConflict(_("This session has started: it cannot be moved."))
            live.check_past(new_start, confirm_past, occurrence, now)
        elif (
            start_time is not None
            and not occurrence.moved
            and not live.has_started(occurrence, now)
        ):
            local_start = live.local(occurrence.starts_at, occurrence.timezone)
            new_start = datetime.combine(local_start.date(), start_time, local_start.tzinfo)
            new_start = new_start.astimezone(UTC)
        if new_start is not None and new_start != aware(occurrence.starts_at):
            live.shift_session(occurrence, new_start)
            live.changed(occurrence, now)
            notifications.on_session_moved(occurrence)
            changed_here = True
        edited += changed_here
    for name in ("title_zh", "title_en", "location", "capacity"):
        setattr(series, name, getattr(edit, name))
    if start_time is not None:
        _split(series, session, start_time, following, days)
    return edited


def _shifted(occurrence: LiveSession, shift: timedelta) -> datetime:
    """``occurrence``'s start moved by ``shift`` of local wall-clock time, in UTC."""
    moment = live.local(occurrence.starts_at, occurrence.timezone)
    return (moment.replace(tzinfo=None) + shift).replace(tzinfo=moment.tzinfo).astimezone(UTC)


WEEKDAY_PART = re.compile(r"([+-]?\d*)(MO|TU|WE|TH|FR|SA|SU)")


def shift_rule(rule: str, days: int) -> str:
    """``rule`` with its days moved by ``days``: weekdays (``BYDAY``), days of the month
    (``BYMONTHDAY``) and ``UNTIL``. Parts that cannot follow a move of days (months,
    weeks or days of the year, set positions, hours) refuse a move (live.LiveError)."""
    if not days:
        return rule
    parts = []
    for part in rule.split(";"):
        name, _sep, value = part.partition("=")
        name = name.upper()
        if name == "BYDAY":
            moved = []
            for item in value.split(","):
                found = WEEKDAY_PART.fullmatch(item.upper())
                if found is None:
                    raise live.LiveError(
                        _("The recurrence rule is not valid: %(error)s", error=item)
                    )
                weekday = live.WEEKDAYS[(live.WEEKDAYS.index(found.group(2)) + days) % 7]
                moved.append(f"{found.group(1)}{weekday}")
            value = ",".join(moved)
        elif name == "BYMONTHDAY":
            monthdays = [int(item) + days for item in value.split(",")]
            if any(not 1 <= day <= 31 for day in monthdays) or any(
                int(item) < 0 for item in value.split(",")
            ):
                raise live.LiveError(_("This series cannot move to another day of the month."))
            value = ",".join(str(day) for day in monthdays)
        elif name == "UNTIL":
            until = datetime.strptime(value[:15], "%Y%m%dT%H%M%S") + timedelta(days=days)
            value = f"{until:%Y%m%dT%H%M%S}" + value[15:]
        elif name in ("BYMONTH", "BYYEARDAY", "BYWEEKNO", "BYSETPOS", "BYHOUR", "BYMINUTE"):
            raise live.LiveError(
                _("This series' rule cannot move to another date: end it and start a new one.")
            )
        parts.append(f"{name}={value}")
    return ";".join(parts)


def _split(
    series: LiveSeries,
    session: LiveSession,
    start_time: time,
    following: list[LiveSession],
    days: int = 0,
) -> None:
    """A new date or time of day from ``session`` on: the series ends before it and a new
    series with the same rule (its days moved by ``days``) continues at the new time,
    taking over the following occurrences (their recurrence ids moved the same way)."""
    first_local = live.local(session.recurrence_id or session.starts_at, series.timezone)
    if first_local.time() == start_time and not days:
        return
    old_rule = series.rrule
    split_at = aware(session.recurrence_id or session.starts_at)
    rule = ";".join(part for part in old_rule.split(";") if not part.upper().startswith("COUNT="))
    if rule != old_rule:  # COUNT: the new series makes the sessions the old one had left
        left = [
            moment
            for moment in live.parse_rule(old_rule, series.starts_local, series.timezone)
            if moment >= split_at
        ]
        rule = f"{rule};COUNT={max(1, len(left))}"
    rule = shift_rule(rule, days)
    starts_local = datetime.combine(first_local.date() + timedelta(days=days), start_time)
    live.parse_rule(rule, starts_local, series.timezone)
    earlier = db.session.scalar(
        db.select(LiveSession.id)
        .where(LiveSession.series_id == series.id, LiveSession.id.not_in([o.id for o in following]))
        .limit(1)
    )
    if earlier is None:  # from its first session on: the series itself changes
        series.rrule, series.starts_local, successor = rule, starts_local, series
    else:
        series.rrule = _with_until(old_rule, split_at - timedelta(seconds=1))
        successor = LiveSeries(
            **{name: getattr(series, name) for name in live.SERIES_FIELDS},
            rrule=rule,
            starts_local=starts_local,
            segments=series.segments,
            created_by_id=series.created_by_id,
        )
        db.session.add(successor)
        db.session.flush()
    zone_of = live.zone(series.timezone)
    for occurrence in following:
        original = live.local(occurrence.recurrence_id or occurrence.starts_at, series.timezone)
        occurrence.series_id = successor.id
        occurrence.recurrence_id = datetime.combine(
            original.date() + timedelta(days=days), start_time, zone_of
        ).astimezone(UTC)


def _with_until(rule: str, until: datetime) -> str:
    return ";".join(
        [*_without_end(rule).split(";"), f"UNTIL={until.astimezone(UTC):%Y%m%dT%H%M%SZ}"]
    )


def _without_end(rule: str) -> str:
    return ";".join(
        part for part in rule.split(";") if not part.upper().startswith(("UNTIL=", "COUNT="))
    )


def end_series(session: LiveSession, reason: str, now: datetime | None = None) -> tuple[int, int]:
    """End ``session``'s series after it: later occurrences nobody registered for are removed,
    those with registrations are cancelled with ``reason``, and the series makes no more.
    (removed, cancelled). Commits."""
    if session.series is None:
        raise live.LiveError(_("This session is not part of a series."))
    reason = (reason or "").strip()[:500]
    if not reason:
        raise live.LiveError(_("Give a reason."))
    now = now or utcnow()
    series = session.series
    lock_row(LiveSeries, series.id)
    series.rrule = _with_until(series.rrule, aware(session.recurrence_id or session.starts_at))
    removed = cancelled = 0
    for later in db.session.scalars(
        db.select(LiveSession).where(
            LiveSession.series_id == series.id,
            LiveSession.starts_at > aware(session.starts_at),
        )
    ):
        if live.has_registrations(later):
            if later.status != "cancelled":
                later.status, later.cancel_reason = "cancelled", reason
                live.changed(later, now)
                notifications.on_session_cancelled(later)
                cancelled += 1
        else:
            db.session.delete(later)
            removed += 1
    db.session.commit()
    return removed, cancelled
