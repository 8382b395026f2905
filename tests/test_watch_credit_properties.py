"""Property tests of watch credit, through the service on the test's database (SQLite, or
PostgreSQL with LMS_DATABASE_URL): each example is a fresh learner whose reports are sent at
times hypothesis chooses (``now=``)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lms.extensions import db
from lms.models import TrainingTime
from tests.conftest import video_lessons_of
from tests.test_watch_credit import EPS, MAX_RATE, SLACK, WINDOW, fake_video, new_watcher

DURATION = 600.0
ROUNDED = 5e-4 + EPS  # answers are rounded to milliseconds
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def lessons(app, course) -> tuple[int, int]:
    """Two video lessons of ten minutes each."""
    with app.app_context():
        first, second = video_lessons_of(course.id)[:2]
        first.media, second.media = fake_video(DURATION), fake_video(DURATION)
        db.session.commit()
        return first.id, second.id


# A player's life: (paused seconds before, seconds played, playback rate) per report; the
# player reports at most every 10 s while playing, as ours does.
honest_steps = st.lists(
    st.tuples(
        st.one_of(st.just(0.0), st.floats(0, 3600)),
        st.floats(0.5, 10),
        st.sampled_from([0.5, 1.0, 1.25, 1.5, 2.0]),
    ),
    min_size=1,
    max_size=8,
)


def play_honestly(watcher, lesson_id: int, steps, with_pauses: bool) -> list[dict]:
    session = watcher.open(lesson_id)
    clock = played = position = 0.0
    answers = []
    for paused, seconds, rate in steps:
        clock += (paused if with_pauses else 0.0) + seconds
        played += seconds
        end = min(DURATION, position + rate * seconds)
        intervals = [[0.0, end]] if end > 0 else []
        position = end
        answers.append(watcher.report(session, clock, intervals, played_seconds=played))
    return answers


@PROPERTY
@given(steps=honest_steps)
def test_paused_time_never_adds_credit(app, lessons, steps):
    """Before the first report or between reports: an honest player earns exactly the time
    it played and the video it covered, paused or not."""
    paused = play_honestly(new_watcher(app), lessons[0], steps, with_pauses=True)
    straight = play_honestly(new_watcher(app), lessons[0], steps, with_pauses=False)
    played = sum(seconds for _, seconds, _ in steps)
    covered = min(DURATION, sum(seconds * rate for _, seconds, rate in steps))
    for answers in (paused, straight):
        assert answers[-1]["session_training_seconds"] == pytest.approx(played, abs=1e-3)
        assert answers[-1]["covered_seconds"] == pytest.approx(covered, abs=1e-3)
    for with_pause, without in zip(paused, straight, strict=True):
        assert with_pause["training_seconds"] == pytest.approx(without["training_seconds"])
        assert with_pause["credited"] == pytest.approx(without["credited"])


# Anything a client may send: (seconds since the previous report, intervals, played_seconds
# or None, a seq step: 1 next, 0 a replay, -1 an older one).
interval = st.tuples(st.floats(0, DURATION - 1), st.floats(0.01, 120)).map(
    lambda pair: [pair[0], min(DURATION, pair[0] + pair[1])]
)
any_report = st.tuples(
    st.one_of(st.floats(0, 30), st.floats(0, 3600)),
    st.lists(interval, max_size=4),
    st.one_of(st.none(), st.floats(0, 5000)),
    st.sampled_from([1, 1, 1, 0, -1]),
)


@PROPERTY
@given(reports=st.lists(any_report, min_size=1, max_size=10))
def test_each_report_is_capped_by_the_window(app, lessons, reports):
    """Whatever is claimed: a report earns at most max_rate × (min(Δwall, window) + slack) of
    video and min(Δwall, window) + slack of time, Δwall being the time since the session's
    previous acknowledged report (or its opening), and no more time than played_seconds grew."""
    watcher = new_watcher(app)
    session = watcher.open(lessons[0])
    clock = last_acknowledged = acknowledged_played = 0.0
    seq, top = 0, -1  # the session's last_seq starts at -1
    for gap, intervals, played_seconds, step in reports:
        clock += gap
        seq = max(0, seq + step)
        answer = watcher.report(session, clock, intervals, played_seconds, seq=seq)
        window = min(clock - last_acknowledged, WINDOW) + SLACK
        assert answer["training_seconds"] <= window + ROUNDED
        assert answer["credited"] <= MAX_RATE * window + ROUNDED
        if seq <= top:  # a replay or an older report
            assert (answer["training_seconds"], answer["credited"]) == (0, 0)
            continue
        if played_seconds is not None:
            gained = max(0, played_seconds - acknowledged_played)
            assert answer["training_seconds"] <= gained + ROUNDED
            acknowledged_played = max(acknowledged_played, played_seconds)
        top, last_acknowledged = seq, clock


@PROPERTY
@given(
    reports=st.lists(
        st.tuples(st.booleans(), st.floats(0, 20), st.lists(interval, max_size=3), st.floats(0, 9)),
        min_size=1,
        max_size=14,
    ),
    offset=st.floats(0, 30),
    one_lesson=st.booleans(),
)
def test_two_sessions_never_double_the_time(app, lessons, reports, offset, one_lesson):
    """Two playback sessions of one learner, reporting in any order and claiming anything:
    together they earn no more time than the wall clock since the first opened, plus one
    slack, and no more video than the maximum rate allows over that time."""
    watcher = new_watcher(app)
    first = watcher.open(lessons[0], at=0.0)
    second = watcher.open(lessons[0] if one_lesson else lessons[1], at=offset)
    clock = offset
    played = {first: 0.0, second: 0.0}
    for use_first, gap, intervals, more in reports:
        session = first if use_first else second
        clock += gap
        played[session] += more + gap  # claims more than it could have played
        watcher.report(session, clock, intervals, played_seconds=played[session])
    sessions = watcher.sessions()
    training = sum(row.training_seconds for row in sessions.values())
    covered = sum(row.credited_seconds for row in sessions.values())
    assert training <= clock + SLACK + EPS * len(reports)
    assert covered <= MAX_RATE * (clock + SLACK) + EPS * len(reports)


@PROPERTY
@given(
    steps=honest_steps,
    replays=st.lists(st.tuples(st.integers(0, 7), st.integers(1, 3), st.floats(0, 1)), max_size=6),
)
def test_replays_are_idempotent(app, lessons, steps, replays):
    """Replaying acknowledged reports, at any time between the later ones, changes nothing:
    not the answers of the reports that follow, nor the coverage, the time or the ledger."""
    plain = new_watcher(app)
    expected = play_honestly(plain, lessons[0], steps, with_pauses=True)

    replayed = new_watcher(app)
    session = replayed.open(lessons[0])
    clock = played = position = 0.0
    sent: list[tuple] = []
    for index, (paused, seconds, rate) in enumerate(steps):
        gap = paused + seconds
        due = sorted((f, w) for w, later, f in replays if w < len(sent) and w + later == index)
        for fraction, which in due:  # a retry of an earlier report, before this one
            intervals, seconds_played, seq = sent[which]
            answer = replayed.report(
                session, clock + fraction * gap, intervals, seconds_played, seq=seq
            )
            assert (answer["credited"], answer["training_seconds"]) == (0, 0)
        clock += gap
        played += seconds
        position = min(DURATION, position + rate * seconds)
        sent.append(([[0.0, position]], played, index + 1))
        assert replayed.report(session, clock, [[0.0, position]], played) == expected[index]
    assert [seconds for _, seconds in replayed.ledger()] == [s for _, s in plain.ledger()]


@PROPERTY
@given(reports=st.lists(any_report, min_size=1, max_size=10), honest=honest_steps)
def test_the_ledger_holds_exactly_the_acknowledged_seconds(app, lessons, reports, honest):
    """The ledger's total is the sum of what the answers said was recorded, which is every
    session's training time without its fraction of a second: nothing rounded to minutes."""
    watcher = new_watcher(app)
    session = watcher.open(lessons[0])
    clock = 0.0
    seq = 0
    for gap, intervals, played_seconds, step in reports:
        clock += gap
        seq = max(0, seq + step)
        watcher.report(session, clock, intervals, played_seconds, seq=seq)
    play_honestly(watcher, lessons[1], honest, with_pauses=True)

    recorded = sum(answers[-1]["recorded_seconds"] for answers in watcher.answers.values())
    ledger = watcher.ledger()
    assert sum(seconds for _, seconds in ledger) == recorded
    assert all(seconds > 0 for _, seconds in ledger)
    assert len({key for key, _ in ledger}) == len(ledger)
    for row in watcher.sessions().values():
        assert 0 <= row.training_seconds - row.ledger_seconds < 1
    with app.app_context():
        total = db.session.scalar(
            db.select(db.func.sum(TrainingTime.seconds)).filter_by(user_id=watcher.user_id)
        )
    assert (total or 0) == recorded
