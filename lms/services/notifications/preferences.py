"""Each user's choice per kind: in the app, by e-mail, both, or none (a kind's default when
the user has not chosen)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lms.database import dialect_insert
from lms.extensions import db
from lms.models import CHANNELS, NotificationPreference, User
from lms.services.errors import Invalid
from lms.services.notifications import kinds


class PreferenceError(Invalid):
    """A choice that is not one of the kind's; nothing was saved."""


def channels(user_ids: Iterable[int], kind: str) -> dict[int, str]:
    """Each user's channel for ``kind`` (the kind's default where they have not chosen)."""
    wanted = list(user_ids)
    found = {
        user_id: channel
        for user_id, channel in db.session.execute(
            db.select(NotificationPreference.user_id, NotificationPreference.channel).where(
                NotificationPreference.kind == kind,
                NotificationPreference.user_id.in_(wanted),
            )
        )
    }
    allowed = kinds.get(kind).channels
    default = kinds.get(kind).default
    return {
        user_id: found[user_id] if found.get(user_id) in allowed else default for user_id in wanted
    }


def of(user: User) -> dict[str, str]:
    """The user's channel for each kind they may choose (defaults filled in)."""
    chosen = dict(
        db.session.execute(
            db.select(NotificationPreference.kind, NotificationPreference.channel).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )
    return {
        kind.name: chosen[kind.name] if chosen.get(kind.name) in kind.channels else kind.default
        for kind in kinds.choosable(user.is_trainer)
    }


def save(user: User, choices: Mapping[str, str]) -> None:
    """Store the user's choices (kinds left out keep theirs). An unknown kind or a channel
    the kind does not offer raises :class:`PreferenceError` before anything is written.
    Commits."""
    offered = {kind.name: kind for kind in kinds.choosable(user.is_trainer)}
    for name, channel in choices.items():
        if name not in offered or channel not in CHANNELS or channel not in offered[name].channels:
            raise PreferenceError(name)
    insert = dialect_insert(db.session.get_bind().dialect.name)
    for name, channel in choices.items():
        statement = insert(NotificationPreference).values(
            user_id=user.id, kind=name, channel=channel
        )
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "kind"], set_={"channel": statement.excluded.channel}
            )
        )
    db.session.commit()
