"""File downloads views share: CSV for spreadsheets."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from flask import Response

from lms.services.csv_safe import write_csv


def csv_response(rows: Iterable[Sequence[object]], header: Sequence[str], name: str) -> Response:
    """A CSV download: UTF-8 with a byte-order mark (so Excel reads Chinese), every cell
    neutralized against formulas, and a file name made of safe characters only."""
    body = "\ufeff" + write_csv(rows, header)
    filename = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:100] or "report"
    response = Response(body.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
