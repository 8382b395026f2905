"""The kinds of notification: what each one says, where it leads, who may choose it.

A kind's texts are written at reading time in the reader's language (the in-app page in the
page's, an e-mail in the recipient's): a notification keeps its facts in ``data``, titles in
both languages, never a finished sentence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import g, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lms.models._base import academy_timezone, current_language
from lms.services.camps import registry
from lms.services.site import site_name

log = logging.getLogger(__name__)

Data = dict[str, Any]
IN_APP_AND_EMAIL = ("both", "in_app", "email", "none")
EMAIL_ONLY = ("email", "none")


@dataclass(frozen=True)
class Kind:
    """One kind of notification.

    ``message(data)`` answers the title and the text in the current locale; ``link(data)``
    the endpoint and its values the notification leads to. ``channels`` are the choices a
    user has (a kind whose link is a one-time secret goes by e-mail only); ``mail_template``
    names the message under ``templates/mail/`` when the kind has its own.
    """

    name: str
    label: Any  # a lazy string
    default: str
    message: Callable[[Data], tuple[str, str]]
    link: Callable[[Data], tuple[str, dict[str, Any]]]
    channels: tuple[str, ...] = IN_APP_AND_EMAIL
    trainers_only: bool = False
    mail_template: str = "notification"
    group: str = field(default="learning")


def localized(data: Data, name: str) -> str:
    """``data[name_en]`` on English pages and mail, else ``data[name_zh]`` (the other when
    one is empty)."""
    primary, fallback = ("en", "zh") if current_language() == "en" else ("zh", "en")
    return str(data.get(f"{name}_{primary}") or data.get(f"{name}_{fallback}") or "")


def local_time(data: Data, name: str = "starts_at") -> str:
    """The ISO time ``data[name]`` in the zone ``data["timezone"]`` (the academy's when
    unknown), as ``2026-12-25 14:00``."""
    moment = datetime.fromisoformat(str(data[name]))
    zone = ZoneInfo(str(data.get("timezone") or academy_timezone()))
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _session_link(data: Data) -> tuple[str, dict[str, Any]]:
    return "live.session", {"session_id": data["session_id"]}


def _when_and_where(data: Data) -> dict[str, str]:
    """A session's start (in its zone) and place, for the messages' ``%(time)s, %(place)s``."""
    return {"time": local_time(data), "place": str(data.get("location", ""))}


def _reminder(data: Data) -> tuple[str, str]:
    title = localized(data, "title")
    if data.get("before") == "hour":
        heading = _("Starting soon: %(title)s", title=title)
    else:
        heading = _("Reminder: %(title)s", title=title)
    return heading, _("Starts at %(time)s, %(place)s.", **_when_and_where(data))


def _moved(data: Data) -> tuple[str, str]:
    return (
        _("Session moved: %(title)s", title=localized(data, "title")),
        _("It now starts at %(time)s, %(place)s.", **_when_and_where(data)),
    )


def _cancelled(data: Data) -> tuple[str, str]:
    return (
        _("Session cancelled: %(title)s", title=localized(data, "title")),
        _("Reason: %(reason)s", reason=data.get("reason") or "—"),
    )


def _promoted(data: Data) -> tuple[str, str]:
    return (
        _("You have a seat: %(title)s", title=localized(data, "title")),
        _(
            "A seat became free and it is yours. The session starts at %(time)s, %(place)s.",
            **_when_and_where(data),
        ),
    )


def _due(data: Data) -> tuple[str, str]:
    return (
        _("Due soon: %(title)s", title=localized(data, "title")),
        _("Complete it by %(day)s.", day=data["due_on"]),
    )


def _overdue(data: Data) -> tuple[str, str]:
    return (
        _("Overdue: %(title)s", title=localized(data, "title")),
        _("It was due on %(day)s.", day=data["due_on"]),
    )


def _certificate(data: Data) -> tuple[str, str]:
    return (
        _("Certificate issued: %(title)s", title=localized(data, "title")),
        _(
            "Congratulations on completing the course. Your certificate's code is %(code)s.",
            code=data["code"],
        ),
    )


def _reviewed(data: Data) -> tuple[str, str]:
    return (
        _("Expert review of your case: %(title)s", title=data.get("title", "")),
        _("%(name)s reviewed your salon case.", name=data.get("by", "")),
    )


def _reply(data: Data) -> tuple[str, str]:
    title = _("New reply: %(title)s", title=data.get("title", ""))
    if data.get("to") == "comment":
        return title, _("%(name)s replied to your comment.", name=data.get("by", ""))
    return title, _("%(name)s replied to your topic.", name=data.get("by", ""))


def _invite(data: Data) -> tuple[str, str]:
    organization = data.get("organization", "")
    return _("%(org)s invites you to %(site)s", org=organization, site=site_name()), ""


def _setup(data: Data) -> tuple[str, str]:
    return _("Set your password for %(site)s", site=site_name()), ""


def _video_ready(data: Data) -> tuple[str, str]:
    name = data.get("name", "")
    return (
        _("Video ready: %(name)s", name=name),
        _("%(name)s has been processed and can be watched.", name=name),
    )


def _video_failed(data: Data) -> tuple[str, str]:
    return (
        _("Video processing failed: %(name)s", name=data.get("name", "")),
        _("Reason: %(reason)s", reason=data.get("error") or "—"),
    )


def _videos(data: Data) -> tuple[str, dict[str, Any]]:
    return "teach.library", {}


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("live_reminder", _l("Live session reminders"), "both", _reminder, _session_link),
        Kind(
            "session_moved", _l("A session I registered for moved"), "both", _moved, _session_link
        ),
        Kind(
            "session_cancelled",
            _l("A session I registered for was cancelled"),
            "both",
            _cancelled,
            _session_link,
        ),
        Kind(
            "waitlist_promoted",
            _l("A seat for me from the waitlist"),
            "both",
            _promoted,
            _session_link,
        ),
        Kind(
            "assignment_due",
            _l("An assignment is due soon"),
            "both",
            _due,
            lambda data: ("plans.mine", {}),
        ),
        Kind(
            "assignment_overdue",
            _l("An assignment is overdue"),
            "both",
            _overdue,
            lambda data: ("plans.mine", {}),
        ),
        Kind(
            "certificate_issued",
            _l("A certificate issued to me"),
            "both",
            _certificate,
            lambda data: ("learn.certificate", {"code": data["code"]}),
        ),
        Kind(
            "case_reviewed",
            _l("An expert review of my salon case"),
            "both",
            _reviewed,
            lambda data: ("community.case", {"case_id": data["case_id"]}),
            group="community",
        ),
        Kind(
            "reply",
            _l("A reply to my topic or comment"),
            "in_app",
            _reply,
            lambda data: ("community.topic", {"topic_id": data["topic_id"]}),
            group="community",
        ),
        Kind(
            "video_ready",
            _l("My video finished processing"),
            "in_app",
            _video_ready,
            _videos,
            trainers_only=True,
            group="teaching",
        ),
        Kind(
            "video_failed",
            _l("My video failed to process"),
            "both",
            _video_failed,
            _videos,
            trainers_only=True,
            group="teaching",
        ),
        Kind(
            "invite",
            _l("Invitations to join an organization"),
            "email",
            _invite,
            lambda data: ("organizations.invite", {"token": data["token"]}),
            channels=EMAIL_ONLY,
            mail_template="invite",
            group="account",
        ),
        Kind(
            "setup_link",
            _l("Links to set my password"),
            "email",
            _setup,
            lambda data: ("organizations.setup_account", {"token": data["token"]}),
            channels=EMAIL_ONLY,
            mail_template="setup_link",
            group="account",
        ),
    )
}


GROUPS = ("learning", "community", "teaching", "account", "other")
PLUGIN_KIND_NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")


def all_kinds() -> dict[str, Kind]:
    """The core's kinds, then those the active plugins declare (``lms_notification_kinds``),
    once per app context. A plugin's kind with a malformed name or a name already taken is
    left out (logged); its group, when not one of :data:`GROUPS`, is "other"."""
    if not has_app_context():
        return KINDS
    if "lms_notification_kinds" not in g:
        found = dict(KINDS)
        for answer in registry().call_all("lms_notification_kinds"):
            for kind in answer or []:
                name = getattr(kind, "name", None)
                if not isinstance(kind, Kind) or not PLUGIN_KIND_NAME.fullmatch(str(name)):
                    log.warning("a plugin's notification kind is malformed: %r", kind)
                elif kind.name in found:
                    log.warning("a plugin's notification kind %r is already taken", kind.name)
                else:
                    group = kind.group if kind.group in GROUPS else "other"
                    found[kind.name] = replace(kind, group=group)
        g.lms_notification_kinds = found
    kinds: dict[str, Kind] = g.lms_notification_kinds
    return kinds


def get(name: str) -> Kind:
    """The kind called ``name`` (KeyError for an unknown one, or a disabled plugin's)."""
    return all_kinds()[name]


def choosable(is_trainer: bool) -> list[Kind]:
    """The kinds a user sees on the preferences page: the core's in the order above, then
    the plugins'."""
    return [kind for kind in all_kinds().values() if is_trainer or not kind.trainers_only]
