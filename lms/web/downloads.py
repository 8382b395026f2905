"""File downloads views share: CSV for spreadsheets, safe attachment names."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from flask import Response

from lms.services.csv_safe import write_csv
from lms.services.text import clean_name


def csv_response(rows: Iterable[Sequence[object]], header: Sequence[str], name: str) -> Response:
    """A CSV download: UTF-8 with a byte-order mark (so Excel reads Chinese), every cell
    neutralized against formulas, and a file name made of safe characters only."""
    body = "\ufeff" + write_csv(rows, header)
    filename = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:100] or "report"
    response = Response(body.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


# Characters that do not belong in a file name (path separators, quotes, controls…).
UNSAFE_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f"*/:<>?\\|;]+')


def attachment(filename: str, ascii_name: str | None = None) -> str:
    """A ``Content-Disposition: attachment`` value that is safe for any file name.

    ``filename`` keeps the name as people wrote it (Chinese included) in RFC 6266's
    ``filename*`` (UTF-8, percent-encoded); the plain ``filename`` is ``ascii_name`` or an
    ASCII version of it, for old clients. Path separators, quotes, semicolons, control,
    bidi and invisible characters never reach the header: a name cannot add a header, a
    parameter or a path, nor show another extension than its own.
    """
    cleaned = UNSAFE_IN_FILENAME.sub("_", clean_name(filename)).strip(" ._")[:200]
    stem, _dot, extension = cleaned.rpartition(".") if "." in cleaned else (cleaned, "", "")
    extension = re.sub(r"[^A-Za-z0-9]", "", extension)[:10]
    suffix = f".{extension}" if extension else ""
    stem = stem.strip(" ._") or "download"
    if ascii_name is None:
        ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
        ascii_stem = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_stem).strip("-.")[:100]
        ascii_name = (ascii_stem or "download") + suffix
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip("-.") or f"download{suffix}"
    encoded = quote(stem + suffix, safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"
