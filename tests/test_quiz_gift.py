"""GIFT: reading with per-question errors and line numbers, writing, and the round trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms.models import QUESTION_KINDS
from lms.services.quiz import bank, gift

pytestmark = pytest.mark.engine_independent  # run in the SQLite pass only

SAMPLE = """// 初创企业成长营 · 财务
$CATEGORY: $course$/财务

::Q1:: 初创企业最先耗尽的是什么？ {=现金#对，现金为王 ~估值#不是钱 ~团队 ####现金流断裂是首因。}

::Q2:: 哪些属于商业模式画布的模块？ {~%50%客户细分 ~%50%价值主张 ~%-100%办公室装修}

MVP 要做到功能完整。{FALSE#不对：MVP 只验证关键假设#对}

// tags: 术语
MVP 的中文全称？ {=最小可行产品 =%50%最小产品}

月支出 20 万元、账上 240 万元，能撑几个月？ {#12:0.5}

估值区间 {#1..5}

::排序:: 融资轮次的先后 {>种子轮 >A 轮 >B 轮}

天使投资人通常投资 {=早期 ~晚期} 阶段的企业。
"""


def test_every_kind_is_read():
    parsed = gift.parse(SAMPLE)
    assert parsed.errors == []
    kinds = [q["kind"] for q in parsed.questions]
    assert kinds == [
        "single",
        "multiple",
        "truefalse",
        "short",
        "numeric",
        "numeric",
        "ordering",
        "single",
    ]
    assert parsed.lines == [4, 6, 8, 11, 13, 15, 17, 19]
    first = parsed.questions[0]
    assert first["explanation"]["zh"] == "现金流断裂是首因。"
    assert first["options"][0]["feedback"]["zh"] == "对，现金为王"
    assert first["tags"] == ["财务"]
    assert parsed.questions[3]["tags"] == ["术语", "财务"]
    assert parsed.questions[3]["answers"][1]["fraction"] == 0.5
    assert parsed.questions[2]["answer"] is False
    assert parsed.questions[2]["feedback_true"]["zh"] == "不对：MVP 只验证关键假设"
    assert parsed.questions[5]["answers"][0] == {
        "value": 3.0, "tolerance": 2.0, "fraction": 1.0, "feedback": {"zh": "", "en": ""},
    }  # fmt: skip
    assert parsed.questions[7]["text"]["zh"] == "天使投资人通常投资 _____ 阶段的企业。"


def test_errors_name_their_line_and_nothing_is_taken():
    text = "好问题 {=对 ~错}\n\n坏问题 {=对 ~错\n\n\n没有答案\n\n{~a ~b}\n\n数字 {#abc}\n"
    parsed = gift.parse(text, "zh")
    assert not parsed.ok
    assert [line for line, _message in parsed.errors] == [3, 6, 8, 10]
    assert "not closed" in parsed.errors[0][1]
    assert len(parsed.questions) == 1


def test_english_questions_go_into_the_english_text():
    parsed = gift.parse("What is runway? {=months of cash ~revenue}", "en")
    assert parsed.questions[0]["text"] == {"en": "What is runway?", "zh": ""}


def test_escaped_characters_survive():
    parsed = gift.parse(r"1 \= 1 \{ok\} a\:b {=yes\#1 ~no}")
    assert parsed.questions[0]["text"]["zh"] == "1 = 1 {ok} a:b"
    assert parsed.questions[0]["options"][0]["text"]["zh"] == "yes#1"


# -- the round trip ----------------------------------------------------------------------------

words = (
    st.text(
        alphabet=st.sampled_from(list("现金流估值团队ABCxyz 0123=~#{}:>\\%")),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)
feedback = st.one_of(st.just(""), words)


@st.composite
def question(draw) -> dict:
    kind = draw(st.sampled_from(QUESTION_KINDS))
    spec = {
        "kind": kind,
        "text": {"zh": draw(words), "en": ""},
        "explanation": {"zh": draw(feedback), "en": ""},
        "points": 1.0,
        "tags": draw(
            st.lists(st.sampled_from(["财务", "strategy", "team"]), unique=True, max_size=2)
        ),
    }
    if kind in ("single", "multiple"):
        texts = draw(st.lists(words, min_size=2, max_size=5, unique=True))
        flags = draw(st.lists(st.booleans(), min_size=len(texts), max_size=len(texts)).filter(any))
        if kind == "single":
            flags = [i == flags.index(True) for i in range(len(texts))]
        options = bank.choice_key([(t, "") for t in texts], flags, kind == "multiple")
        for option in options:
            option["feedback"] = {"zh": draw(feedback), "en": ""}
        spec["options"] = options
    elif kind == "truefalse":
        spec["answer"] = draw(st.booleans())
        spec["feedback_true"] = {"zh": draw(feedback), "en": ""}
        spec["feedback_false"] = {"zh": draw(feedback), "en": ""}
    elif kind == "short":
        answers = draw(st.lists(words, min_size=1, max_size=3, unique=True))
        spec["answers"] = [
            {
                "text": a,
                "fraction": 1.0 if i == 0 else 0.5,
                "feedback": {"zh": draw(feedback), "en": ""},
            }
            for i, a in enumerate(answers)
        ]
    elif kind == "numeric":
        value = draw(st.floats(-1e6, 1e6, allow_nan=False))
        spec["answers"] = [
            {"value": value, "tolerance": draw(st.floats(0, 100)), "fraction": 1.0,
             "feedback": {"zh": draw(feedback), "en": ""}}
        ]  # fmt: skip
    else:
        items = draw(st.lists(words, min_size=2, max_size=5, unique=True))
        spec["items"] = [{"id": bank.new_id(), "text": {"zh": t, "en": ""}} for t in items]
    return spec


def comparable(spec: dict) -> dict:
    """A question without its generated ids, fractions rounded (GIFT writes percents)."""
    checked = bank.check_question(spec)
    key = dict(checked["key"])
    for name in ("options", "items"):
        if name in key:
            key[name] = [
                {k: (round(v, 6) if k == "fraction" else v) for k, v in entry.items() if k != "id"}
                for entry in key[name]
            ]
    return {**checked, "key": key}


@settings(max_examples=120, deadline=None)
@given(st.lists(question(), min_size=1, max_size=6))
def test_export_then_import_keeps_every_question(questions):
    text = gift.write(questions, "zh")
    parsed = gift.parse(text, "zh")
    assert parsed.errors == []
    assert [comparable(q) for q in parsed.questions] == [comparable(q) for q in questions]


@pytest.mark.parametrize("right", ["%0%", "%50%", "%-100% 折扣", "\\%5%"])
def test_an_answer_that_looks_like_a_weight_is_written_as_text(right):
    """Found by the round trip: a right option "%0%" was read back as a weight of 0 %."""
    options = bank.choice_key([("0", ""), (right, "")], [False, True], False)
    spec = {"kind": "single", "text": {"zh": "折扣？", "en": ""}, "options": options}
    short = {"kind": "short", "text": {"zh": "写出", "en": ""}, "answers": [
        {"text": right, "fraction": 1.0}, {"text": f"{right}x", "fraction": 0.5}]}  # fmt: skip
    parsed = gift.parse(gift.write([spec, short], "zh"), "zh")
    assert parsed.errors == []
    assert [o["text"]["zh"] for o in parsed.questions[0]["options"]] == ["0", right]
    assert [a["text"] for a in parsed.questions[1]["answers"]] == [right, f"{right}x"]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_writing_picks_the_language_and_falls_back(language):
    spec = {
        "kind": "truefalse", "text": {"zh": "现金为王", "en": ""}, "answer": True,
        "explanation": {"zh": "", "en": "Cash is king."}, "points": 1.0, "tags": [],
    }  # fmt: skip
    text = gift.write([spec], language)
    assert "现金为王" in text and "Cash is king." in text
