"""The catalog at park scale for the page and load benchmarks, loaded in bulk.

On top of the four camps' own curricula: generated courses up to 200 in all, with lessons
up to 5,000 in all (each a video lesson playing the bench's demo video), 10,000 learners
(all with the same password, hashed once), three enrollments each and some watched lessons
per enrollment. ORM-less bulk inserts (``executemany``); deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from werkzeug.security import generate_password_hash

COURSES = 200
LESSONS = 5_000
LEARNERS = 10_000
MODULES_PER_COURSE = 5
ENROLLMENTS_PER_LEARNER = 3
WATCHED_PER_ENROLLMENT = 4
# The courses' levels: the codes the model allows (a check constraint) when it names them.
try:
    from lms.models.catalog import COURSE_LEVELS as LEVELS
except ImportError:  # before levels were codes
    LEVELS = ("入门", "进阶", "高级")
TOPICS = ("战略工具", "危机预防", "管理基础", "创新管理", "国际化", "团队建设", "财务入门",
          "党建工作")  # fmt: skip


@dataclass
class CatalogData:
    courses: int
    lessons: int
    learners: list[str]  # e-mail addresses, in creation order


def populate(
    password: str,
    media_id: int,
    *,
    courses: int = COURSES,
    lessons: int = LESSONS,
    learners: int = LEARNERS,
    seed: int = 7,
) -> CatalogData:
    """Fill the app's database (an app context is active; camps are synced)."""
    from lms.extensions import db
    from lms.models import Camp, Course, Enrollment, Lesson, LessonProgress, Module, User

    rng = random.Random(seed)
    now = datetime.now(UTC)
    camps = list(db.session.scalars(db.select(Camp.id).order_by(Camp.position)))
    have_courses = db.session.scalar(db.select(db.func.count(Course.id)))
    have_lessons = db.session.scalar(db.select(db.func.count(Lesson.id)))
    new_courses = max(0, courses - have_courses)
    per_course, extra = divmod(max(0, lessons - have_lessons), max(1, new_courses))

    db.session.execute(
        db.insert(Course),
        [
            {"camp_id": camps[number % len(camps)], "slug": f"bench-{number:03d}",
             "position": 100 + number, "status": "published", "level": rng.choice(LEVELS),
             "title_zh": f"{rng.choice(TOPICS)} 第{number + 1}期",
             "title_en": f"Bench course {number + 1}",
             "summary_zh": "面向园区企业的系统课程：案例、工具与练习。",
             "summary_en": "A course for the park's companies: cases, tools and exercises.",
             "created_at": now}
            for number in range(new_courses)
        ],
    )  # fmt: skip
    course_ids = list(
        db.session.scalars(db.select(Course.id).where(Course.slug.like("bench-%")).order_by("id"))
    )
    db.session.execute(
        db.insert(Module),
        [
            {"course_id": course_id, "slug": f"m{index}", "position": index,
             "title_zh": f"第{index + 1}单元", "title_en": f"Unit {index + 1}"}
            for course_id in course_ids
            for index in range(MODULES_PER_COURSE)
        ],
    )  # fmt: skip
    modules = db.session.execute(
        db.select(Module.id, Module.course_id, Module.position).where(
            Module.course_id.in_(course_ids)
        )
    ).all()
    by_course: dict[int, list[int]] = {}
    for module_id, course_id, _position in sorted(modules, key=lambda m: (m[1], m[2])):
        by_course.setdefault(course_id, []).append(module_id)
    lesson_rows = []
    for number, course_id in enumerate(course_ids):
        for index in range(per_course + (number < extra)):
            lesson_rows.append(
                {"module_id": by_course[course_id][index % MODULES_PER_COURSE],
                 "slug": f"l{index}", "position": index, "kind": "video", "minutes": 10,
                 "required": index % 7 != 6, "media_id": media_id,
                 "title_zh": f"第{index + 1}讲", "title_en": f"Lesson {index + 1}",
                 "body_zh": "## 要点\n\n- 案例\n- 工具\n- 练习", "body_en": "## Notes\n\n- Case"}
            )  # fmt: skip
    db.session.execute(db.insert(Lesson), lesson_rows)

    hashed = generate_password_hash(password, method="scrypt")
    emails = [f"learner{number}@bench.example" for number in range(learners)]
    db.session.execute(
        db.insert(User),
        [
            {"email": email, "name": f"学员{number}", "password_hash": hashed, "role": "learner",
             "active": True, "is_manager": False, "created_at": now}
            for number, email in enumerate(emails)
        ],
    )  # fmt: skip
    user_ids = list(
        db.session.scalars(db.select(User.id).where(User.email.like("%@bench.example")))
    )
    lessons_of = {
        course_id: list(
            db.session.scalars(
                db.select(Lesson.id).join(Module).where(Module.course_id == course_id)
            )
        )
        for course_id in course_ids[:50]  # progress on the first 50 courses is plenty
    }
    enrollments, progress = [], []
    for user_id in user_ids:
        for course_id in rng.sample(course_ids, ENROLLMENTS_PER_LEARNER):
            enrollments.append({"user_id": user_id, "course_id": course_id, "enrolled_at": now})
            for lesson_id in lessons_of.get(course_id, [])[:WATCHED_PER_ENROLLMENT]:
                progress.append(
                    {"user_id": user_id, "lesson_id": lesson_id, "position_seconds": 30.0,
                     "watched": [[0.0, 30.0]], "covered_seconds": 30.0, "updated_at": now}
                )  # fmt: skip
    db.session.execute(db.insert(Enrollment), enrollments)
    if progress:
        db.session.execute(db.insert(LessonProgress), progress)
    db.session.commit()
    total_courses = db.session.scalar(db.select(db.func.count(Course.id)))
    total_lessons = db.session.scalar(db.select(db.func.count(Lesson.id)))
    return CatalogData(total_courses, total_lessons, emails)
