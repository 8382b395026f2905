"""Blueprints: thin views that parse, authorize, call a service and render."""

from flask import Flask

from lms.web import admin, auth, catalog, errors, health, learn


def register_blueprints(app: Flask) -> None:
    for module in (auth, catalog, learn, admin, health):
        app.register_blueprint(module.bp)
    errors.register(app)
