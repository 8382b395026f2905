"""SQLAlchemy models. Database constraints carry the invariants."""

from lms.models.accounts import ROLES, AuthSession, Organization, User
from lms.models.catalog import LESSON_KINDS, Camp, Course, Lesson, MediaAsset, Module
from lms.models.learning import Enrollment, LessonProgress

__all__ = [
    "LESSON_KINDS",
    "ROLES",
    "AuthSession",
    "Camp",
    "Course",
    "Enrollment",
    "Lesson",
    "LessonProgress",
    "MediaAsset",
    "Module",
    "Organization",
    "User",
]
