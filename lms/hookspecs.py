"""Every hook a Camp LMS plugin may implement.

Implement a hook by writing a module-level function with the same name and the
``@hookimpl`` decorator (``from lms.api import hookimpl``). A plugin may accept any
subset of a hook's arguments. Each hook states what happens when an implementation raises:

* a **camp rule** (:func:`camp_rule`: enrollment policy, thresholds, completion, pass marks) is
  asked only of the plugin that owns the camp of the course, lesson or enrollment, and the
  first result wins. It **fails closed**: when it raises, the error is recorded and the answer
  is the strictest the rule could give (``closed``), so nothing is granted that it might forbid;
* events and display hooks **fail open**: the error is recorded against the plugin, its answer
  is left out and the other plugins still run;
* hooks read while a plugin loads fail the plugin (it is listed as failed, the app goes on).

The ORM objects a hook receives have their paths to the camp loaded (``lesson.module.course.camp``,
``enrollment.course.camp`` and ``enrollment.user``…: ``HOOK_PATHS`` in
``lms/services/loading.py``); other relationships raise rather than load (``raise_on_sql``).

See ``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy
from flask_babel import gettext as _

from lms.camp import EnrollmentDecision

if TYPE_CHECKING:
    from pathlib import Path

    import click
    import wtforms
    from flask import Blueprint
    from markupsafe import Markup

    from lms.camp import Camp
    from lms.models import (
        Attendance,
        Course,
        Enrollment,
        Lesson,
        LessonProgress,
        QuizAttempt,
        User,
    )
    from lms.services.notifications.kinds import Kind as NotificationKind
    from lms.slots import Fragment

hookspec = pluggy.HookspecMarker("lms")
F = TypeVar("F", bound=Callable[..., Any])
CLOSED = "lms_closed"  # the attribute of a camp rule's spec holding its closed answer


def camp_rule(closed: Callable[[], Any]) -> Callable[[F], F]:
    """Mark a hook as a camp rule: first result wins, asked only of the plugin owning the camp
    of its ``course``, ``lesson`` or ``enrollment`` argument; when that plugin raises,
    ``closed()`` is the answer (the strictest one)."""

    def mark(function: F) -> F:
        setattr(function, CLOSED, closed)
        return hookspec(firstresult=True)(function)

    return mark


def rule_unavailable() -> EnrollmentDecision:
    return EnrollmentDecision.deny(
        _("This camp's enrollment rule is unavailable right now. Please try again later.")
    )


@hookspec
def lms_register_camps() -> list[Camp]:
    """Return the camps this plugin provides (all results are collected).

    Called once when the plugin loads. If it raises, or returns anything but ``Camp`` objects,
    the plugin fails to load.

    Example::

        @hookimpl
        def lms_register_camps():
            return [Camp(slug="design", title_zh="设计营", title_en="Design Camp",
                         curriculum=HERE / "curriculum.yaml", package_dir=HERE)]
    """


@camp_rule(closed=rule_unavailable)
def lms_enrollment_policy(user: User, course: Course) -> EnrollmentDecision | None:
    """Decide whether ``user`` may enroll in ``course`` of the plugin's camp (a camp rule).

    Return ``None`` for the core default, which allows. Fails closed: if it raises, enrollment
    is refused with a message saying the camp's rule is unavailable.

    Example::

        @hookimpl
        def lms_enrollment_policy(user, course):
            if user.organization_id is None:
                return EnrollmentDecision.deny("Ask your company to register you.")
    """


@camp_rule(closed=lambda: 1.0)
def lms_lesson_completion_threshold(lesson: Lesson) -> float | None:
    """The fraction of a video lesson of the plugin's camp that must be watched to complete it
    (a camp rule).

    A number in (0, 1]; the core default is 0.9. Fails closed: if it raises, the whole video
    must be watched (1.0).

    Example::

        @hookimpl
        def lms_lesson_completion_threshold(lesson):
            if lesson.kind == "video":
                return 0.8
    """


@camp_rule(closed=lambda: 1.0)
def lms_max_playback_rate(lesson: Lesson) -> float | None:
    """The fastest playback that still counts in full for a video lesson of the plugin's camp
    (a camp rule).

    A number in [1, 4]: a learner playing faster covers the video no faster than this. The
    core default is 2.0; a value outside [1, 4] is ignored. Fails closed: if it raises, only
    normal speed counts in full (1.0).

    Example::

        @hookimpl
        def lms_max_playback_rate(lesson):
            return 1.5
    """


@camp_rule(closed=lambda: 100.0)
def lms_quiz_passing_score(lesson: Lesson, passing_score: float) -> float | None:
    """The score (percent, 0-100) that passes a quiz lesson of the plugin's camp (a camp rule).

    ``passing_score`` is the pass mark the trainer set on the quiz. Return ``None`` to keep
    it; a value outside [0, 100] is ignored. Not used by quizzes graded by mastery. Fails
    closed: if it raises, only full marks pass (100).

    Example::

        @hookimpl
        def lms_quiz_passing_score(lesson, passing_score):
            return max(passing_score, 80)
    """


@camp_rule(closed=lambda: False)
def lms_course_completion(enrollment: Enrollment) -> bool | None:
    """Decide whether an enrollment's course, of the plugin's camp, is complete (a camp rule).

    Called after each lesson completion while the course is not complete yet. Return
    ``None`` for the core rule: every required lesson is complete. Fails closed: if it
    raises, the course stays open (``False``) and the next completed lesson asks again.

    Example::

        @hookimpl
        def lms_course_completion(enrollment):
            return studio_project_submitted(enrollment.user_id)
    """


@hookspec
def lms_lesson_completed(progress: LessonProgress) -> None:
    """Called once when a learner completes a lesson (event; return value ignored).

    Fails open: an exception is recorded against the plugin; the other plugins are still called.

    Example::

        @hookimpl
        def lms_lesson_completed(progress):
            log.info("user %s finished lesson %s", progress.user_id, progress.lesson_id)
    """


@hookspec
def lms_course_completed(enrollment: Enrollment) -> None:
    """Called once when a learner completes a course, after the certificate is issued.

    Fails open: an exception is recorded against the plugin; the other plugins are still called.

    Example::

        @hookimpl
        def lms_course_completed(enrollment):
            notify_manager(enrollment.user, enrollment.course)
    """


@hookspec
def lms_quiz_submitted(attempt: QuizAttempt) -> None:
    """Called once when a quiz attempt is submitted and graded, by the learner or, past its
    time limit, by the server (event; return value ignored). ``attempt.score`` is the percent,
    ``attempt.passed`` the verdict and ``attempt.items`` each question's result.

    Fails open: an exception is recorded against the plugin; the other plugins are still called.

    Example::

        @hookimpl
        def lms_quiz_submitted(attempt):
            log.info("%s scored %.0f%%", attempt.user_id, attempt.score)
    """


@hookspec
def lms_enrolled(enrollment: Enrollment) -> None:
    """Called after a learner enrolled in a course (event; return value ignored).

    Fails open: an exception is recorded against the plugin; the other plugins are still called.

    Example::

        @hookimpl
        def lms_enrolled(enrollment):
            log.info("%s joined %s", enrollment.user.email, enrollment.course.slug)
    """


@hookspec
def lms_attended(attendance: Attendance) -> None:
    """Called once when a learner's attendance at a live session becomes *present* or *late*
    (their check-in, or a trainer's correction); event, return value ignored.

    Fails open: an exception is recorded against the plugin; the other plugins are still called.

    Example::

        @hookimpl
        def lms_attended(attendance):
            log.info("%s attended session %s", attendance.user_id, attendance.session_id)
    """


@hookspec
def lms_template_slot(slot: str, context: dict[str, Any]) -> Fragment | Markup | str | None:
    """Add HTML to a named place of the core pages (all results are collected).

    Slots: ``nav_items`` (main navigation), ``dashboard_panels`` (the learner's dashboard),
    ``course_sidebar`` (a course page; ``context["course"]``) and ``lesson_footer`` (a
    lesson page; ``context["course"]``, ``context["lesson"]``). ``context["user"]`` is the
    current user. Return ``None`` to add nothing, a ``str`` (escaped as text), ``Markup``
    (inserted as is — use :func:`lms.render_fragment` to render your template) or a
    :class:`lms.Fragment` with a ``priority`` (lower first; ties ordered by plugin name).
    Fails open: a slot that raises is recorded against the plugin and left out; the page
    still renders.

    Example::

        @hookimpl
        def lms_template_slot(slot, context):
            if slot == "course_sidebar" and context["course"].camp.slug == "design":
                return Fragment(render_fragment("camps/design/studio-card.html"), priority=10)
    """


@hookspec
def lms_plugin_settings() -> type[wtforms.Form] | None:
    """Declare the plugin's settings as a WTForms form class (one per plugin).

    Each field's ``default`` is the default value. Organizers edit the values on
    ``/admin/plugins/<name>/settings``; they are stored as JSON. An environment variable
    ``LMS_PLUGIN_<NAME>_<FIELD>`` (upper case) overrides a field and locks it in the page —
    the place for secrets. Read them with :func:`lms.api.plugin_settings`. Fails open: if it
    raises or returns something else than a form class, the error is recorded and the plugin
    has no settings page.

    Example::

        class DesignSettings(wtforms.Form):
            studio_hours = wtforms.IntegerField("Studio hours", default=4)

        @hookimpl
        def lms_plugin_settings():
            return DesignSettings
    """


@hookspec
def lms_migrations() -> list[Path]:
    """Alembic ``versions`` folders holding the plugin's own tables (all results collected).

    Give the plugin's first revision ``branch_labels=("<plugin>",)`` and
    ``down_revision=None``, so it is a branch of its own; ``lms init`` and
    ``lms db upgrade heads`` apply every branch. Fails open: if it raises, the error is
    recorded and the plugin's tables are not migrated.

    Example::

        @hookimpl
        def lms_migrations():
            return [Path(__file__).parent / "migrations"]
    """


@hookspec
def lms_blueprints() -> list[Blueprint]:
    """Return Flask blueprints to register (all results are collected).

    The blueprint's pages answer 404 while every camp of the plugin is disabled. Fails open:
    if it raises, or a blueprint cannot be registered, the error is recorded and the app
    starts without those pages.

    Example::

        bp = Blueprint("design", __name__, url_prefix="/camps/design/studio")

        @hookimpl
        def lms_blueprints():
            return [bp]
    """


@hookspec
def lms_cli_commands() -> list[click.Command]:
    """Return click commands to add under ``lms`` (all results are collected).

    Fails open: if it raises, the error is recorded and ``lms`` goes on without them.

    Example::

        @click.command("design-report")
        def design_report():
            click.echo("...")

        @hookimpl
        def lms_cli_commands():
            return [design_report]
    """


@hookspec
def lms_notification_kinds() -> list[NotificationKind]:
    """Declare kinds of notification the plugin sends (all results are collected).

    Each ``NotificationKind`` (``lms.api``) has a name (lowercase letters, digits and ``_``,
    not a core kind's), a label, a default channel, a ``message(data)`` answering the title
    and the text in the current locale and a ``link(data)`` answering an endpoint and its
    values. Users choose them on their notification settings like the core's; the plugin
    sends with ``lms.api.notify(kind, user_ids, object_id, occasion, data)`` in the
    transaction where the event happens (docs/notifications.md). Asked once per request or
    job. Fails open: if it raises, the error is recorded and the plugin's kinds are left out
    (its notifications are neither sent nor listed).

    Example::

        @hookimpl
        def lms_notification_kinds():
            return [NotificationKind(
                "design_critique", "Critique of my design", "both",
                message=lambda data: (f"Critique: {data['title']}", data["by"]),
                link=lambda data: ("design_studio.piece", {"piece_id": data["piece_id"]}),
            )]
    """


HOOK_NAMES: tuple[str, ...] = tuple(
    name for name, value in list(globals().items()) if name.startswith("lms_") and callable(value)
)

__all__ = ["CLOSED", "HOOK_NAMES", "camp_rule", "hookspec"]
