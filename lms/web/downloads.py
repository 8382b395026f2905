"""File downloads views share: CSV for spreadsheets, safe names sent with Werkzeug's
``send_file`` (which writes RFC 6266's ``Content-Disposition`` with RFC 5987's
``filename*`` for names that are not ASCII)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from io import BytesIO
from pathlib import Path

from flask import Response, send_file

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


def download_name(filename: str) -> str:
    """``filename`` as people wrote it (Chinese included), safe to name a download.

    Path separators, quotes, semicolons, control, bidi and invisible characters are replaced
    or removed, and the extension is letters and digits only: a name cannot add a header, a
    parameter or a path, nor show another extension than its own.
    """
    cleaned = UNSAFE_IN_FILENAME.sub("_", clean_name(filename)).strip(" ._")[:200]
    stem, _dot, extension = cleaned.rpartition(".") if "." in cleaned else (cleaned, "", "")
    extension = re.sub(r"[^A-Za-z0-9]", "", extension)[:10]
    suffix = f".{extension}" if extension else ""
    return (stem.strip(" ._") or "download") + suffix


def send_download(
    body: bytes | str | Path, filename: str, mimetype: str, *, inline: bool = False
) -> Response:
    """``body`` (bytes, text in UTF-8, or a file) as a download named ``filename`` (made
    safe by :func:`download_name`), private and not stored; a file answers Range requests.

    Werkzeug writes ``Content-Disposition``: ``filename`` alone for an ASCII name, else an
    ASCII ``filename`` for old clients and the full name in RFC 5987's ``filename*``.
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    source = body if isinstance(body, Path) else BytesIO(body)
    response = send_file(
        source,
        mimetype=mimetype,
        as_attachment=not inline,
        download_name=download_name(filename),
        conditional=True,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
