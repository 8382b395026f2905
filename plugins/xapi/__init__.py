"""xAPI emitter: learning events become xAPI statements for a Learning Record Store.

Not a camp — a plugin that proves the hooks are general. Enrollments, completed lessons,
completed courses and attended live sessions are turned into xAPI 1.0.3 statements and
written to an outbox table (the plugin's own, through its own migration branch) in one
short insert; a background job delivers them — to the LRS configured in the settings, or
appended to a JSON-lines file by default — so the request that caused them never waits for
the network. Undelivered statements are retried by the next delivery or ``lms xapi flush``.
"""

from __future__ import annotations

from pathlib import Path

import click
import wtforms
from flask.cli import with_appcontext
from flask_babel import lazy_gettext as _l
from wtforms.validators import URL, Length, Optional

from lms.api import hookimpl
from plugins.xapi import models  # noqa: F401 - registers the outbox table

HERE = Path(__file__).parent
PLUGIN = "xapi"


class XapiSettings(wtforms.Form):
    enabled = wtforms.BooleanField(_l("Send learning events as xAPI statements"), default=True)
    endpoint = wtforms.URLField(
        _l("LRS endpoint"),
        validators=[Optional(), URL(require_tld=False), Length(max=500)],
        default="",
        description=_l("The LRS's xAPI base URL (…/xapi/). Empty: append to the JSON-lines file."),
    )
    username = wtforms.StringField(_l("LRS key"), validators=[Length(max=200)], default="")
    password = wtforms.PasswordField(_l("LRS secret"), validators=[Length(max=200)], default="")
    file = wtforms.StringField(
        _l("JSON-lines file"),
        validators=[Length(max=500)],
        default="",
        description=_l("Used when no endpoint is set. Empty: instance/xapi/statements.jsonl."),
    )
    activity_base = wtforms.StringField(
        _l("Activity IRI base"),
        validators=[Length(min=4, max=200)],
        default="urn:camp-lms:",
        description=_l("Prefix of the IRIs that name courses, lessons and sessions."),
    )
    identify_by = wtforms.SelectField(
        _l("Identify learners by"),
        choices=[
            wtforms.fields.choices.SelectChoice("account", _l("Account id (no e-mail leaves)")),
            wtforms.fields.choices.SelectChoice("mbox", _l("E-mail address")),
        ],
        default="account",
    )


@hookimpl
def lms_plugin_settings() -> type[wtforms.Form]:
    return XapiSettings


@hookimpl
def lms_migrations() -> list[Path]:
    return [HERE / "migrations" / "versions"]


@hookimpl
def lms_enrolled(enrollment) -> None:  # type: ignore[no-untyped-def]
    from plugins.xapi import outbox, statements

    outbox.emit(statements.enrolled, enrollment)


@hookimpl
def lms_lesson_completed(progress) -> None:  # type: ignore[no-untyped-def]
    from plugins.xapi import outbox, statements

    outbox.emit(statements.lesson_completed, progress)


@hookimpl
def lms_course_completed(enrollment) -> None:  # type: ignore[no-untyped-def]
    from plugins.xapi import outbox, statements

    outbox.emit(statements.course_completed, enrollment)


@hookimpl
def lms_attended(attendance) -> None:  # type: ignore[no-untyped-def]
    from plugins.xapi import outbox, statements

    outbox.emit(statements.attended, attendance)


@hookimpl
def lms_quiz_submitted(attempt) -> None:  # type: ignore[no-untyped-def]
    from plugins.xapi import outbox, statements

    for item in attempt.items:
        outbox.emit(
            lambda a, settings, i=item: statements.question_answered(a, i, settings), attempt
        )
    outbox.emit(statements.quiz_result, attempt)


@click.group("xapi")
def xapi_command() -> None:
    """xAPI statements: what waits in the outbox, and delivering it now."""


@xapi_command.command("status")
@with_appcontext
def status_command() -> None:
    """Count statements sent, waiting and failing."""
    from plugins.xapi import outbox

    counts = outbox.counts()
    click.echo(
        f"sent {counts['sent']}, waiting {counts['waiting']}, "
        f"failed attempts on {counts['failing']} (see `lms xapi flush`)"
    )


@xapi_command.command("flush")
@with_appcontext
def flush_command() -> None:
    """Deliver every waiting statement now."""
    from plugins.xapi import delivery

    result = delivery.deliver_all()
    click.echo(f"delivered {result.sent}, failed {result.failed}")
    if result.failed:
        raise SystemExit(1)


@hookimpl
def lms_cli_commands() -> list[click.Command]:
    return [xapi_command]
