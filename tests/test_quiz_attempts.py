"""Taking a quiz through the pages and the autosave endpoint: attempts, bad input, time
limits, review, completion, regrades and concurrency (both engines)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from lms.extensions import db
from lms.models import (
    AttemptItem,
    AttemptRegrade,
    Certificate,
    Enrollment,
    Lesson,
    LessonProgress,
    Module,
    Question,
    Quiz,
    QuizAttempt,
    User,
)
from lms.models._base import utcnow
from lms.services import enrollment
from lms.services.quiz import attempts, bank
from tests.conftest import CSRF, Client
from tests.quiz_helpers import quiz_lesson, right_answers
from tests.test_plugins import plugin


@pytest.fixture
def quiz(app, course):
    """(lesson id, question ids) of a quiz lesson in the Startup Growth course."""
    with app.app_context():
        return quiz_lesson(course.id)


@pytest.fixture
def taker(app, client, learner, course):
    """The learner, logged in and enrolled."""
    with app.app_context():
        enrollment.enroll(db.session.get(User, learner.id), db.session.get(type(course), course.id))
    client.login(learner.email)
    return client


def lesson_page(course) -> str:
    return f"/camps/{course.camp.slug}/{course.slug}/lessons/check"


def token_of(client: Client, url: str) -> str:
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


def start(client: Client, lesson_id: int) -> int:
    response = client.post(f"/quiz/lessons/{lesson_id}/attempts")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def save(client: Client, attempt_id: int, answers: object, raw: bytes | None = None):
    token = client.csrf()
    body = raw if raw is not None else json.dumps({"answers": answers}).encode()
    return client.raw.post(
        f"/quiz/attempts/{attempt_id}/answers",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )


def submit_json(client: Client, attempt_id: int, answers: object | None = None):
    return client.raw.post(
        f"/quiz/attempts/{attempt_id}/submit",
        data=json.dumps({"answers": answers or {}}),
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf()},
    )


def keys_here(question_ids) -> dict[int, tuple[str, dict]]:
    """The questions' kinds and keys (in an app context)."""
    found = [db.session.get(Question, i) for i in question_ids]
    return {q.id: (q.kind, q.key) for q in found}


def keys(app, question_ids) -> dict[int, tuple[str, dict]]:
    with app.app_context():
        return keys_here(question_ids)


def stored(app, attempt_id: int) -> QuizAttempt:
    with app.app_context():
        found = db.session.get(QuizAttempt, attempt_id)
        db.session.expunge(found)
        return found


# -- taking ----------------------------------------------------------------------------------


def test_the_page_and_the_attempt_never_carry_the_answers(app, taker, course, quiz):
    lesson_id, ids = quiz
    page = taker.get(lesson_page(course)).get_data(as_text=True)
    assert "Start the quiz" in page
    attempt_id = start(taker, lesson_id)
    html = taker.get(f"/quiz/attempts/{attempt_id}").get_data(as_text=True)
    assert "What do start-ups run out of first?" in html
    for secret in ("fraction", "Cash is king", "minimum viable product", "No: it tests"):
        assert secret not in html
    # The save endpoint's JSON answer says nothing about right or wrong either.
    layout = {e["question"]: e["options"] for e in stored(app, attempt_id).layout}
    answer = save(taker, attempt_id, {str(ids[0]): layout[ids[0]][0]})
    assert set(answer.get_json()) == {"saved_at", "seconds_left"}


def test_each_attempt_draws_its_own_option_order(app, taker, course, quiz):
    lesson_id, _ids = quiz
    with app.app_context():
        db.session.get(Quiz, lesson_id).max_attempts = None
        db.session.commit()
    orders = set()
    for _ in range(6):
        attempt_id = start(taker, lesson_id)
        layout = stored(app, attempt_id).layout
        orders.add(tuple(tuple(entry["options"]) for entry in layout))
        assert submit_json(taker, attempt_id).status_code == 200
    assert len(orders) > 1


def test_a_reload_keeps_what_was_saved(app, taker, course, quiz):
    lesson_id, ids = quiz
    attempt_id = start(taker, lesson_id)
    assert (
        save(taker, attempt_id, {str(ids[3]): "最小 可行 产品", str(ids[2]): False}).status_code
        == 200
    )
    html = taker.get(f"/quiz/attempts/{attempt_id}").get_data(as_text=True)
    assert 'value="最小 可行 产品"' in html
    assert 'value="false" checked' in html
    # Starting again resumes the open attempt instead of opening a second one.
    assert start(taker, lesson_id) == attempt_id


def test_passing_completes_the_lesson_and_the_course(app, taker, learner, course, quiz):
    lesson_id, ids = quiz
    with app.app_context():  # every other required lesson is done already
        user = db.session.get(User, learner.id)
        for lesson in db.session.scalars(
            db.select(Lesson)
            .join(Module)
            .where(Module.course_id == course.id, Lesson.id != lesson_id)
        ):
            db.session.add(
                LessonProgress(user_id=user.id, lesson_id=lesson.id, completed_at=utcnow())
            )
        db.session.commit()
    attempt_id = start(taker, lesson_id)
    answers = right_answers(keys(app, ids))
    assert save(taker, attempt_id, answers).status_code == 200
    response = taker.post(f"/quiz/attempts/{attempt_id}/submit")
    assert response.status_code == 302
    result = taker.get(f"/quiz/attempts/{attempt_id}").get_data(as_text=True)
    assert "100%" in result and "Passed" in result
    assert "Cash is king" in result  # the review, after the attempt
    with app.app_context():
        progress = db.session.scalar(
            db.select(LessonProgress).filter_by(user_id=learner.id, lesson_id=lesson_id)
        )
        assert progress.completed_at is not None
        assert (
            db.session.scalar(db.select(Enrollment).filter_by(user_id=learner.id)).status
            == "completed"
        )
        assert db.session.scalar(db.select(Certificate).filter_by(user_id=learner.id)) is not None


def test_a_failed_attempt_neither_completes_nor_blocks_a_retake(app, taker, learner, quiz):
    lesson_id, _ids = quiz
    attempt_id = start(taker, lesson_id)
    assert submit_json(taker, attempt_id).get_json() == {
        "status": "submitted",
        "score": 0.0,
        "passed": False,
    }
    with app.app_context():
        assert db.session.scalar(db.select(LessonProgress).filter_by(lesson_id=lesson_id)) is None
    assert start(taker, lesson_id) != attempt_id


def test_a_double_submit_counts_once(app, taker, quiz):
    lesson_id, ids = quiz
    attempt_id = start(taker, lesson_id)
    answers = right_answers(keys(app, ids))
    first = submit_json(taker, attempt_id, answers).get_json()
    second = submit_json(taker, attempt_id, {str(ids[2]): True}).get_json()
    assert first == second == {"status": "submitted", "score": 100.0, "passed": True}
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(AttemptItem)) == len(ids)


# -- bad input: 4xx and nothing written ------------------------------------------------------


@pytest.mark.parametrize(
    "answers",
    [
        {"999999": "x"},  # unknown question
        {"QUESTION0": "no-such-option"},  # unknown option
        {"QUESTION1": ["OPTION1", "OPTION1"]},  # an option twice
        {"QUESTION4": "NaN"},
        {"QUESTION4": "Infinity"},
        {"QUESTION3": "x" * 501},  # oversized answer
        {"QUESTION2": "yes"},
        {"QUESTION5": ["seed", "a"]},  # not every item
        [],
    ],
)
def test_invalid_answers_are_refused_and_nothing_is_written(app, taker, quiz, answers):
    lesson_id, ids = quiz
    attempt_id = start(taker, lesson_id)
    layout = stored(app, attempt_id).layout
    option = {entry["question"]: entry["options"] for entry in layout}
    text = json.dumps(answers)
    for n, qid in enumerate(ids):
        text = text.replace(f"QUESTION{n}", str(qid))
    text = text.replace("OPTION1", option[ids[1]][0])
    assert save(taker, attempt_id, None, raw=f'{{"answers": {text}}}'.encode()).status_code == 400
    assert stored(app, attempt_id).answers == {}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_the_json_are_refused(app, taker, quiz, literal):
    lesson_id, ids = quiz
    attempt_id = start(taker, lesson_id)
    body = f'{{"answers": {{"{ids[4]}": {literal}}}}}'.encode()
    assert save(taker, attempt_id, None, raw=body).status_code == 400
    assert stored(app, attempt_id).answers == {}


def test_an_oversized_body_is_refused(app, taker, quiz):
    lesson_id, ids = quiz
    attempt_id = start(taker, lesson_id)
    body = json.dumps({"answers": {str(ids[3]): "长" * 70000}}).encode()
    assert save(taker, attempt_id, None, raw=body).status_code == 413
    assert stored(app, attempt_id).answers == {}


def test_another_learner_s_attempt_answers_like_an_unknown_one(app, taker, quiz, make_user, course):
    lesson_id, ids = quiz
    attempt_id = start(taker, lesson_id)
    other = make_user("rival@example.com")
    with app.app_context():
        enrollment.enroll(db.session.get(User, other.id), db.session.get(type(course), course.id))
    rival = Client(app.test_client())
    rival.login(other.email)
    assert save(rival, attempt_id, {str(ids[2]): True}).status_code == 404
    assert save(rival, 2**31 - 2, {str(ids[2]): True}).status_code == 404
    assert rival.get(f"/quiz/attempts/{attempt_id}").status_code == 404
    assert rival.post(f"/quiz/attempts/{attempt_id}/submit").status_code == 404
    found = stored(app, attempt_id)
    assert found.answers == {} and found.status == "open"


def test_answers_after_submission_are_refused(app, taker, quiz):
    lesson_id, ids = quiz
    attempt_id = start(taker, lesson_id)
    submit_json(taker, attempt_id)
    assert save(taker, attempt_id, {str(ids[2]): False}).status_code == 409
    assert stored(app, attempt_id).answers == {}


def test_learners_not_enrolled_cannot_start(app, client, make_user, quiz):
    lesson_id, _ids = quiz
    stranger = make_user("stranger@example.com")
    client.login(stranger.email)
    assert client.post(f"/quiz/lessons/{lesson_id}/attempts").status_code == 404
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(QuizAttempt)) == 0


def test_more_attempts_than_allowed_are_refused(app, taker, quiz):
    lesson_id, _ids = quiz
    with app.app_context():
        db.session.get(Quiz, lesson_id).max_attempts = 1
        db.session.commit()
    submit_json(taker, start(taker, lesson_id))
    assert taker.post(f"/quiz/lessons/{lesson_id}/attempts").status_code == 409
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(QuizAttempt)) == 1


# -- time limits -----------------------------------------------------------------------------


def age(app, attempt_id: int, minutes: float) -> None:
    """Move an attempt's start and deadline into the past."""
    with app.app_context():
        found = db.session.get(QuizAttempt, attempt_id)
        found.started_at -= timedelta(minutes=minutes)
        found.deadline_at -= timedelta(minutes=minutes)
        db.session.commit()


def test_the_server_enforces_the_time_limit(app, taker, quiz):
    lesson_id, ids = quiz
    with app.app_context():
        db.session.get(Quiz, lesson_id).time_limit_minutes = 10
        db.session.commit()
    attempt_id = start(taker, lesson_id)
    page = taker.get(f"/quiz/attempts/{attempt_id}").get_data(as_text=True)
    assert 'data-seconds-left="' in page
    answers = right_answers(keys(app, ids))
    assert save(taker, attempt_id, {str(ids[2]): answers[str(ids[2])]}).status_code == 200
    age(app, attempt_id, 11)
    assert save(taker, attempt_id, answers).status_code == 409  # too late: nothing written
    assert taker.get(f"/quiz/attempts/{attempt_id}").status_code == 200  # a GET writes nothing
    assert stored(app, attempt_id).status == "open"
    result = submit_json(taker, attempt_id, answers).get_json()  # the late answers are not taken
    assert result["status"] == "submitted"
    found = stored(app, attempt_id)
    assert found.submitted_by == "server"
    assert found.score == pytest.approx(100 / 6)


def test_overdue_attempts_are_submitted_by_the_scheduled_task(app, taker, quiz):
    lesson_id, ids = quiz
    with app.app_context():
        db.session.get(Quiz, lesson_id).time_limit_minutes = 5
        db.session.commit()
    attempt_id = start(taker, lesson_id)
    save(taker, attempt_id, {str(ids[2]): False})
    with app.app_context():
        assert attempts.submit_overdue(utcnow()) == 0
    age(app, attempt_id, 6)
    with app.test_request_context():
        assert attempts.submit_overdue(utcnow()) == 1
        assert attempts.submit_overdue(utcnow()) == 0
    found = stored(app, attempt_id)
    assert (found.status, found.submitted_by) == ("submitted", "server")
    assert found.score == pytest.approx(100 / 6)


def test_starting_again_submits_an_overdue_attempt_first(app, taker, quiz):
    lesson_id, _ids = quiz
    with app.app_context():
        db.session.get(Quiz, lesson_id).time_limit_minutes = 5
        db.session.commit()
    first = start(taker, lesson_id)
    age(app, first, 6)
    second = start(taker, lesson_id)
    assert second != first
    assert stored(app, first).submitted_by == "server"


# -- review policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "shown"), [("after_attempt", True), ("after_pass", False), ("never", False)]
)
def test_review_follows_the_quiz_setting(app, taker, quiz, policy, shown):
    lesson_id, _ids = quiz
    with app.app_context():
        db.session.get(Quiz, lesson_id).review = policy
        db.session.commit()
    attempt_id = start(taker, lesson_id)
    submit_json(taker, attempt_id)
    page = taker.get(f"/quiz/attempts/{attempt_id}").get_data(as_text=True)
    assert "0%" in page
    assert ("Cash is king" in page) is shown
    assert ("right answer" in page) is shown


def test_after_pass_review_opens_once_passed(app, taker, quiz):
    lesson_id, ids = quiz
    with app.app_context():
        db.session.get(Quiz, lesson_id).review = "after_pass"
        db.session.commit()
    failed = start(taker, lesson_id)
    submit_json(taker, failed)
    passed = start(taker, lesson_id)
    submit_json(taker, passed, right_answers(keys(app, ids)))
    assert "Cash is king" in taker.get(f"/quiz/attempts/{passed}").get_data(as_text=True)


# -- mastery, hooks, regrades ----------------------------------------------------------------


def test_mastery_passes_on_m_of_the_last_n(app, taker, quiz):
    lesson_id, ids = quiz
    with app.app_context():
        found = db.session.get(Quiz, lesson_id)
        found.mastery_m, found.mastery_n, found.shuffle = 3, 4, False
        db.session.commit()
    answers = right_answers(keys(app, ids))
    first = start(taker, lesson_id)  # the last four: truefalse, short, numeric, ordering
    assert (
        submit_json(taker, first, {str(ids[0]): answers[str(ids[0])]}).get_json()["passed"] is False
    )
    second = start(taker, lesson_id)
    some = {str(q): answers[str(q)] for q in ids[3:]}  # the last three right
    assert submit_json(taker, second, some).get_json()["passed"] is True


def lms_quiz_submitted(attempt):
    HEARD.append((attempt.score, attempt.passed, len(attempt.items)))


HEARD: list = []


def test_plugins_hear_of_each_submitted_attempt_once(make_app, course, learner):
    HEARD.clear()
    app = make_app(EXTRA_PLUGINS={"ear": plugin(lms_quiz_submitted, name="ear")})
    with app.test_request_context():
        lesson_id, ids = quiz_lesson(course.id)
        user = db.session.get(User, learner.id)
        row, _ = enrollment.enroll(user, db.session.get(type(course), course.id))
        attempt = attempts.start(user, db.session.get(Lesson, lesson_id), row)
        attempts.submit(attempt, user, right_answers(keys_here(ids)))
        attempts.submit(attempt, user)
    assert HEARD == [(100.0, True, 6)]


def test_a_corrected_key_regrades_attempts_and_is_audited(app, taker, trainer, quiz):
    lesson_id, ids = quiz
    attempt_id = start(taker, lesson_id)
    submit_json(taker, attempt_id, {str(ids[2]): True})  # wrong under the key: False
    assert stored(app, attempt_id).score == 0.0
    with app.test_request_context():
        question = db.session.get(Question, ids[2])
        spec = bank.as_spec(question)
        spec["answer"] = True  # the trainer corrects the key
        assert bank.update_question(question, spec) is True
        db.session.commit()
        assert attempts.regrade(question, db.session.get(User, trainer.id)) == 1
        assert attempts.regrade(question, None) == 0  # nothing left to regrade
        audit = db.session.scalars(db.select(AttemptRegrade)).all()
        assert [(a.old_score, round(a.new_score, 3), a.by_id) for a in audit] == [
            (0.0, round(100 / 6, 3), trainer.id)
        ]
    assert stored(app, attempt_id).score == pytest.approx(100 / 6)


# -- concurrency -----------------------------------------------------------------------------


def in_parallel(app, count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def browser_of(app, taker: Client) -> Client:
    other = Client(app.test_client())
    other.raw.set_cookie("session", taker.raw.get_cookie("session").value)
    return other


def test_two_tabs_submitting_the_same_attempt_count_once(app, taker, quiz):
    lesson_id, ids = quiz
    attempt_id = start(taker, lesson_id)
    answers = right_answers(keys(app, ids))
    tabs = [browser_of(app, taker) for _ in range(4)]
    token = taker.csrf()

    def submit(index: int):
        return (
            tabs[index]
            .raw.post(
                f"/quiz/attempts/{attempt_id}/submit",
                data=json.dumps({"answers": answers}),
                content_type="application/json",
                headers={"X-CSRFToken": token},
            )
            .get_json()
        )

    results = in_parallel(app, 4, submit)
    assert all(r == {"status": "submitted", "score": 100.0, "passed": True} for r in results), (
        results
    )
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(AttemptItem)) == len(ids)
        assert db.session.scalar(db.select(db.func.count()).select_from(LessonProgress)) == 1


def test_two_starts_at_once_with_one_attempt_left_make_one_attempt(app, taker, quiz):
    lesson_id, _ids = quiz
    with app.app_context():
        db.session.get(Quiz, lesson_id).max_attempts = 2
        db.session.commit()
    submit_json(taker, start(taker, lesson_id))
    tabs = [browser_of(app, taker) for _ in range(4)]
    token = taker.csrf()
    statuses = in_parallel(
        app,
        4,
        lambda i: (
            tabs[i]
            .raw.post(f"/quiz/lessons/{lesson_id}/attempts", data={"csrf_token": token})
            .status_code
        ),
    )
    assert set(statuses) == {302}  # the same open attempt for every tab
    with app.app_context():
        rows = db.session.scalars(db.select(QuizAttempt).order_by(QuizAttempt.number)).all()
        assert [r.number for r in rows] == [1, 2]


def test_a_regrade_while_learners_submit_misses_no_attempt(app, quiz, make_user, course, trainer):
    lesson_id, ids = quiz
    learners = []
    with app.app_context():
        for n in range(6):
            user = make_user(f"l{n}@example.com")
            row, _ = enrollment.enroll(
                db.session.get(User, user.id), db.session.get(type(course), course.id)
            )
            learners.append((user.id, row.id))

    def work(index: int):
        with app.test_request_context():
            if index == len(learners):  # the trainer corrects the true/false key
                question = db.session.get(Question, ids[2])
                spec = bank.as_spec(question)
                spec["answer"] = True
                bank.update_question(question, spec)
                db.session.commit()
                return attempts.regrade(question, db.session.get(User, trainer.id))
            user_id, enrollment_id = learners[index]
            user = db.session.get(User, user_id)
            attempt = attempts.start(
                user, db.session.get(Lesson, lesson_id), db.session.get(Enrollment, enrollment_id)
            )
            attempts.submit(attempt, user, {str(ids[2]): True})
            return None

    in_parallel(app, len(learners) + 1, work)
    with app.app_context():
        question = db.session.get(Question, ids[2])
        items = db.session.scalars(db.select(AttemptItem).filter_by(question_id=ids[2])).all()
        assert len(items) == len(learners)
        assert all(item.fraction == 1.0 and item.version == question.version for item in items)
        scores = db.session.scalars(db.select(QuizAttempt.score)).all()
        assert all(score == pytest.approx(100 / 6) for score in scores)
