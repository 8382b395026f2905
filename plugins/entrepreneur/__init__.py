"""Entrepreneur Camp (企业家训练营): owners of growing companies.

Own behaviour: the management-upgrade courses lead to a certificate, so a video
lesson counts as complete only at 95% watched.
"""

from __future__ import annotations

from pathlib import Path

from lms.api import Camp, hookimpl

HERE = Path(__file__).parent
SLUG = "entrepreneur"
COMPLETION_THRESHOLD = 0.95


@hookimpl
def lms_register_camps() -> list[Camp]:
    return [
        Camp(
            slug=SLUG,
            title_zh="企业家训练营",
            title_en="Entrepreneur Camp",
            summary_zh="为成长阶段的企业家提供创新管理提升课程，梳理和提高管理能力，创新管理理念。",
            summary_en=(
                "Innovation management, leadership, financing and management upgrades "
                "for owners of growing companies."
            ),
            audience_zh="成长阶段企业的创始人、董事长与总经理",
            audience_en="Founders, chairs and general managers of growth-stage companies",
            order=20,
            curriculum=HERE / "curriculum.yaml",
            package_dir=HERE,
            color="#2f6fde",
        )
    ]


@hookimpl
def lms_lesson_completion_threshold(lesson) -> float | None:
    if lesson.kind == "video":  # a camp rule: asked only about this camp's lessons
        return COMPLETION_THRESHOLD
    return None
