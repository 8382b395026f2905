"""The baseline: a minimal Flask app with one JSON endpoint doing one upsert.

Served by the same gunicorn configuration as the LMS, on the same database, so the
progress endpoint's throughput can be read as a ratio against it.
"""

from __future__ import annotations

import contextlib
import os

from flask import Flask, jsonify, request
from sqlalchemy import Column, Float, Integer, MetaData, Table, create_engine, exc
from sqlalchemy.dialects import postgresql, sqlite

engine = create_engine(os.environ["BENCH_DATABASE_URL"], pool_pre_ping=True)
metadata = MetaData()
positions = Table(
    "bench_positions",
    metadata,
    Column("user_id", Integer, primary_key=True),
    Column("lesson_id", Integer, primary_key=True),
    Column("position", Float, nullable=False),
)
with contextlib.suppress(exc.DBAPIError):  # another worker created it at the same moment
    metadata.create_all(engine)
insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

app = Flask(__name__)


@app.get("/hello")
def hello():
    return "hello"


@app.post("/upsert")
def upsert():
    body = request.get_json()
    statement = insert(positions).values(
        user_id=int(body["user"]), lesson_id=int(body["lesson"]), position=float(body["position"])
    )
    statement = statement.on_conflict_do_update(
        index_elements=["user_id", "lesson_id"], set_={"position": statement.excluded.position}
    )
    with engine.begin() as connection:
        connection.execute(statement)
    return jsonify({"ok": True})
