"""Building quiz lessons for the tests: a course's bank with one question of each kind."""

from __future__ import annotations

from lms.extensions import db
from lms.models import Course, Lesson, Module
from lms.services.quiz import bank

CHOICES = [("现金流", "Cash flow"), ("估值", "Valuation"), ("团队", "Team"), ("口号", "Slogan")]


def questions(course: Course) -> list[int]:
    """One question of each kind in ``course``'s bank (in an app context); their ids."""
    specs = [
        {
            "kind": "single",
            "text": {
                "zh": "初创企业最先耗尽的通常是什么？",
                "en": "What do start-ups run out of first?",
            },
            "explanation": {"zh": "现金为王。", "en": "Cash is king."},
            "options": bank.choice_key(CHOICES, [True, False, False, False], multiple=False),
            "tags": ["finance"],
        },
        {
            "kind": "multiple",
            "text": {"zh": "哪些属于商业模式画布？", "en": "Which are canvas blocks?"},
            "options": bank.choice_key(
                [
                    ("客户细分", "Customer segments"),
                    ("价值主张", "Value proposition"),
                    ("办公室装修", "Office decoration"),
                    ("渠道", "Channels"),
                ],
                [True, True, False, True],
                multiple=True,
            ),
            "tags": ["strategy"],
        },
        {
            "kind": "truefalse",
            "text": {"zh": "MVP 要做到功能完整。", "en": "An MVP must be feature-complete."},
            "answer": False,
            "feedback_true": {
                "zh": "不对，MVP 只验证关键假设。",
                "en": "No: it tests one assumption.",
            },
            "tags": ["strategy"],
        },
        {
            "kind": "short",
            "text": {"zh": "MVP 的中文全称？", "en": "What does MVP stand for?"},
            "answers": [
                {"text": "最小可行产品", "fraction": 1.0},
                {"text": "minimum viable product", "fraction": 1.0},
            ],
            "tags": ["strategy"],
        },
        {
            "kind": "numeric",
            "text": {"zh": "月支出 20 万、账上 240 万，能撑几个月？", "en": "Runway in months?"},
            "answers": [{"value": 12, "tolerance": 0.5, "fraction": 1.0}],
            "tags": ["finance"],
        },
        {
            "kind": "ordering",
            "text": {"zh": "融资轮次的先后", "en": "Order the rounds"},
            "items": [
                {"id": "seed", "text": {"zh": "种子轮", "en": "Seed"}},
                {"id": "a", "text": {"zh": "A 轮", "en": "Series A"}},
                {"id": "b", "text": {"zh": "B 轮", "en": "Series B"}},
            ],
            "tags": ["finance"],
        },
    ]
    made = [bank.add_question(course, spec) for spec in specs]
    db.session.flush()
    return [q.id for q in made]


def quiz_lesson(course_id: int, slug: str = "check", **settings) -> tuple[int, list[int]]:
    """A required quiz lesson in the course's first module, with the six questions fixed.
    In an app context; (lesson id, question ids)."""
    course = db.session.get(Course, course_id)
    module = db.session.scalars(
        db.select(Module).filter_by(course_id=course_id).order_by(Module.position)
    ).first()
    lesson = Lesson(
        module_id=module.id, slug=slug, kind="quiz", title_zh="小测", title_en="Check",
        position=99, required=True, minutes=5,
    )  # fmt: skip
    db.session.add(lesson)
    db.session.flush()
    ids = questions(course)
    values = {"question_ids": tuple(ids), "shuffle": True, **settings}
    bank.configure(lesson, bank.QuizSettings(**values))
    db.session.commit()
    return lesson.id, ids


def right_answers(key_of: dict[int, tuple[str, dict]]) -> dict[str, object]:
    """Fully right answers for questions given as ``{id: (kind, key)}``."""
    answers: dict[str, object] = {}
    for qid, (kind, key) in key_of.items():
        if kind == "single":
            answers[str(qid)] = next(o["id"] for o in key["options"] if o["fraction"] == 1)
        elif kind == "multiple":
            answers[str(qid)] = [o["id"] for o in key["options"] if o["fraction"] > 0]
        elif kind == "truefalse":
            answers[str(qid)] = key["answer"]
        elif kind == "short":
            answers[str(qid)] = "ＭＩＮＩＭＵＭ  viable product"
        elif kind == "numeric":
            answers[str(qid)] = 12.4
        elif kind == "ordering":
            answers[str(qid)] = [item["id"] for item in key["items"]]
    return answers
