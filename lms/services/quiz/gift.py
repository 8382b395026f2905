"""Moodle's GIFT format: read (with per-question errors and their line numbers) and written.

What is read, per question (questions are separated by blank lines):

* ``// comment`` lines, and ``// tags: a, b`` (this LMS's tags for the next question);
  ``$CATEGORY: name`` tags every following question with the category's last part;
* an optional ``::title::``, an optional ``[markdown]``/``[html]``/``[plain]``/``[moodle]``
  format, the question text, then the answers in braces:
  ``{=right ~wrong}`` (single choice), ``{~%50%a ~%50%b ~%-100%c}`` (multiple choice),
  ``{T}``/``{FALSE#feedback if wrong#feedback if right}``, ``{=answer =%50%almost}`` (short
  answer), ``{#3.14:0.01}`` or ``{#1..5}`` or ``{#=3:0.1 =%50%3:1}`` (numeric), and, an
  extension of this LMS that Moodle does not read, ``{>first >second >third}`` (ordering);
* ``#feedback`` after an answer, ``####explanation`` before the closing brace; text after the
  braces makes a fill-in-the-blank sentence (``_____`` where the braces were);
* ``\\~ \\= \\# \\{ \\} \\:`` escape the special characters.

GIFT has one language and no points: the text goes into the language chosen at import, and
each question is worth one point. :func:`write` produces what :func:`parse` reads back.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from lms.services.errors import Invalid
from lms.services.quiz.bank import QuestionError, check_question, new_id

SPECIAL = "~=#{}:"
FORMATS = re.compile(r"^\[(markdown|html|plain|moodle)\]\s*", re.I)
WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
TRUE_WORDS = {"T": True, "TRUE": True, "F": False, "FALSE": False}


@dataclass
class Parsed:
    """A GIFT text read: the questions (dicts for :func:`check_question`) and the errors."""

    questions: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # each question's first line
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.questions)


class GiftError(Invalid):
    """One question could not be read."""


def _unescape(text: str) -> str:
    return re.sub(r"\\([~=#{}:>%n\\])", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _split_unescaped(text: str, separators: str) -> list[tuple[str, str]]:
    """Split at unescaped separator characters: [(separator before, part), ...]."""
    parts: list[tuple[str, str]] = []
    current, sep, escaped = [], "", False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in separators:
            parts.append((sep, "".join(current)))
            current, sep = [], char
        else:
            current.append(char)
    parts.append((sep, "".join(current)))
    return parts


def _find_unescaped(text: str, char: str, start: int = 0) -> int:
    index = start
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == char:
            return index
        index += 1
    return -1


def _blocks(text: str) -> list[tuple[int, list[str], list[str]]]:
    """(first line number, tags from comments and categories, lines) of each question."""
    blocks: list[tuple[int, list[str], list[str]]] = []
    lines: list[str] = []
    tags: list[str] = []
    category: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith("//"):
            comment = stripped[2:].strip()
            if comment.lower().startswith("tags:"):
                tags = [t.strip() for t in comment[5:].split(",") if t.strip()]
            continue
        if stripped.startswith("$CATEGORY:"):
            name = stripped[len("$CATEGORY:") :].strip().strip("/").split("/")[-1]
            category = [name] if name else []
            continue
        if not stripped:
            if lines:
                blocks.append((start, sorted({*category, *tags}), lines))
                lines, tags = [], []
            continue
        if not lines:
            start = number
        lines.append(line)
    if lines:
        blocks.append((start, sorted({*category, *tags}), lines))
    return blocks


def parse(text: str, language: str = "zh") -> Parsed:
    """Read a GIFT text; every question is checked, and every error kept with its line."""
    result = Parsed()
    for start, tags, lines in _blocks(text.replace("\r\n", "\n").replace("\r", "\n")):
        try:
            question = _question("\n".join(lines), language)
            question["tags"] = tags
            check_question(question)
        except (GiftError, QuestionError) as exc:
            result.errors.append((start, str(exc)))
            continue
        result.questions.append(question)
        result.lines.append(start)
    if not result.questions and not result.errors:
        result.errors.append((1, "no question found"))
    return result


def _text(value: str, language: str) -> dict[str, str]:
    other = "en" if language == "zh" else "zh"
    return {language: value, other: ""}


def _question(block: str, language: str) -> dict[str, Any]:
    body = block.strip()
    if body.startswith("::"):
        end = body.find("::", 2)
        if end < 0:
            raise GiftError("the title is not closed with ::")
        body = body[end + 2 :].strip()
    body = FORMATS.sub("", body)
    opening = _find_unescaped(body, "{")
    if opening < 0:
        raise GiftError("no answers: the question needs {…}")
    closing = _find_unescaped(body, "}", opening)
    if closing < 0:
        raise GiftError("the answers are not closed with }")
    before, answers, after = (
        body[:opening].strip(),
        body[opening + 1 : closing],
        body[closing + 1 :].strip(),
    )
    if _find_unescaped(after, "{") >= 0:
        raise GiftError("one {…} per question")
    stem = _unescape(before + (" _____ " + after if after else "")).strip()
    answers, _, explanation = answers.partition("####")
    question: dict[str, Any] = {
        "text": _text(stem, language),
        "explanation": _text(_unescape(explanation.strip()), language),
    }
    question.update(_answers(answers.strip(), language))
    return question


def _weight(item: str, default: float) -> tuple[float, str]:
    match = WEIGHT.match(item)
    if not match:
        return default, item
    value = float(match.group(1)) / 100
    if not -1 <= value <= 1:
        raise GiftError(f"a weight must be between -100% and 100%: {match.group(0)}")
    return value, item[match.end() :]


def _feedback(item: str) -> tuple[str, str]:
    index = _find_unescaped(item, "#")
    if index < 0:
        return _unescape(item).strip(), ""
    return _unescape(item[:index]).strip(), _unescape(item[index + 1 :]).strip()


def _answers(block: str, language: str) -> dict[str, Any]:
    truth = _split_unescaped(block, "#")
    word = _unescape(truth[0][1]).strip().upper()
    if word in TRUE_WORDS and len(truth) <= 3:
        answer = TRUE_WORDS[word]
        wrong = _unescape(truth[1][1]).strip() if len(truth) > 1 else ""
        right = _unescape(truth[2][1]).strip() if len(truth) > 2 else ""
        yes, no = (right, wrong) if answer else (wrong, right)
        return {
            "kind": "truefalse",
            "answer": answer,
            "feedback_true": _text(yes, language),
            "feedback_false": _text(no, language),
        }
    if block.startswith("#"):
        return _numeric(block[1:].strip(), language)
    if block.startswith(">"):
        steps = [_unescape(part).strip() for sep, part in _split_unescaped(block, ">") if sep]
        return {
            "kind": "ordering",
            "items": [{"id": new_id(), "text": _text(step, language)} for step in steps],
        }
    items = [(sep, part.strip()) for sep, part in _split_unescaped(block, "=~") if sep]
    if not items or _unescape(_split_unescaped(block, "=~")[0][1]).strip():
        raise GiftError("answers start with = (right) or ~ (wrong)")
    if all(sep == "=" for sep, _part in items):
        answers = []
        for _sep, part in items:
            fraction, rest = _weight(part, 1.0)
            text, feedback = _feedback(rest)
            answers.append(
                {"text": text, "fraction": fraction, "feedback": _text(feedback, language)}
            )
        return {"kind": "short", "answers": answers}
    options: list[dict[str, Any]] = []
    for sep, part in items:
        fraction, rest = _weight(part, 1.0 if sep == "=" else 0.0)
        text, feedback = _feedback(rest)
        options.append(
            {"id": new_id(), "text": _text(text, language), "fraction": fraction,
             "feedback": _text(feedback, language)}
        )  # fmt: skip
    positive = [o for o in options if o["fraction"] > 0]
    single = (
        len(positive) == 1
        and math.isclose(positive[0]["fraction"], 1.0)
        and all(o["fraction"] >= 0 for o in options)
    )
    return {"kind": "single" if single else "multiple", "options": options}


def _numeric(block: str, language: str) -> dict[str, Any]:
    parts = [(sep, part.strip()) for sep, part in _split_unescaped(block, "=") if part.strip()]
    answers = []
    for _sep, part in parts:
        fraction, rest = _weight(part, 1.0)
        value_text, feedback = _feedback(rest)
        try:
            if ".." in value_text:
                low, high = (float(x) for x in value_text.split("..", 1))
                value, tolerance = (low + high) / 2, abs(high - low) / 2
            elif ":" in value_text:
                value, tolerance = (float(x) for x in value_text.split(":", 1))
            else:
                value, tolerance = float(value_text), 0.0
        except ValueError as exc:
            raise GiftError(f"not a number: {value_text!r}") from exc
        if not (math.isfinite(value) and math.isfinite(tolerance)):
            raise GiftError(f"not a finite number: {value_text!r}")
        answers.append(
            {"value": value, "tolerance": abs(tolerance), "fraction": fraction,
             "feedback": _text(feedback, language)}
        )  # fmt: skip
    if not answers:
        raise GiftError("a numeric question needs a number: {#42} or {#3.14:0.01}")
    return {"kind": "numeric", "answers": answers}


# -- writing ---------------------------------------------------------------------------------


def _escape(text: str, extra: str = "") -> str:
    text = text.replace("\\", "\\\\")
    for char in SPECIAL + extra:
        text = text.replace(char, "\\" + char)
    return text.replace("\n", "\\n")


def _pick(text: dict[str, str], language: str) -> str:
    other = "en" if language == "zh" else "zh"
    return text.get(language) or text.get(other) or ""


def _percent(fraction: float) -> str:
    return f"%{fraction * 100:.10g}%"


def _note(feedback: dict[str, str] | None, language: str) -> str:
    note = _pick(feedback or {}, language)
    return f"#{_escape(note)}" if note else ""


def _with_feedback(text: str, feedback: dict[str, str] | None, language: str) -> str:
    escaped = _escape(text)
    if WEIGHT.match(escaped):  # an answer reading "%50%" would be taken for its weight
        escaped = "\\" + escaped
    return escaped + _note(feedback, language)


def write(questions: list[dict[str, Any]], language: str = "zh") -> str:
    """GIFT for question dicts (as :func:`lms.services.quiz.bank.as_spec` gives them)."""
    out = [f"// Camp LMS question bank ({'中文' if language == 'zh' else 'English'})", ""]
    for number, q in enumerate(questions, start=1):
        if q.get("tags"):
            out.append(f"// tags: {', '.join(q['tags'])}")
        body = _escape(_pick(q["text"], language))
        kind = q["kind"]
        if kind in ("single", "multiple"):
            parts = []
            for o in q["options"]:
                text = _with_feedback(_pick(o["text"], language), o.get("feedback"), language)
                if kind == "single" and o["fraction"] == 1.0:
                    parts.append(f"={text}")
                elif o["fraction"] == 0.0:
                    parts.append(f"~{text}")
                else:
                    parts.append(f"~{_percent(o['fraction'])}{text}")
            answers = " ".join(parts)
        elif kind == "truefalse":
            yes = _escape(_pick(q.get("feedback_true") or {}, language))
            no = _escape(_pick(q.get("feedback_false") or {}, language))
            wrong, right = (no, yes) if q["answer"] else (yes, no)
            answers = ("TRUE" if q["answer"] else "FALSE") + (
                f"#{wrong}#{right}" if wrong or right else ""
            )
        elif kind == "short":
            answers = " ".join(
                "=" + ("" if a["fraction"] == 1 else _percent(a["fraction"]))
                + _with_feedback(a["text"], a.get("feedback"), language)
                for a in q["answers"]
            )  # fmt: skip
        elif kind == "numeric":
            answers = "#" + " ".join(
                "=" + ("" if a["fraction"] == 1 else _percent(a["fraction"]))
                + f"{a['value']!r}:{a.get('tolerance', 0.0)!r}"
                + _note(a.get("feedback"), language)
                for a in q["answers"]
            )  # fmt: skip
        else:
            answers = " ".join(">" + _escape(_pick(i["text"], language), ">") for i in q["items"])
        explanation = _pick(q.get("explanation") or {}, language)
        if explanation:
            answers += f" ####{_escape(explanation)}"
        out += [f"::Q{number}:: [markdown]{body} {{{answers}}}", ""]
    return "\n".join(out)
