"""Storage quotas: how much video each trainer may keep in the media store.

The limit is ``UPLOAD_QUOTA_MB`` per trainer (``LMS_UPLOAD_QUOTA_MB``; 0 turns it off).
Organizers manage the store and are not limited; neither is ``lms media import``. What
counts is the size of the videos a trainer uploaded; a video already in the store (the
same content) is stored once and counts for whoever uploaded it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from flask import current_app
from sqlalchemy import func

from lms.extensions import db
from lms.models import MediaAsset, User
from lms.services.errors import TooLarge

MIB = 1024 * 1024


@dataclass(frozen=True)
class Usage:
    """Bytes a user keeps in the media store and their limit (``None``: no limit)."""

    used: int
    limit: int | None

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def percent(self) -> int:
        if not self.limit:
            return 0
        return min(100, round(100 * self.used / self.limit))


class QuotaExceeded(TooLarge):
    """An upload went past the uploader's remaining quota (its bytes are not kept)."""

    def __init__(self, usage: Usage) -> None:
        super().__init__("upload quota exceeded")
        self.usage = usage


def limit_for(user: User) -> int | None:
    """The user's quota in bytes, or ``None`` when they are not limited."""
    megabytes = int(current_app.config.get("UPLOAD_QUOTA_MB") or 0)
    if user.is_organizer or megabytes <= 0:
        return None
    return megabytes * MIB


def usage_of(user: User) -> Usage:
    """What ``user`` has uploaded so far, against their quota."""
    used = db.session.scalar(
        db.select(func.coalesce(func.sum(MediaAsset.size_bytes), 0)).where(
            MediaAsset.uploaded_by_id == user.id
        )
    )
    return Usage(used=int(used or 0), limit=limit_for(user))


class LimitedStream:
    """A file-like reader that raises :class:`QuotaExceeded` past ``usage.remaining`` bytes.

    The upload is refused while it streams, so a file far over the quota is never written
    whole; the partial temporary file is removed by whoever was writing it.
    """

    def __init__(self, stream: BinaryIO, usage: Usage) -> None:
        self._stream = stream
        self._usage = usage
        self._left = usage.remaining

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if self._left is not None:
            self._left -= len(data)
            if self._left < 0:
                raise QuotaExceeded(self._usage)
        return data
