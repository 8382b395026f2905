"""The JSON API: playback sessions and progress reports, documented at /api/openapi.json.

Authenticated by the session cookie; every state change needs the CSRF token in the
``X-CSRFToken`` header. Bodies are validated with pydantic before anything is written.
Refusals are raised like anywhere else (``abort``, a service's domain error) and answered
in JSON by :mod:`lms.web.errors`, which answers every error of this blueprint in JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request, url_for
from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from lms.extensions import csrf
from lms.models import Lesson
from lms.models._base import MAX_INTEGER
from lms.services import catalog, progress
from lms.web.openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api")
# The CSRF token is checked in _guard, after the login: an anonymous call is a 401, as documented,
# rather than a CSRF failure.
csrf.exempt(bp)

MAX_BODY_BYTES = 64 * 1024


class ProgressReport(BaseModel):
    """One report of a playback session: what was played, where the player is now."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    seq: int = Field(ge=0, le=MAX_INTEGER, description="Increases with every report of a session.")
    position: float = Field(ge=0, description="Current playhead, seconds (used to resume).")
    intervals: list[tuple[float, float]] = Field(
        max_length=progress.MAX_INTERVALS,
        description="Played [start, end] ranges of the video in this session, in seconds.",
    )
    played_seconds: float | None = Field(
        default=None,
        ge=0,
        le=progress.MAX_PLAYED_SECONDS,
        description="Wall-clock seconds this session has spent playing, a running total "
        "(training time). Players that leave it out are credited the capped wall-clock window.",
    )


class InvalidBody(BadRequest):
    """A body pydantic refused: ``details`` has one entry per invalid field."""

    def __init__(self, details: list[dict[str, Any]]) -> None:
        super().__init__("invalid body")
        self.details = details


@bp.before_request
def _guard() -> None:
    if request.endpoint == "api.openapi":
        return
    if not current_user.is_authenticated:
        abort(401, "log in first")
    if current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect()  # state changes: a 400 without a valid X-CSRFToken header
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        abort(413, f"bodies are limited to {MAX_BODY_BYTES} bytes")


def _json_body(model: type[BaseModel]) -> BaseModel:
    if request.mimetype != "application/json":
        abort(415, "send application/json")
    data = request.get_data(cache=True)
    if len(data) > MAX_BODY_BYTES:
        abort(413, f"bodies are limited to {MAX_BODY_BYTES} bytes")
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise InvalidBody(details) from None


def _lesson_for_learner(lesson_id: int, enrolled: bool | None = None) -> Lesson:
    """The video lesson ``lesson_id``, ready to play, of a course the learner is enrolled in
    (``enrolled``: already known, then a published lesson is read as the process keeps it)."""
    lesson = catalog.published_lesson(lesson_id) if enrolled is not None else None
    if lesson is None:
        access = catalog.lesson_access(lesson_id, current_user)
        lesson, enrolled = (access.lesson, access.enrolled) if access else (None, False)
    if lesson is None or lesson.kind != "video":
        abort(404)
    if not enrolled:
        abort(403, "enroll in the course first")
    media = lesson.media
    if media is None or media.status != "ready":
        abort(409, "the video is not ready")
    return lesson


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(ProgressReport, current_app.config["SESSION_COOKIE_NAME"]))


@bp.post("/lessons/<int:lesson_id>/playback")
def open_playback(lesson_id: int) -> tuple[Response, int]:
    lesson = _lesson_for_learner(lesson_id)
    session, state = progress.open_session(current_user, lesson)
    answer = {"session_id": session.id, **state.as_dict()}
    answer.update(max_rate=progress.max_playback_rate(lesson), report_every=progress.report_every())
    return jsonify(answer), 201


@bp.get("/lessons/<int:lesson_id>/progress")
def lesson_progress(lesson_id: int) -> Response:
    lesson = _lesson_for_learner(lesson_id)
    return jsonify(progress.state(current_user, lesson).as_dict())


@bp.post("/playback/<session_id>/progress")
def report_progress(session_id: str) -> Response:
    playback = progress.find_session(session_id, current_user)
    if playback is None:
        abort(404)
    lesson = _lesson_for_learner(playback.lesson_id, playback.enrolled)
    body = _json_body(ProgressReport)
    state = progress.report(  # a refused report is a ProgressError: a 400, nothing written
        playback,
        current_user,
        lesson,
        seq=body.seq,
        position=body.position,
        played=[list(pair) for pair in body.intervals],
        played_seconds=body.played_seconds,
    )
    answer = state.as_dict()
    if state.certificate_code is not None:  # this report finished the course
        answer["certificate_url"] = url_for("learn.certificate", code=state.certificate_code)
    return jsonify(answer)
