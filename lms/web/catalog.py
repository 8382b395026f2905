"""The catalog, camp pages, course pages and enrolling."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_login.utils import login_url
from jinja2 import TemplateNotFound

from lms.models import Course
from lms.services import catalog, completion, enrollment
from lms.services.camps import registry
from lms.web.forms import ActionForm

bp = Blueprint("catalog", __name__)


def course_or_404(camp_slug: str, course_slug: str) -> Course:
    course = catalog.find_course(camp_slug, course_slug, current_user)
    if course is None:
        abort(404)
    return course


@bp.app_template_global()
def cards_key(cards: list[catalog.CourseCard]) -> tuple[tuple[int, int, int], ...]:
    """What a list of course cards shows, for the key of the fragment that keeps them
    (:func:`lms.cache.fragment`): each course with its lessons and minutes."""
    return tuple((card.course.id, card.lessons, card.minutes) for card in cards)


@bp.get("/camps.css")
def camp_colors() -> Response:
    """Each camp's colour as CSS custom properties (the CSP forbids inline styles)."""
    css = "".join(
        f".camp-{slug}{{--camp:{spec.color}}}\n" for slug, spec in sorted(registry().camps.items())
    )
    response = Response(css, mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.get("/")
def index() -> str:
    return render_template("catalog.html", sections=catalog.catalog(current_user))


@bp.get("/camps/<slug>/")
def camp(slug: str) -> str:
    section = catalog.camp_section(slug, current_user, page=request.args.get("page", 1, type=int))
    if section is None:
        abort(404)
    return render_camp_page(section)


def render_camp_page(section: catalog.CampSection) -> str:
    """The camp's own page template if it ships one, else the core's.

    A plugin template that fails (a syntax error, an exception while rendering) is recorded
    against its plugin and the core's page is shown: a broken camp never breaks its page.
    """
    slug = section.camp.slug
    own = f"camps/{slug}/camp.html"
    try:
        return render_template(own, section=section, camp=section.camp)
    except TemplateNotFound as missing:
        if missing.name != own:
            _template_failed(slug, own, missing)
    except Exception as exc:  # the plugin's template, whatever went wrong in it
        _template_failed(slug, own, exc)
    return render_template("camp.html", section=section, camp=section.camp)


def _template_failed(slug: str, name: str, exc: Exception) -> None:
    plugin = registry().camp_plugin[slug]
    registry().record_failure(plugin, f"template {name}: {type(exc).__name__}: {exc}")


@bp.get("/camps/<camp_slug>/<course_slug>/")
def course(camp_slug: str, course_slug: str) -> str:
    course = course_or_404(camp_slug, course_slug)
    outline = catalog.outline(course, current_user)
    decision = certificate = None
    if current_user.is_authenticated and outline.enrollment is None:
        decision = enrollment.decide(current_user, course)
    if outline.enrollment is not None and outline.enrollment.completed_at is not None:
        certificate = completion.certificate_for(current_user, course)
    return render_template(
        "course.html",
        course=course,
        outline=outline,
        decision=decision,
        certificate=certificate,
        form=ActionForm() if decision is not None else None,  # the enroll form's
    )


@bp.post("/camps/<camp_slug>/<course_slug>/enroll")
def enroll(camp_slug: str, course_slug: str) -> Response | tuple[str, int]:
    course = course_or_404(camp_slug, course_slug)
    if not current_user.is_authenticated:
        back = url_for(".course", camp_slug=camp_slug, course_slug=course_slug)
        return redirect(login_url("auth.login", back))
    try:
        _enrollment, created = enrollment.enroll(current_user, course)
    except enrollment.EnrollmentRefused as refused:
        abort(403, refused.reason)
    if created:
        flash(_("You are enrolled in %(course)s.", course=course.title), "success")
    return redirect(url_for(".course", camp_slug=camp_slug, course_slug=course_slug))
