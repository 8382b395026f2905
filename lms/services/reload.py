"""Loading the installed plugins again, with no restart by hand.

A process loads the plugins once, when it builds the app. To load what was installed,
upgraded or repaired since, the server replaces its processes gracefully:

* under gunicorn (``deploy/gunicorn.conf.py``), its master gets ``SIGHUP``: it starts new
  workers, which import the code installed now, and lets the old ones finish the requests they
  hold, so no request is lost (``python -m bench reload``);
* the development server started with its reloader (``lms run --reload`` or ``--debug``)
  restarts its process;
* anything else must be restarted by hand, and :class:`ReloadUnavailable` says so.

Only plugins are loaded again this way: a change to the core needs a restart.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from lms.config import instance_path

# Set by deploy/gunicorn.conf.py in the master; its workers inherit it.
SERVER_PID = "LMS_SERVER_PID"
# gunicorn's pidfile, in the instance folder unless LMS_PIDFILE names another.
PIDFILE = "gunicorn.pid"


class ReloadUnavailable(RuntimeError):
    """This server cannot reload itself; the message says what to do instead."""


def pidfile() -> Path:
    return Path(os.environ.get("LMS_PIDFILE") or instance_path() / PIDFILE)


def gunicorn_master() -> int | None:
    """The pid of the running gunicorn master: this worker's, else the pidfile's."""
    value = os.environ.get(SERVER_PID)
    if not value:
        try:
            value = pidfile().read_text(encoding="ascii").strip()
        except OSError:
            return None
    try:
        pid = int(value)
        os.kill(pid, 0)  # still running (and ours to signal)?
    except (ValueError, ProcessLookupError, PermissionError):
        return None
    return pid if _is_gunicorn(pid) else None


def _is_gunicorn(pid: int) -> bool:
    """A stale pidfile may name a pid the system gave to another program since."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pidfile, as gunicorn's own tools do
    return b"gunicorn" in command


def reload(*, in_request: bool = False) -> str:
    """Ask the server to load the plugins again; returns how (``gunicorn``, ``development``).

    ``in_request``: called by a page of the development server, whose process may restart.
    """
    if os.environ.get("LMS_PRELOAD", "") not in ("", "0"):
        raise ReloadUnavailable(
            "gunicorn preloads the app (LMS_PRELOAD): restart the service to load plugins"
        )
    pid = gunicorn_master()
    if pid is not None:
        os.kill(pid, signal.SIGHUP)
        return "gunicorn"
    if in_request and os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        # werkzeug's reloader starts the process again when it exits with status 3; the
        # delay lets this response reach the browser first.
        threading.Timer(0.5, os._exit, (3,)).start()
        return "development"
    raise ReloadUnavailable(
        f"no running gunicorn found ({pidfile()}), and this is not the development server "
        "with its reloader: restart the server to load the plugins"
    )
