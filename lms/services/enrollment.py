"""Enrolling learners in courses, with the camps' enrollment policies."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from lms.camp import EnrollmentDecision
from lms.database import insert_ignoring_conflicts, lock_row
from lms.extensions import db
from lms.models import Course, Enrollment, User
from lms.models._base import utcnow
from lms.services import loading
from lms.services.camps import registry
from lms.services.catalog import enrollment_of
from lms.services.errors import Forbidden


class EnrollmentRefused(Forbidden):
    """A policy said no; ``reason`` is shown to the learner."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decide(user: User, course: Course) -> EnrollmentDecision:
    """May ``user`` enroll in ``course``? Core rules first, then the camps' policies."""
    if not course.is_published:
        return EnrollmentDecision.deny(_("This course is not open for enrollment."))
    loading.for_hook(course)
    decision = registry().call_first("lms_enrollment_policy", user=user, course=course)
    if isinstance(decision, EnrollmentDecision):
        return decision
    return EnrollmentDecision.allow()


def enroll(user: User, course: Course, at: datetime | None = None) -> tuple[Enrollment, bool]:
    """Enroll ``user`` (dated ``at``, the present by default: a recorded history passes a
    day in the past); returns the enrollment and whether it is new.

    Safe under concurrency: the unique (user, course) key and an insert that ignores
    conflicts make parallel requests end with one row and no error. The course row is
    locked before the policies decide, so a policy that counts enrollments (cohort seats)
    sees every enrollment committed before and none can be oversold.
    """
    existing = enrollment_of(user, course)
    if existing is not None:
        return existing, False
    lock_row(Course, course.id)
    decision = decide(user, course)
    if not decision.allowed:
        db.session.commit()  # nothing written: only the lock ends
        raise EnrollmentRefused(decision.reason)
    created = insert_ignoring_conflicts(
        Enrollment,
        ["user_id", "course_id"],
        user_id=user.id,
        course_id=course.id,
        status="active",
        enrolled_at=at or utcnow(),
    )
    db.session.commit()
    enrollment = db.session.scalars(
        db.select(Enrollment).filter_by(user_id=user.id, course_id=course.id)
    ).one()
    if created:
        loading.set_loaded(enrollment, "user", user)
        loading.set_loaded(enrollment, "course", course)
        loading.for_hook(enrollment)
        registry().call_all("lms_enrolled", enrollment=enrollment)
    return enrollment, created
