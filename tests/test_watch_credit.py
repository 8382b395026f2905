"""Honest watch credit: what a playback session earns, driven at chosen times (``now=``).

Coverage (completion) grows at most at the lesson's maximum rate over the wall-clock time
since the session's previous report, capped by the window; training time (the ledger) is
the wall-clock time really spent playing, in seconds. See docs/video.md.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import joinedload

from lms.extensions import db
from lms.models import Lesson, LessonProgress, MediaAsset, PlaybackSession, TrainingTime, User
from lms.services import accounts, authoring, hours, progress
from lms.services.loading import load_path
from tests.conftest import PASSWORD, Client, course_url, video_lessons_of
from tests.test_plugins import with_the_course

T0 = datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 in the academy's zone: one ledger day
WINDOW, SLACK, MAX_RATE = 15.0, 2.0, 2.0
EPS = 1e-5  # microsecond timestamps


def fake_video(seconds: float, status: str = "ready") -> MediaAsset:
    """A stored video's facts (the server never plays it)."""
    key = secrets.token_hex(8)
    return MediaAsset(
        storage_key=f"{key}.mp4", sha256=secrets.token_hex(32), original_name=f"{key}.mp4",
        mime_type="video/mp4", size_bytes=1, status=status, duration_seconds=seconds,
    )  # fmt: skip


@pytest.fixture
def video_lesson(app, course):
    """``video_lesson(seconds, index=0)``: the course's index-th video lesson plays a video
    of that many seconds; its id."""

    def attach(seconds: float, index: int = 0) -> int:
        with app.app_context():
            lesson = video_lessons_of(course.id)[index]
            lesson.media = fake_video(seconds)
            db.session.commit()
            return lesson.id

    return attach


@dataclass
class Watcher:
    """One learner's playback sessions, reported through the service at chosen seconds
    after T0. Answers are the API's JSON bodies."""

    app: object
    user_id: int
    answers: dict[str, list[dict]] = field(default_factory=dict)
    seqs: dict[str, int] = field(default_factory=dict)

    def open(self, lesson_id: int, at: float = 0.0) -> str:
        with self.app.test_request_context():
            user = db.session.get(User, self.user_id)
            lesson = db.session.get(Lesson, lesson_id, options=[joinedload(Lesson.media)])
            session, _ = progress.open_session(user, lesson, now=T0 + timedelta(seconds=at))
            self.answers[session.id], self.seqs[session.id] = [], 0
            return session.id

    def report(
        self,
        session_id: str,
        at: float,
        intervals: list,
        played_seconds: float | None = None,
        seq: int | None = None,
    ) -> dict:
        if seq is None:
            seq = self.seqs[session_id] = self.seqs[session_id] + 1
        with self.app.test_request_context():
            user = db.session.get(User, self.user_id)
            playback = progress.find_session(session_id, user)
            lesson = db.session.get(Lesson, playback.lesson_id, options=[joinedload(Lesson.media)])
            state = progress.report(
                playback,
                user,
                lesson,
                seq=seq,
                position=intervals[-1][1] if intervals else 0.0,
                played=[list(pair) for pair in intervals],
                played_seconds=played_seconds,
                now=T0 + timedelta(seconds=at),
            )
            answer = state.as_dict()
        self.answers[session_id].append(answer)
        return answer

    def ledger(self) -> list[tuple[str, int]]:
        with self.app.app_context():
            rows = db.session.execute(
                db.select(TrainingTime.source_key, TrainingTime.seconds)
                .filter_by(user_id=self.user_id)
                .order_by(TrainingTime.id)
            ).all()
        return [tuple(row) for row in rows]

    def sessions(self) -> dict[str, PlaybackSession]:
        with self.app.app_context():
            rows = db.session.scalars(
                db.select(PlaybackSession).filter_by(user_id=self.user_id)
            ).all()
            db.session.expunge_all()
        return {row.id: row for row in rows}


def new_watcher(app) -> Watcher:
    """A fresh learner (no coverage, no clock) watching through the service."""
    with app.app_context():
        email = f"w{secrets.token_hex(6)}@example.com"
        user = accounts.create_user(email, "Watcher", PASSWORD)
        return Watcher(app, user.id)


@pytest.fixture
def watcher(app) -> Watcher:
    return new_watcher(app)


def honest_reports(
    watcher: Watcher, session_id: str, rate: float, reports: int, every: float = 10.0
) -> list[dict]:
    """A player playing from 0 at ``rate`` and reporting every ``every`` seconds."""
    return [
        watcher.report(
            session_id,
            at=every * n,
            intervals=[[0, rate * every * n]],
            played_seconds=every * n,
        )
        for n in range(1, reports + 1)
    ]


# -- the three measured problems of issue 13 -------------------------------------------------


def test_a_whole_40s_lesson_watched_at_2x_completes(watcher, video_lesson):
    session = watcher.open(video_lesson(40.0))
    first, second = honest_reports(watcher, session, rate=2.0, reports=2)
    assert first["credited"] == pytest.approx(20.0) and first["completed"] is False
    assert second["covered_seconds"] == pytest.approx(40.0)
    assert second["completed"] is True
    assert second["session_training_seconds"] == pytest.approx(20.0)  # the time really spent


def test_playing_faster_than_the_maximum_rate_covers_at_the_maximum_rate(watcher, video_lesson):
    session = watcher.open(video_lesson(600.0))
    answers = honest_reports(watcher, session, rate=4.0, reports=3)
    for answer in answers:
        assert answer["credited"] <= MAX_RATE * (10 + SLACK) + EPS
    assert answers[-1]["covered_seconds"] <= MAX_RATE * (30 + SLACK) + EPS
    assert answers[-1]["covered_seconds"] >= MAX_RATE * 30 - EPS


@pytest.mark.parametrize("played_seconds", [600.0, None])
def test_waiting_ten_minutes_then_posting_the_whole_video_gets_at_most_the_window(
    watcher, video_lesson, played_seconds
):
    session = watcher.open(video_lesson(600.0))
    answer = watcher.report(session, at=600, intervals=[[0, 600]], played_seconds=played_seconds)
    assert answer["training_seconds"] <= WINDOW + SLACK + EPS
    assert answer["credited"] <= MAX_RATE * (WINDOW + SLACK) + EPS
    assert answer["completed"] is False
    # ... and the next report, a second later, earns about a second more.
    again = watcher.report(session, at=601, intervals=[[0, 600]], played_seconds=played_seconds)
    assert again["training_seconds"] <= 1 + EPS
    assert again["credited"] <= MAX_RATE * 1 + EPS


def test_a_40s_lesson_adds_40_seconds_to_the_ledger(watcher, video_lesson):
    session = watcher.open(video_lesson(40.0))
    answers = honest_reports(watcher, session, rate=1.0, reports=4)
    assert answers[-1]["completed"] is True
    assert answers[-1]["recorded_seconds"] == 40
    assert watcher.ledger() == [(f"video:{session}:{seq}", 10) for seq in (1, 2, 3, 4)]


def test_fractions_of_seconds_are_carried_over_not_rounded_away(watcher, video_lesson):
    session = watcher.open(video_lesson(600.0))
    for n in range(1, 8):  # 0.7 s of play per report: 4.9 s in all
        answer = watcher.report(session, at=n, intervals=[[0, 0.7 * n]], played_seconds=0.7 * n)
    assert answer["session_training_seconds"] == pytest.approx(4.9)
    assert answer["recorded_seconds"] == 4
    assert sum(seconds for _, seconds in watcher.ledger()) == 4  # the session loses < 1 s


# -- idle and paused time --------------------------------------------------------------------


def test_time_paused_before_the_first_report_earns_nothing(watcher, video_lesson):
    session = watcher.open(video_lesson(600.0))
    # Opened, paused for ten minutes, then played for 10 s at 1x.
    answer = watcher.report(session, at=610, intervals=[[0, 10]], played_seconds=10)
    assert answer["training_seconds"] == pytest.approx(10.0)
    assert answer["credited"] == pytest.approx(10.0)


def test_time_paused_between_reports_earns_nothing(watcher, video_lesson):
    session = watcher.open(video_lesson(600.0))
    watcher.report(session, at=10, intervals=[[0, 10]], played_seconds=10)
    watcher.report(session, at=14, intervals=[[0, 14]], played_seconds=14)  # paused at 14 s
    answer = watcher.report(session, at=1214, intervals=[[0, 24]], played_seconds=24)
    assert answer["training_seconds"] == pytest.approx(10.0)
    assert answer["session_training_seconds"] == pytest.approx(24.0)


def test_an_old_player_without_played_seconds_gets_the_capped_window(watcher, video_lesson):
    session = watcher.open(video_lesson(600.0))
    first = watcher.report(session, at=10, intervals=[[0, 10]])
    second = watcher.report(session, at=20, intervals=[[0, 20]])
    later = watcher.report(session, at=600, intervals=[[0, 30]])
    assert first["training_seconds"] == pytest.approx(10 + SLACK)
    assert second["training_seconds"] == pytest.approx(10)  # the slack is not earned twice
    assert later["training_seconds"] == pytest.approx(WINDOW + SLACK)  # not the 580 s paused
    assert later["session_training_seconds"] == pytest.approx(20 + SLACK + WINDOW + SLACK)


# -- two sessions, replays ---------------------------------------------------------------


def test_two_sessions_at_once_earn_the_time_once(watcher, video_lesson):
    first = watcher.open(video_lesson(600.0, 0))
    second = watcher.open(video_lesson(600.0, 1))
    for n in range(1, 7):
        watcher.report(first, at=10 * n, intervals=[[0, 10 * n]], played_seconds=10 * n)
        watcher.report(second, at=10 * n + 1, intervals=[[0, 10 * n]], played_seconds=10 * n)
    sessions = watcher.sessions()
    total = sessions[first].training_seconds + sessions[second].training_seconds
    assert total <= 61 + SLACK + EPS  # the wall-clock minute, not two
    assert sum(seconds for _, seconds in watcher.ledger()) <= total


def test_replayed_and_older_reports_change_nothing(watcher, video_lesson):
    session = watcher.open(video_lesson(600.0))
    watcher.report(session, at=10, intervals=[[0, 10]], played_seconds=10)
    second = watcher.report(session, at=20, intervals=[[0, 20]], played_seconds=20)
    replay = watcher.report(session, at=25, intervals=[[0, 20]], played_seconds=20, seq=2)
    older = watcher.report(session, at=26, intervals=[[0, 10]], played_seconds=10, seq=1)
    for answer in (replay, older):
        assert (answer["credited"], answer["training_seconds"]) == (0, 0)
        assert answer["position"] == second["position"]  # an older report does not move it
        assert answer["covered_seconds"] == second["covered_seconds"]
        assert answer["recorded_seconds"] == second["recorded_seconds"] == 20
    # The replays did not take the next report's time.
    third = watcher.report(session, at=30, intervals=[[0, 30]], played_seconds=30)
    assert third["training_seconds"] == pytest.approx(10.0)
    assert len(watcher.ledger()) == 3


def test_played_seconds_going_backwards_earns_nothing(watcher, video_lesson):
    session = watcher.open(video_lesson(600.0))
    watcher.report(session, at=10, intervals=[[0, 10]], played_seconds=10)
    answer = watcher.report(session, at=20, intervals=[[0, 10]], played_seconds=3)
    assert answer["training_seconds"] == 0
    assert answer["credited"] == 0


# -- the camp's maximum rate ------------------------------------------------------------------


def lms_max_playback_rate(lesson):
    return 1.5 if lesson.slug.startswith("slow") else 9.0  # 9: out of range, ignored


def test_a_camp_sets_the_maximum_rate_through_its_hook(make_app, course):
    app = with_the_course(make_app, lms_max_playback_rate, name="pace")
    with app.app_context():
        lesson = video_lessons_of(course.id)[0]
        lesson.media, lesson.slug = fake_video(600.0), "slow-lesson"
        db.session.commit()
        lesson_id = lesson.id
    with app.test_request_context():
        lessons = video_lessons_of(course.id)
        assert progress.max_playback_rate(lessons[0]) == 1.5
        assert progress.max_playback_rate(lessons[1]) == progress.DEFAULT_MAX_RATE
    watcher = new_watcher(app)
    session = watcher.open(lesson_id)
    answer = watcher.report(session, at=10, intervals=[[0, 40]], played_seconds=10)
    assert answer["credited"] == pytest.approx(1.5 * (10 + SLACK))


def test_the_default_maximum_rate_without_a_hook(app, course, video_lesson):
    lesson_id = video_lesson(600.0)
    with app.test_request_context():
        assert progress.max_playback_rate(db.session.get(Lesson, lesson_id)) == 2.0


# -- the API contract -------------------------------------------------------------------------


@pytest.fixture
def api(client, learner, course):
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    token = client.csrf()

    def post(url: str, body: dict | None = None):
        return client.raw.post(
            url,
            json=body,
            headers={"X-CSRFToken": token},
        )

    return post


def test_opening_a_session_gives_the_maximum_rate_and_the_report_interval(api, video_lesson):
    body = api(f"/api/lessons/{video_lesson(40.0)}/playback").get_json()
    assert body["max_rate"] == 2.0
    assert body["report_every"] == 10
    assert body["report_every"] < WINDOW


def test_a_report_answers_the_training_time_credited(app, api, video_lesson):
    session_id = api(f"/api/lessons/{video_lesson(40.0)}/playback").get_json()["session_id"]
    with app.app_context():  # opened 10 s ago
        session = db.session.get(PlaybackSession, session_id)
        session.started_at = session.started_at - timedelta(seconds=10)
        db.session.commit()
    body = {"seq": 1, "position": 10, "intervals": [[0, 10]], "played_seconds": 9.5}
    answer = api(f"/api/playback/{session_id}/progress", body).get_json()
    assert answer["credited"] == pytest.approx(10.0)
    assert answer["training_seconds"] == pytest.approx(9.5)
    assert answer["session_training_seconds"] == pytest.approx(9.5)
    assert answer["recorded_seconds"] == 9


@pytest.mark.parametrize("played_seconds", [-1, "10", True, 1e12, [1], {"s": 1}])
def test_invalid_played_seconds_are_400_and_write_nothing(app, api, video_lesson, played_seconds):
    session_id = api(f"/api/lessons/{video_lesson(40.0)}/playback").get_json()["session_id"]
    body = {"seq": 1, "position": 1, "intervals": [[0, 1]], "played_seconds": played_seconds}
    response = api(f"/api/playback/{session_id}/progress", body)
    assert response.status_code == 400
    assert response.get_json()["details"][0]["field"] == "played_seconds"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LessonProgress.id))) == 0


def test_played_seconds_may_be_left_out_or_null(api, video_lesson):
    lesson_id = video_lesson(40.0)
    for extra in ({}, {"played_seconds": None}, {"played_seconds": 0}):
        session_id = api(f"/api/lessons/{lesson_id}/playback").get_json()["session_id"]
        body = {"seq": 1, "position": 0, "intervals": [], **extra}
        assert api(f"/api/playback/{session_id}/progress", body).status_code == 200


def test_played_seconds_in_zh_cn_pages_too(app, learner, course, video_lesson):
    """The API speaks the same JSON whatever the page's language."""
    browser = Client(app.test_client())
    browser.raw.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    browser.login(learner.email)
    browser.post(course_url(course) + "enroll")
    token = browser.csrf()
    lesson_id = video_lesson(40.0)
    opened = browser.raw.post(
        f"/api/lessons/{lesson_id}/playback", headers={"X-CSRFToken": token}
    ).get_json()
    assert (opened["max_rate"], opened["report_every"]) == (2.0, 10)
    bad = browser.raw.post(
        f"/api/playback/{opened['session_id']}/progress",
        json={"seq": 1, "position": 0, "intervals": [], "played_seconds": -5},
        headers={"X-CSRFToken": token},
    )
    assert bad.status_code == 400


# -- listed minutes from the probed duration --------------------------------------------------


def test_attaching_a_ready_video_lists_its_probed_minutes(app, trainer, course):
    with app.test_request_context():
        lesson = video_lessons_of(course.id)[0]
        lesson.minutes = 25  # typed by hand
        user = db.session.get(User, trainer.id)
        load_path(lesson, "module", "course")
        course = lesson.module.course  # held: the commits below expire the lesson
        course.owner_id = user.id  # the trainer's own course
        db.session.commit()
        authoring.attach_media(user, lesson, fake_video(40.0))
        assert lesson.minutes == 1
        authoring.attach_media(user, lesson, fake_video(150.0))
        assert lesson.minutes == 3  # 2.5 minutes: halves round up
        authoring.update(user, course, lesson, {"minutes": 60})
        assert lesson.minutes == 3  # the video's length, not a typed number
        authoring.attach_media(user, lesson, fake_video(600.0, status="processing"))
        assert lesson.minutes == 3  # not probed yet: processing sets it
        authoring.attach_media(user, lesson, None)
        authoring.update(user, course, lesson, {"minutes": 12})
        assert lesson.minutes == 12  # no video: the trainer's number


@pytest.mark.parametrize(
    ("seconds", "minutes"), [(1, 1), (29, 1), (40, 1), (89, 1), (90, 2), (3599, 60)]
)
def test_listed_minutes(seconds, minutes):
    assert authoring.listed_minutes(seconds) == minutes


# -- hours are shown with one decimal ---------------------------------------------------------


def test_training_hours_are_shown_with_one_decimal(app, client, learner, organizer, watcher):
    """A 40-second lesson and six minutes of video: 0.1 h on the dashboard, the archive and
    the hours report, not 0 and not 0.10000000000000001."""
    today = hours.local_day(datetime.now(UTC))
    with app.app_context():
        for key, seconds in (("forty", 40), ("six-minutes", 320)):
            hours.add(key=key, user_id=learner.id, source="video", seconds=seconds, day=today)
        db.session.commit()
    client.login(learner.email)
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert '<p class="stat-value">0.1 <span class="muted small">/ 12 h</span></p>' in dashboard
    archive = client.get("/archive", follow_redirects=True).get_data(as_text=True)
    assert '<span class="stat-value">0.1 <span class="muted small">/ 12 h</span>' in archive
    client.logout()
    client.login(organizer.email)
    report = client.get(f"/reports/hours?month={today:%Y-%m}").get_data(as_text=True)
    assert "<td>0.1</td>" in report
