"""Synced databases, copied instead of synced again.

Nearly every test starts from an app whose camps' curricula are synced, and the sync costs
a quarter of a second or more a test. The first fresh database a test process syncs for a
given engine, set of models and set of camps (their code and curriculum files) is kept as a
template: a SQLite file, or a PostgreSQL schema holding a copy of each table's rows. The
next fresh database with the same key is filled by copying the template, which gives the
same rows with the same ids.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy import Table, inspect, text

from lms.extensions import db
from lms.services import camps as camp_service

# key -> the template: a SQLite file's path, or a PostgreSQL schema's name
_templates: dict[tuple, str] = {}
_folder: Path | None = None


def key() -> tuple:
    """What decides a synced database's rows: the engine, the models and the camps."""
    registry = camp_service.registry()
    camps = []
    for slug in sorted(registry.camps):
        spec = registry.camps[slug]
        curriculum = spec.curriculum
        digest = (
            hashlib.sha256(curriculum.read_bytes()).hexdigest()
            if curriculum is not None and curriculum.is_file()
            else None
        )
        camps.append((repr(spec), registry.camp_plugin.get(slug), digest))
    return db.engine.dialect.name, tuple(sorted(db.metadata.tables)), tuple(camps)


def restore() -> bool:
    """Fill the app's new, empty database from a template; False if there is none yet."""
    template = _templates.get(key())
    if template is None:
        return False
    if db.engine.dialect.name == "sqlite":
        path = Path(db.engine.url.database or "")
        if not db.engine.url.database or (path.exists() and path.stat().st_size > 0):
            return False
        db.engine.dispose()
        shutil.copyfile(template, path)
        return True
    tables = set(inspect(db.engine).get_table_names())
    if not tables:
        db.create_all()
    elif tables != set(db.metadata.tables) or not _all_empty(tables):
        return False
    schema = db.session.scalar(text("SELECT current_schema()"))
    db.session.remove()
    statements = ["SET session_replication_role = replica"]  # any order of foreign keys
    sequences = []
    for table in db.metadata.sorted_tables:
        columns = _columns(table)
        statements.append(
            f'INSERT INTO {schema}."{table.name}" ({columns}) '  # noqa: S608 - our own names
            f'SELECT {columns} FROM {template}."{table.name}"'
        )
        serial = table.autoincrement_column
        if serial is not None:
            qualified = f'{schema}."{table.name}"'
            sequences.append(
                f"SELECT setval(pg_get_serial_sequence('{qualified}', '{serial.name}'), "  # noqa: S608
                f'coalesce(max("{serial.name}"), 0) + 1, false) FROM {qualified}'
            )
    statements += ["SET session_replication_role = DEFAULT", *sequences]
    with db.engine.begin() as connection:
        connection.exec_driver_sql(";\n".join(statements))
    return True


def keep() -> None:
    """Keep the app's freshly synced database as the template for its key."""
    found = key()
    if found in _templates:
        return
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        if not db.engine.url.database:
            return
        global _folder
        if _folder is None:
            _folder = Path(tempfile.mkdtemp(prefix="lms-synced-"))
        target = _folder / f"{len(_templates)}.sqlite3"
        with (
            sqlite3.connect(db.engine.url.database) as source,
            sqlite3.connect(target) as copy,
        ):
            source.backup(copy)
        _templates[found] = str(target)
        return
    schema = f"s_{secrets.token_hex(6)}"
    statements = [f"CREATE SCHEMA {schema}"]
    statements += [
        f'CREATE TABLE {schema}."{table.name}" AS '  # noqa: S608 - our own names
        f'SELECT {_columns(table)} FROM "{table.name}"'
        for table in db.metadata.sorted_tables
    ]
    with db.engine.begin() as connection:
        connection.exec_driver_sql(";\n".join(statements))
    _templates[found] = schema


def postgres_schemas() -> list[str]:
    """The template schemas this process made (dropped when the session ends)."""
    return [name for name in _templates.values() if name.startswith("s_")]


def _columns(table: Table) -> str:
    return ", ".join(f'"{column.name}"' for column in table.columns if column.computed is None)


def _all_empty(tables: set[str]) -> bool:
    probes = " UNION ALL ".join(
        f'(SELECT 1 FROM "{name}" LIMIT 1)'  # noqa: S608 - our own names
        for name in sorted(tables)
    )
    return db.session.execute(text(probes)).first() is None
