"""Address names (slugs) made from titles: Chinese as pinyin, other text transliterated.

``现金流管理`` → ``xian-jin-liu-guan-li``; ``AI 入门 2024`` → ``ai-ru-men-2024``. The result
matches the slug rule of forms and curricula (lowercase letters, digits and hyphens, at most
99 characters, starting with a letter or digit).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

MAX_LENGTH = 99
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_length: int = MAX_LENGTH) -> str:
    """A slug for ``text`` ("" when nothing in it can be written with letters or digits)."""
    # pypinyin writes each Han character as its own syllable (tone marks dropped) and passes
    # other runs through; NFKD then splits accented letters so their base letter stays.
    # Imported here: its dictionaries take 55 MiB, which only a process making slugs needs.
    from pypinyin import lazy_pinyin

    words = lazy_pinyin(text or "", errors="default")
    ascii_text = unicodedata.normalize("NFKD", " ".join(words)).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        slug = (
            slug[:max_length].rsplit("-", 1)[0] if "-" in slug[:max_length] else slug[:max_length]
        )
    return slug.strip("-")


def unique_slug(base: str, taken: Callable[[str], bool], fallback: str = "item") -> str:
    """``base``, else ``base-2``, ``base-3``… : the first that ``taken`` says is free."""
    base = base or fallback
    candidate, number = base, 1
    while taken(candidate):
        number += 1
        suffix = f"-{number}"
        candidate = base[: MAX_LENGTH - len(suffix)].rstrip("-") + suffix
    return candidate
