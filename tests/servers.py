"""Real servers for tests: gunicorn with deploy/gunicorn.conf.py in a subprocess, and its
environment (instance folder, database and media in the test's own tmp_path)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent


def unavailable(reason: str, module: bool = False) -> NoReturn:
    """A service or program a test needs (Redis, PostgreSQL, nginx, Chromium) is missing:
    skip the test (``module``: the whole module), except under CI (``CI`` set, as
    ``.ci/run`` does), where every one of them must be there and the test fails instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must provide it (.ci/run)", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


def environment(tmp_path: Path, **values: str) -> dict[str, str]:
    """The environment of an app process: this one's without ``LMS_*``/``FLASK_*``/``PYTEST_*``
    variables, an instance folder, a SQLite database and a media root under ``tmp_path``, no
    plugins, the site's address and host names (required with ``LMS_ENV=production``: the
    loopback is trusted, so tests reach gunicorn directly); ``values`` override any of them."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LMS_", "FLASK_", "PYTEST_"))
    }
    env.update(
        {
            "LMS_INSTANCE_PATH": str(tmp_path / "instance"),
            "LMS_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
            "LMS_MEDIA_ROOT": str(tmp_path / "media"),
            "LMS_LOAD_PLUGINS": "",
            "LMS_BASE_URL": "https://lms.test/",
            "LMS_TRUSTED_HOSTS": "lms.test,127.0.0.1",
            **values,
        }
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(env: dict[str, str], *arguments: str, **popen: Any) -> subprocess.Popen:
    """``gunicorn -c deploy/gunicorn.conf.py [arguments]`` (another app, say); output to pipes
    unless ``popen`` says otherwise (``stdout=``, ``stderr=``, ``start_new_session=True`` to
    signal the whole group)."""
    options: dict[str, Any] = {
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
        **popen,
    }
    config = str(ROOT / "deploy" / "gunicorn.conf.py")
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", config, *arguments],
        env=env,
        cwd=ROOT,
        **options,
    )
