"""A large training-records data set for the report benchmarks, loaded in bulk.

10,000 learners in 50 organizations and 1,000,000 ``training_time`` entries spread over the
last 12 months (the current one included): SQLAlchemy Core ``executemany`` in batches on
SQLite, ``COPY … FROM STDIN`` on PostgreSQL. Nothing goes through the ORM or the services,
and the ledger's secondary indexes (and, on PostgreSQL, its foreign keys) are built after
the load, as a bulk load does. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import Flask
from sqlalchemy import ForeignKeyConstraint
from sqlalchemy.schema import AddConstraint, CreateTable

BATCH = 50_000
CAMPS = ("startup-growth", "entrepreneur", "silicon-valley", "practitioner")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
TARGETS = (None, None, None, 8, 10, 16)  # organizations' own monthly targets (hours)
LIVE_SECONDS = (3000, 3600, 5400, 10200)  # a lecture, …, a whole activity day
COLUMNS = ("source_key", "user_id", "source", "seconds", "day", "camp_id", "course_id",
           "live_session_id", "note", "created_at")  # fmt: skip


@dataclass
class RecordsData:
    app: Flask
    month: date  # the first day of the current month: the month the reports look at
    learners: int
    organizations: int
    rows: int
    largest_organization_id: int


def first_months(today: date, months: int) -> list[date]:
    """The first days of the last ``months`` months, oldest first, this month last."""
    firsts, year, month = [], today.year, today.month
    for _ in range(months):
        firsts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return firsts[::-1]


def build(
    database_url: str,
    *,
    learners: int = 10_000,
    organizations: int = 50,
    rows: int = 1_000_000,
    months: int = 12,
    seed: int = 5,
) -> RecordsData:
    """Create the schema on ``database_url`` and fill it; returns the app bound to it."""
    from lms import create_app
    from lms.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secrets.token_hex(16)})
    rng = random.Random(seed)
    now = datetime.now(UTC)
    today = now.date()
    with app.app_context():
        tables = db.metadata.tables
        ledger = tables["training_time"]
        postgres = db.engine.dialect.name == "postgresql"
        foreign_keys = [c for c in ledger.constraints if isinstance(c, ForeignKeyConstraint)]
        db.metadata.create_all(db.engine, tables=[t for t in tables.values() if t is not ledger])
        with db.engine.begin() as connection:
            # PostgreSQL checks foreign keys row by row: they are added after the load and
            # checked in one pass. SQLite cannot add them later; its checks are cheap.
            connection.execute(
                CreateTable(ledger, include_foreign_key_constraints=[] if postgres else None)
            )
            if not postgres:
                connection.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MiB
            org_ids, camp_ids = _organizations_and_camps(connection, tables, rng, organizations)
            # Organizations of uneven size, as in the park: a few large, many small.
            weights = [1 / (rank + 1) ** 0.5 for rank in range(len(org_ids))]
            members = rng.choices(org_ids, weights=weights, k=learners)
            connection.execute(
                tables["users"].insert(),
                [
                    {"email": f"learner{number}@bench.example",
                     "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                     "password_hash": "!", "role": "learner", "active": True,
                     "organization_id": organization, "is_manager": False, "created_at": now}
                    for number, organization in enumerate(members)
                ],
            )  # fmt: skip
            user_ids = list(connection.execute(db.text("SELECT id FROM users")).scalars())
            batches = _entries(rng, user_ids, camp_ids, first_months(today, months), rows, now)
            if postgres:
                _copy(connection, batches)
            else:
                _executemany(connection, ledger, batches)
            # Sorting once beats a million random B-tree insertions.
            for index in ledger.indexes:
                index.create(connection)
            if postgres:
                for constraint in foreign_keys:
                    connection.execute(AddConstraint(constraint))
            connection.execute(db.text("ANALYZE"))
        largest = max(set(members), key=members.count)
        db.session.remove()
    return RecordsData(app, today.replace(day=1), learners, organizations, rows, largest)


def _organizations_and_camps(connection, tables, rng: random.Random, count: int) -> tuple:
    from lms.extensions import db

    now = datetime.now(UTC)
    connection.execute(
        tables["camps"].insert(),
        [
            {"slug": slug, "plugin": "bench", "enabled": True, "title_zh": slug,
             "title_en": slug, "summary_zh": "", "summary_en": "", "audience_zh": "",
             "audience_en": "", "position": number, "created_at": now}
            for number, slug in enumerate(CAMPS)
        ],
    )  # fmt: skip
    connection.execute(
        tables["organizations"].insert(),
        [
            {"name": f"企业 {number:02d} Company", "created_at": now,
             "monthly_target_hours": rng.choice(TARGETS)}
            for number in range(count)
        ],
    )  # fmt: skip
    org_ids = list(connection.execute(db.text("SELECT id FROM organizations")).scalars())
    camp_ids = list(connection.execute(db.text("SELECT id FROM camps")).scalars())
    return org_ids, camp_ids


def _entries(
    rng: random.Random,
    user_ids: list[int],
    camp_ids: list[int],
    months: list[date],
    count: int,
    now: datetime,
) -> Iterator[list[tuple]]:
    """Ledger rows in batches: mostly verified video time, live sessions, a few corrections.

    Learners, days and camps are drawn a batch at a time (``choices(k=…)``): calling
    ``random`` several times per row would take longer than the inserts.
    """
    start = months[0]
    following = (months[-1] + timedelta(days=31)).replace(day=1)
    days = [start + timedelta(days=n) for n in range((following - start).days)]
    camps = [*camp_ids, None]
    camp_weights = [0.8 / len(camp_ids)] * len(camp_ids) + [0.2]
    for first in range(0, count, BATCH):
        size = min(BATCH, count - first)
        users = rng.choices(user_ids, k=size)
        on = rng.choices(days, k=size)
        where = rng.choices(camps, weights=camp_weights, k=size)
        batch = []
        for offset in range(size):
            kind = rng.random()
            if kind < 0.02:
                source, seconds = "correction", -int(60 + kind * 80_000)
            elif kind < 0.25:
                source, seconds = "live", LIVE_SECONDS[int(kind * 1000) % 4]
            else:
                source, seconds = "video", int(60 + (kind - 0.25) * 4_720)
            batch.append((
                f"bench:{first + offset:09d}",  # increasing: appended to the unique index
                users[offset], source, seconds, on[offset], where[offset], None, None, "", now,
            ))  # fmt: skip
        yield batch


def _executemany(connection, table, batches: Iterator[list[tuple]]) -> None:
    """SQLite: one Core ``INSERT`` executed with a batch of parameter tuples at a time.

    Days and the timestamp are turned into the column types' stored text once per distinct
    value (with the dialect's own bind processors), not once per row.
    """
    dialect = connection.dialect
    as_day = table.c.day.type.dialect_impl(dialect).bind_processor(dialect)
    as_time = table.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    stored: dict[object, str] = {}

    def text(value: object, processor) -> str:
        found = stored.get(value)
        if found is None:
            found = stored[value] = processor(value)
        return found

    compiled = table.insert().compile(dialect=dialect, column_keys=list(COLUMNS))
    assert list(compiled.positiontup) == list(COLUMNS)
    for batch in batches:
        connection.exec_driver_sql(
            str(compiled),
            [(*e[:4], text(e[4], as_day), *e[5:9], text(e[9], as_time)) for e in batch],
        )


def _copy(connection, batches: Iterator[list[tuple]]) -> None:
    """PostgreSQL: one ``COPY … FROM STDIN`` through psycopg."""
    raw = connection.connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY training_time ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for batch in batches:
            for entry in batch:
                copy.write_row(entry)
