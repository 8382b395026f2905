"""CSV for spreadsheets: quoted by the csv module and safe against formula injection.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or a carriage return) as a formula, so a name like ``=HYPERLINK(…)`` typed
by anyone could run on the reader's machine. :func:`safe_cell` neutralizes such text
cells with a leading apostrophe; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """``value`` as CSV cell text, prefixed with ``'`` when a spreadsheet would run it.

    ``None`` is the empty cell; ints, floats and decimals (negative ones too) are written
    as numbers, since they cannot carry a formula.
    """
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def write_csv(rows: Iterable[Sequence[object]], header: Sequence[str]) -> str:
    """The header and the rows as CSV text (CRLF line ends, quoted where needed), every
    cell passed through :func:`safe_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return buffer.getvalue()
