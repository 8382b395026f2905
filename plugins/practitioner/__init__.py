"""Practitioner Camp (从业者素质训练营): staff that companies of the park send to train.

Own behaviour: companies enroll their employees, so a learner must belong to an
organization; individuals without one are told how to join.
"""

from __future__ import annotations

from pathlib import Path

from flask_babel import gettext as _

from lms.api import Camp, EnrollmentDecision, hookimpl

HERE = Path(__file__).parent
SLUG = "practitioner"


@hookimpl
def lms_register_camps() -> list[Camp]:
    return [
        Camp(
            slug=SLUG,
            title_zh="从业者素质训练营",
            title_en="Practitioner Camp",
            summary_zh="为园区企业的党建联系员、支部委员和党员开设党建课程，并为新入职和在职员工提供培训服务。",
            summary_en=(
                "Party-building courses for liaisons and branch committee members, and "
                "onboarding and in-service training for the staff of the park's companies."
            ),
            audience_zh="园区企业员工、党建联系员与支部委员",
            audience_en="Company staff, party-building liaisons and branch committee members",
            order=40,
            curriculum=HERE / "curriculum.yaml",
            package_dir=HERE,
            color="#c0392b",
        )
    ]


@hookimpl
def lms_enrollment_policy(user, course) -> EnrollmentDecision | None:
    if user.organization_id is not None or user.is_trainer:  # asked only about this camp
        return None
    return EnrollmentDecision.deny(
        _(
            "The Practitioner Camp is for staff sent by their company. "
            "Ask your company's training manager to add you to its organization."
        )
    )
