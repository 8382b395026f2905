"""The font every PDF is set in, embedded so the PDF reads the same in every reader.

By default the bundled Noto Sans SC cut to GB 2312 (``lms/fonts/``, SIL Open Font License;
its README says how it was made); ``PDF_FONT`` may name a fuller ``.ttf``. reportlab embeds a
TrueType font as subsets of the glyphs a document uses (``/FontFile2``), with a ToUnicode map,
so the text can be searched and copied, Chinese included.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import current_app
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

BUNDLED = Path(__file__).resolve().parent.parent / "fonts" / "NotoSansSC-GB2312.ttf"


def font_path() -> Path:
    """The font file in use: ``PDF_FONT`` when set, else the bundled one."""
    configured = current_app.config.get("PDF_FONT")
    return Path(configured) if configured else BUNDLED


def font() -> str:
    """The registered name of the PDF font (registered once per process and file)."""
    path = font_path()
    name = f"LMS-{path.stem}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(path)))
    return name
