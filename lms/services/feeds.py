"""iCalendar feeds at secret, revocable URLs — a learner's own sessions, or a camp's — and the
public academy-wide feed of every session anyone may see.

Only the sha256 of a feed's token is stored; the URL is shown once, when it is made.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import select

from lms.extensions import db
from lms.models import CalendarFeed, Camp, LiveSession, Registration, User
from lms.models._base import academy_timezone, aware, utcnow
from lms.services import accounts
from lms.services.live import local
from lms.services.switches import disabled_camps

PAST_DAYS = 90
FUTURE_DAYS = 400


def disabled_camp_ids() -> set[int]:
    """Ids of the camps switched off: their sessions leave every feed, their feeds answer 404."""
    slugs = disabled_camps()
    if not slugs:
        return set()
    return set(db.session.scalars(db.select(Camp.id).where(Camp.slug.in_(slugs))))


def create_feed(user: User, camp: Camp | None = None) -> tuple[CalendarFeed, str]:
    """A new feed and its token. A learner's new personal feed revokes the previous one."""
    if camp is not None and not user.is_organizer:
        raise PermissionError("only organizers publish camp feeds")
    if camp is None:
        db.session.execute(
            db.update(CalendarFeed)
            .where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        token_hash=accounts.token_digest(token),
        user_id=None if camp else user.id,
        camp_id=camp.id if camp else None,
        created_by_id=user.id,
    )
    db.session.add(feed)
    db.session.commit()
    return feed, token


def feeds_of(user: User) -> list[CalendarFeed]:
    """The active feeds a user manages: their own, and every camp feed for organizers."""
    query = db.select(CalendarFeed).where(CalendarFeed.revoked_at.is_(None))
    if user.is_organizer:
        query = query.where((CalendarFeed.user_id == user.id) | CalendarFeed.camp_id.is_not(None))
    else:
        query = query.where(CalendarFeed.user_id == user.id)
    return list(db.session.scalars(query.order_by(CalendarFeed.created_at.desc())))


def revoke(user: User, feed_id: int) -> bool:
    """Revoke a feed its owner (or an organizer) manages; False when there is none such."""
    feed = next((f for f in feeds_of(user) if f.id == feed_id), None)
    if feed is None:
        return False
    feed.revoked_at = utcnow()
    db.session.commit()
    return True


def find(token: str, disabled_camp_ids: set[int]) -> CalendarFeed | None:
    if not token or len(token) > 100:
        return None
    feed = db.session.scalar(
        select(CalendarFeed).filter_by(token_hash=accounts.token_digest(token), revoked_at=None)
    )
    if feed is None or (feed.camp_id is not None and feed.camp_id in disabled_camp_ids):
        return None
    if feed.user_id is not None:  # a disabled account's calendar stops with it
        owner = db.session.get(User, feed.user_id)
        if owner is None or not owner.active:
            return None
    return feed


def sessions_for(feed: CalendarFeed, disabled_camp_ids: set[int]) -> list[LiveSession]:
    now = utcnow()
    query = (
        db.select(LiveSession)
        .where(
            LiveSession.starts_at >= now - timedelta(days=PAST_DAYS),
            LiveSession.starts_at <= now + timedelta(days=FUTURE_DAYS),
        )
        .order_by(LiveSession.starts_at)
        .options(db.selectinload(LiveSession.segments), db.joinedload(LiveSession.lecturer))
    )
    if feed.camp_id is not None:
        query = query.where(LiveSession.camp_id == feed.camp_id)
    else:
        query = query.join(Registration, Registration.session_id == LiveSession.id).where(
            Registration.user_id == feed.user_id, Registration.status != "cancelled"
        )
    return [
        session
        for session in db.session.scalars(query)
        if session.camp_id is None or session.camp_id not in disabled_camp_ids
    ]


def academy_sessions(disabled_camp_ids: set[int]) -> list[LiveSession]:
    """The public academy-wide feed: every session anyone may see (the academy's own, the
    activity day among them, and those of enabled camps), cancelled ones marked."""
    now = utcnow()
    return [
        session
        for session in db.session.scalars(
            db.select(LiveSession)
            .where(
                LiveSession.starts_at >= now - timedelta(days=PAST_DAYS),
                LiveSession.starts_at <= now + timedelta(days=FUTURE_DAYS),
            )
            .order_by(LiveSession.starts_at, LiveSession.id)
            .options(db.selectinload(LiveSession.segments), db.joinedload(LiveSession.lecturer))
        )
        if session.camp_id is None or session.camp_id not in disabled_camp_ids
    ]


def waitlisted_ids(feed: CalendarFeed) -> set[int]:
    """Sessions the feed's owner only waits for (none on camp feeds)."""
    if feed.user_id is None:
        return set()
    return set(
        db.session.scalars(
            db.select(Registration.session_id).filter_by(user_id=feed.user_id, status="waitlisted")
        )
    )


def to_ics(
    sessions: list[LiveSession],
    name: str,
    url_for_session: Callable[[LiveSession], str],
    tentative: set[int] | frozenset[int] = frozenset(),
) -> bytes:
    """A VCALENDAR with one VEVENT per session (cancelled ones kept, marked CANCELLED)."""
    calendar = Calendar()
    calendar.add("prodid", "-//Camp LMS//Live sessions//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", academy_timezone())
    stamp = utcnow()
    for session in sessions:
        lines: list[str] = []
        event = Event()
        event.add("uid", f"live-{session.id}@camp-lms")
        event.add("dtstamp", stamp)
        event.add("dtstart", aware(session.starts_at))
        event.add("dtend", aware(session.ends_at))
        event.add("summary", f"{session.title_zh} / {session.title_en}")
        event.add("location", session.location)
        if session.status == "cancelled":
            event.add("status", "CANCELLED")
            if session.cancel_reason:
                lines.insert(0, session.cancel_reason)
        else:  # a learner still on the waitlist may not get a seat
            event.add("status", "TENTATIVE" if session.id in tentative else "CONFIRMED")
        event.add("sequence", session.sequence or 0)
        modified = session.updated_at or session.created_at
        event.add("last-modified", aware(modified) if modified else stamp)
        event.add("url", url_for_session(session))
        if session.lecturer is not None:
            lines.append(session.lecturer.name)
        if session.guest_name:
            lines.append(", ".join(p for p in (session.guest_name, session.guest_title) if p))
        for segment in session.segments:
            start = local(segment.starts_at, session.timezone).strftime("%H:%M")
            end = local(segment.ends_at, session.timezone).strftime("%H:%M")
            lines.append(f"{start}–{end} {segment.title_zh} / {segment.title_en}")
        event.add("description", "\n".join(lines))
        calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical
