"""Blueprints: thin views that parse, authorize, call a service and render."""

from flask import Flask

from lms.web import admin, api, auth, catalog, community, errors, health, learn, live, teach


def register_blueprints(app: Flask) -> None:
    for module in (auth, catalog, learn, live, teach, admin, health, api, community):
        app.register_blueprint(module.bp)
    errors.register(app)
