"""What a camp plugin declares about itself."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,62}$")


@dataclass(frozen=True)
class Camp:
    """A camp, as returned by ``lms_register_camps``.

    ``curriculum`` is the path of the camp's curriculum file (YAML). ``package_dir``
    is the folder holding the plugin's optional ``templates/`` (namespaced as
    ``templates/camps/<slug>/``), ``static/`` and ``translations/``.
    """

    slug: str
    title_zh: str
    title_en: str
    summary_zh: str = ""
    summary_en: str = ""
    audience_zh: str = ""
    audience_en: str = ""
    order: int = 100
    curriculum: Path | None = None
    package_dir: Path | None = None
    enabled_by_default: bool = True
    color: str = "#2f6fde"
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not SLUG.match(self.slug):
            raise ValueError(f"camp slug {self.slug!r} must match {SLUG.pattern}")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.color):
            raise ValueError(f"camp colour {self.color!r} must be #rrggbb")


@dataclass(frozen=True)
class EnrollmentDecision:
    """The answer of an enrollment policy: allowed or not, and why (shown to the learner)."""

    allowed: bool
    reason: str = ""

    @classmethod
    def allow(cls) -> EnrollmentDecision:
        return cls(True)

    @classmethod
    def deny(cls, reason: str) -> EnrollmentDecision:
        return cls(False, reason)
