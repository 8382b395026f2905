"""The learner archive (培养档案): one page per learner, printable, and the same as a PDF.

Visible to the learner, the managers of their organization and organizers
(:mod:`lms.services.people`); anyone else gets the 404 an unknown id gets.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.models import User
from lms.services import archive, archive_pdf, people
from lms.web.downloads import UNSAFE_IN_FILENAME, send_download

bp = Blueprint("archive", __name__)


def _person_or_404(user_id: int) -> User:
    person = people.find_person(current_user, user_id)
    if person is None:
        abort(404)
    return person


@bp.get("/archive")
@login_required
def mine() -> Response:
    return redirect(url_for(".person", user_id=current_user.id))


@bp.get("/people/<int:user_id>/archive")
@login_required
def person(user_id: int) -> str:
    found = _person_or_404(user_id)
    return render_template(
        "archive.html",
        archive=archive.build(found),
        is_self=found.id == current_user.id,
        kind_label=archive.kind_label,
        status_label=archive.status_label,
    )


@bp.get("/people/<int:user_id>/archive.pdf")
@login_required
def pdf(user_id: int) -> Response:
    found = _person_or_404(user_id)
    data = archive_pdf.build(
        archive.build(found),
        verify_url=lambda code: url_for("learn.certificate", code=code, _external=True),
    )
    name = UNSAFE_IN_FILENAME.sub("_", found.name).strip(" ._") or str(found.id)
    return send_download(data, f"{name} - {_('Training archive')}.pdf", "application/pdf")
