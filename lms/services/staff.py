"""An organization's staff this month: who they are, their groups, their verified time and
their quizzes (the managers' staff page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta
from sqlalchemy import func

from lms.extensions import db
from lms.models import Organization, StaffGroup, StaffGroupMember, TrainingTime, User
from lms.models._base import utcnow
from lms.services import hours
from lms.services.account_tokens import has_password
from lms.services.organizations import members
from lms.services.quiz import records as quiz_records
from lms.services.quiz.records import QuizSummary


@dataclass(frozen=True)
class StaffRow:
    user: User
    groups: list[str]
    seconds: int
    quizzes: QuizSummary | None = None  # None: no quiz taken

    @property
    def hours(self) -> float:
        return round(max(0, self.seconds) / 3600, 1)  # one decimal, never "-0.0", as elsewhere

    @property
    def waiting_for_password(self) -> bool:
        """An active account that has not set its password yet (imported from CSV)."""
        return self.user.active and not has_password(self.user)


def month_bounds(today: date) -> tuple[date, date]:
    """The first day of ``today``'s month and of the next."""
    first = today.replace(day=1)
    following = first + relativedelta(months=1)
    return first, following


def staff_rows(organization: Organization, today: date | None = None) -> list[StaffRow]:
    """The organization's staff by name, with their groups, this month's verified time and
    their quizzes.

    Four queries whatever the number of staff: the people, their groups, the month's ledger
    summed per person by the database, and their quiz results summed the same way.
    """
    first, following = month_bounds(today or hours.local_day(utcnow()))
    people = members(organization)
    seconds = dict(
        db.session.execute(
            db.select(TrainingTime.user_id, func.sum(TrainingTime.seconds))
            .join(User, User.id == TrainingTime.user_id)
            .where(
                User.organization_id == organization.id,
                TrainingTime.day >= first,
                TrainingTime.day < following,
            )
            .group_by(TrainingTime.user_id)
        ).all()
    )
    groups: dict[int, list[str]] = {}
    for user_id, name in db.session.execute(
        db.select(StaffGroupMember.user_id, StaffGroup.name)
        .join(StaffGroup, StaffGroup.id == StaffGroupMember.group_id)
        .where(StaffGroup.organization_id == organization.id)
        .order_by(StaffGroup.name)
    ):
        groups.setdefault(user_id, []).append(name)
    quizzes = quiz_records.summaries(
        db.select(User.id).where(User.organization_id == organization.id)
    )
    return [
        StaffRow(
            person,
            groups.get(person.id, []),
            max(0, int(seconds.get(person.id) or 0)),
            quizzes.get(person.id),
        )
        for person in people
    ]
