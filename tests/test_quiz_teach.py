"""Trainers author: the question bank, quiz settings, GIFT import and export, reports and the
item analysis."""

from __future__ import annotations

import csv
import io
import statistics

import pytest

from lms.extensions import db
from lms.models import AttemptItem, Lesson, Question, Quiz, QuizAttempt, User
from lms.services import enrollment
from lms.services.quiz import attempts, bank, item_analysis
from tests.quiz_helpers import quiz_lesson


@pytest.fixture
def editor(client, organizer):
    client.login(organizer.email)
    return client


def bank_count(app, course_id: int) -> int:
    """Questions added in the app (the curriculum's own have a slug)."""
    with app.app_context():
        return db.session.scalar(
            db.select(db.func.count())
            .select_from(Question)
            .filter_by(course_id=course_id, slug=None)
        )


SINGLE = {
    "kind": "single",
    "text_zh": "现金流量表反映什么？",
    "text_en": "What does the cash-flow statement show?",
    "choices_zh": "*现金的流入与流出 # 对\n利润\n资产",
    "choices_en": "*Cash in and out # Right\nProfit\nAssets",
    "points": "2",
    "tags": "财务, basics",
}


def test_a_trainer_adds_a_question_from_plain_lines(app, editor, course):
    response = editor.post(f"/teach/courses/{course.id}/questions", SINGLE)
    assert response.status_code == 302
    with app.app_context():
        question = db.session.scalar(db.select(Question).filter_by(course_id=course.id, slug=None))
        assert question.kind == "single" and question.points == 2.0
        assert question.tags == ["basics", "财务"]
        options = question.key["options"]
        assert [o["fraction"] for o in options] == [1.0, 0.0, 0.0]
        assert options[0]["feedback"] == {"zh": "对", "en": "Right"}
    page = editor.get(f"/teach/courses/{course.id}/questions").get_data(as_text=True)
    assert "What does the cash-flow statement show?" in page


@pytest.mark.parametrize(
    "changes",
    [
        {"choices_zh": "现金\n利润", "choices_en": "Cash\nProfit"},  # no right choice marked
        {"choices_en": "*Cash in and out\nProfit"},  # a line missing in English
        {"text_zh": "", "text_en": ""},
        {"kind": "numeric"},  # no number
        {"points": "0"},
        {"kind": "nonsense"},
    ],
)
def test_invalid_questions_are_refused_and_nothing_is_added(app, editor, course, changes):
    response = editor.post(f"/teach/courses/{course.id}/questions", {**SINGLE, **changes})
    assert response.status_code == 400
    assert bank_count(app, course.id) == 0


def test_other_trainers_cannot_touch_the_bank(app, client, trainer, course):
    client.login(trainer.email)
    assert client.get(f"/teach/courses/{course.id}/questions").status_code == 403
    assert client.post(f"/teach/courses/{course.id}/questions", SINGLE).status_code == 403
    assert bank_count(app, course.id) == 0


def quiz_taken(course, learner) -> tuple[list[int], int]:
    """In a request context: a quiz lesson of ``course`` that ``learner`` submitted once,
    answering only the true/false question (true); (question ids, attempt id)."""
    lesson_id, ids = quiz_lesson(course.id)
    user = db.session.get(User, learner.id)
    row, _ = enrollment.enroll(user, db.session.get(type(course), course.id))
    attempt = attempts.start(user, db.session.get(Lesson, lesson_id), row)
    attempts.submit(attempt, user, {str(ids[2]): True})
    return ids, attempt.id


def test_correcting_a_key_regrades_through_the_editor(app, editor, course, learner):
    with app.test_request_context():
        ids, attempt_id = quiz_taken(course, learner)
    page = editor.get(f"/teach/questions/{ids[2]}").get_data(as_text=True)
    assert "MVP" in page
    response = editor.post(
        f"/teach/questions/{ids[2]}",
        {"kind": "truefalse", "text_zh": "MVP 要做到功能完整。", "truth": "true", "points": "1"},
        follow_redirects=True,
    )
    assert "1 submitted attempts were regraded" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(QuizAttempt, attempt_id).score == pytest.approx(100 / 6)


def test_quiz_settings_fixed_random_and_mastery(app, editor, course):
    with app.app_context():
        lesson_id, ids = quiz_lesson(course.id)
    url = f"/teach/lessons/{lesson_id}/quiz"
    assert "Quiz settings" in editor.get(url).get_data(as_text=True)
    chosen = [str(ids[0]), str(ids[2])]
    fixed = {"passing_score": "75", "max_attempts": "3", "time_limit_minutes": "20",
             "review": "after_pass", "selection": "fixed", "question_ids": chosen,
             "shuffle": "y"}  # fmt: skip
    assert editor.post(url, fixed).status_code == 302
    with app.app_context():
        quiz = db.session.get(Quiz, lesson_id)
        assert (quiz.passing_score, quiz.max_attempts, quiz.time_limit_minutes) == (75, 3, 20)
        assert quiz.question_ids == [ids[0], ids[2]] and quiz.review == "after_pass"
    drawn = {**fixed, "selection": "random", "draw_count": "2", "draw_tags": "finance"}
    assert editor.post(url, drawn).status_code == 302
    with app.app_context():
        quiz = db.session.get(Quiz, lesson_id)
        assert (quiz.draw_count, quiz.draw_tags, quiz.question_ids) == (2, ["finance"], [])
    for bad in (
        {**fixed, "mastery_m": "3"},  # m without n
        {**fixed, "mastery_m": "5", "mastery_n": "3"},
        {**fixed, "passing_score": "101"},
        {**fixed, "question_ids": ["999999"]},
        {**drawn, "draw_count": ""},
    ):
        assert editor.post(url, bad).status_code == 400, bad
    with app.app_context():
        assert db.session.get(Quiz, lesson_id).draw_count == 2  # unchanged


GIFT = """// tags: 财务
::Q1:: 初创企业最先耗尽的通常是什么？ {=现金 ~估值 ~团队}

MVP 要做到功能完整。{F}
"""


def test_gift_import_previews_then_imports_all(app, editor, course):
    url = f"/teach/courses/{course.id}/questions/import"
    preview = editor.post(url, {"gift": GIFT, "language": "zh"})
    assert preview.status_code == 200
    assert "初创企业最先耗尽的通常是什么？" in preview.get_data(as_text=True)
    assert bank_count(app, course.id) == 0  # a preview writes nothing
    done = editor.post(url, {"gift": GIFT, "language": "zh", "confirm": "y"})
    assert done.status_code == 302
    assert bank_count(app, course.id) == 2


def test_gift_import_with_an_error_imports_nothing(app, editor, course):
    url = f"/teach/courses/{course.id}/questions/import"
    broken = GIFT + "\n坏的 {=现金 ~估值\n"
    response = editor.post(url, {"gift": broken, "language": "zh", "confirm": "y"})
    assert response.status_code == 400
    assert "Line 6" in response.get_data(as_text=True)
    assert bank_count(app, course.id) == 0


def test_gift_export_is_read_back_whole(app, editor, course):
    with app.app_context():
        quiz_lesson(course.id)
    response = editor.get(f"/teach/courses/{course.id}/questions/export.gift?language=en")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert "What do start-ups run out of first?" in text
    url = f"/teach/courses/{course.id}/questions/import"
    assert editor.post(url, {"gift": text, "language": "en", "confirm": "y"}).status_code == 302
    assert bank_count(app, course.id) == 6 + 6 + 4  # the helper's, re-imported, the curriculum's


# -- reports ----------------------------------------------------------------------------------


def seed_attempts(app, course, make_user, scores: list[list[float]]) -> int:
    """Submitted attempts with the given per-question fractions (one list per learner)."""
    with app.test_request_context():
        lesson_id, _ids = quiz_lesson(course.id, shuffle=False)
        for n, fractions in enumerate(scores):
            user = db.session.get(User, make_user(f"r{n}@example.com").id)
            row, _ = enrollment.enroll(user, db.session.get(type(course), course.id))
            attempt = attempts.start(user, db.session.get(Lesson, lesson_id), row)
            attempts.submit(attempt, user)
            for item in db.session.scalars(db.select(AttemptItem).filter_by(attempt_id=attempt.id)):
                item.fraction = fractions[item.position]
            attempt.earned = sum(f for f in fractions)
            attempt.score = 100 * attempt.earned / 6
            attempt.passed = attempt.score >= 60
            db.session.commit()
        return lesson_id


SCORES = [
    [1, 1, 1, 1, 1, 0],
    [1, 1, 0, 1, 0, 0],
    [1, 0, 0, 0, 0, 1],
    [1, 1, 1, 1, 0.5, 0],
    [0, 0, 0, 1, 0, 1],
]


def test_item_analysis_matches_the_textbook_formulas(app, course, make_user):
    lesson_id = seed_attempts(app, course, make_user, SCORES)
    with app.test_request_context():
        report = item_analysis.report(db.session.get(Lesson, lesson_id))
    assert (report.attempts, report.learners, report.passed_learners) == (5, 5, 2)
    assert report.bands[8] == 1 and report.bands[3] == 2 and sum(report.bands) == 5
    totals = [sum(row) for row in SCORES]
    for item in report.items:
        column = [row[item.number - 1] for row in SCORES]
        assert item.facility == pytest.approx(100 * statistics.mean(column))
        rest = [t - x for t, x in zip(totals, column, strict=True)]
        expected = 100 * statistics.correlation(column, rest)
        assert item.discrimination == pytest.approx(expected)
    assert report.items[0].facility == 80.0


def first_question(lesson_id: int) -> int:
    return db.session.get(Quiz, lesson_id).question_ids[0]


def test_the_report_page_and_its_formula_safe_csv(app, editor, course, make_user):
    lesson_id = seed_attempts(app, course, make_user, SCORES)
    with app.app_context():
        question = db.session.get(Question, first_question(lesson_id))
        question.text_en = '=HYPERLINK("http://evil")'
        db.session.commit()
    page = editor.get(f"/reports/quizzes/{lesson_id}").get_data(as_text=True)
    assert "Item analysis" in page and "<svg" in page
    response = editor.get(f"/reports/quizzes/{lesson_id}/items.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][-2:] == ["Facility index (%)", "Discrimination index (%)"]
    assert rows[1][1].startswith("'=HYPERLINK")
    assert rows[1][4] == "80.0"


def test_reports_are_for_the_course_s_editors(client, trainer, course, app):
    with app.app_context():
        lesson_id, _ids = quiz_lesson(course.id)
    client.login(trainer.email)
    assert client.get(f"/reports/quizzes/{lesson_id}").status_code == 403
    assert client.get(f"/reports/quizzes/{lesson_id}/items.csv").status_code == 403


# -- the services behind the editor (issue 19: the views run no SQL) --------------------------


def test_a_bank_import_adds_all_questions_or_none(app, course):
    good = {"kind": "truefalse", "text": {"zh": "现金为王。", "en": ""}, "answer": True}
    with app.app_context():
        found = db.session.get(type(course), course.id)
        with pytest.raises(bank.QuestionError):
            bank.add_questions(found, [good, {**good, "kind": "nonsense"}])
        db.session.commit()  # whatever a caller commits next, the first one is not written
        assert bank_count(app, course.id) == 0
        added = bank.add_questions(found, [good, {**good, "answer": False}])
        assert [q.key["answer"] for q in added] == [True, False]
    assert bank_count(app, course.id) == 2


def test_a_live_question_is_one_still_in_the_bank(app, course):
    with app.app_context():
        _lesson_id, ids = quiz_lesson(course.id)
        question = bank.live_question(ids[0])
        assert question is not None and question.id == ids[0]
        bank.withdraw_question(question)
    with app.app_context():
        assert db.session.get(Question, ids[0]).archived_at is not None  # committed
        assert bank.live_question(ids[0]) is None
        assert bank.live_question(999999) is None


def test_revising_a_question_regrades_only_when_its_key_changes(app, course, learner):
    with app.test_request_context():
        ids, _attempt_id = quiz_taken(course, learner)
        user = db.session.get(User, learner.id)
        question = db.session.get(Question, ids[2])
        spec = bank.as_spec(question)
        assert attempts.revise_question(question, {**spec, "tags": ["改过"]}, user) == 0
        assert (
            attempts.revise_question(question, {**spec, "tags": ["改过"], "answer": True}, user)
            == 1
        )
        with pytest.raises(bank.QuestionError):
            attempts.revise_question(question, {**spec, "kind": "single"}, user)
    with app.app_context():
        stored = db.session.get(Question, ids[2])
        assert (
            stored.tags == ["改过"] and stored.key["answer"] is True and stored.kind == "truefalse"
        )


def test_saving_quiz_settings_commits_and_a_refusal_writes_nothing(app, course):
    with app.app_context():
        lesson_id, ids = quiz_lesson(course.id)
        lesson = db.session.get(Lesson, lesson_id)
        with pytest.raises(bank.QuestionError):
            bank.save_settings(lesson, bank.QuizSettings(question_ids=(ids[0],), mastery_m=3))
        bank.save_settings(lesson, bank.QuizSettings(question_ids=(ids[1], ids[0]), max_attempts=2))
    with app.app_context():
        quiz = db.session.get(Quiz, lesson_id)
        assert (quiz.question_ids, quiz.max_attempts, quiz.mastery_m) == ([ids[1], ids[0]], 2, None)
