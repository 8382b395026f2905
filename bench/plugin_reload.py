"""``python -m bench reload``: a plugin reload under load loses no request.

gunicorn (the production configuration, two workers) serves the catalog and a course page to
eight clients for the whole run. Meanwhile a camp is installed (a package and its
``lms.plugins`` entry point, as pip leaves them) and ``lms plugins reload`` is run three times;
each sends the master SIGHUP, which starts new workers and lets the old ones finish. Prints:

* ``BENCH plugin_reload_failed_requests`` — requests that failed (connection errors, 5xx,
  anything but 200): must be 0;
* ``BENCH plugin_reload_requests`` — requests answered during the run;
* ``BENCH plugin_reload_new_camp_seconds`` — from the first reload to a worker that has
  loaded the new camp answering.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 8
BUNDLED = 5  # the four camps and xapi
PATHS = ("/", "/camps/startup-growth/strategy-toolkit/", "/healthz")
CAMP = """
from pathlib import Path
from lms.api import Camp, hookimpl

@hookimpl
def lms_register_camps():
    return [Camp(slug="late-camp", title_zh="后来营", title_en="Late Camp")]
"""


def report(name: str, value: float, unit: str) -> None:
    print(f"BENCH {name} {value:g} {unit}", flush=True)


def _prepare(folder: Path) -> dict[str, str]:
    """An instance on SQLite with the four camps synced; the environment for gunicorn."""
    env = {
        "LMS_INSTANCE_PATH": str(folder / "instance"),
        "LMS_DATABASE_URL": f"sqlite:///{folder}/reload.sqlite3",
        "LMS_SECRET_KEY": os.urandom(16).hex(),
        "LMS_MEDIA_ROOT": str(folder / "media"),
        "LMS_PIDFILE": str(folder / "gunicorn.pid"),
        "PYTHONPATH": f"{folder / 'site'}{os.pathsep}{ROOT}",
        "LMS_ACCESS_LOG": "",
        "LMS_LOG_LEVEL": "warning",
        "LMS_MAX_REQUESTS": "0",
        "LMS_WORKERS": "2",
    }
    (folder / "site").mkdir()
    setup = "from lms.cli import main; main(['init'])"
    subprocess.run([sys.executable, "-c", setup], env={**os.environ, **env}, check=True,
                   capture_output=True)  # fmt: skip
    return env


def _install_camp(site: Path) -> None:
    (site / "late_camp.py").write_text(CAMP, encoding="utf-8")
    info = site / "lms_camp_late-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: lms-camp-late\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text("[lms.plugins]\nlate = late_camp\n", encoding="utf-8")


def _load(port: int, stop: threading.Event, counts: dict[str, int], lock: threading.Lock):
    number = 0
    while not stop.is_set():
        path = PATHS[number % len(PATHS)]
        number += 1
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            ok = False
        finally:
            connection.close()
        with lock:
            counts["ok" if ok else "failed"] += 1


def _loaded(port: int) -> int:
    """How many plugins the worker answering /healthz has loaded."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/healthz")
        return json.loads(connection.getresponse().read())["plugins"]["loaded"]
    except (OSError, ValueError, KeyError):
        return 0
    finally:
        connection.close()


def run(seconds: float = 12.0) -> int:
    from bench.__main__ import GUNICORN, free_port, wait_for_port

    with tempfile.TemporaryDirectory(prefix="lms-bench-reload-") as name:
        folder = Path(name)
        env = {**os.environ, **_prepare(folder)}
        port = free_port()
        command = [*GUNICORN, "--bind", f"127.0.0.1:{port}"]
        server = subprocess.Popen(command, cwd=ROOT, env=env)
        try:
            wait_for_port(port)
            stop, lock = threading.Event(), threading.Lock()
            counts = {"ok": 0, "failed": 0}
            clients = [
                threading.Thread(target=_load, args=(port, stop, counts, lock))
                for _ in range(CLIENTS)
            ]
            for client in clients:
                client.start()
            time.sleep(seconds / 4)
            _install_camp(folder / "site")
            reload = [sys.executable, "-c", "from lms.cli import main; main()", "plugins", "reload"]
            first = time.monotonic()
            subprocess.run(reload, env=env, check=True, capture_output=True)
            visible = None
            while visible is None and time.monotonic() - first < 60:
                if _loaded(port) == BUNDLED + 1:
                    visible = time.monotonic() - first
                time.sleep(0.1)
            for _again in range(2):  # two more reloads while the clients go on
                subprocess.run(reload, env=env, check=True, capture_output=True)
                time.sleep(seconds / 4)
            stop.set()
            for client in clients:
                client.join()
        finally:
            server.terminate()
            server.wait(timeout=60)
    report("plugin_reload_failed_requests", counts["failed"], "requests")
    report("plugin_reload_requests", counts["ok"] + counts["failed"], "requests")
    if visible is not None:
        report("plugin_reload_new_camp_seconds", round(visible, 2), "s")
    else:
        print("bench: the new camp never appeared after the reload", file=sys.stderr)
    return 1 if counts["failed"] or visible is None else 0
