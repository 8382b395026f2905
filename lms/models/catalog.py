"""Camps, courses, modules, lessons and the media files lessons play."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import Model
from lms.models._base import Bilingual, Timestamped
from lms.models.accounts import User

COURSE_STATUSES = ("draft", "published")
LESSON_KINDS = ("video", "live", "reading", "quiz")
# A course's level: one of these, or "" for none (forms, curricula and a check constraint).
COURSE_LEVELS = ("foundation", "intermediate", "advanced")
MEDIA_STATUSES = ("processing", "ready", "failed")


class Synced:
    """Rows a camp's curriculum creates.

    ``synced`` holds the values the last sync wrote, so the next sync can tell a
    trainer's edit (kept) from an untouched value (updated). ``archived_at`` is set
    when the item left the curriculum; archived rows keep their learners' data.
    """

    slug: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    synced: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Camp(Bilingual, Timestamped, Model):
    __tablename__ = "camps"
    __table_args__ = (
        CheckConstraint(
            "monthly_target_hours IS NULL OR monthly_target_hours BETWEEN 0 AND 744",
            name="monthly_target_hours",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    plugin: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    audience_zh: Mapped[str] = mapped_column(String(500), default="")
    audience_en: Mapped[str] = mapped_column(String(500), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    monthly_target_hours: Mapped[int | None] = mapped_column(Integer)

    courses: Mapped[list[Course]] = relationship(
        back_populates="camp", order_by="Course.position", lazy="raise_on_sql"
    )

    @property
    def audience(self) -> str:
        return self.localized("audience")


class Course(Synced, Bilingual, Timestamped, Model):
    __tablename__ = "courses"
    __table_args__ = (
        UniqueConstraint("camp_id", "slug"),
        CheckConstraint(f"status IN {COURSE_STATUSES!r}", name="status"),
        CheckConstraint(f"level IN {('', *COURSE_LEVELS)!r}", name="level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camp_id: Mapped[int] = mapped_column(ForeignKey("camps.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    level: Mapped[str] = mapped_column(String(40), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    camp: Mapped[Camp] = relationship(back_populates="courses", lazy="raise_on_sql")
    modules: Mapped[list[Module]] = relationship(
        back_populates="course", order_by="Module.position", lazy="raise_on_sql"
    )
    trainers: Mapped[list[User]] = relationship(secondary="course_trainers", lazy="raise_on_sql")

    @property
    def is_published(self) -> bool:
        return self.status == "published" and self.archived_at is None


class CourseTrainer(Model):
    """The trainers who may edit a course (besides organizers)."""

    __tablename__ = "course_trainers"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Module(Synced, Bilingual, Model):
    __tablename__ = "modules"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)

    course: Mapped[Course] = relationship(back_populates="modules", lazy="raise_on_sql")
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="module", order_by="Lesson.position", lazy="raise_on_sql"
    )


class Lesson(Synced, Bilingual, Model):
    __tablename__ = "lessons"
    __table_args__ = (
        UniqueConstraint("module_id", "slug"),
        CheckConstraint(f"kind IN {LESSON_KINDS!r}", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="video")
    body_zh: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    # A preview lesson is open to everyone, anonymous visitors included, in a published
    # course: its page and its media (lms.services.catalog, lms.services.media_access).
    preview: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media_assets.id"))

    module: Mapped[Module] = relationship(back_populates="lessons", lazy="raise_on_sql")
    media: Mapped[MediaAsset | None] = relationship(lazy="raise_on_sql")
    captions: Mapped[list[Caption]] = relationship(order_by="Caption.language", lazy="raise_on_sql")

    @property
    def body(self) -> str:
        return self.localized("body")


class MediaAsset(Timestamped, Model):
    """A video file stored under a generated key; its facts are probed from the file.

    Uploads start ``processing``; probing (duration, codecs, poster) happens off the
    request and ends ``ready`` or ``failed`` with the reason in ``error``.
    """

    __tablename__ = "media_assets"
    __table_args__ = (CheckConstraint(f"status IN {MEDIA_STATUSES!r}", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="ready", server_default="ready")
    error: Mapped[str | None] = mapped_column(String(500))
    poster_key: Mapped[str | None] = mapped_column(String(100))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    video_codec: Mapped[str | None] = mapped_column(String(40))
    audio_codec: Mapped[str | None] = mapped_column(String(40))
    # The web versions made by the ingest pipeline (lms.services.transcode), in the folder
    # ``streams/<stream_dir>/`` of the media store: progressive MP4 renditions, an HLS package
    # and a seek-preview thumbnail track. ``renditions`` lists them, lowest first:
    # [{"height", "width", "bandwidth", "codecs", "file", "playlist"}, ...].
    stream_dir: Mapped[str | None] = mapped_column(String(64))
    renditions: Mapped[list[Any] | None] = mapped_column(JSON)
    has_thumbnails: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    pipeline_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Processing: fraction done and seconds left (shown to trainers), the worker's last sign
    # of life (a claim older than the lease is taken up again) and how many tries so far.
    progress: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Caption(Timestamped, Model):
    """A WebVTT caption track of a lesson's video, one per language."""

    __tablename__ = "captions"
    __table_args__ = (UniqueConstraint("lesson_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(50))
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
