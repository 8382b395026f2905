"""Flask extensions, created unbound and initialised in :func:`lms.create_app`."""

from typing import TYPE_CHECKING

import flask_sqlalchemy.model
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Config, Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:
    # What db.Model is at run time: Flask-SQLAlchemy's declarative base made from Base, with
    # its query property and table-name rule. Type checkers cannot see a base class created
    # by a call (db.Model), so the models subclass this name.
    class Model(Base, flask_sqlalchemy.model.Model):
        __abstract__ = True

else:
    Model = db.Model

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
migrate = Migrate()


@migrate.configure
def _with_plugin_migrations(config: Config) -> Config:
    """Alembic sees the core's versions folder and every loaded plugin's own branch."""
    import os
    from pathlib import Path

    from flask import current_app

    registry = current_app.extensions.get("lms.plugins")
    folders = [Path(__file__).parent / "migrations" / "versions"]
    if registry is not None:
        folders += registry.migration_folders()
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(f) for f in folders))
    return config
