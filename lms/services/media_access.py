"""nginx's question before it sends a lesson's video files: may this login fetch them?

Asked through ``auth_request`` (deploy/nginx-media.conf) before the first file of every new
viewer, so it is answered by one statement built once per process: the login (its user,
active, and its session row, live and young enough) together with the lesson (live, its
camp enabled, its video ready, whether it is a preview), the enrollment and whether the user
trains the course. The rule is the one of :func:`lms.services.catalog.may_watch`: enrolled
learners, the course's trainers and organizers, in published courses (drafts for their
editors only); and everyone, anonymous visitors included, for a preview lesson of a
published course.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, exists, literal, select, true

from lms.extensions import db
from lms.models import (
    AuthSession,
    Camp,
    Course,
    CourseTrainer,
    Enrollment,
    Lesson,
    MediaAsset,
    Module,
    User,
)
from lms.models._base import utcnow
from lms.services import accounts, streams
from lms.services.camps import registry


@dataclass(frozen=True)
class Decision:
    """``status``: 200, 401 (no live login) or 403; for a 200, the files nginx may send."""

    status: int
    media_file: str | None = None  # the file a plain <video src> plays, under the store
    streams: str | None = None  # the folder of the web versions (HLS, renditions, sprites)


@functools.cache
def _statement() -> Select[*tuple[Any, ...]]:
    users, sessions = User.__table__, AuthSession.__table__
    lessons, modules, courses, camps = (
        Lesson.__table__,
        Module.__table__,
        Course.__table__,
        Camp.__table__,
    )
    assets, enrollments = MediaAsset.__table__, Enrollment.__table__
    trainers = CourseTrainer.__table__
    lesson = (
        select(
            courses.c.id.label("course_id"),
            courses.c.status.label("course_status"),
            courses.c.owner_id,
            camps.c.slug.label("camp"),
            lessons.c.preview,
            lessons.c.kind,
            assets.c.status.label("media_status"),
            assets.c.storage_key,
            assets.c.stream_dir,
            assets.c.renditions,
        )
        .select_from(
            lessons.join(modules, modules.c.id == lessons.c.module_id)
            .join(courses, courses.c.id == modules.c.course_id)
            .join(camps, camps.c.id == courses.c.camp_id)
            .outerjoin(assets, assets.c.id == lessons.c.media_id)
        )
        .where(
            lessons.c.id == bindparam("lesson_id"),
            lessons.c.archived_at.is_(None),
            modules.c.archived_at.is_(None),
            courses.c.archived_at.is_(None),
            camps.c.enabled.is_(True),
        )
        .subquery("lesson")
    )
    login = (
        select(users.c.id.label("user_id"), users.c.role)
        .select_from(users.join(sessions, sessions.c.user_id == users.c.id))
        .where(
            users.c.id == bindparam("user_id"),
            users.c.active.is_(True),
            sessions.c.token_hash == bindparam("token_hash"),
            sessions.c.revoked_at.is_(None),
            sessions.c.created_at > bindparam("born_after"),
        )
        .subquery("login")
    )
    enrolled = exists().where(
        enrollments.c.user_id == login.c.user_id, enrollments.c.course_id == lesson.c.course_id
    )
    trains = exists().where(
        trainers.c.user_id == login.c.user_id, trainers.c.course_id == lesson.c.course_id
    )
    # Always one row: the login joins it when it is live (else its columns are NULL: 401,
    # unless the lesson is a preview), the lesson when it exists (else 403).
    one = select(literal(1).label("one")).subquery("one")
    return select(
        login.c.user_id,
        login.c.role,
        *lesson.c,
        enrolled.label("enrolled"),
        trains.label("trains"),
    ).select_from(one.outerjoin(login, true()).outerjoin(lesson, true()))


def decide(
    lesson_id: int, user_id: Any, token: Any, last_seen: Any, now: datetime | None = None
) -> Decision:
    """The decision for the login in a session cookie (its ``_user_id``, token and last use)
    and a lesson. Reads only: the login's last use is not written (nginx keeps no cookie).

    A cookie without a live login counts as an anonymous visitor: a preview lesson of a
    published course is theirs to watch (200), any other lesson answers 401."""
    now = now or utcnow()
    logged_in = (
        isinstance(user_id, str)
        and user_id.isdigit()
        and isinstance(token, str)
        and bool(token)
        and isinstance(last_seen, int | float)
        and not accounts.idle_expired(last_seen, now)
    )
    params = {
        "lesson_id": lesson_id,
        "user_id": int(user_id) if logged_in else None,
        "token_hash": accounts.token_digest(token) if logged_in else "",
        "born_after": now - accounts.lifetime("SESSION_ABSOLUTE_LIFETIME"),
    }
    row = db.session.connection().execute(_statement(), params).one()
    found = row.course_id is not None and row.camp in registry().camps
    # catalog.is_preview: a preview lesson, not a quiz, of a published course.
    preview = found and bool(row.preview) and row.kind != "quiz"
    preview = preview and row.course_status == "published"
    if row.user_id is None and not preview:
        return Decision(401)
    if not found:
        return Decision(403)
    editor = row.user_id is not None and (
        row.role == "organizer"
        or (row.role == "trainer" and (row.owner_id == row.user_id or bool(row.trains)))
    )
    if row.course_status != "published" and not editor:
        return Decision(403)
    if not (row.enrolled or editor or preview) or row.media_status != "ready":
        return Decision(403)
    return Decision(
        200,
        media_file=streams.playable_file(row),
        streams=f"streams/{row.stream_dir}" if row.stream_dir else None,
    )
