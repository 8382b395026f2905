"""The question editor's plain-text fields, to a question dict and back.

Trainers type choices one per line, in Chinese and in English (line *n* of each is the same
choice): a leading ``*`` marks a right choice, and ``# text`` at the end of a line is the
feedback a learner who picks it sees. Ordering questions list their items in the right
order. Short answers are one accepted answer per line (``# feedback`` allowed). Editing
keeps each choice's id by its line, so saved answers still point at the same choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lms.services.quiz.bank import QuestionError, choice_key, new_id


@dataclass(frozen=True)
class Line:
    text: str
    right: bool
    feedback: str


def parse_lines(text: str) -> list[Line]:
    """Non-empty lines: ``[*]text[ # feedback]``."""
    lines = []
    for raw in text.splitlines():
        raw = raw.strip()
        if not raw:
            continue
        right = raw.startswith("*")
        body, _, feedback = raw.lstrip("*").partition(" # ")
        lines.append(Line(body.strip(), right, feedback.strip()))
    return lines


def _pair(zh: list[Line], en: list[Line], what: str) -> list[tuple[Line | None, Line | None]]:
    if zh and en and len(zh) != len(en):
        raise QuestionError(f"{what}: the Chinese and English lists need the same number of lines")
    count = max(len(zh), len(en))
    return [(zh[i] if zh else None, en[i] if en else None) for i in range(count)]


def spec_from_form(
    values: dict[str, Any], previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A question dict (see :func:`lms.services.quiz.bank.check_question`) from the form."""
    kind = values["kind"]
    spec: dict[str, Any] = {
        "kind": kind,
        "text": {"zh": values.get("text_zh") or "", "en": values.get("text_en") or ""},
        "explanation": {
            "zh": values.get("explanation_zh") or "",
            "en": values.get("explanation_en") or "",
        },
        "points": values.get("points") or 1.0,
        "tags": [t for t in (values.get("tags") or "").replace("，", ",").split(",") if t.strip()],
    }
    old_ids = [o["id"] for o in (previous or {}).get("options", (previous or {}).get("items", []))]
    if kind in ("single", "multiple", "ordering"):
        pairs = _pair(
            parse_lines(values.get("choices_zh") or ""),
            parse_lines(values.get("choices_en") or ""),
            "choices",
        )
        texts = [(zh.text if zh else "", en.text if en else "") for zh, en in pairs]
        if kind == "ordering":
            spec["items"] = [
                {"id": old_ids[i] if i < len(old_ids) else new_id(), "text": {"zh": z, "en": e}}
                for i, (z, e) in enumerate(texts)
            ]
            return spec
        right = [bool((zh and zh.right) or (en and en.right)) for zh, en in pairs]
        if not any(right):
            raise QuestionError("choices: mark the right choice with * at the start of its line")
        options = choice_key(texts, right, multiple=kind == "multiple")
        for index, (option, (zh, en)) in enumerate(zip(options, pairs, strict=True)):
            if index < len(old_ids):
                option["id"] = old_ids[index]
            option["feedback"] = {"zh": zh.feedback if zh else "", "en": en.feedback if en else ""}
        spec["options"] = options
    elif kind == "truefalse":
        spec["answer"] = values.get("truth") == "true"
    elif kind == "short":
        spec["answers"] = [
            {"text": line.text, "fraction": 1.0, "feedback": {"zh": line.feedback, "en": ""}}
            for line in parse_lines(values.get("accepted") or "")
        ]
    elif kind == "numeric":
        if values.get("number") is None:
            raise QuestionError("number: the right answer")
        spec["answers"] = [
            {
                "value": values["number"],
                "tolerance": values.get("tolerance") or 0.0,
                "fraction": 1.0,
            }
        ]
    return spec


def _line(text: str, right: bool, feedback: str) -> str:
    return ("*" if right else "") + text + (f" # {feedback}" if feedback else "")


def form_values(spec: dict[str, Any]) -> dict[str, Any]:
    """The editor's fields for a stored question (the inverse of :func:`spec_from_form`)."""
    values: dict[str, Any] = {
        "kind": spec["kind"],
        "text_zh": spec["text"]["zh"],
        "text_en": spec["text"]["en"],
        "explanation_zh": spec["explanation"]["zh"],
        "explanation_en": spec["explanation"]["en"],
        "points": spec["points"],
        "tags": ", ".join(spec.get("tags", [])),
    }
    for language in ("zh", "en"):
        if "options" in spec:
            lines = [
                _line(
                    o["text"][language], o["fraction"] > 0, o.get("feedback", {}).get(language, "")
                )
                for o in spec["options"]
            ]
        else:
            lines = [item["text"][language] for item in spec.get("items", [])]
        values[f"choices_{language}"] = "\n".join(lines)
    if spec["kind"] == "truefalse":
        values["truth"] = "true" if spec["answer"] else "false"
    if spec["kind"] == "short":
        values["accepted"] = "\n".join(
            _line(a["text"], False, a.get("feedback", {}).get("zh", "")) for a in spec["answers"]
        )
    if spec["kind"] == "numeric":
        values["number"] = spec["answers"][0]["value"]
        values["tolerance"] = spec["answers"][0].get("tolerance", 0.0)
    return values
