"""Names people type are shown to others: they keep no invisible or direction-changing characters.

A name with U+202E (right-to-left override) displays reversed — ``clip<U+202E>gpj.mp4``
reads "clip4pm.jpg" — and zero-width characters make two names look the same. Format
characters (Unicode ``Cf``: the bidi embeddings, overrides and isolates U+202A–U+202E and
U+2066–U+2069, the marks U+200E/U+200F, zero-width spaces and joiners, the BOM, tags…),
line and paragraph separators (``Zl``, ``Zp``), surrogates and private-use characters are
removed. Control characters (``Cc``) are left to the forms, which refuse them, and to the
header and CSV writers, which replace them.

:func:`protect_names` applies :func:`clean_name` to every name column (``NAME_COLUMNS``) of
every model whenever it is set, so storage never holds them whichever path wrote the name (a
form, a CSV import, a curriculum, the CLI); file names shown or sent back are cleaned too.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import event

REMOVED_CATEGORIES = frozenset({"Cf", "Zl", "Zp", "Cs", "Co"})
# Columns that hold a name or a title someone typed (user, organization, group, course,
# module, lesson, session, case, file…), on whichever model has them.
NAME_COLUMNS = frozenset(
    {"name", "title_zh", "title_en", "original_name", "learner_name", "guest_name", "company"}
)


# C0 control characters and DEL. Tab, line feed and carriage return are text in a body of
# several lines; in a one-line name or a search query they are controls like the others.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_CONTROLS_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_characters(*, keep_line_breaks: bool) -> re.Pattern[str]:
    """The pattern of control characters (C0 and DEL) a text may not hold.

    With ``keep_line_breaks`` tab, line feed and carriage return are not matched: a comment
    or a PDF cell keeps its lines. C1 controls (U+0080–U+009F) are not matched.
    """
    return _CONTROLS_BUT_LINE_BREAKS if keep_line_breaks else _CONTROLS


def clean_name(value: str) -> str:
    """``value`` without invisible and direction-changing characters, trimmed."""
    return "".join(
        character
        for character in value
        if unicodedata.category(character) not in REMOVED_CATEGORIES
    ).strip()


def _clean_on_set(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
    return clean_name(value) if isinstance(value, str) else value


_protected: set[tuple[type, str]] = set()


def protect_names(model_base: Any) -> None:
    """Clean every ``NAME_COLUMNS`` attribute of ``model_base``'s models when it is set.

    Idempotent; called by :func:`lms.create_app` once the models (plugins' included) exist.
    """
    for mapper in model_base.registry.mappers:
        for attribute in mapper.column_attrs:
            if attribute.key not in NAME_COLUMNS:
                continue
            key = (mapper.class_, attribute.key)
            if key in _protected:
                continue
            event.listen(getattr(*key), "set", _clean_on_set, retval=True)
            _protected.add(key)
