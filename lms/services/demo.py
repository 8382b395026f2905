"""Demo content: accounts for each role and small playable videos for the video lessons."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from lms.extensions import db
from lms.models import Camp, Course, Lesson, Module, Organization, User
from lms.models._base import academy_timezone, utcnow
from lms.services import accounts, demo_history, demo_media, ingest, media
from lms.services.camps import registry
from lms.services.community import CaseText, TopicText

DEMO_ORGANIZATION = "聚光科技 Focused Photonics"
DEMO_ACCOUNTS = (
    # email, name, role, organization member, manager
    ("learner@demo.camp", "李明 Li Ming", "learner", True, False),
    ("founder@demo.camp", "王芳 Wang Fang", "learner", False, False),
    ("trainer@demo.camp", "陈老师 Chen Jing", "trainer", False, False),
    ("organizer@demo.camp", "赵园区 Zhao Yuan", "organizer", False, False),
    ("manager@demo.camp", "周经理 Zhou Li", "learner", True, True),
    ("staff@demo.camp", "刘洋 Liu Yang", "learner", True, False),
)
# The demo organization's staff group and its members.
DEMO_GROUP = ("核心人才 Key talent", ("learner@demo.camp", "staff@demo.camp"))
# Each camp's demo videos, as courseware arrives: (seconds, file type, width, height). They
# go through the ingest pipeline like any upload: the AVI (MPEG-4 Part 2 and MP3, as old
# downloaded courseware is) is transcoded, the 720p MP4 is copied at 720p and scaled to 360p,
# the 360p MP4 is only remuxed.
DEMO_VIDEOS = ((40, ".avi", 640, 360), (60, ".mp4", 1280, 720), (90, ".mp4", 640, 360))


@dataclass
class DemoResult:
    account_lines: list[str] = field(default_factory=list)
    videos_created: int = 0
    lessons_attached: int = 0
    live_series_created: int = 0
    history: Any = None  # demo_history.History, or None when it was recorded before


def install_demo() -> DemoResult:
    """Idempotent: existing demo accounts keep their passwords; lessons keep their videos."""
    result = DemoResult()
    organization = db.session.scalar(select(Organization).filter_by(name=DEMO_ORGANIZATION))
    if organization is None:
        organization = Organization(name=DEMO_ORGANIZATION)
        db.session.add(organization)
        db.session.commit()
    passwords_file = Path(current_app.instance_path) / "demo-accounts.txt"
    known = _read_passwords(passwords_file)
    for email, name, role, member, manager in DEMO_ACCOUNTS:
        user = db.session.scalar(select(User).filter_by(email=email))
        if user is None:
            password = secrets.token_urlsafe(9)
            user = accounts.create_user(
                email,
                name,
                password,
                role=role,
                organization_id=organization.id if member else None,
                is_manager=manager,
            )
            known[email] = password
        result.account_lines.append(f"{role:<10} {email:<22} {known.get(email, '(unchanged)')}")
    passwords_file.parent.mkdir(parents=True, exist_ok=True)
    passwords_file.write_text(
        "".join(f"{email} {password}\n" for email, password in known.items()), encoding="utf-8"
    )
    passwords_file.chmod(0o600)
    _staff_group(organization)
    _attach_videos(result)
    db.session.commit()
    _live_and_community(result)
    result.history = demo_history.record_history(organization)
    return result


DEMO_CASE: CaseText = {
    "company": "和达文创园入驻企业 · 智能仪器初创公司",
    "topic": "financing",
    "title": "天使轮之后：下一轮融资前要补上的三件事",
    "body": (
        "## 背景\n\n公司成立两年，完成天使轮，产品进入试点。\n\n"
        "## 请大家支招\n\n1. 先扩团队还是先打磨产品？\n2. 估值预期如何与投资人沟通？\n"
        "3. 财务与合规要提前做哪些准备？"
    ),
}
DEMO_TOPIC: TopicText = {
    "kind": "event",
    "title": "身边事：企业如何让新员工更快融入团队",
    "body": "结合园区企业的新员工培训实践，谈谈“送温暖、送课程、送经验”在企业里可以怎么落地。",
}


def _live_and_community(result: DemoResult) -> None:
    """The monthly activity day as a series, the learner registered for the next one, and a
    salon case and a discussion topic to start from. Idempotent."""
    from lms.models import DiscussionTopic, LiveSeries, LiveSession, SalonCase
    from lms.services import community, live

    organizer = db.session.scalars(select(User).filter_by(email="organizer@demo.camp")).one()
    trainer = db.session.scalars(select(User).filter_by(email="trainer@demo.camp")).one()
    learner = db.session.scalars(select(User).filter_by(email="learner@demo.camp")).one()
    if db.session.scalar(select(LiveSeries.id).limit(1)) is None:
        values = live.activity_day_values()
        values.lecturer_id = trainer.id
        # From the first day of the month the recorded history starts in (its past
        # sessions are materialized by demo_history; the coming ones are made here).
        today = live.local(utcnow() - timedelta(days=demo_history.HISTORY_DAYS), academy_timezone())
        live.create_series(
            values,
            live.ACTIVITY_DAY_RULE,
            today.replace(day=1, hour=13, minute=30, second=0, microsecond=0, tzinfo=None),
            live.ACTIVITY_DAY_SEGMENTS,
            organizer,
        )
        result.live_series_created = 1
    upcoming = db.session.scalar(
        select(LiveSession)
        .where(LiveSession.starts_at > utcnow(), LiveSession.status == "scheduled")
        .order_by(LiveSession.starts_at)
        .limit(1)
    )
    if upcoming is not None:
        live.register(learner, upcoming)
    if db.session.scalar(select(SalonCase.id).limit(1)) is None:
        community.create_case(organizer, session=upcoming, **DEMO_CASE)
    if db.session.scalar(select(DiscussionTopic.id).limit(1)) is None:
        community.create_topic(organizer, session=upcoming, **DEMO_TOPIC)


def _staff_group(organization: Organization) -> None:
    """The demo organization's staff group with its members. Idempotent; commits."""
    from lms.models import StaffGroup
    from lms.services import staff_groups

    name, emails = DEMO_GROUP
    group = db.session.scalar(
        select(StaffGroup).filter_by(organization_id=organization.id, name=name)
    )
    if group is None:
        group = staff_groups.create_group(organization, name)
    for user_id in db.session.scalars(
        select(User.id).where(User.email.in_(emails), User.organization_id == organization.id)
    ):
        staff_groups.add_to_group(group, user_id)


def _read_passwords(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split(" ", 1) for line in path.read_text(encoding="utf-8").splitlines() if line)
    return {email: password for email, password in pairs}


def _attach_videos(result: DemoResult) -> None:
    """Give every demo video lesson without a video one of its camp's generated videos."""
    reg = registry()
    for slug, curriculum in reg.curricula.items():
        if curriculum is None:
            continue
        camp = db.session.scalar(select(Camp).filter_by(slug=slug))
        if camp is None:
            continue
        demo_slugs = {
            (course.slug, lesson.slug)
            for course in curriculum.courses
            for lesson in course.lessons()
            if lesson.video == "demo"
        }
        lessons = db.session.execute(
            select(Lesson, Course.slug)
            .join(Module, Lesson.module_id == Module.id)
            .join(Course, Module.course_id == Course.id)
            .where(Course.camp_id == camp.id, Lesson.media_id.is_(None), Lesson.kind == "video")
            .order_by(Course.position, Module.position, Lesson.position)
        ).all()
        wanted = [
            lesson for lesson, course_slug in lessons if (course_slug, lesson.slug) in demo_slugs
        ]
        if not wanted:
            continue
        assets = []
        for seconds, extension, width, height in DEMO_VIDEOS:
            name = f"{slug}-demo-{seconds}s{extension}"
            with tempfile.TemporaryDirectory() as folder:
                path = demo_media.generate_demo_video(
                    Path(folder) / name,
                    seconds=seconds,
                    color=reg.camps[slug].color,
                    size=(width, height),
                )
                asset, created = media.import_file(path, name)
            result.videos_created += int(created)
            assets.append(asset)
        for index, lesson in enumerate(wanted):
            lesson.media = assets[index % len(assets)]
            result.lessons_attached += 1
        db.session.flush()
        for asset in assets:
            ingest.set_lesson_minutes(asset)  # the lessons list the videos' real lengths
