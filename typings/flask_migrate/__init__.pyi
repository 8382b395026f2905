from collections.abc import Callable
from typing import Any

from alembic.config import Config as AlembicConfig
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

# At run time flask_migrate.Config is a subclass of Alembic's Config.
class Config(AlembicConfig):
    def get_template_directory(self) -> str: ...

class Migrate:
    def __init__(
        self,
        app: Flask | None = ...,
        db: SQLAlchemy | None = ...,
        directory: str = ...,
        command: str = ...,
        compare_type: bool = ...,
        render_as_batch: bool = ...,
        **kwargs: Any,
    ) -> None: ...
    def init_app(
        self,
        app: Flask,
        db: SQLAlchemy | None = ...,
        directory: str | None = ...,
        command: str | None = ...,
        compare_type: bool | None = ...,
        render_as_batch: bool | None = ...,
        **kwargs: Any,
    ) -> None: ...
    def configure(self, f: Callable[[Config], Config]) -> Callable[[Config], Config]: ...
    def get_config(
        self, directory: str | None = ..., x_arg: Any = ..., opts: Any = ...
    ) -> Config: ...

def upgrade(
    directory: str | None = ...,
    revision: str = ...,
    sql: bool = ...,
    tag: str | None = ...,
    x_arg: Any = ...,
) -> None: ...
