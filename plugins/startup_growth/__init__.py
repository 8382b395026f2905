"""Startup Growth Camp (初创企业成长营): early-stage founders.

Own behaviour: founders watch short tool demonstrations, so a video lesson is
complete at 80% (the recap at the end is optional), not the core's 90%.
"""

from __future__ import annotations

from pathlib import Path

from lms.api import Camp, hookimpl

HERE = Path(__file__).parent
SLUG = "startup-growth"
COMPLETION_THRESHOLD = 0.8


@hookimpl
def lms_register_camps() -> list[Camp]:
    return [
        Camp(
            slug=SLUG,
            title_zh="初创企业成长营",
            title_en="Startup Growth Camp",
            summary_zh="为初创阶段的创业者提供战略工具、危机防范和基础管理课程，同时开展党建早期宣传和培训。",
            summary_en=(
                "Strategy tools, crisis prevention and management basics for founders "
                "in their first years, with an introduction to party building."
            ),
            audience_zh="初创阶段的企业创始人与创业团队",
            audience_en="Founders and founding teams of early-stage companies",
            order=10,
            curriculum=HERE / "curriculum.yaml",
            package_dir=HERE,
            color="#e4572e",
        )
    ]


@hookimpl
def lms_lesson_completion_threshold(lesson) -> float | None:
    if lesson.kind == "video":  # a camp rule: asked only about this camp's lessons
        return COMPLETION_THRESHOLD
    return None
