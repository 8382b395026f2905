"""The community: the maker-salon case library and the members' discussion topics, with
their comments; what posts and comments share for edits and moderation (``Moderated``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from lms.extensions import Model
from lms.models._base import Timestamped
from lms.models.accounts import Organization, User
from lms.models.live import LiveSession

CASE_TOPICS = ("strategy", "management", "hr", "financing", "innovation", "party_building", "other")
TOPIC_KINDS = ("news", "event", "phenomenon", "person", "party_building")


class Moderated:
    """What community posts and comments share: the author's last edit, and a moderator's
    (or the author's) hiding or deletion with who did it and why (docs/community.md).

    A deleted post stays as a row (a reply keeps its place in a thread) but is shown to
    nobody; a hidden one is shown to moderators only, marked.
    """

    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moderation_reason: Mapped[str | None] = mapped_column(String(500))

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the community pages load what
    # they list with joinedload; a notification reads one post's author lazily.
    @declared_attr
    def moderated_by(cls: type[Moderated]) -> Mapped[User | None]:
        return relationship(foreign_keys=f"[{cls.__name__}.moderated_by_id]")


class SalonCase(Moderated, Timestamped, Model):
    """A company's case presented at the maker salon; the case library lists them."""

    __tablename__ = "salon_cases"
    __table_args__ = (CheckConstraint(f"topic IN {CASE_TOPICS!r}", name="topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="SET NULL"), index=True
    )
    company: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    topic: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    presenter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the community pages load what
    # they list with joinedload; a notification reads one post's author lazily.
    session: Mapped[LiveSession | None] = relationship()
    organization: Mapped[Organization | None] = relationship()
    presenter: Mapped[User | None] = relationship(foreign_keys=[presenter_id])


class CaseComment(Moderated, Timestamped, Model):
    """A learner's comment or suggestion on a case; experts' reviews are marked as such."""

    __tablename__ = "case_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("salon_cases.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    is_expert_review: Mapped[bool] = mapped_column(Boolean, default=False)

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the community pages load what
    # they list with joinedload; a notification reads one post's author lazily.
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class DiscussionTopic(Moderated, Timestamped, Model):
    """A topic for the members' discussion: a news item, an event, a phenomenon, a person."""

    __tablename__ = "discussion_topics"
    __table_args__ = (CheckConstraint(f"kind IN {TOPIC_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the community pages load what
    # they list with joinedload; a notification reads one post's author lazily.
    session: Mapped[LiveSession | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class TopicComment(Moderated, Timestamped, Model):
    """A threaded comment: ``parent_id`` is the comment it answers."""

    __tablename__ = "topic_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("discussion_topics.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("topic_comments.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the community pages load what
    # they list with joinedload; a notification reads one post's author lazily.
    user: Mapped[User] = relationship(foreign_keys=[user_id])
