"""Importing an organization's staff from CSV: check everything, then write all or nothing,
or — when the manager asks — the valid rows, skipping the rest.

The file is UTF-8 (a byte-order mark is allowed), or GBK/GB18030 as Excel saves "CSV" on a
Chinese Windows, with a header naming the columns ``email``, ``name`` and optionally
``group``; at most :data:`MAX_BYTES` and :data:`MAX_ROWS` data rows. :func:`preview` gives
each row its outcome — a new account, an existing account joining, someone already on the
staff, or the reasons it cannot be imported. :func:`run` checks the same text again and
writes in one transaction: every row when none has an error, or (``skip_invalid``) the rows
without errors, reporting the skipped ones with their reasons. It writes missing groups, new
accounts (with an unusable password and a one-time set-password link each), joining
accounts, group memberships.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from lms.database import rowcount
from lms.extensions import db
from lms.models import Organization, StaffGroup, StaffGroupMember, User
from lms.services import accounts, mail
from lms.services.account_tokens import SetupLink, issue_setup_token, unusable_password
from lms.services.errors import Conflict, Invalid, TooLarge
from lms.services.organizations import CONTROL
from lms.services.staff_groups import GROUP_NAME_LENGTH
from lms.services.text import clean_name

MAX_BYTES = 1024 * 1024
MAX_ROWS = 2000
NAME_LENGTH = 100
EMAIL_LENGTH = 254
HEADER_NAMES = {"email": "email", "e-mail": "email", "name": "name", "group": "group"}
LOOKUP_CHUNK = 500

NEW, JOINS, STAFF, ERROR = "new", "joins", "staff", "error"
UTF8, GB18030 = "UTF-8", "GB18030"
WORKBOOK_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx (a ZIP), .xls (OLE2)
UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


class ImportFileError(Invalid):
    """The file as a whole cannot be read: not UTF-8, no header, too many rows…"""


class ImportFileTooLarge(ImportFileError, TooLarge):
    """The file is over :data:`MAX_BYTES`."""


@dataclass
class ImportRow:
    line: int
    email: str
    name: str
    group: str
    outcome: str = NEW
    errors: list[str] = field(default_factory=list)
    user_id: int | None = None


@dataclass
class Preview:
    rows: list[ImportRow]
    text: str  # the text that was checked, carried unchanged to the confirming request
    existing_groups: set[str] = field(default_factory=set)
    encoding: str = UTF8  # how the uploaded bytes were read

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not any(row.errors for row in self.rows)

    @property
    def valid_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if not row.errors]

    @property
    def invalid_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if row.errors]

    def without_errors(self) -> Preview:
        """The same check with only the rows that can be imported."""
        return Preview(self.valid_rows, self.text, self.existing_groups, self.encoding)

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    @property
    def new_groups(self) -> list[str]:
        """Groups the importable rows name that do not exist yet."""
        return sorted({row.group for row in self.valid_rows if row.group} - self.existing_groups)


class ImportRejected(Invalid):
    """Some rows have errors: nothing was written."""

    def __init__(self, result: Preview) -> None:
        super().__init__(_("Some rows have errors: nothing was imported."))
        self.preview = result


@dataclass
class ImportOutcome:
    links: list[SetupLink] = field(default_factory=list)
    joined: int = 0
    already: int = 0
    groups_created: list[str] = field(default_factory=list)
    skipped: list[ImportRow] = field(default_factory=list)  # with their errors


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # UTF8 or GB18030


def decode(data: bytes) -> Decoded:
    """The uploaded bytes as text: at most :data:`MAX_BYTES` (else 413); UTF-8 with or
    without a byte-order mark, else GB18030 (GBK's superset, Excel's "CSV" on a Chinese
    Windows). An Excel workbook, UTF-16 ("Unicode text"), other encodings and binary files
    are a 400 that says what to do."""
    if len(data) > MAX_BYTES:
        raise ImportFileTooLarge(_("The file is larger than 1 MiB."))
    if data.startswith(WORKBOOK_SIGNATURES):
        raise ImportFileError(
            _("This is an Excel workbook, not CSV. In Excel, save it as CSV UTF-8 first.")
        )
    if data.startswith(UTF16_MARKS):
        raise ImportFileError(
            _("The file is UTF-16 text (Excel's Unicode text). Save it as CSV UTF-8 instead.")
        )
    for encoding, codec in ((UTF8, "utf-8-sig"), (GB18030, "gb18030")):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:  # no text file has it: a binary file that happened to decode
            break
        return Decoded(text, encoding)
    raise ImportFileError(_("The file is not UTF-8 (nor GBK) text. Save it as CSV UTF-8."))


def normalise(text: str) -> str:
    """One form of the text for both steps: no byte-order mark, ``\\n`` line ends (browsers
    may send a carried text back with ``\\r\\n``)."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _read(text: str) -> list[ImportRow]:
    if len(text.encode()) > MAX_BYTES:
        raise ImportFileTooLarge(_("The file is larger than 1 MiB."))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        if header is None:
            raise ImportFileError(_("The file is empty."))
        columns = [HEADER_NAMES.get(cell.strip().lower()) for cell in header]
        unknown = [cell for cell, column in zip(header, columns, strict=True) if column is None]
        if unknown or "email" not in columns or "name" not in columns:
            raise ImportFileError(
                _("The first line must name the columns: email,name and optionally group.")
            )
        if len(set(columns)) != len(columns):
            raise ImportFileError(_("A column is named twice in the first line."))
        rows: list[ImportRow] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) == MAX_ROWS:
                raise ImportFileError(_("The file has more than %(max)d rows.", max=MAX_ROWS))
            values = dict(zip(columns, cells, strict=False))
            row = ImportRow(
                line=reader.line_num,
                email=accounts.normalise_email(values.get("email", "")),
                name=clean_name(values.get("name", "")),  # as they will be stored
                group=clean_name(values.get("group", "")),
            )
            if len(cells) > len(columns):
                row.errors.append(_("The row has more columns than the first line."))
            rows.append(row)
    except csv.Error as exc:
        raise ImportFileError(
            _("Line %(line)d cannot be read as CSV.", line=reader.line_num)
        ) from exc
    if not rows:
        raise ImportFileError(_("The file has no rows below the first line."))
    return rows


def _check_cells(row: ImportRow, seen: dict[str, int]) -> None:
    if not row.email or len(row.email) > EMAIL_LENGTH:
        row.errors.append(_("Invalid e-mail address."))
    else:
        if not mail.is_address(row.email):
            row.errors.append(_("Invalid e-mail address."))
        elif row.email in seen:
            row.errors.append(
                _("The same e-mail address is on line %(line)d.", line=seen[row.email])
            )
        else:
            seen[row.email] = row.line
    if not row.name:
        row.errors.append(_("The name is empty."))
    elif len(row.name) > NAME_LENGTH:
        row.errors.append(_("The name is longer than %(max)d characters.", max=NAME_LENGTH))
    elif CONTROL.search(row.name):
        row.errors.append(_("The name contains control characters."))
    if len(row.group) > GROUP_NAME_LENGTH:
        row.errors.append(
            _("The group name is longer than %(max)d characters.", max=GROUP_NAME_LENGTH)
        )
    elif CONTROL.search(row.group):
        row.errors.append(_("The group name contains control characters."))


def _accounts(emails: list[str]) -> dict[str, tuple[int, int | None]]:
    """id and organization of the existing accounts with these e-mails (chunked IN)."""
    found: dict[str, tuple[int, int | None]] = {}
    for start in range(0, len(emails), LOOKUP_CHUNK):
        chunk = emails[start : start + LOOKUP_CHUNK]
        for email, user_id, organization_id in db.session.execute(
            select(User.email, User.id, User.organization_id).where(User.email.in_(chunk))
        ):
            found[email] = (user_id, organization_id)
    return found


def preview(organization: Organization, text: str, encoding: str = UTF8) -> Preview:
    """Every row of the file with its outcome and errors. Raises :class:`ImportFileError`
    when the file itself cannot be read. Writes nothing."""
    text = normalise(text)
    rows = _read(text)
    seen: dict[str, int] = {}
    for row in rows:
        _check_cells(row, seen)
    existing = _accounts(sorted(seen))
    for row in rows:
        if row.email in existing and seen.get(row.email) == row.line:
            row.user_id, organization_id = existing[row.email]
            if organization_id == organization.id:
                row.outcome = STAFF
            elif organization_id is None:
                row.outcome = JOINS
            else:
                row.errors.append(_("This account belongs to another organization."))
        if row.errors:
            row.outcome = ERROR
    groups = set(
        db.session.scalars(
            select(StaffGroup.name).where(StaffGroup.organization_id == organization.id)
        )
    )
    return Preview(rows, text, existing_groups=groups, encoding=encoding)


def run(organization: Organization, text: str, *, skip_invalid: bool = False) -> ImportOutcome:
    """Check ``text`` again and import it in one transaction, or write nothing.

    All or nothing by default: :class:`ImportRejected` when a row has an error. With
    ``skip_invalid`` the rows with errors are left out (``outcome.skipped``); nothing to
    import is still :class:`ImportRejected`. Raises :class:`ImportFileError` when the file
    cannot be read and :class:`Conflict` when accounts changed meanwhile (an e-mail
    registered, an account joined another organization). Commits.
    """
    full = preview(organization, text)
    skipped = full.invalid_rows if skip_invalid else []
    checked = full.without_errors() if skipped else full
    if not checked.ok:
        raise ImportRejected(full)
    outcome = ImportOutcome(skipped=skipped)
    try:
        group_ids = _groups(organization, checked, outcome)
        people = _people(organization, checked, outcome)
        _memberships(organization, checked, people, group_ids)
        db.session.flush()
    except (IntegrityError, Conflict) as exc:
        db.session.rollback()
        raise Conflict(
            _("Accounts changed while you were importing. Check the file again.")
        ) from exc
    db.session.commit()
    return outcome


def _groups(organization: Organization, checked: Preview, outcome: ImportOutcome) -> dict[str, int]:
    new = [StaffGroup(organization_id=organization.id, name=name) for name in checked.new_groups]
    db.session.add_all(new)
    db.session.flush()
    outcome.groups_created = [group.name for group in new]
    return dict(
        db.session.execute(
            select(StaffGroup.name, StaffGroup.id).where(
                StaffGroup.organization_id == organization.id
            )
        ).all()
    )


def _people(organization: Organization, checked: Preview, outcome: ImportOutcome) -> dict[str, int]:
    """Create the new accounts and bring in the joining ones: e-mail → user id."""
    created = [
        User(
            email=row.email,
            name=row.name,
            password_hash=unusable_password(),
            role="learner",
            organization_id=organization.id,
        )
        for row in checked.rows
        if row.outcome == NEW
    ]
    db.session.add_all(created)
    db.session.flush()
    outcome.links = [issue_setup_token(user) for user in created]
    joining = [row.user_id for row in checked.rows if row.outcome == JOINS]
    for start in range(0, len(joining), LOOKUP_CHUNK):
        chunk = joining[start : start + LOOKUP_CHUNK]
        moved = db.session.execute(
            update(User)
            .where(User.id.in_(chunk), User.organization_id.is_(None))
            .values(organization_id=organization.id)
            .execution_options(synchronize_session=False)
        )
        if rowcount(moved) != len(chunk):
            raise Conflict()
    outcome.joined = len(joining)
    outcome.already = checked.count(STAFF)
    people = {user.email: user.id for user in created}
    people.update({row.email: row.user_id for row in checked.rows if row.user_id is not None})
    return people


def _memberships(
    organization: Organization,
    checked: Preview,
    people: dict[str, int],
    group_ids: dict[str, int],
) -> None:
    wanted = {(group_ids[row.group], people[row.email]) for row in checked.rows if row.group}
    if not wanted:
        return
    present = set(
        db.session.execute(
            select(StaffGroupMember.group_id, StaffGroupMember.user_id).where(
                StaffGroupMember.group_id.in_(sorted({pair[0] for pair in wanted}))
            )
        ).all()
    )
    db.session.add_all(
        StaffGroupMember(group_id=group_id, user_id=user_id)
        for group_id, user_id in sorted(wanted - present)
    )
