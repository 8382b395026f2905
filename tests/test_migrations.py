"""The Alembic migrations build exactly the schema the models describe.

A model changed without a migration makes ``test_migrations_match_the_models`` fail:
run ``lms db migrate -m "..."`` and commit the new file under lms/migrations/versions/.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import Column, MetaData, String, inspect

from lms import create_app
from lms.extensions import db
from lms.models.search import engine_specific
from tests.conftest import _postgres_schema


@contextmanager
def migrated(app_config: dict, revision: str = "heads") -> Iterator[Flask]:
    """An app whose fresh database (a new PostgreSQL schema, or SQLite file) was migrated to
    ``revision``, in its app context."""
    schema = _postgres_schema(app_config)
    next(schema)
    app = create_app(app_config)
    with app.app_context():
        flask_migrate.upgrade(revision=revision)
        yield app
        db.session.remove()
        db.engine.dispose()
    next(schema, None)


@pytest.fixture
def migrated_app(app_config: dict) -> Iterator[Flask]:
    with migrated(app_config) as app:
        yield app


def differences(metadata: MetaData) -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                # The search index's FTS5 tables and tsvector column are made by DDL.
                "include_object": lambda _o, name, type_, *_: not engine_specific(name, type_),
            },
        )
        return compare_metadata(context, metadata)


def test_migrations_create_every_table(migrated_app):
    tables = {t for t in inspect(db.engine).get_table_names() if not engine_specific(t, "table")}
    assert tables == set(db.metadata.tables) | {"alembic_version"}


def test_migrations_match_the_models(migrated_app):
    found = differences(db.metadata)
    assert found == [], "the models changed without a migration: run `lms db migrate -m ...`"


def test_a_model_change_without_a_migration_is_detected(migrated_app):
    changed = MetaData(naming_convention=db.metadata.naming_convention)
    for table in db.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["camps"].append_column(Column("motto", String(100), nullable=True))

    added = [diff for diff in differences(changed) if diff[0] == "add_column"]
    assert ("camps", "motto") in [(diff[2], diff[3].name) for diff in added]
