"""The runtime package needs neither the test tools nor the production extra to import.

``pip install camp-lms`` (no extras) runs the embedded default: ``lms`` and its CLI must import
without pytest or hypothesis (test tools) and without gunicorn, psycopg, redis or rq (the
``production`` extra). The test blocks those modules in a fresh interpreter and imports every
module of ``lms`` but the conformance kit ``lms.testing`` (a pytest plugin for camp packages'
own tests), then builds the app on SQLite and runs the CLI's help.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine_independent

ROOT = Path(__file__).resolve().parents[1]

BLOCKED = ("pytest", "_pytest", "hypothesis", "gunicorn", "psycopg", "redis", "rq")

SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    BLOCKED = {blocked!r}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"blocked by the test: {{name}}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    import lms, lms.cli

    # lms.gunicorn_worker is gunicorn's worker class: only gunicorn imports it; and
    # lms.postgres_cursor psycopg's cursor class, imported once the engine is PostgreSQL
    skipped = (
        "lms.testing", "lms.migrations", "lms.scaffold.files", "lms.gunicorn_worker",
        "lms.postgres_cursor",
    )
    for module in pkgutil.walk_packages(lms.__path__, "lms."):
        if not module.name.startswith(skipped):
            importlib.import_module(module.name)
    app = lms.create_app({{"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 32}})
    assert app.name == "lms"
    try:
        lms.cli.main(["--help"])
    except SystemExit as done:
        assert done.code == 0, done.code
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    print("ok")
    """
).format(blocked=BLOCKED)


def run_fresh(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh interpreter that sees only this checkout, in ``folder``."""
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "LMS_INSTANCE_PATH": str(folder),
            "HOME": str(folder),
        },
    )


def test_lms_imports_without_test_tools_or_production_extras(tmp_path):
    result = run_fresh(SCRIPT, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_the_blocker_blocks(tmp_path):
    """The check above could pass by not blocking anything: importing pytest must fail."""
    script = SCRIPT.replace("import lms, lms.cli", "import pytest  # noqa")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode != 0
    assert "blocked by the test: pytest" in result.stderr


# Loaded where they are used (trainers' uploads and slugs, the ingest job), not by every web
# worker at start-up: FFmpeg's bindings take about 23 MiB, pypinyin's dictionaries 55 MiB.
HEAVY = ("av", "pypinyin")

APP_ONLY = textwrap.dedent(
    """
    import sys
    import lms

    app = lms.create_app({{"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 32}})
    app.test_client().get("/healthz")
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
    print("loaded:", loaded)
    from lms.services import slugs
    print("slug:", slugs.slugify("现金流管理"), "av" in sys.modules)
    """
).format(heavy=HEAVY)


def test_a_web_worker_starts_without_the_heavy_media_and_pinyin_modules(tmp_path):
    result = run_fresh(APP_ONLY, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "loaded: []" in result.stdout
    assert "slug: xian-jin-liu-guan-li False" in result.stdout  # pinyin loads when needed
