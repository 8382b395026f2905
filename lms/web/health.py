"""``GET /healthz``: is the app up, and can it reach its database?"""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import Integer, Select, literal_column, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from lms import __version__
from lms.extensions import db
from lms.services.camps import registry

bp = Blueprint("health", __name__)
# Built once; run on the session's connection (Core), without the ORM's execution around it.
# A select rather than text(): SQLAlchemy keeps a compiled select's result columns, where it
# reads a text statement's from the driver every time.
PING: Select[tuple[int]] = select(literal_column("1", Integer))


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        db.session.connection().execute(PING)
        database = {"ok": True, "engine": db.engine.dialect.name}
    except SQLAlchemyError as exc:
        db.session.rollback()
        database = {"ok": False, "engine": db.engine.dialect.name, "error": type(exc).__name__}
    plugins = registry().plugins.values()
    body = {
        "status": "ok" if database["ok"] else "unavailable",
        "version": __version__,
        "database": database,
        "plugins": {
            "loaded": sum(1 for p in plugins if p.status == "loaded"),
            "failed": sorted(p.name for p in plugins if p.status != "loaded"),
        },
    }
    return jsonify(body), 200 if database["ok"] else 503
