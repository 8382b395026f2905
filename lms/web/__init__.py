"""Blueprints: thin views that parse, authorize, call a service and render."""

from flask import Flask

from lms.web import (
    admin,
    api,
    archive,
    auth,
    catalog,
    community,
    errors,
    feeds,
    health,
    learn,
    live,
    notifications,
    organizations,
    plans,
    plugin_admin,
    quiz,
    quiz_reports,
    quiz_teach,
    reports,
    search,
    security,
    surveys,
    teach,
)


def register_blueprints(app: Flask) -> None:
    for module in (
        auth,
        catalog,
        learn,
        quiz,
        surveys,
        archive,
        live,
        feeds,
        community,
        search,
        notifications,
        teach,
        quiz_teach,
        admin,
        organizations,
        plans,
        reports,
        quiz_reports,
        plugin_admin,
        health,
        api,
    ):
        app.register_blueprint(module.bp)
    errors.register(app)
    security.init_app(app)
