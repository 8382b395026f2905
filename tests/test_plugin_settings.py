"""Plugin settings: declared as a WTForms form, edited by organizers, stored as JSON,
overridden by the environment."""

from __future__ import annotations

import pytest
import wtforms
from wtforms.validators import URL, NumberRange, Optional

from lms import plugin_settings
from lms.extensions import db
from lms.models import PluginSetting
from tests.conftest import Client
from tests.test_plugins import camp_package, camp_plugin, plugin, registry_of


class StudioSettings(wtforms.Form):
    endpoint = wtforms.URLField("Endpoint", validators=[Optional(), URL()], default="")
    seats = wtforms.IntegerField("Seats", validators=[NumberRange(1, 100)], default=12)
    public = wtforms.BooleanField("Public", default=True)
    api_key = wtforms.PasswordField("API key", default="")


def lms_plugin_settings():
    return StudioSettings


def studio_app(make_app):
    return make_app(EXTRA_PLUGINS={"studio": plugin(lms_plugin_settings, name="studio")})


__all__ = ["camp_package"]  # a fixture used here


def settings_of(app, name="studio"):
    with app.test_request_context():
        return plugin_settings(name)


def test_defaults_come_from_the_form(make_app):
    app = studio_app(make_app)
    assert settings_of(app) == {"endpoint": "", "seats": 12, "public": True, "api_key": ""}


SECRET = "k3y-7Qx9-secret"  # long enough not to occur in a page by chance


def test_an_organizer_edits_them_and_they_are_stored_as_json(make_app, organizer):
    app = studio_app(make_app)
    client = Client(app.test_client())
    client.login(organizer.email)
    url = "/admin/plugins/studio/settings"
    assert 'value="12"' in client.get(url).get_data(as_text=True)
    values = {"endpoint": "https://lrs.example/x", "seats": "30", "api_key": SECRET}
    response = client.post(url, values)
    assert response.status_code == 302
    assert settings_of(app) == {
        "endpoint": "https://lrs.example/x",
        "seats": 30,
        "public": False,
        "api_key": SECRET,
    }
    with app.app_context():
        assert db.session.get(PluginSetting, "studio").updated_by_id == organizer.id
    # An empty secret keeps the saved one, and it is never shown back.
    client.post(url, {"endpoint": "", "seats": "31", "public": "y", "api_key": ""})
    assert settings_of(app)["api_key"] == SECRET
    assert SECRET not in client.get(url).get_data(as_text=True)


def test_invalid_values_are_400_and_nothing_is_saved(make_app, organizer):
    app = studio_app(make_app)
    client = Client(app.test_client())
    client.login(organizer.email)
    for bad in ({"seats": "0"}, {"seats": "many"}, {"seats": "5", "endpoint": "not a url"}):
        assert client.post("/admin/plugins/studio/settings", bad).status_code == 400
    with app.app_context():
        assert db.session.get(PluginSetting, "studio") is None


def test_the_environment_overrides_and_locks_a_field(make_app, organizer, monkeypatch):
    monkeypatch.setenv("LMS_PLUGIN_STUDIO_SEATS", "77")
    monkeypatch.setenv("LMS_PLUGIN_STUDIO_API_KEY", "from-env")
    app = studio_app(make_app)
    assert settings_of(app)["seats"] == 77
    assert settings_of(app)["api_key"] == "from-env"
    client = Client(app.test_client())
    client.login(organizer.email)
    page = client.get("/admin/plugins/studio/settings").get_data(as_text=True)
    assert "LMS_PLUGIN_STUDIO_SEATS" in page
    client.post("/admin/plugins/studio/settings", {"seats": "5"})
    assert settings_of(app)["seats"] == 77
    with app.app_context():
        assert "seats" not in db.session.get(PluginSetting, "studio").values


def test_the_settings_page_is_for_organizers_only(make_app, learner, trainer):
    app = studio_app(make_app)
    client = Client(app.test_client())
    assert client.get("/admin/plugins/studio/settings").status_code == 302  # log in first
    for user in (learner, trainer):
        client.login(user.email)
        assert client.get("/admin/plugins/studio/settings").status_code == 403
        assert client.post("/admin/plugins/studio/settings", {"seats": "3"}).status_code == 403
        client.logout()


def test_unknown_plugins_and_plugins_without_settings_are_404(app, client, organizer):
    client.login(organizer.email)
    assert client.get("/admin/plugins/nope/settings").status_code == 404
    assert client.get("/admin/plugins/startup_growth/settings").status_code == 404


def test_posting_without_the_csrf_token_is_refused(make_app, organizer):
    app = studio_app(make_app)
    client = Client(app.test_client())
    client.login(organizer.email)
    response = client.post("/admin/plugins/studio/settings", {"seats": "3"}, csrf=False)
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(PluginSetting, "studio") is None


def test_a_plugin_returning_something_else_is_reported(make_app):
    def lms_plugin_settings():
        return {"seats": 3}

    app = make_app(EXTRA_PLUGINS={"odd": plugin(lms_plugin_settings, name="odd")})
    assert settings_of(app, "odd") == {}
    assert any("not a Form" in e for e in registry_of(app).plugins["odd"].runtime_errors)


def test_the_plugins_page_lists_templates_static_files_and_settings(app, client, organizer):
    client.login(organizer.email)
    rows = {row["name"]: row for row in client.get("/admin/camps.json").get_json()}
    assert rows["xapi"]["settings"] is True and rows["xapi"]["camps"] == []
    assert rows["entrepreneur"]["settings"] is False
    assert "camps/entrepreneur/camp.html" in rows["entrepreneur"]["templates"]
    assert "emblem.svg" in rows["entrepreneur"]["static"]
    page = client.get("/admin/camps").get_data(as_text=True)
    assert "/admin/plugins/xapi/settings" in page
    assert "camps/entrepreneur/camp.html" in page


def test_a_lookup_by_a_name_no_plugin_has_is_a_clear_error(make_app, camp_package):
    def lms_plugin_settings():
        return StudioSettings

    folder = camp_package("design-studio")
    app = make_app(
        EXTRA_PLUGINS={"studio": camp_plugin(folder, "design-studio", lms_plugin_settings)}
    )
    assert settings_of(app, "studio")["seats"] == 12  # the plugin: its entry-point name
    with pytest.raises(LookupError, match="'design-studio' is a camp; its plugin is 'studio'"):
        settings_of(app, "design-studio")
    with pytest.raises(LookupError, match=r"no plugin 'stuido' .*startup_growth, studio"):
        settings_of(app, "stuido")
    assert settings_of(app, "startup_growth") == {}  # a plugin without settings
