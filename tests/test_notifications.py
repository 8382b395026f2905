"""Notifications: each kind from its real trigger, the recipient's choices, disabled
accounts, the recipient's language, idempotent jobs (every job run twice sends once), the
unread count on the user row, and the pages (only one's own notifications)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from lms.extensions import db
from lms.models import (
    Course,
    Invite,
    Lesson,
    LessonProgress,
    LiveSession,
    MediaAsset,
    Module,
    Notification,
    NotificationPreference,
    Registration,
    User,
)
from lms.models._base import utcnow
from lms.services import (
    community,
    completion,
    demo_media,
    ingest,
    live,
    live_series,
    mail,
    media,
    plans,
    schedule,
    staff_mail,
)
from lms.services.notifications import delivery, events, inbox, preferences, reminders
from tests.conftest import Client

BASE = "https://lms.example.org/"


@pytest.fixture
def app(make_app):
    return make_app(JOBS_INLINE=True, BASE_URL=BASE)


def outbox(app) -> list[EmailMessage]:
    with app.app_context():
        return list(mail.outbox())


def rows(app, user_id: int | None = None, kind: str | None = None) -> list[Notification]:
    with app.app_context():
        query = db.select(Notification).order_by(Notification.id)
        if user_id is not None:
            query = query.where(Notification.user_id == user_id)
        if kind is not None:
            query = query.where(Notification.kind == kind)
        found = list(db.session.scalars(query))
        db.session.expunge_all()
        return found


def unread(app, user_id: int) -> int:
    with app.app_context():
        return db.session.get(User, user_id).unread_notifications


def mail_to(app, address: str) -> list[EmailMessage]:
    return [message for message in outbox(app) if message["To"] == address]


def choose(app, user_id: int, kind: str, channel: str) -> None:
    with app.app_context():
        preferences.save(db.session.get(User, user_id), {kind: channel})


def new_session(capacity: int = 10, starts_in: timedelta = timedelta(days=3)):
    return live.create_session(
        live.SessionValues(
            title_zh="创业讲座", title_en="Startup lecture", location="centre", capacity=capacity
        ),
        datetime.now(UTC) + starts_in,
        [{"kind": "lecture", "title_zh": "讲", "title_en": "L", "offset": 0, "minutes": 90}],
    )


def register(user_id: int, session) -> Registration:
    return live.register(db.session.get(User, user_id), session)


@pytest.fixture
def people(make_user):
    """A Chinese-speaking and an English-speaking learner."""
    return make_user("zh@example.com", locale="zh_CN"), make_user("en@example.com", locale="en")


# -- live sessions ------------------------------------------------------------------------


def test_a_moved_session_tells_its_holders_in_their_language(app, people, make_user):
    zh, en = people
    waiting = make_user("wait@example.com", locale="en")
    with app.app_context():
        session = new_session(capacity=2)
        register(zh.id, session)
        register(en.id, session)
        assert register(waiting.id, session).status == "waitlisted"
        live.move(session, datetime.now(UTC) + timedelta(days=4))
        session_id = session.id
    for user in (zh, en, waiting):
        (row,) = rows(app, user.id, "session_moved")
        assert row.object_id == session_id and row.in_app and row.email
        assert unread(app, user.id) == 1
    (chinese,) = mail_to(app, zh.email)
    (english,) = mail_to(app, en.email)
    assert chinese["Subject"] == "活动改期：创业讲座"
    assert english["Subject"] == "Session moved: Startup lecture"
    assert f"{BASE}live/{session_id}" in english.get_content()
    assert "centre" in chinese.get_content()


def test_a_cancelled_session_says_why_and_a_disabled_holder_gets_nothing(app, people, make_user):
    zh, en = people
    gone = make_user("gone@example.com")
    with app.app_context():
        session = new_session()
        for user in (zh, en, gone):
            register(user.id, session)
        db.session.get(User, gone.id).active = False
        db.session.commit()
        live.cancel(session, "讲师生病")
        live.cancel(session, "again")  # already cancelled: no change, nothing more
    assert [r.kind for r in rows(app, en.id)] == ["session_cancelled"]
    assert rows(app, gone.id) == [] and mail_to(app, gone.email) == []
    (message,) = mail_to(app, en.email)
    assert "讲师生病" in message.get_content()


def test_ending_a_series_tells_the_holders_of_each_cancelled_session(app, organizer, learner):
    with app.app_context():
        sessions = weekly_series(organizer.id, 4)
        for later in sessions[1:3]:
            register(learner.id, later)
        live_series.end_series(sessions[0], "场地维修")
        cancelled_ids = sorted(s.id for s in sessions[1:3])
    found = rows(app, learner.id, "session_cancelled")
    assert sorted(r.object_id for r in found) == cancelled_ids
    assert all(r.data["reason"] == "场地维修" for r in found)


def test_moving_this_and_following_tells_each_moved_sessions_holders(app, organizer, learner):
    with app.app_context():
        sessions = weekly_series(organizer.id, 3)
        for session in sessions[1:]:
            register(learner.id, session)
        target = live.local(sessions[0].starts_at, sessions[0].timezone) + timedelta(days=1)
        edit = live.SessionEdit("周课", "Weekly", "centre", 80)
        assert live_series.edit_following(sessions[0], edit, starts_at=target) == 3
        moved_ids = sorted(s.id for s in sessions[1:])
    found = rows(app, learner.id, "session_moved")
    assert sorted(r.object_id for r in found) == moved_ids
    assert len(mail_to(app, learner.email)) == 2


def weekly_series(organizer_id: int, count: int) -> list:
    """A weekly series of ``count`` sessions from the day after tomorrow, soonest first."""
    first = (datetime.now(UTC) + timedelta(days=2)).replace(tzinfo=None, microsecond=0)
    series = live.create_series(
        live.activity_day_values(),
        f"FREQ=WEEKLY;COUNT={count}",
        first,
        live.ACTIVITY_DAY_SEGMENTS,
        db.session.get(User, organizer_id),
    )
    found = db.session.scalars(db.select(LiveSession).filter_by(series_id=series.id))
    return sorted(found, key=lambda session: session.starts_at)


def test_a_seat_from_the_waitlist_is_announced_once(app, people):
    zh, en = people
    with app.app_context():
        session = new_session(capacity=1)
        register(zh.id, session)
        register(en.id, session)
        promoted = live.cancel_registration(db.session.get(User, zh.id), session)
        assert promoted.user_id == en.id
        registration_id = promoted.id
        events.promoted(registration_id, BASE)  # the job again: nothing more
    assert len(rows(app, en.id, "waitlist_promoted")) == 1
    assert rows(app, zh.id) == []
    (message,) = mail_to(app, en.email)
    assert message["Subject"] == "You have a seat: Startup lecture"


def test_more_seats_promote_the_waitlist_with_a_notification(app, people, organizer):
    zh, en = people
    with app.app_context():
        session = new_session(capacity=1)
        register(zh.id, session)
        register(en.id, session)
        edit = live.SessionEdit(
            title_zh=session.title_zh, title_en=session.title_en, location="centre", capacity=2
        )
        live.edit_session(session, edit)
    assert [r.kind for r in rows(app, en.id)] == ["waitlist_promoted"]


def test_reminders_come_a_day_and_an_hour_before_once_each(app, people):
    zh, en = people
    with app.app_context():
        session = new_session(starts_in=timedelta(hours=30))
        register(zh.id, session)
        register(en.id, session)
        starts = session.starts_at.replace(tzinfo=UTC)
        assert reminders.remind_sessions(starts - timedelta(hours=25)) == 0  # too early
        assert reminders.remind_sessions(starts - timedelta(hours=23)) == 2
        assert reminders.remind_sessions(starts - timedelta(hours=22)) == 0  # again: nothing
        assert reminders.remind_sessions(starts - timedelta(minutes=50)) == 2
        assert reminders.remind_sessions(starts - timedelta(minutes=45)) == 0
        assert reminders.remind_sessions(starts + timedelta(minutes=1)) == 0  # started
    reminded = rows(app, zh.id, "live_reminder")
    assert [r.data["before"] for r in reminded] == ["day", "hour"]
    subjects = [m["Subject"] for m in mail_to(app, en.email)]
    assert subjects == ["Reminder: Startup lecture", "Starting soon: Startup lecture"]
    assert [m["Subject"] for m in mail_to(app, zh.email)] == [
        "活动提醒：创业讲座",
        "即将开始：创业讲座",
    ]


def test_a_moved_session_is_reminded_again_at_its_new_time(app, learner):
    with app.app_context():
        session = new_session(starts_in=timedelta(hours=20))
        register(learner.id, session)
        assert reminders.remind_sessions(utcnow()) == 1
        live.move(session, datetime.now(UTC) + timedelta(hours=22))
        assert reminders.remind_sessions(utcnow()) == 1
        assert reminders.remind_sessions(utcnow()) == 0


def test_reminders_run_from_cron_skip_cancelled_sessions_and_the_waitlist(app, people):
    zh, en = people
    with app.app_context():
        kept = new_session(capacity=1, starts_in=timedelta(hours=5))
        register(zh.id, kept)
        register(en.id, kept)  # waitlisted: no reminder
        dropped = new_session(starts_in=timedelta(hours=6))
        register(en.id, dropped)
        live.cancel(dropped, "no room")
        ran = schedule.run_due()
        assert "notify live session reminders" in ran
    assert [r.kind for r in rows(app, zh.id)] == ["live_reminder"]
    assert [r.kind for r in rows(app, en.id)] == ["session_cancelled"]


# -- assignments ------------------------------------------------------------------------------


@pytest.fixture
def staff(app, make_user):
    manager = make_user("boss@acme.example", organization="Acme", is_manager=True)
    worker = make_user("worker@acme.example", organization="Acme", locale="en")
    return manager, worker


def test_assignments_due_soon_and_overdue_are_announced_once(app, staff, course):
    manager, worker = staff
    with app.app_context():
        today = plans.today()
        boss = db.session.get(User, manager.id)
        soon = plans.assign(
            manager.organization_id, boss, due_on=today + timedelta(days=2),
            user_id=worker.id, course_id=course.id,
        )  # fmt: skip
        later = plans.assign(
            manager.organization_id, boss, due_on=today + timedelta(days=9),
            user_id=worker.id, course_id=course.id,
        )  # fmt: skip
        now = utcnow()
        assert reminders.remind_assignments(now) == 1
        assert reminders.remind_assignments(now) == 0  # the job again
        # three days later the first is overdue (once), the other not yet due soon
        assert reminders.remind_assignments(now + timedelta(days=3)) == 1
        assert reminders.remind_assignments(now + timedelta(days=3, hours=5)) == 0
        soon_id, later_id = soon.id, later.id
    kinds = [(r.kind, r.object_id) for r in rows(app, worker.id)]
    assert kinds == [("assignment_due", soon_id), ("assignment_overdue", soon_id)]
    assert later_id not in [r.object_id for r in rows(app, worker.id)]
    subjects = [m["Subject"] for m in mail_to(app, worker.email)]
    assert subjects[0].startswith("Due soon: ") and subjects[1].startswith("Overdue: ")


def test_done_and_cancelled_assignments_are_not_announced(app, staff, course):
    manager, worker = staff
    with app.app_context():
        boss = db.session.get(User, manager.id)
        due = plans.today() + timedelta(days=1)
        cancelled = plans.assign(
            manager.organization_id, boss, due_on=due, user_id=worker.id, course_id=course.id
        )
        plans.cancel(cancelled)
        assert reminders.remind_assignments(utcnow()) == 0


# -- certificates, community, videos ----------------------------------------------------------


def complete(app, user_id: int, course_id: int) -> None:
    with app.app_context():
        user, course = db.session.get(User, user_id), db.session.get(Course, course_id)
        from lms.services import enrollment

        enrollment.enroll(user, course)
        lessons = db.session.scalars(
            db.select(Lesson).join(Module).where(Module.course_id == course_id)
        ).all()
        for lesson in lessons:
            db.session.add(
                LessonProgress(user_id=user_id, lesson_id=lesson.id, completed_at=utcnow())
            )
        db.session.commit()
        assert completion.check_course(user, course)


def test_a_certificate_is_announced_with_its_link(app, people, course):
    zh, _en = people
    complete(app, zh.id, course.id)
    (row,) = rows(app, zh.id, "certificate_issued")
    (message,) = mail_to(app, zh.email)
    assert message["Subject"].startswith("证书已颁发：")
    assert f"{BASE}certificates/{row.data['code']}" in message.get_content()
    with app.app_context():
        events.certificate_issued(zh.id, course.id, BASE)  # the job again
    assert len(rows(app, zh.id)) == 1 and len(mail_to(app, zh.email)) == 1


def test_an_expert_review_tells_the_presenter_and_a_plain_comment_does_not(
    app, people, trainer, make_user
):
    zh, _en = people
    en = make_user("presenter@example.com", role="trainer", locale="en")
    with app.app_context():
        presenter = db.session.get(User, en.id)
        case = community.create_case(presenter, "Acme", "strategy", "定价难题", "怎么定价？")
        community.add_case_comment(db.session.get(User, zh.id), case, "同问")
        review = community.add_case_comment(
            db.session.get(User, trainer.id), case, "先算成本。", expert_review=True
        )
        events.case_reviewed(review.id, BASE)  # the job again
    (row,) = rows(app, en.id)
    assert row.kind == "case_reviewed" and row.data["title"] == "定价难题"
    (message,) = mail_to(app, en.email)
    assert message["Subject"] == "Expert review of your case: 定价难题"
    assert "trainer reviewed your salon case." in message.get_content()


def test_replies_tell_the_topic_author_and_the_comment_author_never_oneself(app, people, trainer):
    zh, en = people
    with app.app_context():
        author = db.session.get(User, trainer.id)
        topic = community.create_topic(author, "news", "园区新闻", "内容")
        first = community.add_topic_comment(db.session.get(User, zh.id), topic, "第一")
        community.add_topic_comment(author, topic, "我自己的回复", parent_id=None)
        reply = community.add_topic_comment(
            db.session.get(User, en.id), topic, "reply", parent_id=first.id
        )
        events.replied(reply.id, BASE)  # the job again
    trainer_rows = rows(app, trainer.id, "reply")
    assert [r.data["to"] for r in trainer_rows] == ["topic", "topic"]
    (to_zh,) = rows(app, zh.id, "reply")
    assert to_zh.data == {**to_zh.data, "to": "comment", "by": "en"}
    assert rows(app, en.id) == []
    # "reply" is in-app only by default: no e-mail
    assert mail_to(app, zh.email) == [] and unread(app, zh.id) == 1


def test_a_trainers_video_ready_and_failed(app, trainer, demo_video, tmp_path):
    with app.app_context(), demo_video.open("rb") as handle:
        asset, _new = media.store_stream(handle, "演示.webm", uploaded_by=trainer.id)
        asset_id = asset.id
        ingest.process(asset_id)
        assert db.session.get(MediaAsset, asset_id).status == "ready"
    other = demo_media.generate_demo_video(tmp_path / "second.webm", seconds=2, color="#aa3300")
    with app.app_context(), other.open("rb") as handle:
        broken, _new = media.store_stream(handle, "second.webm", uploaded_by=trainer.id)
        db.session.get(MediaAsset, broken.id).attempts = ingest.MAX_ATTEMPTS
        db.session.commit()
        ingest.process(broken.id)  # interrupted too often: fails
    found = [(r.kind, r.data["name"]) for r in rows(app, trainer.id)]
    assert found == [("video_ready", "演示.webm"), ("video_failed", "second.webm")]
    (message,) = mail_to(app, trainer.email)  # video_ready is in-app only by default
    assert message["Subject"] == "视频处理失败：second.webm"  # no locale chosen: the academy's
    assert f"{BASE}teach/media" in message.get_content()


# -- choices, disabled accounts, languages ----------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "listed", "mailed"),
    [("both", True, True), ("in_app", True, False), ("email", False, True), ("none", None, False)],
)
def test_each_user_chooses_in_app_email_both_or_none(app, learner, channel, listed, mailed):
    choose(app, learner.id, "session_moved", channel)
    with app.app_context():
        session = new_session()
        register(learner.id, session)
        live.move(session, datetime.now(UTC) + timedelta(days=5))
    found = rows(app, learner.id)
    if listed is None:
        assert found == []
    else:
        (row,) = found
        assert row.in_app is listed and row.email is mailed
    assert unread(app, learner.id) == (1 if listed else 0)
    assert len(mail_to(app, learner.email)) == (1 if mailed else 0)
    with app.app_context():
        page = inbox.page_of(db.session.get(User, learner.id))
    assert page.total == (1 if listed else 0)


def test_choices_a_kind_does_not_offer_are_refused_and_nothing_is_saved(app, learner, trainer):
    with app.app_context():
        user = db.session.get(User, learner.id)
        for choices in (
            {"invite": "in_app"},  # a one-time link goes by e-mail only
            {"video_ready": "both"},  # a trainer's kind
            {"reply": "sms"},
            {"no_such_kind": "both"},
            {"reply": "none", "session_moved": "loud"},  # one bad choice: none saved
        ):
            with pytest.raises(preferences.PreferenceError):
                preferences.save(user, choices)
        assert db.session.scalars(db.select(NotificationPreference)).all() == []
        assert preferences.of(user)["reply"] == "in_app"
        assert "video_ready" not in preferences.of(user)
        assert preferences.of(db.session.get(User, trainer.id))["video_failed"] == "both"


# -- the jobs are idempotent ------------------------------------------------------------------


def test_every_event_job_run_twice_sends_once(app, people, trainer, course, demo_video, make_user):
    zh, en = people
    presenter = make_user("presenter@example.com", role="trainer")
    with app.app_context():
        session = new_session(capacity=1)
        register(zh.id, session)
        waiting = register(en.id, session)
        live.move(session, datetime.now(UTC) + timedelta(days=6))
        live.cancel_registration(db.session.get(User, zh.id), session)
        author = db.session.get(User, trainer.id)
        case = community.create_case(
            db.session.get(User, presenter.id), "A", "strategy", "案例", "x"
        )
        review = community.add_case_comment(author, case, "好", expert_review=True)
        topic = community.create_topic(author, "news", "话题", "x")
        reply = community.add_topic_comment(db.session.get(User, en.id), topic, "回复")
        with demo_video.open("rb") as handle:
            asset, _new = media.store_stream(handle, "v.webm", uploaded_by=trainer.id)
        ingest.process(asset.id)
        live.cancel(session, "原因")
        ids = (session.id, waiting.id, review.id, reply.id, asset.id)
    complete(app, zh.id, course.id)
    before = (len(rows(app)), len(outbox(app)), unread(app, en.id), unread(app, trainer.id))
    assert before[0] >= 8
    session_id, waiting_id, review_id, reply_id, asset_id = ids
    with app.app_context():
        (ready,) = rows(app, trainer.id, "video_ready")
        moment = ready.key.split("|")[3].split("@", 1)[1]
        for _ in range(2):
            assert events.session_changed("session_moved", session_id, BASE) == 0  # cancelled
            events.session_changed("session_cancelled", session_id, BASE)
            events.promoted(waiting_id, BASE)
            events.case_reviewed(review_id, BASE)
            events.replied(reply_id, BASE)
            events.video_processed(asset_id, "ready", moment, BASE)
            events.certificate_issued(zh.id, course.id, BASE)
    after = (len(rows(app)), len(outbox(app)), unread(app, en.id), unread(app, trainer.id))
    assert after == before


def test_a_failed_mail_is_sent_by_the_retry_and_only_once(app, learner, monkeypatch):
    with app.app_context():
        session_id = new_session().id
        register(learner.id, db.session.get(LiveSession, session_id))
    real_send, calls = mail.send, []

    def flaky(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 1:
            raise OSError("mail server down")
        return real_send(*args, **kwargs)

    monkeypatch.setattr(mail, "send", flaky)
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        live.move(session, datetime.now(UTC) + timedelta(days=4))  # the move stands
        assert db.session.get(LiveSession, session_id).moved
    assert calls == [learner.email]
    assert rows(app, learner.id) == [] and unread(app, learner.id) == 0  # rolled back
    with app.app_context():
        for _ in range(2):  # the job, retried (twice)
            events.session_changed("session_moved", session_id, BASE)
    assert len(rows(app, learner.id)) == 1 and unread(app, learner.id) == 1
    assert len(mail_to(app, learner.email)) == 1


def test_a_rolled_back_event_notifies_nobody(app, learner):
    with app.app_context():
        session = new_session()
        register(learner.id, session)
        session = db.session.get(LiveSession, session.id)
        session.status = "cancelled"
        from lms.services import notifications

        notifications.on_session_cancelled(session)
        db.session.rollback()
        db.session.commit()
    assert rows(app) == []


def test_invites_and_set_password_links_are_notifications(app, make_user):
    manager = make_user("boss@acme.example", organization="Acme", is_manager=True)
    known = make_user("known@example.com", locale="en")
    quiet = make_user("quiet@example.com")
    staff = make_user("staff@acme.example", organization="Acme", locale="en")
    choose(app, quiet.id, "invite", "none")
    with app.app_context():
        db.session.get(User, staff.id).password_hash = "!unusable"
        db.session.commit()
        for _ in range(2):  # a retried job: the same occasion, one message each
            for address in ("new@example.com", known.email, quiet.email):
                staff_mail.send_invite(
                    manager.organization_id, address, None, 7, manager.id, "zh_CN", BASE, "n1"
                )
            staff_mail.send_setup_link(staff.id, manager.organization_id, BASE, "s1")
        invites = db.session.scalar(db.select(db.func.count()).select_from(Invite))
    assert invites == 2  # the new address and the account; not the one who said no
    with app.app_context():
        subjects = {
            locale: mail.render("invite", locale, organization="Acme", url="", expires="")[0]
            for locale in ("zh_CN", "en")
        }
    assert subjects["zh_CN"] != subjects["en"]
    (new,) = mail_to(app, "new@example.com")
    assert new["Subject"] == subjects["zh_CN"]  # the language the manager chose
    (to_known,) = mail_to(app, known.email)
    assert to_known["Subject"] == subjects["en"]  # the account's language
    assert mail_to(app, quiet.email) == []
    (setup,) = mail_to(app, staff.email)
    assert f"{BASE}account/setup/" in setup.get_content()
    found = rows(app)
    assert {r.kind for r in found} == {"invite", "setup_link"}
    assert all(not r.in_app for r in found)  # one-time links never stay in the app
    assert all("token" not in r.data for r in found)
    assert unread(app, known.id) == 0


def test_a_disabled_account_gets_no_invite_or_link(app, make_user):
    manager = make_user("boss@acme.example", organization="Acme", is_manager=True)
    gone = make_user("gone@example.com")
    with app.app_context():
        db.session.get(User, gone.id).active = False
        db.session.commit()
        staff_mail.send_invite(manager.organization_id, gone.email, None, 7, manager.id, "en", BASE)
    assert mail_to(app, gone.email) == [] and rows(app) == []


# -- pages --------------------------------------------------------------------------------------


def logged_in(app, email: str, language: str = "en") -> Client:
    client = Client(app.test_client())
    client.raw.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    assert client.login(email).status_code == 302
    return client


def moved_twice(app, user_id: int) -> int:
    with app.app_context():
        session = new_session()
        register(user_id, session)
        live.move(session, datetime.now(UTC) + timedelta(days=4))
        live.cancel(session, "天气")
        return session.id


def test_the_bell_counts_unread_and_opening_marks_read(app, people, other_learner):
    zh, _en = people
    session_id = moved_twice(app, zh.id)
    client = logged_in(app, zh.email, "zh-CN")
    page = client.get("/").get_data(as_text=True)
    assert 'class="bell-count" aria-hidden="true">2<' in page
    listing = client.get("/notifications").get_data(as_text=True)
    assert listing.index("活动取消：创业讲座") < listing.index("活动改期：创业讲座")  # newest first
    assert "原因：天气" in listing
    newest = rows(app, zh.id)[-1]
    response = client.post(f"/notifications/{newest.id}/open")
    assert response.status_code == 302 and response.headers["Location"] == f"/live/{session_id}"
    assert unread(app, zh.id) == 1
    client.post(f"/notifications/{newest.id}/open")  # again: still read, the count stays
    assert unread(app, zh.id) == 1
    assert client.post("/notifications/read").status_code == 302
    assert unread(app, zh.id) == 0 and all(r.read_at for r in rows(app, zh.id))
    assert "bell-count" not in client.get("/").get_data(as_text=True)


def test_nobody_sees_or_opens_anothers_notification(app, people, other_learner):
    zh, _en = people
    moved_twice(app, zh.id)
    theirs = rows(app, zh.id)[0]
    other = logged_in(app, other_learner.email)
    assert other.post(f"/notifications/{theirs.id}/open").status_code == 404
    assert other.post("/notifications/999999/open").status_code == 404
    assert "创业讲座" not in other.get("/notifications").get_data(as_text=True)
    other.post("/notifications/read")
    assert unread(app, zh.id) == 2 and rows(app, zh.id)[0].read_at is None
    assert other.post(f"/notifications/{theirs.id}/open", csrf=False).status_code == 400


def test_the_list_is_paged_and_refuses_a_malformed_page(app, learner):
    with app.app_context():
        for number in range(inbox.PER_PAGE + 3):
            recipient = delivery.Recipient(learner.id, learner.email, "en")
            delivery.deliver(recipient, "reply", "in_app", number, "reply", {
                "topic_id": 1, "title": f"话题 {number}", "by": "x", "to": "topic",
            }, None)  # fmt: skip
    client = logged_in(app, learner.email)
    first = client.get("/notifications").get_data(as_text=True)
    assert f"话题 {inbox.PER_PAGE + 2}" in first and "话题 0<" not in first
    assert "Page 1 of 2" in first
    last = client.get("/notifications?page=2").get_data(as_text=True)
    assert "话题 0" in last and "话题 3<" not in last
    assert client.get("/notifications?page=99").status_code == 200  # the last page
    for bad in ("x", "-1", "1e9", "9" * 30):
        assert client.get(f"/notifications?page={bad}").status_code == 400
    assert unread(app, learner.id) == inbox.PER_PAGE + 3


def test_the_settings_page_saves_choices_and_refuses_bad_ones(app, learner):
    client = logged_in(app, learner.email, "zh-CN")
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert "通知设置" in page and "我报名的活动改期" in page and "video_ready" not in page
    with app.app_context():
        choices = preferences.of(db.session.get(User, learner.id))
    response = client.post("/notifications/settings", {**choices, "session_moved": "none"})
    assert response.status_code == 302
    with app.app_context():
        assert preferences.of(db.session.get(User, learner.id))["session_moved"] == "none"
    for bad in ({**choices, "invite": "in_app"}, {**choices, "reply": "<b>"}):
        assert client.post("/notifications/settings", bad).status_code == 400
    missing = dict(choices, session_moved="none")
    missing.pop("reply")  # a kind left out keeps its choice
    assert client.post("/notifications/settings", missing).status_code == 302
    assert client.post("/notifications/settings", choices, csrf=False).status_code == 400
    with app.app_context():
        assert preferences.of(db.session.get(User, learner.id))["session_moved"] == "none"


def test_anonymous_visitors_are_sent_to_log_in(app):
    client = Client(app.test_client())
    response = client.get("/notifications")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert 'data-test="bell"' not in client.get("/").get_data(as_text=True)


def test_the_bell_costs_no_statement(app, learner):
    from tests.test_query_counts import count_queries

    client = logged_in(app, learner.email)
    client.get("/")
    with count_queries(app) as before:
        assert 'data-test="bell"' in client.get("/").get_data(as_text=True)
    moved_twice(app, learner.id)
    with count_queries(app) as after:
        page = client.get("/").get_data(as_text=True)
    assert 'class="bell-count" aria-hidden="true">2<' in page
    assert len(after) == len(before)
    # the count comes with the user row the request loads, not in a statement of its own
    assert not [s for s in after if "unread_notifications" in s and "auth_sessions" not in s]


def test_workers_running_the_same_job_at_once_send_once(app, people, make_user):
    """The unique key, not a check-then-insert: six workers race on one job."""
    zh, en = people
    third = make_user("third@example.com", locale="en")
    with app.app_context():
        session = new_session()
        for user in (zh, en, third):
            register(user.id, session)
        session_id = session.id
    barrier, errors = threading.Barrier(6), []

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            try:
                events.session_changed("session_cancelled", session_id, BASE)
            except Exception as error:
                errors.append(error)
            finally:
                db.session.remove()

    with app.app_context():  # cancelled without the service's call: the workers race first
        cancelled = db.session.get(LiveSession, session_id)
        cancelled.status, cancelled.cancel_reason = "cancelled", "停电"
        db.session.commit()
    assert rows(app) == []
    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for user in (zh, en, third):
        assert len(rows(app, user.id)) == 1 and unread(app, user.id) == 1
        assert len(mail_to(app, user.email)) == 1


def test_outside_tests_the_job_goes_to_the_queue_by_its_import_path(app, learner, monkeypatch):
    """What a worker receives: a path it can import and arguments Redis can hold."""
    import json

    from lms.services import jobs

    queued: list[tuple] = []
    monkeypatch.setattr(jobs, "enqueue", lambda path, *args: queued.append((path, args)))
    with app.app_context():
        session = new_session()
        register(learner.id, session)
        app.config.update(TESTING=False, JOBS_INLINE=False)
        try:
            live.cancel(db.session.get(LiveSession, session.id), "<b>停电</b>")
        finally:
            app.config.update(TESTING=True, JOBS_INLINE=True)
        ((path, args),) = queued
        assert path == "lms.services.notifications.events.session_changed"
        assert jobs._resolve(path) is events.session_changed
        assert json.loads(json.dumps(args)) == ["session_cancelled", session.id, BASE]
    assert rows(app) == []  # not run here: a worker does it
    with app.app_context():
        jobs._resolve(path)(*args)  # the worker
    client = logged_in(app, learner.email)
    page = client.get("/notifications").get_data(as_text=True)
    assert "&lt;b&gt;停电&lt;/b&gt;" in page and "<b>停电" not in page  # escaped


# -- plugins: lms_notification_kinds and lms.api.notify ---------------------------------------


def test_a_plugin_declares_a_kind_that_users_choose_and_it_notifies_once(make_app):
    from lms.api import NotificationKind, notify
    from lms.services import accounts
    from lms.services.notifications import kinds
    from tests.conftest import PASSWORD
    from tests.test_plugins import plugin

    def lms_notification_kinds():
        critique = NotificationKind(
            "design_critique",
            "A critique of my design",
            "both",
            message=lambda data: (f"Critique: {data['title']}", f"by {data['by']}"),
            link=lambda data: ("live.index", {}),
        )
        taken = NotificationKind("reply", "Mine", "none", critique.message, critique.link)
        return [critique, taken, "not a kind"]

    app = make_app(
        JOBS_INLINE=True,
        BASE_URL=BASE,
        EXTRA_PLUGINS={"critiques": plugin(lms_notification_kinds, name="critiques")},
    )
    with app.app_context():
        maker = accounts.create_user("maker@example.com", "maker", PASSWORD, locale="en")
        assert kinds.get("reply").default == "in_app"  # a core kind is not replaced
        assert "design_critique" in kinds.all_kinds()
        for _ in range(2):  # the same event twice: one notification
            notify("design_critique", [maker.id], 7, "c1", {"title": "Chair", "by": "Ann"})
            db.session.commit()
        maker_id = maker.id
    (row,) = rows(app, maker_id)
    assert row.kind == "design_critique" and row.in_app and row.email
    (message,) = mail_to(app, "maker@example.com")
    assert message["Subject"] == "Critique: Chair" and f"{BASE}live/" in message.get_content()
    client = logged_in(app, "maker@example.com")
    assert "Critique: Chair" in client.get("/notifications").get_data(as_text=True)
    settings = client.get("/notifications/settings").get_data(as_text=True)
    assert "A critique of my design" in settings and "Mine" not in settings
    opened = client.post(f"/notifications/{row.id}/open")
    assert opened.status_code == 302 and opened.headers["Location"] == "/live/"


def test_a_failing_kinds_hook_leaves_only_the_plugins_kinds_out(make_app):
    from lms.services.notifications import kinds
    from tests.test_plugins import plugin

    def lms_notification_kinds():
        raise RuntimeError("kinds service down")

    app = make_app(EXTRA_PLUGINS={"broken": plugin(lms_notification_kinds, name="broken")})
    with app.test_request_context():
        assert set(kinds.all_kinds()) == set(kinds.KINDS)
