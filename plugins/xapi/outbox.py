"""Recording statements: one short insert in the request, delivery later in a job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func

from lms.api import db, enqueue, insert_ignoring_conflicts, plugin_settings, utcnow
from plugins.xapi.models import XapiStatement

PLUGIN = "xapi"


def emit(build: Callable[[Any, dict[str, Any]], dict[str, Any]], event: object) -> bool:
    """Turn ``event`` into a statement, keep it in the outbox and schedule its delivery.

    True when a new statement was stored (the same event twice is stored once). Commits.
    """
    settings = plugin_settings(PLUGIN)
    if not settings.get("enabled"):
        return False
    statement = build(event, settings)
    try:
        created = insert_ignoring_conflicts(
            XapiStatement,
            ["id"],
            id=statement["id"],
            verb=statement["verb"]["display"]["en-US"],
            statement=statement,
            created_at=utcnow(),
            attempts=0,
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if created:
        enqueue("plugins.xapi.delivery.deliver_pending")
    return created


def counts() -> dict[str, int]:
    sent, waiting, failing = db.session.execute(
        db.select(
            func.count(XapiStatement.sent_at),
            func.count().filter(XapiStatement.sent_at.is_(None)),
            func.count().filter(XapiStatement.sent_at.is_(None), XapiStatement.attempts > 0),
        )
    ).one()
    return {"sent": sent, "waiting": waiting, "failing": failing}
