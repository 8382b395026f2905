"""What happens in the app, as notifications: the one-line calls services make, and the
jobs that then find the recipients and deliver.

Each ``on_…`` function is called inside the transaction where the event happens and only
queues its job for after the commit (:func:`delivery.later`); the job reads the committed
rows, so it never notifies about something that did not happen.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from lms.extensions import db
from lms.models import (
    CaseComment,
    Certificate,
    DiscussionTopic,
    LiveSession,
    MediaAsset,
    Registration,
    SalonCase,
    TopicComment,
)
from lms.models._base import aware, utcnow
from lms.services.notifications.delivery import base_url, later, send

HOLDERS = ("registered", "waitlisted")


def session_facts(session: LiveSession) -> dict[str, int | str | None]:
    """What messages about a live session say: its titles, time, zone and place."""
    return {
        "session_id": session.id,
        "title_zh": session.title_zh,
        "title_en": session.title_en,
        "starts_at": aware(session.starts_at).isoformat(),
        "timezone": session.timezone,
        "location": session.location,
    }


def holders(session_id: int, statuses: tuple[str, ...] = HOLDERS) -> list[int]:
    """The users registered (or waiting) for a session."""
    return list(
        db.session.scalars(
            select(Registration.user_id).where(
                Registration.session_id == session_id, Registration.status.in_(statuses)
            )
        )
    )


# -- live sessions -------------------------------------------------------------------------


def on_session_moved(session: LiveSession) -> None:
    """A session moved: tell those registered or waiting (after the commit)."""
    later(session_changed, "session_moved", session, base_url())


def on_session_cancelled(session: LiveSession) -> None:
    """A session was cancelled: tell those registered or waiting (after the commit)."""
    later(session_changed, "session_cancelled", session, base_url())


def session_changed(kind: str, session_id: int, base: str | None) -> int:
    """The job: one notification per holder and change (the occasion is the session's
    iCalendar sequence, which every change raises)."""
    session = db.session.get(LiveSession, session_id)
    if session is None:
        return 0
    if (kind == "session_cancelled") != (session.status == "cancelled"):
        return 0  # reinstated, or cancelled, since: that change has its own notification
    data = {**session_facts(session), "reason": session.cancel_reason or ""}
    occasion = f"seq{session.sequence}"
    return send(kind, holders(session.id), session.id, occasion, data, base)


def on_promoted(registration: Registration) -> None:
    """A learner left the waitlist for a seat (after the commit)."""
    later(promoted, registration, base_url())


def promoted(registration_id: int, base: str | None) -> int:
    """The job: tell the learner, if the seat is still theirs; once per promotion."""
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.status != "registered":
        return 0
    session = registration.session
    occasion = f"promoted@{aware(registration.updated_at).isoformat()}"
    data = session_facts(session)
    return send("waitlist_promoted", [registration.user_id], session.id, occasion, data, base)


# -- certificates and community ------------------------------------------------------------


def on_certificate(user_id: int, course_id: int) -> None:
    """A course was completed and its certificate issued (after the commit)."""
    later(certificate_issued, user_id, course_id, base_url())


def certificate_issued(user_id: int, course_id: int, base: str | None) -> int:
    """The job: tell the learner, once per certificate."""
    certificate = db.session.scalar(
        select(Certificate).filter_by(user_id=user_id, course_id=course_id)
    )
    if certificate is None:
        return 0
    data = {
        "code": certificate.code,
        "title_zh": certificate.course_title_zh,
        "title_en": certificate.course_title_en,
    }
    return send("certificate_issued", [user_id], certificate.id, "issued", data, base)


def on_case_comment(comment: CaseComment) -> None:
    """A comment on a salon case; an expert review tells the case's presenter."""
    if comment.is_expert_review:
        later(case_reviewed, comment, base_url())


def case_reviewed(comment_id: int, base: str | None) -> int:
    """The job: tell the presenter of the case (not the reviewer themself)."""
    comment = db.session.get(CaseComment, comment_id)
    if comment is None or not comment.is_expert_review:
        return 0
    case = db.session.get(SalonCase, comment.case_id)
    if case is None or case.presenter_id in (None, comment.user_id):
        return 0
    data = {"case_id": case.id, "title": case.title, "by": comment.user.name}
    return send("case_reviewed", [case.presenter_id], comment.id, "review", data, base)


def on_topic_comment(comment: TopicComment) -> None:
    """A comment on a topic: a reply to its author, and to the comment it answers."""
    later(replied, comment, base_url())


def replied(comment_id: int, base: str | None) -> int:
    """The job: tell the author of the comment replied to and the topic's author (each once,
    never the one who wrote it)."""
    comment = db.session.get(TopicComment, comment_id)
    if comment is None:
        return 0
    topic = db.session.get(DiscussionTopic, comment.topic_id)
    if topic is None:  # deleted with its comments (ON DELETE CASCADE)
        return 0
    sent = 0
    facts = {"topic_id": topic.id, "title": topic.title, "by": comment.user.name}
    parent = db.session.get(TopicComment, comment.parent_id) if comment.parent_id else None
    if parent is not None and parent.user_id != comment.user_id:
        data = {**facts, "to": "comment"}
        sent += send("reply", [parent.user_id], comment.id, "reply", data, base)
    author = topic.created_by_id
    if author not in (None, comment.user_id) and (parent is None or parent.user_id != author):
        data = {**facts, "to": "topic"}
        sent += send("reply", [author], comment.id, "reply", data, base)
    return sent


# -- videos --------------------------------------------------------------------------------


def on_video_processed(asset: MediaAsset, now: datetime | None = None) -> None:
    """A trainer's video is ready, or failed: tell whoever uploaded it (after the commit)."""
    if asset.uploaded_by_id is not None and asset.status in ("ready", "failed"):
        moment = (now or utcnow()).isoformat()
        later(video_processed, asset, asset.status, moment, base_url())


def video_processed(asset_id: int, status: str, moment: str, base: str | None) -> int:
    """The job: one notification per outcome (its moment is the occasion)."""
    asset = db.session.get(MediaAsset, asset_id)
    if asset is None or asset.uploaded_by_id is None:
        return 0
    kind = "video_ready" if status == "ready" else "video_failed"
    data = {"name": asset.original_name, "error": asset.error or ""}
    return send(kind, [asset.uploaded_by_id], asset.id, f"{status}@{moment}", data, base)
