"""Blueprints: thin views that parse, authorize, call a service and render."""

from flask import Flask

from lms.web import (
    admin,
    api,
    auth,
    catalog,
    community,
    errors,
    feeds,
    health,
    learn,
    live,
    plugin_admin,
    teach,
)


def register_blueprints(app: Flask) -> None:
    for module in (
        auth,
        catalog,
        learn,
        live,
        feeds,
        community,
        teach,
        admin,
        plugin_admin,
        health,
        api,
    ):
        app.register_blueprint(module.bp)
    errors.register(app)
