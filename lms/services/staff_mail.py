"""Invite and set-password links sent by e-mail, for an organization's managers.

The request only decides and queues: which addresses or accounts, whether the limits leave
room (:func:`_admit`). The job (:func:`send_invite`, :func:`send_setup_link`) makes the link,
sends the message in the recipient's language through :mod:`lms.services.mail` and commits
only once the message is handed over: a message that could not be sent leaves no usable link
behind. Job arguments are ids and addresses, never links, so no token reaches Redis or the
log of a failed job.

* **Invites by e-mail**: each address gets its **own** invite link, usable once, with the
  group and lifetime the manager chose (a forwarded message lets one person in, not fifty).
  The message is in the language of the account that has the address, if there is one, else
  in the language the manager chose.
* **Set-password links**: for staff whose account has no password yet (imported from CSV); a
  new one-time link each (the account's older links keep working until one of them is used,
  which spends them all), in the account's language.

Limits (``lms.services.ratelimit``, shared through Redis when configured): at most
``STAFF_MAIL_RATE_LIMIT`` messages per organization (200 a day), and one message of a kind
per recipient per ``STAFF_MAIL_REPEAT_LIMIT`` (10 minutes), so a second click, or a form
sent twice, sends nothing more.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from lms.extensions import db
from lms.models import Organization, User
from lms.services import accounts, audit, hours, jobs, loading, mail, ratelimit
from lms.services.account_tokens import has_password, issue_setup_token
from lms.services.errors import Invalid, NotFound
from lms.services.invites import add_invite, check_invite_days
from lms.services.notifications import delivery
from lms.services.staff_groups import find_group

MAX_ADDRESSES = 50
ADDRESS_SEPARATORS = re.compile(r"[\s,;，；、]+")  # also the Chinese comma and semicolon

QUEUED, REPEATED, OVER_LIMIT = "queued", "repeated", "over_limit"


class AddressError(Invalid):
    """The list of addresses cannot be used; the message says why and nothing is sent."""


@dataclass
class MailReport:
    """What became of each recipient: queued, repeated (sent recently), over the limit."""

    queued: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    over_limit: list[str] = field(default_factory=list)

    def add(self, outcome: str, recipient: str) -> None:
        getattr(self, outcome).append(recipient)


def parse_addresses(text: str) -> list[str]:
    """The addresses in ``text`` (separated by commas, semicolons, spaces or lines), normalised,
    each once, in order. Raises :class:`AddressError` for none, an invalid one or more than
    :data:`MAX_ADDRESSES`."""
    addresses = list(
        dict.fromkeys(
            accounts.normalise_email(part)
            for part in ADDRESS_SEPARATORS.split(text or "")
            if part.strip()
        )
    )
    if not addresses:
        raise AddressError(_("Enter at least one e-mail address."))
    if len(addresses) > MAX_ADDRESSES:
        raise AddressError(_("Enter at most %(max)d addresses at a time.", max=MAX_ADDRESSES))
    invalid = [
        address for address in addresses if len(address) > 254 or not mail.is_address(address)
    ]
    if invalid:
        raise AddressError(
            _("These are not e-mail addresses: %(list)s", list=", ".join(invalid[:10]))
        )
    return addresses


def _admit(organization_id: int, kind: str, recipient: str) -> str:
    """Room for one more message of ``kind`` to ``recipient``? Counts it when there is."""
    config = current_app.config
    cap = ("staff-mail", f"org:{organization_id}", config["STAFF_MAIL_RATE_LIMIT"])
    if not ratelimit.allowed(*cap):
        audit.event("staff_mail_limited", org=organization_id, kind=kind)
        return OVER_LIMIT
    key = f"{kind}:{organization_id}:{recipient}"
    if not ratelimit.spend("staff-mail-repeat", key, config["STAFF_MAIL_REPEAT_LIMIT"]):
        return REPEATED
    ratelimit.spend(*cap)
    return QUEUED


def _expires(moment: datetime) -> str:
    return hours.local_day(moment).isoformat()


# -- invites ---------------------------------------------------------------------------


def invite_by_mail(
    organization: Organization,
    addresses: list[str],
    *,
    by: User,
    group_id: int | None,
    days: int,
    locale: str,
) -> MailReport:
    """Queue one single-use invite mail per address. The group must be the organization's
    (else :class:`NotFound`); ``days`` as for links. Writes nothing itself."""
    check_invite_days(days)
    if group_id is not None:
        find_group(organization, group_id)
    report, base = MailReport(), mail.base_url()
    for address in addresses:
        outcome = _admit(organization.id, "invite", audit.email_id(address))
        report.add(outcome, address)
        if outcome == QUEUED:
            jobs.enqueue(
                f"{__name__}.send_invite",
                organization.id,
                address,
                group_id,
                days,
                by.id,
                mail.recipient_locale(locale),
                base,
                secrets.token_hex(8),
            )
    return report


def send_invite(
    organization_id: int,
    email: str,
    group_id: int | None,
    days: int,
    by_id: int | None,
    locale: str,
    base: str,
    occasion: str | None = None,
) -> None:
    """The job: a new single-use invite of the organization, mailed to ``email``, as a
    notification (:func:`delivery.send_link`): ``occasion``, drawn when the mail was
    queued, makes a retried job send nothing more. A group deleted meanwhile is left out; a
    deleted organization, or an account that is disabled or wants no invites, gets nothing."""
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        return
    if group_id is not None:
        try:
            find_group(organization, group_id)
        except NotFound:
            group_id = None
    account = db.session.scalar(select(User).filter_by(email=email))
    made: list[int] = []

    def make_link() -> dict[str, str]:
        invite, token = add_invite(
            organization, by_id=by_id, group_id=group_id, days=days, max_uses=1
        )
        made.append(invite.id)
        return {"token": token, "expires": _expires(invite.expires_at)}

    facts = {"organization": organization.name}
    if delivery.send_link(
        "invite",
        email,
        account,
        locale,
        organization_id,
        occasion or secrets.token_hex(8),
        facts,
        base,
        make_link,
    ):
        audit.event("invite_mailed", email=email, org=organization_id, invite=made[0], by=by_id)


# -- set-password links ----------------------------------------------------------------


def waiting_for_password(organization: Organization, user_ids: list[int] | None) -> list[User]:
    """Active staff of the organization who have not set a password, by name: those of
    ``user_ids`` (any id outside the organization is :class:`NotFound`), or all when None."""
    query = select(User).where(User.organization_id == organization.id)
    if user_ids is not None:
        wanted = set(user_ids)
        people = list(db.session.scalars(query.where(User.id.in_(wanted))))
        if len(people) != len(wanted):
            raise NotFound()
    else:
        people = list(db.session.scalars(query.where(User.active.is_(True))))
    return sorted(
        (person for person in people if person.active and not has_password(person)),
        key=lambda person: (person.name, person.id),
    )


def mail_setup_links(organization: Organization, people: list[User]) -> MailReport:
    """Queue a set-password mail to each of ``people`` (see :func:`waiting_for_password`)."""
    report, base = MailReport(), mail.base_url()
    for person in people:
        outcome = _admit(organization.id, "setup", str(person.id))
        report.add(outcome, person.name)
        if outcome == QUEUED:
            jobs.enqueue(
                f"{__name__}.send_setup_link",
                person.id,
                organization.id,
                base,
                secrets.token_hex(8),
            )
    return report


def send_setup_link(
    user_id: int, organization_id: int, base: str, occasion: str | None = None
) -> None:
    """The job: a new set-password link mailed to the account, if it is still active, still
    in the organization and still without a password (else nothing), as a notification
    (``occasion`` makes a retried job send nothing more)."""
    person = db.session.get(User, user_id)
    if (
        person is None
        or not person.active
        or person.organization_id != organization_id
        or has_password(person)
    ):
        return
    organization: Organization | None = loading.load(person, "organization")
    if organization is None:  # not so: its organization_id matched
        return

    def make_link() -> dict[str, str]:
        link = issue_setup_token(person)
        db.session.flush()
        return {"token": link.token, "expires": _expires(link.expires_at)}

    facts = {"name": person.name, "organization": organization.name}
    if delivery.send_link(
        "setup_link",
        person.email,
        person,
        person.locale or "",
        person.id,
        occasion or secrets.token_hex(8),
        facts,
        base,
        make_link,
    ):
        audit.event("setup_link_mailed", user=user_id, org=organization_id)
