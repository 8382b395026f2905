"""Snippets: a short window of a text around the words searched for, those words marked.

Everything is escaped; the only markup in the result is ``<mark>``.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from lms.services.search.segment import CJK, is_prefix_term

SNIPPET_CHARS = 160
# How much text to show before the first match.
LEAD_CHARS = 40


def pattern(terms: list[str]) -> re.Pattern[str] | None:
    """Where the terms occur in a text: Chinese words anywhere, Latin ones at a word's start
    (a prefix term to the end of its word), case-insensitively."""
    parts = []
    for term in sorted(terms, key=len, reverse=True):
        if CJK.search(term):
            parts.append(re.escape(term))
        elif is_prefix_term(term):
            parts.append(rf"(?<![^\W_]){re.escape(term)}[^\W_]*")
        else:
            parts.append(rf"(?<![^\W_]){re.escape(term)}(?![^\W_])")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def highlight(text: str, found: re.Pattern[str] | None) -> Markup:
    """``text`` escaped, with each match in ``<mark>``."""
    if found is None:
        return escape(text)
    out: list[str] = []
    last = 0
    for match in found.finditer(text):
        out += [str(escape(text[last : match.start()])), f"<mark>{escape(match.group())}</mark>"]
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))  # noqa: S704 - every piece escaped above


def snippet(texts: list[str], found: re.Pattern[str] | None) -> Markup:
    """A window of the first text holding a match (else the start of the first non-empty
    one), cut at about ``SNIPPET_CHARS`` characters, with "…" where text was left out."""
    texts = [text for text in texts if text]
    if not texts:
        return escape("")
    chosen, start = texts[0], 0
    for text in texts:
        match = found.search(text) if found is not None else None
        if match is not None:
            chosen, start = text, max(0, match.start() - LEAD_CHARS)
            break
    if start:  # begin at a word's start when there is one nearby
        space = chosen.find(" ", start, start + 15)
        start = space + 1 if space != -1 else start
    end = min(len(chosen), start + SNIPPET_CHARS)
    window = highlight(chosen[start:end], found)
    before = "…" if start > 0 else ""
    after = "…" if end < len(chosen) else ""
    return escape(before) + window + escape(after)
