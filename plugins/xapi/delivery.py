"""Delivering the outbox: to the LRS when an endpoint is set, else to a JSON-lines file.

Deliveries may run at the same time (threads, RQ workers, ``lms xapi flush``): each one
first *claims* a batch with an UPDATE that only takes unclaimed rows (or claims older than
``CLAIM_TTL``, left by a crashed worker), so no statement goes out twice from here. The LRS
deduplicates by statement id anyway.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import or_

from lms.api import db, plugin_settings, utcnow
from plugins.xapi.models import XapiStatement
from plugins.xapi.statements import VERSION

log = logging.getLogger(__name__)

BATCH = 50
CLAIM_TTL = timedelta(minutes=5)
AUTOMATIC_ATTEMPTS = 10  # after that, only `lms xapi flush` retries a statement
TIMEOUT_SECONDS = 10


@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0


class DeliveryError(Exception):
    """The destination refused or could not be reached."""


def _claim(limit: int, retry_all: bool) -> list[XapiStatement]:
    token, now = secrets.token_hex(16), utcnow()
    claimable = XapiStatement.sent_at.is_(None) & or_(
        XapiStatement.claimed_by.is_(None), XapiStatement.claimed_at < now - CLAIM_TTL
    )
    if not retry_all:
        claimable &= XapiStatement.attempts < AUTOMATIC_ATTEMPTS
    batch = (
        db.select(XapiStatement.id)
        .where(claimable)
        .order_by(XapiStatement.created_at, XapiStatement.id)
        .limit(limit)
    )
    db.session.execute(
        db.update(XapiStatement)
        .where(XapiStatement.id.in_(batch.scalar_subquery()), claimable)
        .values(claimed_by=token, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return list(
        db.session.scalars(
            db.select(XapiStatement)
            .filter_by(claimed_by=token)
            .order_by(XapiStatement.created_at, XapiStatement.id)
        )
    )


def deliver_pending(limit: int = BATCH, retry_all: bool = False) -> DeliveryResult:
    """Deliver one batch of waiting statements. Commits."""
    rows = _claim(limit, retry_all)
    if not rows:
        return DeliveryResult()
    settings = plugin_settings("xapi")
    try:
        send([row.statement for row in rows], settings)
    except DeliveryError as exc:
        log.warning("xAPI delivery of %d statements failed: %s", len(rows), exc)
        for row in rows:
            row.attempts += 1
            row.last_error = str(exc)[:500]
            row.claimed_by = row.claimed_at = None
        db.session.commit()
        return DeliveryResult(failed=len(rows))
    now = utcnow()
    for row in rows:
        row.sent_at, row.last_error, row.claimed_by = now, None, None
    db.session.commit()
    return DeliveryResult(sent=len(rows))


def deliver_all() -> DeliveryResult:
    """Deliver everything waiting, failed statements included (``lms xapi flush``)."""
    total = DeliveryResult()
    while True:
        result = deliver_pending(retry_all=True)
        total.sent += result.sent
        total.failed += result.failed
        if result.failed or not result.sent:
            return total


def send(statements: list[dict[str, Any]], settings: dict[str, Any]) -> None:
    if settings.get("endpoint"):
        post_to_lrs(statements, settings)
    else:
        append_to_file(statements, jsonl_path(settings))


def jsonl_path(settings: dict[str, Any]) -> Path:
    if settings.get("file"):
        return Path(settings["file"])
    return Path(current_app.instance_path) / "xapi" / "statements.jsonl"


def append_to_file(statements: list[dict[str, Any]], path: Path) -> None:
    """Append one JSON document per line, under an exclusive lock, synced to disk."""
    lines = "".join(json.dumps(s, ensure_ascii=False, sort_keys=True) + "\n" for s in statements)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise DeliveryError(f"cannot write {path}: {exc.strerror or exc}") from exc


def post_to_lrs(statements: list[dict[str, Any]], settings: dict[str, Any]) -> None:
    """POST the batch to ``<endpoint>/statements`` (xAPI 1.0.3, HTTP Basic auth)."""
    url = settings["endpoint"].rstrip("/") + "/statements"
    headers = {"Content-Type": "application/json", "X-Experience-API-Version": VERSION}
    if settings.get("username") or settings.get("password"):
        pair = f"{settings.get('username', '')}:{settings.get('password', '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    body = json.dumps(statements, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"the LRS answered {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DeliveryError(f"the LRS cannot be reached: {exc}") from exc
