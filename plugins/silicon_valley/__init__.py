"""Silicon Valley Camp (和达·硅谷训练营): the international innovation programme.

Own behaviour: each course runs as a cohort with a fixed number of seats
(``COHORT_SEATS``); once the seats are taken, enrollment closes with a clear reason. A
learner who withdrew frees their seat. The core locks the course while policies decide
(:func:`lms.services.enrollment.enroll`), so parallel enrollments never oversell.
"""

from __future__ import annotations

from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import func, select

from lms.api import Camp, EnrollmentDecision, db, hookimpl, models

HERE = Path(__file__).parent
SLUG = "silicon-valley"
COHORT_SEATS = 30


@hookimpl
def lms_register_camps() -> list[Camp]:
    return [
        Camp(
            slug=SLUG,
            title_zh="和达·硅谷训练营",
            title_en="Silicon Valley Camp",
            summary_zh="国际化创新项目：对标硅谷的创业方法、全球市场与跨境投融资，拓宽创客的国际视野。",
            summary_en=(
                "The international innovation programme: Silicon Valley startup methods, "
                "global markets and cross-border investment."
            ),
            audience_zh="有国际化计划的创业者与企业高管",
            audience_en="Founders and executives with international ambitions",
            order=30,
            curriculum=HERE / "curriculum.yaml",
            package_dir=HERE,
            color="#7a4fd6",
        )
    ]


@hookimpl
def lms_enrollment_policy(user, course) -> EnrollmentDecision | None:
    """Asked only about this camp's courses (a camp rule)."""
    taken = db.session.scalar(
        select(func.count(models.Enrollment.id)).where(
            models.Enrollment.course_id == course.id, models.Enrollment.status != "withdrawn"
        )
    )
    if taken >= COHORT_SEATS:
        return EnrollmentDecision.deny(
            _(
                "This cohort is full (%(seats)d seats). Ask the academy about the next one.",
                seats=COHORT_SEATS,
            )
        )
    return None
