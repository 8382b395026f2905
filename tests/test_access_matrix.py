"""Access control over the whole URL map: every rule, every kind of visitor.

One small world (two organizations, a learner of organization A enrolled in a course, a
group, an invite, an assignment, a live session, a video lesson with a playback session, a
certificate, a salon case, a discussion topic) is built once for the module. Every rule of
``app.url_map`` must be in ``EXPECTED``, which says which visitors may open it (GET) and which
may post to it (POST). Allowed visitors never get 401/403/404 on a page; the others get
403/404 (or a redirect to log in when anonymous), posts of the others change nothing, and
nothing is ever a 500. For object URLs, an object outside one's reach answers exactly like
an id that does not exist.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from lms import create_app
from lms.extensions import db
from lms.models import (
    Assignment,
    Caption,
    Certificate,
    Course,
    Lesson,
    LiveSession,
    Notification,
    Organization,
    User,
)
from lms.services import (
    account_tokens,
    accounts,
    catalog,
    community,
    enrollment,
    feeds,
    invites,
    live,
    media,
    progress,
    staff_groups,
)
from lms.services import camps as camp_service
from lms.services import organizations as org_service
from lms.services.completion import new_code
from lms.services.loading import load
from lms.services.quiz import attempts
from tests.conftest import CSRF, PASSWORD, Client, _postgres_schema, database_url, video_lessons_of
from tests.quiz_helpers import quiz_lesson

ANON, LEARNER, STRANGER, TRAINER = "anonymous", "learner", "stranger", "other trainer"
MANAGER_B, MANAGER_A, ORGANIZER = "other manager", "own manager", "organizer"
ROLES = (ANON, LEARNER, STRANGER, TRAINER, MANAGER_B, MANAGER_A, ORGANIZER)

ALL = frozenset(ROLES)
MEMBERS = ALL - {ANON}
NOBODY: frozenset[str] = frozenset()
ORG = frozenset({ORGANIZER})
OWN_ORG = frozenset({MANAGER_A, ORGANIZER})
MANAGERS = frozenset({MANAGER_A, MANAGER_B, ORGANIZER})
TRAINERS = frozenset({TRAINER, ORGANIZER})
LEARNERS_OF_COURSE = frozenset({LEARNER, ORGANIZER})  # enrolled, or an editor of the course
SELF = frozenset({LEARNER, MANAGER_A, ORGANIZER})  # the learner's own records and their readers


@dataclass(frozen=True)
class Rule:
    """Who may GET and who may POST; ``missing`` when the world has nothing to show there."""

    get: frozenset[str] | None = None
    post: frozenset[str] | None = None
    missing: bool = False
    idor: bool = False  # an object URL: refusals answer like unknown ids
    refusal: str | None = None  # a refusal may also redirect to this page (not the login)


# endpoint -> Rule. Public forms (login, register, reset…) are allowed to everyone and not posted.
EXPECTED: dict[str, Rule] = {
    "static": Rule(get=ALL),
    "camp_static": Rule(get=ALL),
    "plugin_static": Rule(get=ALL, missing=True),  # no non-camp plugin ships static files
    "health.healthz": Rule(get=ALL),
    "catalog.index": Rule(get=ALL),
    "catalog.camp_colors": Rule(get=ALL),
    "catalog.camp": Rule(get=ALL),
    "catalog.course": Rule(get=ALL),
    "catalog.enroll": Rule(post=MEMBERS),
    "learn.lesson": Rule(get=LEARNERS_OF_COURSE, refusal="/camps/{camp_slug}/{course_slug}/"),
    "learn.mark_read": Rule(post=LEARNERS_OF_COURSE),
    "learn.certificate": Rule(get=ALL),
    "learn.certificate_pdf": Rule(get=ALL),
    "learn.dashboard": Rule(get=MEMBERS),
    "learn.lesson_video": Rule(get=LEARNERS_OF_COURSE, idor=True),
    "learn.lesson_caption": Rule(get=LEARNERS_OF_COURSE, idor=True),
    "learn.lesson_poster": Rule(get=LEARNERS_OF_COURSE, idor=True),
    # The web versions the ingest pipeline made: renditions, HLS, seek previews.
    "learn.lesson_rendition": Rule(get=LEARNERS_OF_COURSE, idor=True),
    "learn.lesson_stream": Rule(get=LEARNERS_OF_COURSE, idor=True),
    "learn.lesson_thumbnails": Rule(get=LEARNERS_OF_COURSE, idor=True),
    "learn.lesson_thumbnail_image": Rule(get=LEARNERS_OF_COURSE, idor=True),
    # nginx's question (deploy/nginx-media.conf): 404 unless the app runs behind nginx; its
    # answers there are in tests/test_media.py and tests/test_nginx_media.py.
    "learn.authorize_video": Rule(get=NOBODY),
    "auth.login": Rule(get=ALL, post=ALL),
    "auth.logout": Rule(post=ALL),
    "auth.register": Rule(get=ALL, post=ALL),
    "auth.account": Rule(get=MEMBERS),
    "auth.change_password": Rule(post=MEMBERS),
    "auth.language": Rule(post=ALL),
    "auth.forgot_password": Rule(get=ALL, post=ALL),
    "auth.reset_password": Rule(get=ALL, post=ALL),
    "organizations.setup_account": Rule(get=ALL, post=ALL),
    "organizations.invite": Rule(get=ALL, post=ALL),
    "admin.camp_list": Rule(get=ORG),
    "admin.camp_list_json": Rule(get=ORG),
    "admin.camp_action": Rule(post=ORG),
    "admin.camp_target": Rule(post=ORG),
    "admin.plugin_action": Rule(post=ORG),
    "admin.reload_plugins": Rule(post=ORG),
    "admin.users": Rule(get=ORG),
    "admin.update_user": Rule(post=ORG),
    "admin.create_user": Rule(get=ORG, post=ORG),
    "plugin_admin.edit_settings": Rule(get=ORG, post=ORG),
    "organizations.admin_list": Rule(get=ORG, post=ORG),
    "organizations.admin_detail": Rule(get=ORG, idor=True),
    "organizations.admin_manager": Rule(post=ORG, idor=True),
    "organizations.admin_add_member": Rule(post=ORG, idor=True),
    "organizations.admin_rename": Rule(post=ORG, idor=True),
    "organizations.admin_target": Rule(post=ORG, idor=True),
    "organizations.admin_move_member": Rule(post=ORG, idor=True),
    "organizations.staff": Rule(get=OWN_ORG, idor=True),
    "organizations.groups": Rule(get=OWN_ORG, post=OWN_ORG, idor=True),
    "organizations.delete_group": Rule(post=OWN_ORG, idor=True),
    "organizations.add_group_member": Rule(post=OWN_ORG, idor=True),
    "organizations.remove_group_member": Rule(post=OWN_ORG, idor=True),
    "organizations.rename_group": Rule(post=OWN_ORG, idor=True),
    "organizations.import_staff": Rule(get=OWN_ORG, post=OWN_ORG, idor=True),
    "organizations.confirm_import": Rule(post=OWN_ORG, idor=True),
    "organizations.import_links": Rule(post=OWN_ORG, idor=True),
    "organizations.invites": Rule(get=OWN_ORG, post=OWN_ORG, idor=True),
    "organizations.revoke_invite": Rule(post=OWN_ORG, idor=True),
    "organizations.mail_invites": Rule(post=OWN_ORG, idor=True),
    "organizations.mail_setup_links": Rule(post=OWN_ORG, idor=True),
    "organizations.remove_staff": Rule(post=OWN_ORG, idor=True),
    "plans.plan": Rule(get=OWN_ORG, post=OWN_ORG, idor=True),
    "plans.assignment": Rule(get=OWN_ORG, idor=True),
    "plans.cancel": Rule(post=OWN_ORG, idor=True),
    "plans.mine": Rule(get=MEMBERS),
    "archive.mine": Rule(get=MEMBERS),
    "archive.person": Rule(get=SELF, idor=True),
    "archive.pdf": Rule(get=SELF, idor=True),
    "reports.index": Rule(get=MANAGERS),
    "reports.attendance": Rule(get=MANAGERS),
    "reports.attendance_series_csv": Rule(get=MANAGERS),
    "reports.attendance_csv": Rule(get=MANAGERS),
    "reports.completion": Rule(get=MANAGERS),
    "reports.completion_camps_csv": Rule(get=MANAGERS),
    "reports.completion_csv": Rule(get=MANAGERS),
    "reports.hours": Rule(get=MANAGERS),
    "reports.hours_csv": Rule(get=MANAGERS),
    "reports.hours_grid": Rule(get=MANAGERS),
    "reports.hours_grid_csv": Rule(get=MANAGERS),
    "reports.overdue": Rule(get=MANAGERS),
    "reports.overdue_csv": Rule(get=MANAGERS),
    "api.openapi": Rule(get=ALL),
    "api.open_playback": Rule(post=frozenset({LEARNER})),
    "api.lesson_progress": Rule(get=frozenset({LEARNER})),
    "api.report_progress": Rule(post=frozenset({LEARNER}), idor=True),
    "feeds.feed": Rule(get=ALL),
    "feeds.academy_feed": Rule(get=ALL),
    "feeds.manage": Rule(get=MEMBERS, post=MEMBERS),
    "feeds.revoke": Rule(post=frozenset({LEARNER}), idor=True),
    "live.index": Rule(get=ALL),
    "live.calendar_page": Rule(get=ALL),
    "live.session": Rule(get=ALL),
    "live.new": Rule(get=TRAINERS, post=TRAINERS),
    # Live sessions, published courses and their lessons are public: refusing them with a 403
    # tells nothing, so these are not in the unknown-id comparison.
    "live.change_status": Rule(post=ORG),
    "live.correct": Rule(post=ORG),
    "live.manage": Rule(get=ORG, post=ORG),
    "live.code_page": Rule(get=ORG),
    "live.code_json": Rule(get=ORG),
    "live.code_qr": Rule(get=ORG),
    "live.roster": Rule(get=ORG),
    "live.roster_csv": Rule(get=ORG),
    "live.sign_in_sheet": Rule(get=ORG),
    "live.mark_all_present": Rule(post=ORG),
    "live.end_series": Rule(post=ORG),
    "live.register": Rule(post=MEMBERS),
    "live.cancel_registration": Rule(post=MEMBERS),
    "live.check_in": Rule(get=MEMBERS, post=MEMBERS),
    "live.check_out": Rule(post=MEMBERS),
    "community.cases": Rule(get=MEMBERS),
    "community.case": Rule(get=MEMBERS),
    "community.comment_case": Rule(post=MEMBERS),
    "community.new_case": Rule(get=TRAINERS | MANAGERS, post=TRAINERS | MANAGERS),
    "community.topics": Rule(get=MEMBERS),
    "community.topic": Rule(get=MEMBERS),
    "community.comment_topic": Rule(post=MEMBERS),
    "community.new_topic": Rule(get=TRAINERS, post=TRAINERS),
    # Editing (the author, within the window: the organizer's case, the learner's comment),
    # deleting (the author, or a moderator) and moderating (trainers and organizers).
    "community.edit_post": Rule(get=ORG, post=ORG),
    "community.delete_post": Rule(post=TRAINERS),
    "community.moderate_post": Rule(post=TRAINERS),
    "community.edit_comment": Rule(get=frozenset({LEARNER}), post=frozenset({LEARNER})),
    "community.delete_comment": Rule(post=TRAINERS | {LEARNER}),
    "community.moderate_comment": Rule(post=TRAINERS),
    "search.results": Rule(get=ALL),  # what each finds: tests/test_search.py
    # Notifications: one's own; another's id answers like an unknown one (the learner has one).
    "notifications.index": Rule(get=MEMBERS),
    "notifications.open_one": Rule(post=frozenset({LEARNER}), idor=True),
    "notifications.read_all": Rule(post=MEMBERS),
    "notifications.settings": Rule(get=MEMBERS, post=MEMBERS),
    # Quizzes (issue 14): the learner's own attempts; another's answer like unknown ids.
    "quiz.start": Rule(post=frozenset({LEARNER}), idor=True),
    "quiz.attempt": Rule(get=frozenset({LEARNER}), idor=True),
    "quiz.save": Rule(post=frozenset({LEARNER}), idor=True),
    "quiz.submit": Rule(post=frozenset({LEARNER}), idor=True),
    # The question bank, quiz settings, GIFT and quiz reports: the course's editors.
    "quiz_teach.questions": Rule(get=ORG, post=ORG),
    "quiz_teach.question": Rule(get=ORG, post=ORG),
    "quiz_teach.archive_question": Rule(post=ORG),
    "quiz_teach.import_gift": Rule(get=ORG, post=ORG),
    "quiz_teach.export_gift": Rule(get=ORG),
    "quiz_teach.settings": Rule(get=ORG, post=ORG),
    "quiz_reports.quiz": Rule(get=ORG),
    "quiz_reports.items_csv": Rule(get=ORG),
    # Surveys: enrolled learners evaluate a course, attendees a session (nobody attended in
    # this world); the aggregates are for the course's editors and organizers.
    "surveys.course": Rule(get=frozenset({LEARNER}), post=frozenset({LEARNER})),
    "surveys.session": Rule(get=NOBODY, post=NOBODY),
    "surveys.course_results": Rule(get=ORG),
    "surveys.session_results": Rule(get=ORG),
    "teach.index": Rule(get=TRAINERS),
    "teach.new_course": Rule(get=TRAINERS, post=TRAINERS),
    "teach.course": Rule(get=ORG, post=ORG),
    "teach.publish": Rule(post=ORG),
    "teach.add_module": Rule(post=ORG),
    "teach.add_trainer": Rule(post=ORG),
    "teach.module": Rule(get=ORG, post=ORG),
    "teach.add_lesson": Rule(post=ORG),
    "teach.lesson": Rule(get=ORG, post=ORG),
    "teach.add_captions": Rule(post=ORG),
    "teach.attach_media": Rule(post=ORG),
    "teach.upload_video": Rule(post=ORG),
    "teach.arrange": Rule(post=ORG),
    "teach.library": Rule(get=TRAINERS, post=TRAINERS),
    "teach.download_media": Rule(get=TRAINERS),
    "teach.media_status": Rule(get=TRAINERS),
    "teach.retry_media": Rule(post=TRAINERS),  # the video is ready: 409 for trainers
}


@dataclass
class World:
    app: Flask
    values: dict[str, str] = field(default_factory=dict)
    by_endpoint: dict[str, dict[str, str]] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


def _user(email: str, role: str = "learner", organization_id: int | None = None, **kw) -> User:
    return accounts.create_user(
        email, email.split("@")[0], PASSWORD, role=role, organization_id=organization_id, **kw
    )


def _build(app: Flask, demo_video) -> World:
    world = World(app)
    with app.test_request_context():
        org_a = org_service.create_organization("Acme")
        org_b = org_service.create_organization("Beta")
        learner = _user("learner@example.com", organization_id=org_a.id)
        stranger = _user("stranger@example.com")
        trainer = _user("trainer@example.com", role="trainer")
        manager_a = _user("boss@acme.example", organization_id=org_a.id, is_manager=True)
        manager_b = _user("boss@beta.example", organization_id=org_b.id, is_manager=True)
        organizer = _user("organizer@example.com", role="organizer")
        staff_b = _user("staff@beta.example", organization_id=org_b.id)

        course = db.session.scalar(
            db.select(Course).where(Course.status == "published", Course.slug == "strategy-toolkit")
        )
        lesson = video_lessons_of(course.id)[0]
        asset, _ = media.import_file(demo_video)  # processed, ready
        lesson.media = asset
        captions = media.media_root() / "captions"
        captions.mkdir(parents=True, exist_ok=True)
        key = f"{secrets.token_hex(8)}.vtt"
        (captions / key).write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n")
        db.session.add(
            Caption(lesson_id=lesson.id, language="en", label="English", storage_key=key)
        )
        db.session.commit()
        enrollment.enroll(learner, course)
        playback, _ = progress.open_session(learner, lesson)

        group = staff_groups.create_group(org_a, "Sales")
        staff_groups.add_to_group(group, learner.id)
        invite, invite_token = invites.create_invite(org_a, by=manager_a, group_id=group.id)
        setup = account_tokens.issue_setup_token(learner)
        reset = account_tokens.issue_setup_token(
            stranger, purpose="reset", lifetime=timedelta(hours=1)
        )
        assignment = Assignment(
            organization_id=org_a.id,
            due_on=datetime.now(UTC).date() + timedelta(days=30),
            course_id=course.id,
            user_id=learner.id,
        )
        db.session.add(assignment)
        certificate = Certificate(
            code=new_code(), user_id=learner.id, course_id=course.id,
            issued_at=datetime.now(UTC), learner_name="learner",
            course_title_zh=course.title_zh, course_title_en=course.title_en,
            camp_title_zh="初创企业成长营", camp_title_en="Startup Growth", minutes=60,
        )  # fmt: skip
        db.session.add(certificate)
        db.session.commit()
        session = live.create_session(
            live.SessionValues(
                title_zh="活动日", title_en="Activity day", location="centre", capacity=10,
                lecturer_id=None,
            ),
            datetime.now(UTC) + timedelta(minutes=5),
            live.ACTIVITY_DAY_SEGMENTS,
        )  # fmt: skip
        live.register(learner, db.session.get(LiveSession, session.id))
        quiz_lesson_id, question_ids = quiz_lesson(course.id)
        quiz_attempt = attempts.start(
            learner, db.session.get(Lesson, quiz_lesson_id), catalog.enrollment_of(learner, course)
        )
        feed, feed_token = feeds.create_feed(learner)
        case = community.create_case(
            organizer, "Acme", sorted(community.CASE_TOPICS)[0], "A case", "Body"
        )
        topic = community.create_topic(
            organizer, sorted(community.TOPIC_KINDS)[0], "A topic", "Body"
        )
        case_comment = community.add_case_comment(learner, case, "A comment")
        question = community.add_topic_comment(learner, topic, "A question")
        community.add_topic_comment(organizer, topic, "An answer", parent_id=question.id)
        notification_id = db.session.scalar(
            db.select(Notification.id).filter_by(user_id=learner.id, kind="reply")
        )
        db.session.commit()

        module_id = lesson.module_id
        world.values = {
            "org_id": str(org_a.id),
            "user_id": str(learner.id),
            "group_id": str(group.id),
            "invite_id": str(invite.id),
            "assignment_id": str(assignment.id),
            "session_id": str(session.id),
            "lesson_id": str(lesson.id),
            "asset_id": str(asset.id),
            "course_id": str(course.id),
            "module_id": str(module_id),
            "item_id": str(lesson.id),
            "kind": "lessons",
            "change": "up",
            "action": "disable",
            "slug": load(course, "camp").slug,
            "camp_slug": course.camp.slug,
            "course_slug": course.slug,
            "lesson_slug": lesson.slug,
            "language": "en",
            "code": certificate.code,
            "case_id": str(case.id),
            "topic_id": str(topic.id),
            "area": "salon",
            "post_id": str(case.id),
            "comment_id": str(case_comment.id),
            "feed_id": str(feed.id),
            "notification_id": str(notification_id),
            "attempt_id": str(quiz_attempt.id),
            "question_id": str(question_ids[0]),
            "name": "xapi",
            "filename": "css/app.css",
        }
        world.by_endpoint = {
            "api.report_progress": {"session_id": playback.id},
            "organizations.invite": {"token": invite_token},
            "organizations.setup_account": {"token": setup.token},
            "auth.reset_password": {"token": reset.token},
            "feeds.feed": {"token": feed_token},
            "quiz.start": {"lesson_id": str(quiz_lesson_id)},
            "quiz_teach.settings": {"lesson_id": str(quiz_lesson_id)},
            "quiz_reports.quiz": {"lesson_id": str(quiz_lesson_id)},
            "quiz_reports.items_csv": {"lesson_id": str(quiz_lesson_id)},
            "camp_static": {"filename": "emblem.svg"},
            "organizations.admin_manager": {"action": "appoint", "user_id": str(staff_b.id)},
            "live.change_status": {"change": "cancel"},
            "teach.publish": {"change": "unpublish"},
            "learn.lesson_stream": {"name": "master.m3u8"},
            "learn.lesson_rendition": {"height": str(asset.renditions[-1]["height"])},
            "learn.lesson_thumbnail_image": {"name": "thumbs_000.jpg"},
        }
        emails = {
            LEARNER: learner.email, STRANGER: stranger.email, TRAINER: trainer.email,
            MANAGER_B: manager_b.email, MANAGER_A: manager_a.email, ORGANIZER: organizer.email,
        }  # fmt: skip
        org_b_id = org_b.id
    with app.app_context():
        assert db.session.get(Organization, org_b_id) is not None
    for role in ROLES:
        client = Client(app.test_client())
        if role != ANON:
            response = client.login(emails[role])
            assert response.status_code == 302, role
        page = client.get("/").get_data(as_text=True)
        world.tokens[role] = CSRF.search(page).group(1) if CSRF.search(page) else client.csrf()
        world.clients[role] = client
    return world


# The suite speaks English to read messages; the default (Chinese) must give the same answers:
# a status chosen by matching a message would differ here.
LANGUAGES = ("en", "zh-CN,zh;q=0.9")


@pytest.fixture(scope="module", params=LANGUAGES, ids=("en", "zh_CN"))
def world(request, tmp_path_factory, demo_video) -> Iterator[World]:
    with built_world(tmp_path_factory, demo_video, request.param) as found:
        yield found


@contextmanager
def built_world(tmp_path_factory, demo_video, language: str) -> Iterator[World]:
    """The world on a fresh database, its clients asking for ``language``."""
    tmp = tmp_path_factory.mktemp("access")
    config = {
        "TESTING": True,
        "SECRET_KEY": secrets.token_hex(16),
        "SQLALCHEMY_DATABASE_URI": database_url(tmp),
        "MEDIA_ROOT": str(tmp / "media"),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "PLUGINS_STRICT": False,
        "LOGIN_RATE_LIMIT": "1000/minute",
    }
    schema = _postgres_schema(config)
    next(schema)
    previous = os.environ.get("LMS_PLUGIN_XAPI_ENABLED")
    os.environ["LMS_PLUGIN_XAPI_ENABLED"] = ""
    app = create_app(config)
    try:
        with app.app_context():
            db.create_all()
            camp_service.sync()
        found = _build(app, demo_video)
        for client in found.clients.values():
            client.raw.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        yield found
    finally:
        if previous is None:
            os.environ.pop("LMS_PLUGIN_XAPI_ENABLED", None)
        else:
            os.environ["LMS_PLUGIN_XAPI_ENABLED"] = previous
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        next(schema, None)


UNKNOWN = {"session_id_str": "0" * 32, "int": str(2**31 - 2), "token": "x" * 43}


def url_of(world: World, endpoint: str, unknown: bool = False) -> str:
    rule = next(r for r in world.app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {**world.values, **world.by_endpoint.get(endpoint, {})}
    path = rule.rule
    for argument in rule.arguments:
        value = values[argument]
        if unknown and argument not in ("kind", "change", "action", "language"):
            if argument in ("slug", "camp_slug", "course_slug", "lesson_slug", "name"):
                value = "no-such-thing"
            elif argument == "code":
                value = "NOPE-NOPE"
            elif argument in ("token",):
                value = UNKNOWN["token"]
            elif value.isdigit():
                value = UNKNOWN["int"]
            else:
                value = UNKNOWN["session_id_str"]
        path = _substitute(path, argument, value)
    return path


def _substitute(path: str, argument: str, value: str) -> str:
    start = path.index("<")
    while True:
        end = path.index(">", start)
        inner = path[start + 1 : end]
        if inner.split(":")[-1] == argument:
            return path[:start] + value + path[end + 1 :]
        start = path.index("<", end)


def methods_of(world: World, endpoint: str) -> set[str]:
    rule = next(r for r in world.app.url_map.iter_rules() if r.endpoint == endpoint)
    return set(rule.methods or ()) - {"HEAD", "OPTIONS"}


def send(world: World, role: str, method: str, url: str):
    client = world.clients[role].raw
    if method == "GET":
        return client.get(url)
    token = world.tokens[role]
    if url.startswith("/api/"):
        return client.post(
            url, data="{}", headers={"X-CSRFToken": token}, content_type="application/json"
        )
    return client.post(url, data={"csrf_token": token})


SKIP_TABLES = {"auth_sessions", "alembic_version"}


def snapshot(app: Flask) -> dict:
    with app.app_context():
        tables = [t for t in db.metadata.sorted_tables if t.name not in SKIP_TABLES]
        with db.engine.connect() as connection:
            return {
                table.name: sorted(map(repr, connection.execute(db.select(table)).all()))
                for table in tables
            }


def _is_login_redirect(response) -> bool:
    """Anonymous visitors are sent to log in (the JSON API answers 401 instead)."""
    if response.status_code == 401:
        return response.is_json
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_every_rule_is_in_the_table(world):
    endpoints = {rule.endpoint for rule in world.app.url_map.iter_rules()}
    assert endpoints - EXPECTED.keys() == set(), "classify the new routes in EXPECTED"
    assert EXPECTED.keys() - endpoints == set(), "routes that no longer exist"
    for endpoint, rule in EXPECTED.items():
        methods = methods_of(world, endpoint)
        assert (rule.get is not None) == ("GET" in methods), endpoint
        assert (rule.post is not None) == ("POST" in methods), endpoint


@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
def test_access(world, endpoint):
    rule = EXPECTED[endpoint]
    url = url_of(world, endpoint)
    refusal = rule.refusal.format(**world.values) if rule.refusal else None
    problems = []
    if rule.get is not None:
        for role in ROLES:
            response = send(world, role, "GET", url)
            status = response.status_code
            if status >= 500:
                problems.append((role, "GET", status))
            elif role in rule.get:
                if rule.missing:
                    ok = status in (200, 404)
                else:
                    ok = status not in (401, 403, 404) and not _is_login_redirect(response)
                if not ok:
                    problems.append((role, "GET", status, "allowed"))
            elif not (
                status in (403, 404)
                or (role == ANON and _is_login_redirect(response))
                or (refusal and status == 302 and response.headers["Location"] == refusal)
            ):
                problems.append((role, "GET", status, "forbidden"))
    if rule.post is not None:
        forbidden = [role for role in ROLES if role not in rule.post]
        if forbidden:
            before = snapshot(world.app)
            for role in forbidden:
                response = send(world, role, "POST", url)
                status = response.status_code
                refused = status in (400, 403, 404) or (
                    role == ANON and _is_login_redirect(response)
                )
                if not refused:
                    problems.append((role, "POST", status, "forbidden"))
            assert snapshot(world.app) == before, f"a refused POST to {url} changed the database"
    assert problems == [], f"{url}: {problems}"


@pytest.mark.parametrize("endpoint", sorted(e for e, r in EXPECTED.items() if r.idor))
def test_out_of_reach_ids_answer_like_unknown_ids(world, endpoint):
    rule = EXPECTED[endpoint]
    url, unknown = url_of(world, endpoint), url_of(world, endpoint, unknown=True)
    assert url != unknown
    differences = []
    for method, allowed in (("GET", rule.get), ("POST", rule.post)):
        if allowed is None:
            continue
        for role in ROLES:
            if role in allowed:
                continue
            real = send(world, role, method, url)
            fake = send(world, role, method, unknown)
            if real.status_code != fake.status_code:
                differences.append((role, method, real.status_code, fake.status_code))
    assert differences == [], (url, unknown)
