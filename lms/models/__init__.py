"""SQLAlchemy models. Database constraints carry the invariants."""

from lms.models.accounts import ROLES, AuthSession, Organization, User
from lms.models.catalog import (
    LESSON_KINDS,
    Camp,
    Caption,
    Course,
    CourseTrainer,
    Lesson,
    MediaAsset,
    Module,
)
from lms.models.learning import (
    Certificate,
    Enrollment,
    LessonProgress,
    PlaybackSession,
    WatchClock,
)

__all__ = [
    "LESSON_KINDS",
    "ROLES",
    "AuthSession",
    "Camp",
    "Caption",
    "Certificate",
    "Course",
    "CourseTrainer",
    "Enrollment",
    "Lesson",
    "LessonProgress",
    "MediaAsset",
    "Module",
    "Organization",
    "PlaybackSession",
    "User",
    "WatchClock",
]
