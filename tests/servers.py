"""Real servers for tests: gunicorn with deploy/gunicorn.conf.py in a subprocess, and its
environment (instance folder, database and media in the test's own tmp_path)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def environment(tmp_path: Path, **values: str) -> dict[str, str]:
    """The environment of an app process: this one's without ``LMS_*``/``FLASK_*``/``PYTEST_*``
    variables, an instance folder, a SQLite database and a media root under ``tmp_path``, no
    plugins; ``values`` override any of them."""
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
            **values,
        }
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(env: dict[str, str], **popen: Any) -> subprocess.Popen:
    """``gunicorn -c deploy/gunicorn.conf.py``; output to pipes unless ``popen`` says otherwise
    (``stdout=``, ``stderr=``, ``start_new_session=True`` to signal the whole group)."""
    options: dict[str, Any] = {
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
        **popen,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
        env=env,
        cwd=ROOT,
        **options,
    )
