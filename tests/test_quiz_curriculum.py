"""Camps ship quizzes in their curriculum: validated at load, synced into the course's bank."""

from __future__ import annotations

import copy

import pytest
import yaml

from lms.extensions import db
from lms.models import Camp, Course, Lesson, Module, Question, Quiz, QuizAttempt, User
from lms.services import enrollment
from lms.services.curriculum import Curriculum, CurriculumError, load_curriculum, sync_camp
from lms.services.quiz import attempts
from tests.test_curriculum import BUNDLED

CAMPS = ("startup-growth", "entrepreneur", "silicon-valley", "practitioner")


@pytest.mark.parametrize("slug", CAMPS)
def test_every_course_of_every_camp_has_a_bilingual_quiz(slug):
    curriculum = load_curriculum(BUNDLED[slug], slug)
    for course in curriculum.courses:
        quizzes = [lesson for lesson in course.lessons() if lesson.kind == "quiz"]
        assert quizzes, f"{slug}/{course.slug} has no quiz"
        for lesson in quizzes:
            assert len(lesson.quiz.questions) >= 3
            for question in lesson.quiz.questions:
                assert question.text.zh and question.text.en
                for option in question.options:
                    assert option.text.zh and option.text.en


def quiz_lesson_of(camp_slug: str) -> dict:
    data = yaml.safe_load(BUNDLED[camp_slug].read_text(encoding="utf-8"))
    return data


def with_change(change) -> Curriculum:
    data = copy.deepcopy(quiz_lesson_of("startup-growth"))
    quiz = next(
        lesson["quiz"]
        for module in data["courses"][0]["modules"]
        for lesson in module["lessons"]
        if lesson.get("kind") == "quiz"
    )
    change(quiz)
    return Curriculum.model_validate(data)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda q: q["questions"][0]["options"][0].pop("right"), "fully right"),
        (lambda q: q["questions"][1]["text"].pop("en"), "Field required"),
        (lambda q: q["questions"].append(dict(q["questions"][0])), "duplicate quiz question slug"),
        (lambda q: q.update(passing_score=120), "less than or equal to 100"),
        (lambda q: q.update(mastery_m=3), "mastery"),
        (lambda q: q["questions"][0].update(kind="essay"), "kind"),
    ],
)
def test_invalid_quizzes_are_refused_when_the_plugin_loads(change, reason):
    with pytest.raises(ValueError, match=reason):
        with_change(change)


def test_curriculum_errors_name_the_file(tmp_path):
    data = quiz_lesson_of("startup-growth")
    data["courses"][0]["modules"][-1]["lessons"][-1]["quiz"]["questions"][0]["kind"] = "essay"
    path = tmp_path / "curriculum.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CurriculumError, match=r"curriculum\.yaml"):
        load_curriculum(path, "startup-growth")


def synced_quiz(app) -> tuple[Lesson, Quiz]:
    lesson = db.session.scalar(db.select(Lesson).filter_by(slug="strategy-self-check"))
    return lesson, db.session.get(Quiz, lesson.id)


def test_the_sync_creates_quiz_lessons_with_their_questions(app):
    with app.app_context():
        lesson, quiz = synced_quiz(app)
        assert lesson.kind == "quiz" and lesson.required is False
        assert len(quiz.question_ids) == 4 and quiz.passing_score == 60
        questions = [db.session.get(Question, qid) for qid in quiz.question_ids]
        assert [q.slug for q in questions] == [
            "mvp-purpose", "canvas-blocks", "swot-internal", "build-measure-learn",
        ]  # fmt: skip
        assert questions[0].key["options"][0]["id"] == "o1"
        required = db.session.scalars(
            db.select(Lesson).join(Module).join(Course).join(Camp)
            .where(Camp.slug == "entrepreneur", Lesson.kind == "quiz")
        ).all()  # fmt: skip
        assert len(required) == 4 and all(lesson.required for lesson in required)


def test_a_key_changed_in_the_file_regrades_and_a_trainer_s_edit_is_kept(app, learner, course):
    with app.test_request_context():
        lesson, _quiz = synced_quiz(app)
        user = db.session.get(User, learner.id)
        row, _ = enrollment.enroll(user, db.session.get(Course, course.id))
        attempt = attempts.start(user, lesson, row)
        swot = db.session.scalar(db.select(Question).filter_by(slug="swot-internal"))
        attempts.submit(attempt, user, {str(swot.id): False})  # wrong under the file's key
        assert attempt.score == 0.0
        camp = db.session.scalar(db.select(Camp).filter_by(slug="startup-growth"))

        def flip(q):
            q["questions"][2]["answer"] = False  # the camp corrects its key
            q["questions"][0]["text"]["en"] = "Edited by the camp"

        mvp = db.session.scalar(db.select(Question).filter_by(slug="mvp-purpose"))
        mvp.text_en = "Edited by a trainer"
        db.session.commit()
        report = sync_camp(camp, with_change(flip))
        assert report.updated >= 1
        assert "strategy-toolkit/strategy-self-check/mvp-purpose" in report.kept_local_edits
        assert db.session.get(Question, mvp.id).text_en == "Edited by a trainer"
        assert db.session.get(Question, swot.id).version == 2
        assert attempts.regrade_stale(attempts.utcnow()) == 1
        assert db.session.get(QuizAttempt, attempt.id).score == pytest.approx(25.0)
        again = sync_camp(camp, with_change(flip))
        assert (again.created, again.updated) == (0, 0)
