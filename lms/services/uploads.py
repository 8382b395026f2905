"""Trainer uploads: videos and WebVTT captions, checked before anything is kept.

A video is checked by extension and by its first bytes, stored by
:func:`lms.services.media.store_stream` and probed by a background job; the asset is
``processing`` until then.
"""

from __future__ import annotations

import re
import secrets
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from lms.extensions import db
from lms.models import Caption, Lesson, MediaAsset, User
from lms.services import ingest, media, quota, search
from lms.services.errors import Invalid
from lms.services.text import clean_name

CUE_TIMING = re.compile(
    r"^(?:\d{2,}:)?[0-5]\d:[0-5]\d\.\d{3} --> (?:\d{2,}:)?[0-5]\d:[0-5]\d\.\d{3}(?: .*)?$"
)
MAX_CAPTION_BYTES = 2 * 1024 * 1024


class UploadError(Invalid):
    """The upload is refused; the message says why (shown to the trainer)."""


def store_upload(stream: BinaryIO, filename: str, uploader: User) -> MediaAsset:
    """Save an uploaded video and queue its probing; the same content is stored once.

    Raises :class:`~lms.services.quota.QuotaExceeded` (nothing kept) when the video does not
    fit in the uploader's quota, :class:`UploadError` when it is not a video we accept.
    """
    limited = quota.LimitedStream(stream, quota.usage_of(uploader))
    try:
        asset, created = media.store_stream(limited, clean_name(filename), uploader.id)
    except media.MediaError as exc:
        raise UploadError(str(exc)) from exc
    if created:
        ingest.enqueue(asset)
    return asset


def validate_webvtt(data: bytes) -> str:
    """Return the caption text if it is a well-formed WebVTT file, else raise."""
    if len(data) > MAX_CAPTION_BYTES:
        raise UploadError(
            _l("Caption files are limited to 2 MB. Split the file or remove unused cues.")
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(
            _l("The caption file must be UTF-8 text. Save it again as UTF-8.")
        ) from exc
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not re.match(r"^WEBVTT(?:[ \t].*)?$", lines[0]):
        raise UploadError(_l("This is not a WebVTT file: its first line must be WEBVTT."))
    cues = [line for line in lines if "-->" in line]
    if not cues:
        raise UploadError(_l("The caption file has no cues (lines with start --> end times)."))
    for line in cues:
        if not CUE_TIMING.match(line.strip()):
            raise UploadError(
                _l("This cue timing is not valid WebVTT: %(line)s", line=line.strip()[:60])
            )
    return "\n".join(lines)


def attach_caption(lesson: Lesson, language: str, label: str, data: bytes) -> Caption:
    """Add or replace the lesson's caption track for ``language``. Commits."""
    text = validate_webvtt(data)
    key = f"{secrets.token_hex(16)}.vtt"
    target = media.media_root() / "captions" / key
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    caption = db.session.scalar(select(Caption).filter_by(lesson_id=lesson.id, language=language))
    if caption is None:
        caption = Caption(lesson_id=lesson.id, language=language, label=label, storage_key=key)
        db.session.add(caption)
    else:
        (media.media_root() / "captions" / caption.storage_key).unlink(missing_ok=True)
        caption.label, caption.storage_key = label, key
    db.session.commit()
    search.index_lesson(lesson)
    return caption
