"""Installed plugins are loaded with no restart by hand: /admin/camps shows what a reload would
bring, and its Load button (or ``lms plugins reload``) makes gunicorn replace its workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lms.services import reload
from tests.test_plugins import broken_plugin, client_for, run, write_distribution

__all__ = ["broken_plugin", "client_for"]  # fixtures used here

# A stand-in for gunicorn's master: writes "hup" to a file when it gets SIGHUP.
MASTER = """
# gunicorn's master, played
import signal, sys, time
signal.signal(signal.SIGHUP, lambda *_: open(sys.argv[1], "w").write("hup"))
print("ready", flush=True)
time.sleep(30)
"""


@pytest.fixture
def master(tmp_path):
    received = tmp_path / "received"
    process = subprocess.Popen(
        [sys.executable, "-c", MASTER, str(received)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline() == "ready\n"
    yield process, received
    process.kill()
    process.wait()


def hup_received(received: Path) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if received.exists() and received.read_text() == "hup":
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def test_a_camp_installed_after_start_is_listed_with_a_load_button(
    make_app, client_for, organizer, site
):
    app = make_app()
    admin = client_for(app, login=organizer.email)
    assert "Installed, not loaded yet" not in admin.get("/admin/camps").get_data(as_text=True)

    (site / "late_camp.py").write_text("", encoding="utf-8")
    write_distribution(site, "lms-camp-late", {"late": "late_camp"})
    page = " ".join(admin.get("/admin/camps").get_data(as_text=True).split())
    assert "Installed, not loaded yet" in page
    assert "<strong>late</strong> lms-camp-late 0.1 — newly installed" in page
    assert "/admin/plugins/reload" in page


def test_a_plugin_whose_code_changed_on_disk_is_listed(make_app, site):
    (site / "edited_camp.py").write_text("", encoding="utf-8")
    write_distribution(site, "lms-camp-edited", {"edited": "edited_camp"})
    app = make_app()
    with app.app_context():
        registry = app.extensions["lms.plugins"]
        assert [p.name for p in registry.pending()] == []
        later = time.time() + 5
        os.utime(site / "edited_camp.py", (later, later))
        [pending] = registry.pending()
    assert (pending.name, pending.reason, pending.version) == ("edited", "changed", "0.1")


def test_the_load_button_signals_the_gunicorn_master(
    make_app, client_for, organizer, master, monkeypatch
):
    process, received = master
    monkeypatch.setenv(reload.SERVER_PID, str(process.pid))
    admin = client_for(make_app(), login=organizer.email)
    page = admin.post("/admin/plugins/reload", follow_redirects=True).get_data(as_text=True)
    assert "The server is loading the plugins again" in page
    assert hup_received(received)


def test_without_a_server_that_can_reload_the_page_says_to_restart(
    make_app, client_for, organizer, learner, tmp_path, monkeypatch
):
    monkeypatch.delenv(reload.SERVER_PID, raising=False)
    monkeypatch.setenv("LMS_PIDFILE", str(tmp_path / "none.pid"))
    app = make_app()
    assert client_for(app, login=learner.email).post("/admin/plugins/reload").status_code == 403
    admin = client_for(app, login=organizer.email)
    page = admin.post("/admin/plugins/reload", follow_redirects=True).get_data(as_text=True)
    assert "The plugins could not be loaded again" in page
    assert "restart the server to load the plugins" in page


def test_lms_plugins_reload_signals_the_master_of_the_pidfile(
    make_app, master, tmp_path, monkeypatch
):
    process, received = master
    monkeypatch.delenv(reload.SERVER_PID, raising=False)
    pidfile = tmp_path / "gunicorn.pid"
    pidfile.write_text(f"{process.pid}\n", encoding="ascii")
    monkeypatch.setenv("LMS_PIDFILE", str(pidfile))
    result = run(make_app(sync=False), "plugins", "reload")
    assert result.exit_code == 0, result.output
    assert f"gunicorn (pid {process.pid}) is loading the plugins again" in result.output
    assert hup_received(received)

    process.send_signal(signal.SIGKILL)
    process.wait()
    result = run(make_app(sync=False), "plugins", "reload")
    assert result.exit_code == 1 and "no running gunicorn found" in result.output


def test_a_camp_plugin_that_failed_to_load_is_offered_a_reload_not_called_a_non_camp(
    make_app, client_for, organizer, broken_plugin
):
    admin = client_for(make_app(), login=organizer.email)
    page = " ".join(admin.get("/admin/camps").get_data(as_text=True).split())
    assert "<strong>broken</strong> — failed to load: fix it, then load it again" in page
    row = page[page.index("<strong>broken</strong><br>") :]
    row = row[: row.index("</tr>")]
    assert "Not a camp" not in row


STUDIO = """
from pathlib import Path
from lms.api import Camp, hookimpl

HERE = Path(__file__).parent


@hookimpl
def lms_register_camps():
    return [Camp(slug="studio", title_zh="工作室", title_en="Studio Camp",
                 curriculum=HERE / "curriculum.yaml", package_dir=HERE)]
"""


def test_sync_says_when_the_installed_code_is_newer_than_the_running_code(
    make_app, client_for, organizer, site
):
    from tests.test_plugins import CURRICULUM

    package = site / "studio_camp"
    package.mkdir()
    (package / "__init__.py").write_text(STUDIO, encoding="utf-8")
    (package / "curriculum.yaml").write_text(CURRICULUM.format(slug="studio"), encoding="utf-8")
    write_distribution(site, "lms-camp-studio", {"studio": "studio_camp"})
    admin = client_for(make_app(), login=organizer.email)
    page = admin.post("/admin/camps/studio/sync", follow_redirects=True).get_data(as_text=True)
    assert "studio synced" in page and "newer than the code running" not in page

    later = time.time() + 5
    os.utime(package / "__init__.py", (later, later))
    page = admin.post("/admin/camps/studio/sync", follow_redirects=True).get_data(as_text=True)
    assert "The installed studio is newer than the code running: press Load" in page


def test_a_stale_pidfile_naming_another_program_is_not_signalled(make_app, tmp_path, monkeypatch):
    other = subprocess.Popen(["sleep", "30"])
    try:
        monkeypatch.delenv(reload.SERVER_PID, raising=False)
        pidfile = tmp_path / "gunicorn.pid"
        pidfile.write_text(f"{other.pid}\n", encoding="ascii")
        monkeypatch.setenv("LMS_PIDFILE", str(pidfile))
        result = run(make_app(sync=False), "plugins", "reload")
        assert result.exit_code == 1 and "no running gunicorn found" in result.output
        assert other.poll() is None  # not signalled: still sleeping
    finally:
        other.kill()
        other.wait()
