"""Site search: ``GET /search?q=…&camp=…&kind=…&page=…`` (docs/search.md)."""

from __future__ import annotations

import re

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.services import search

bp = Blueprint("search", __name__)

KIND_LABELS = {
    "course": _l("Courses"),
    "lesson": _l("Lessons"),
    "case": _l("Salon cases"),
    "topic": _l("Discussion topics"),
}


PAGE = re.compile(r"-?[0-9]{1,20}")


def _page() -> int | None:
    """The ``page`` argument: a whole number (the service clamps it), None when malformed."""
    raw = request.args.get("page", "1").strip()
    return int(raw) if PAGE.fullmatch(raw) else None


@bp.get("/search")
def results() -> tuple[str, int]:
    page = _page()
    kind = request.args.get("kind") or None
    camp = request.args.get("camp") or None
    found, status = None, 200
    try:
        if page is None:
            raise search.SearchError("page")
        found = search.search(current_user, request.args.get("q"), camp, kind, page)
    except search.SearchError:
        status = 400
    kinds = list(KIND_LABELS) if current_user.is_authenticated else ["course", "lesson"]
    return render_template(
        "search/results.html",
        found=found,
        kinds={kind: KIND_LABELS[kind] for kind in kinds},
        kind_labels=KIND_LABELS,
        max_query=search.MAX_QUERY,
    ), status
