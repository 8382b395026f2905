"""Words of a text, for the search index and for queries, in Chinese and English alike.

Chinese has no spaces between words, so texts are cut into words with jieba's dictionary
(through ``rjieba``, its Rust port: see docs/search.md) and stored as space-separated,
lower-cased words. Both engines then only split on spaces: SQLite's FTS5 (``unicode61``) and
PostgreSQL's ``simple`` configuration see the same words.

Documents are cut "for search" (a long word also yields the dictionary words inside it:
现金流 → 现金, 金流, 现金流), queries into whole words, so a query word matches a document
that holds it alone or inside a longer word.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

# A word is a run of letters and digits (underscores and punctuation separate words, as in
# both engines' tokenizers).
WORD = re.compile(r"[^\W_]+")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
# A query of many words is cut to its first ones: more narrows nothing in practice.
MAX_QUERY_TERMS = 12


@lru_cache(maxsize=1)
def _jieba() -> Any:
    """The segmenter, its dictionary loaded once per process, on first use (about 0.4 s)."""
    import rjieba

    return rjieba


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _words(text: str, for_search: bool) -> list[str]:
    """The words of normalised ``text``: Chinese runs cut by jieba, the rest at non-letters."""
    words: list[str] = []
    start = 0
    for run in CJK.finditer(text):
        words += WORD.findall(text[start : run.start()])
        cut = _jieba().cut_for_search if for_search else _jieba().cut
        words += [word for piece in cut(run.group(), False) for word in WORD.findall(piece)]
        start = run.end()
    words += WORD.findall(text[start:])
    return words


@lru_cache(maxsize=8192)
def index_words(text: str) -> str:
    """``text`` as the index stores it: its words, and the words inside long ones, spaced."""
    return " ".join(_words(_normal(text), for_search=True))


def query_terms(query: str) -> list[str]:
    """The distinct words of a query, in order, at most ``MAX_QUERY_TERMS``."""
    terms: list[str] = []
    for word in _words(_normal(query), for_search=False):
        if word not in terms:
            terms.append(word)
    return terms[:MAX_QUERY_TERMS]


def is_prefix_term(term: str) -> bool:
    """Latin words of three letters or more also match longer words (startup → startups)."""
    return len(term) >= 3 and not CJK.search(term)
