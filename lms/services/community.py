"""The activity day's community: the maker-salon case library and the members' discussion.

Who may do what (kept deliberately simple; docs/community.md says the same):

* **Cases** (maker salon, 创客沙龙): trainers and organizers present a case for any company.
  A learner who is a *manager* of an organization may present a case of *their own* company
  only: the case is linked to their organization and the company name must be the
  organization's name (empty means that name). Other learners may not create cases.
* **Comments on a case**: any logged-in user may comment or suggest. Only trainers and
  organizers (the invited experts) may mark a comment as an *expert review*.
* **Discussion topics** (members' discussion, 党员大讨论): trainers and organizers create them.
* **Comments on a topic**: any logged-in user; a reply names a parent comment of the same topic.
* **Editing**: the author of a case, topic or comment may edit or delete it for
  ``COMMUNITY_EDIT_MINUTES`` after posting it (then :class:`EditWindowClosed`); an edit is
  marked with its time.
* **Moderation**: trainers and organizers hide, show again or delete any post or comment,
  with a reason; each decision is written to the audit log (:mod:`lms.services.audit`).
  Hidden posts are shown to moderators only (marked), deleted ones to nobody; neither is
  found by search.

Every function validates before it writes, so a refused request leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from lms.extensions import db
from lms.models import (
    CASE_TOPICS,
    TOPIC_KINDS,
    CaseComment,
    DiscussionTopic,
    LiveSession,
    Organization,
    SalonCase,
    TopicComment,
    User,
)
from lms.models._base import MAX_INTEGER, aware, utcnow
from lms.services import audit, notifications, search
from lms.services.errors import Forbidden, Invalid
from lms.services.paging import Paginated
from lms.services.text import control_characters

# What can be moderated (lms.models.Moderated): the cases and topics, and their comments.
Post = SalonCase | DiscussionTopic | CaseComment | TopicComment


class CaseText(TypedDict):
    """A salon case's words, as :func:`create_case` takes them (the demo's cases)."""

    company: str
    topic: str
    title: str
    body: str


class TopicText(TypedDict):
    """A topic's words, as :func:`create_topic` takes them (the demo's topics)."""

    kind: str
    title: str
    body: str


MAX_TITLE = 200
MAX_COMPANY = 200
MAX_BODY = 20_000
MAX_COMMENT = 5_000
MAX_QUERY = 200
PER_PAGE = 20
# Replies deeper than this are shown at this depth ("in reply to …"), so a long
# back-and-forth does not push the text off a phone's screen.
MAX_DEPTH = 5

MAX_ID = MAX_INTEGER

# Control characters other than tab, line feed and carriage return.
CONTROL = control_characters(keep_line_breaks=True)


class CommunityError(Invalid):
    """Input the community refuses; the message is shown to the user."""


class InvalidParent(CommunityError):
    """A reply to a comment that is not one of this topic's."""


class NotAllowed(Forbidden, PermissionError):
    """The user may not do this."""


class EditWindowClosed(NotAllowed):
    """The author's time to edit or delete a post is over; the message says so."""


# -- validation ------------------------------------------------------------------------


def _text(value: str | None, limit: int, what: str, *, single_line: bool) -> str:
    """``value`` without surrounding whitespace; refuse empty, too long, or control chars."""
    text = (value or "").strip()
    if not text:
        raise CommunityError(_("%(what)s must not be empty.", what=what))
    if len(text) > limit:
        raise CommunityError(
            _("%(what)s is too long (at most %(limit)d characters).", what=what, limit=limit)
        )
    if CONTROL.search(text) or (single_line and ("\n" in text or "\r" in text)):
        raise CommunityError(_("%(what)s contains control characters.", what=what))
    return text


def _title(value: str | None) -> str:
    return _text(value, MAX_TITLE, _("The title"), single_line=True)


def _body(value: str | None) -> str:
    return _text(value, MAX_BODY, _("The text"), single_line=False)


def _comment(value: str | None) -> str:
    return _text(value, MAX_COMMENT, _("The comment"), single_line=False)


def _dated(item: Post, at: datetime | None) -> None:
    """Date a new post ``at`` (the demo's recorded history); the present otherwise."""
    if at is not None:
        item.created_at = at


def _member(user: Any) -> None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise NotAllowed


# -- who sees what -----------------------------------------------------------------------


def is_moderator(user: Any) -> bool:
    """Trainers and organizers moderate the community."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_trainer)


def visible_to(item: Post, user: Any) -> bool:
    """Deleted posts are shown to nobody, hidden ones to moderators only."""
    if item.deleted_at is not None:
        return False
    return item.hidden_at is None or is_moderator(user)


def _shown(model: Any, user: Any) -> list[Any]:
    """The conditions that keep what ``user`` may not see out of a query of ``model``."""
    conditions = [model.deleted_at.is_(None)]
    if not is_moderator(user):
        conditions.append(model.hidden_at.is_(None))
    return conditions


def _comment_count(comment_model: Any, foreign_key: Any, post_model: Any) -> Any:
    """A post's number of comments everyone sees (neither hidden nor deleted)."""
    return (
        select(func.count(comment_model.id))
        .where(
            foreign_key == post_model.id,
            comment_model.deleted_at.is_(None),
            comment_model.hidden_at.is_(None),
        )
        .correlate(post_model)
        .scalar_subquery()
    )


# -- pages -----------------------------------------------------------------------------


@dataclass
class Page(Paginated):
    """One page of a listing: ``items`` are ``(row, comment_count)`` pairs."""

    items: list[tuple[Any, int]]
    page: int
    per_page: int
    total: int


def _paginate(query: Any, count_query: Any, page: int, per_page: int) -> Page:
    """Two queries whatever the page holds: the count, then the rows with their counts."""
    page = max(1, page)
    total = db.session.scalar(count_query) or 0
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(
        items=[(row[0], row[1] or 0) for row in rows], page=page, per_page=per_page, total=total
    )


def _like(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# -- salon cases -----------------------------------------------------------------------


def can_create_case(user: Any) -> bool:
    """Trainers and organizers; learners who manage an organization (their own company)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.is_trainer or (bool(user.is_manager) and user.organization_id is not None)


def create_case(
    user: User,
    company: str | None,
    topic: str,
    title: str | None,
    body: str | None,
    session: LiveSession | None = None,
    organization_id: int | None = None,
    at: datetime | None = None,
) -> SalonCase:
    """Add a case to the library (posted ``at``, the present by default). Raises NotAllowed
    or CommunityError; commits."""
    _member(user)
    if not can_create_case(user):
        raise NotAllowed
    if topic not in CASE_TOPICS:
        raise CommunityError(_("Choose a topic from the list."))
    title = _title(title)
    body = _body(body)
    if user.is_trainer:
        company = _text(company, MAX_COMPANY, _("The company"), single_line=True)
        if organization_id is not None and db.session.get(Organization, organization_id) is None:
            raise CommunityError(_("There is no such organization."))
    else:
        # A manager presents their own company, and only that one.
        if organization_id not in (None, user.organization_id):
            raise NotAllowed
        organization_id = user.organization_id
        own = db.session.get(Organization, organization_id)
        if own is None:
            raise NotAllowed
        given = (company or "").strip()
        if given and given != own.name:
            raise NotAllowed
        company = own.name
    case = SalonCase(
        company=company,
        organization_id=organization_id,
        topic=topic,
        title=title,
        body=body,
        presenter_id=user.id,
        session_id=session.id if session is not None else None,
    )
    _dated(case, at)
    db.session.add(case)
    db.session.commit()
    search.index_case(case)
    return case


def list_cases(
    topic: str | None = None,
    query: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
    viewer: Any = None,
) -> Page:
    """The case library as ``viewer`` sees it, newest first; filter by topic, search title
    and company."""
    if topic and topic not in CASE_TOPICS:
        raise CommunityError(_("Choose a topic from the list."))
    conditions = _shown(SalonCase, viewer)
    if topic:
        conditions.append(SalonCase.topic == topic)
    query = (query or "").strip()
    if len(query) > MAX_QUERY:
        raise CommunityError(_("The search is too long."))
    if query:
        pattern = _like(query)
        conditions.append(
            SalonCase.title.ilike(pattern, escape="\\")
            | SalonCase.company.ilike(pattern, escape="\\")
        )
    comments = _comment_count(CaseComment, CaseComment.case_id, SalonCase)
    rows = (
        select(SalonCase, comments)
        .where(*conditions)
        .options(joinedload(SalonCase.presenter), joinedload(SalonCase.organization))
        .order_by(SalonCase.created_at.desc(), SalonCase.id.desc())
    )
    count = select(func.count(SalonCase.id)).where(*conditions)
    return _paginate(rows, count, page, per_page)


def _valid_id(value: int | None) -> bool:
    return value is not None and 0 < value <= MAX_ID


def get_case(case_id: int, viewer: Any = None) -> SalonCase | None:
    """The case, if ``viewer`` may see it."""
    if not _valid_id(case_id):
        return None
    return db.session.scalar(
        select(SalonCase)
        .where(SalonCase.id == case_id, *_shown(SalonCase, viewer))
        .options(
            joinedload(SalonCase.presenter),
            joinedload(SalonCase.organization),
            joinedload(SalonCase.session),
        )
    )


def case_comments(case: SalonCase, viewer: Any = None) -> list[CaseComment]:
    """The comments ``viewer`` may see: expert reviews first, then the others; each group
    oldest first. One query."""
    return list(
        db.session.scalars(
            select(CaseComment)
            .where(CaseComment.case_id == case.id, *_shown(CaseComment, viewer))
            .options(joinedload(CaseComment.user), joinedload(CaseComment.moderated_by))
            .order_by(CaseComment.is_expert_review.desc(), CaseComment.created_at, CaseComment.id)
        )
    )


def add_case_comment(
    user: User,
    case: SalonCase,
    body: str | None,
    expert_review: bool = False,
    at: datetime | None = None,
) -> CaseComment:
    """Comment on a case; only trainers and organizers may post an expert review."""
    _member(user)
    if expert_review and not user.is_trainer:
        raise NotAllowed
    comment = CaseComment(
        case_id=case.id, user_id=user.id, body=_comment(body), is_expert_review=bool(expert_review)
    )
    _dated(comment, at)
    db.session.add(comment)
    notifications.on_case_comment(comment)
    db.session.commit()
    return comment


# -- discussion topics -----------------------------------------------------------------


def can_create_topic(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_trainer)


def create_topic(
    user: User,
    kind: str,
    title: str | None,
    body: str | None,
    session: LiveSession | None = None,
    at: datetime | None = None,
) -> DiscussionTopic:
    """A topic for the members' discussion (trainers and organizers). Commits."""
    _member(user)
    if not can_create_topic(user):
        raise NotAllowed
    if kind not in TOPIC_KINDS:
        raise CommunityError(_("Choose a kind of topic from the list."))
    topic = DiscussionTopic(
        kind=kind,
        title=_title(title),
        body=_body(body),
        created_by_id=user.id,
        session_id=session.id if session is not None else None,
    )
    _dated(topic, at)
    db.session.add(topic)
    db.session.commit()
    search.index_topic(topic)
    return topic


def list_topics(
    kind: str | None = None, page: int = 1, per_page: int = PER_PAGE, viewer: Any = None
) -> Page:
    """The discussion topics as ``viewer`` sees them, newest first, with their number of
    comments."""
    if kind and kind not in TOPIC_KINDS:
        raise CommunityError(_("Choose a kind of topic from the list."))
    conditions = _shown(DiscussionTopic, viewer)
    if kind:
        conditions.append(DiscussionTopic.kind == kind)
    comments = _comment_count(TopicComment, TopicComment.topic_id, DiscussionTopic)
    rows = (
        select(DiscussionTopic, comments)
        .where(*conditions)
        .options(joinedload(DiscussionTopic.created_by))
        .order_by(DiscussionTopic.created_at.desc(), DiscussionTopic.id.desc())
    )
    count = select(func.count(DiscussionTopic.id)).where(*conditions)
    return _paginate(rows, count, page, per_page)


def get_topic(topic_id: int, viewer: Any = None) -> DiscussionTopic | None:
    """The topic, if ``viewer`` may see it."""
    if not _valid_id(topic_id):
        return None
    return db.session.scalar(
        select(DiscussionTopic)
        .where(DiscussionTopic.id == topic_id, *_shown(DiscussionTopic, viewer))
        .options(joinedload(DiscussionTopic.created_by), joinedload(DiscussionTopic.session))
    )


def add_topic_comment(
    user: User,
    topic: DiscussionTopic,
    body: str | None,
    parent_id: int | None = None,
    at: datetime | None = None,
) -> TopicComment:
    """Comment on a topic, or reply to ``parent_id``, which must be a comment of this topic.

    Raises InvalidParent (a ValueError) for a parent of another topic or an unknown one.
    """
    _member(user)
    text = _comment(body)
    if parent_id is not None:
        parent = db.session.get(TopicComment, parent_id) if _valid_id(parent_id) else None
        if parent is None or parent.topic_id != topic.id or not visible_to(parent, user):
            raise InvalidParent(_("You can only reply to a comment of this topic."))
    comment = TopicComment(topic_id=topic.id, user_id=user.id, body=text, parent_id=parent_id)
    _dated(comment, at)
    db.session.add(comment)
    notifications.on_topic_comment(comment)
    db.session.commit()
    return comment


@dataclass
class Node:
    """A comment in the thread, its replies, its depth, and whom it answers when flattened.

    ``shown`` is False for a comment the viewer may not see that is kept only as the place
    of its replies (the page says it was removed, not what it said).
    """

    comment: TopicComment
    depth: int = 0
    reply_to: User | None = None
    children: list[Node] = field(default_factory=list)
    container: Node | None = field(default=None, repr=False)
    shown: bool = True


def _prune(nodes: list[Node]) -> list[Node]:
    """Drop the comments not shown that hold no shown reply, deepest first."""
    kept = []
    for node in nodes:
        node.children = _prune(node.children)
        if node.shown or node.children:
            kept.append(node)
    return kept


def thread(topic: DiscussionTopic, viewer: Any = None) -> list[Node]:
    """The topic's comments as ``viewer`` sees them, as a tree (roots and replies oldest
    first), from one query.

    Ordered by id: a parent always exists before its replies, so it always comes first.
    Replies below ``MAX_DEPTH`` are placed next to their parent, in the same list, and
    carry ``reply_to`` (the author they answer), so the page never nests without end.
    """
    comments = db.session.scalars(
        select(TopicComment)
        .where(TopicComment.topic_id == topic.id)
        .options(joinedload(TopicComment.user), joinedload(TopicComment.moderated_by))
        .order_by(TopicComment.id)
    ).all()
    nodes: dict[int, Node] = {}
    roots: list[Node] = []
    for comment in comments:
        parent = nodes.get(comment.parent_id) if comment.parent_id is not None else None
        if parent is None:  # a top-level comment (or, defensively, an orphan)
            node = Node(comment)
            roots.append(node)
        elif parent.depth < MAX_DEPTH:
            node = Node(comment, depth=parent.depth + 1, container=parent)
            parent.children.append(node)
        else:
            holder = parent.container or parent  # at depth MAX_DEPTH >= 1: the container
            node = Node(comment, depth=parent.depth, reply_to=parent.comment.user, container=holder)
            holder.children.append(node)
        node.shown = visible_to(comment, viewer)
        nodes[comment.id] = node
    return _prune(roots)


def organizations() -> list[Organization]:
    """Every organization by name: the companies a trainer may present a case for."""
    return list(db.session.scalars(select(Organization).order_by(Organization.name)))


# -- editing, deleting and moderating ------------------------------------------------------

MAX_REASON = 500
# Which post each area of the site holds, and its comments.
AREAS = {"salon": (SalonCase, CaseComment), "discussions": (DiscussionTopic, TopicComment)}
MODERATIONS = ("hide", "unhide", "delete")


def edit_window() -> timedelta:
    """How long an author may edit or delete what they posted (``COMMUNITY_EDIT_MINUTES``)."""
    return timedelta(minutes=int(current_app.config["COMMUNITY_EDIT_MINUTES"]))


def author_id(item: Post) -> int | None:
    """The id of whoever wrote a case, topic or comment."""
    if isinstance(item, SalonCase):
        return item.presenter_id
    if isinstance(item, DiscussionTopic):
        return item.created_by_id
    if isinstance(item, CaseComment | TopicComment):
        return item.user_id
    raise TypeError(f"not a community post: {item!r}")


def _kind(item: Post) -> str:
    return {
        SalonCase: "case",
        DiscussionTopic: "topic",
        CaseComment: "case_comment",
        TopicComment: "topic_comment",
    }[type(item)]


def _own(item: Post, user: Any) -> bool:
    return (
        user is not None and getattr(user, "id", None) is not None and (author_id(item) == user.id)
    )


def within_window(item: Post, now: datetime | None = None) -> bool:
    """Is it still the author's time to edit or delete ``item``?"""
    return (now or utcnow()) - aware(item.created_at) <= edit_window()


def can_edit(item: Post, user: Any, now: datetime | None = None) -> bool:
    """Only its author, within the window, and while no moderator hid it."""
    return (
        _own(item, user)
        and item.deleted_at is None
        and item.hidden_at is None
        and within_window(item, now)
    )


def can_delete(item: Post, user: Any, now: datetime | None = None) -> bool:
    """Its author within the window; moderators always."""
    return item.deleted_at is None and (is_moderator(user) or can_edit(item, user, now))


def check_author(item: Post, user: Any, now: datetime | None = None) -> None:
    """Raise NotAllowed for anyone but the author, EditWindowClosed once the window closed."""
    _member(user)
    if not _own(item, user) or item.deleted_at is not None or item.hidden_at is not None:
        raise NotAllowed
    if not within_window(item, now):
        minutes = int(edit_window().total_seconds() // 60)
        raise EditWindowClosed(
            _(
                "You can edit or delete what you posted for %(minutes)d minutes only; ask a "
                "trainer if it must change now.",
                minutes=minutes,
            )
        )


def _reindex(item: Post) -> None:
    """Keep search in step: a case or topic everyone sees is indexed, any other is not."""
    if isinstance(item, SalonCase | DiscussionTopic):
        if item.deleted_at is None and item.hidden_at is None:
            search.index(item)
        else:
            search.remove(item)


def edit_post(
    user: User,
    post: SalonCase | DiscussionTopic,
    title: str | None,
    body: str | None,
    now: datetime | None = None,
) -> None:
    """The author changes the title and text of their case or topic within the window.

    Raises NotAllowed, EditWindowClosed or CommunityError; commits and reindexes.
    """
    check_author(post, user, now)
    post.title, post.body = _title(title), _body(body)
    post.edited_at = now or utcnow()
    db.session.commit()
    _reindex(post)


def edit_comment(
    user: User, comment: CaseComment | TopicComment, body: str | None, now: datetime | None = None
) -> None:
    """The author changes their comment within the window. Commits."""
    check_author(comment, user, now)
    comment.body = _comment(body)
    comment.edited_at = now or utcnow()
    db.session.commit()


def _reason(value: str | None) -> str:
    return _text(value, MAX_REASON, _("The reason"), single_line=True)


def delete(user: User, item: Post, reason: str | None = None, now: datetime | None = None) -> None:
    """Delete a post or comment: its author within the window (no reason needed), or a
    moderator with a reason (written to the audit log). A deleted case or topic leaves
    search. Raises NotAllowed, EditWindowClosed or CommunityError; commits."""
    _member(user)
    if item.deleted_at is not None:
        raise NotAllowed
    if is_moderator(user) and not (_own(item, user) and within_window(item, now)):
        moderate(user, item, "delete", reason, now=now)
        return
    check_author(item, user, now)
    item.deleted_at = now or utcnow()
    db.session.commit()
    audit.event("community_deleted_by_author", user=user.id, post=_kind(item), post_id=item.id)
    _reindex(item)


def moderate(
    user: User, item: Post, action: str, reason: str | None, now: datetime | None = None
) -> None:
    """A trainer or organizer hides, shows again or deletes any post or comment, with a
    reason. The decision is kept on the row (who, when, why) and written to the audit log.
    Raises NotAllowed or CommunityError before writing anything; commits."""
    _member(user)
    if not is_moderator(user):
        raise NotAllowed
    if action not in MODERATIONS:
        raise CommunityError(_("Choose hide, show or delete."))
    if item.deleted_at is not None:
        raise CommunityError(_("This post was deleted."))
    if action == "unhide" and item.hidden_at is None:
        raise CommunityError(_("This post is not hidden."))
    if action == "hide" and item.hidden_at is not None:
        raise CommunityError(_("This post is already hidden."))
    why = _reason(reason)
    moment = now or utcnow()
    if action == "hide":
        item.hidden_at = moment
    elif action == "unhide":
        item.hidden_at = None
    else:
        item.deleted_at = moment
    item.moderated_by_id = user.id
    item.moderation_reason = why
    db.session.commit()
    audit.event(
        "community_moderated",
        user=user.id,
        action=action,
        post=_kind(item),
        post_id=item.id,
        author=author_id(item),
        reason=why,
    )
    _reindex(item)


def find_post(area: str, post_id: int, viewer: Any) -> SalonCase | DiscussionTopic | None:
    """The case (``salon``) or topic (``discussions``) ``viewer`` may see."""
    if area == "salon":
        return get_case(post_id, viewer)
    if area == "discussions":
        return get_topic(post_id, viewer)
    return None


def find_comment(
    post: SalonCase | DiscussionTopic, comment_id: int, viewer: Any
) -> CaseComment | TopicComment | None:
    """A comment of ``post`` that ``viewer`` may see."""
    if not _valid_id(comment_id):
        return None
    if isinstance(post, SalonCase):
        return db.session.scalar(
            select(CaseComment).where(
                CaseComment.id == comment_id,
                CaseComment.case_id == post.id,
                *_shown(CaseComment, viewer),
            )
        )
    return db.session.scalar(
        select(TopicComment).where(
            TopicComment.id == comment_id,
            TopicComment.topic_id == post.id,
            *_shown(TopicComment, viewer),
        )
    )
