"""``make lint``'s tools fail on a planted violation, with the project's own configuration.

Each check plants one breach of a rule in a scratch copy (a file for ruff, a copy of the
packages for import-linter, a two-package tree for mypy) and expects the tool to name it; the
tree itself passing is ``make lint``'s business.
"""

import configparser
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine_independent

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*args: str, cwd: Path, stdin: str | None = None, env: dict | None = None):
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_ruff_fails_on_an_unused_import_and_passes_without_it():
    planted = 'import os\n\n\ndef hello() -> str:\n    return "你好"\n'
    found = run("ruff", "check", "--stdin-filename", "lms/planted.py", "-", cwd=ROOT, stdin=planted)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "F401" in found.stdout and "`os` imported but unused" in found.stdout
    clean = planted.replace("import os\n\n\n", "")
    passed = run("ruff", "check", "--stdin-filename", "lms/planted.py", "-", cwd=ROOT, stdin=clean)
    assert passed.returncode == 0, passed.stdout


def test_import_linter_fails_when_a_model_imports_a_view(tmp_path):
    for package in ("lms", "plugins"):
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.mo", "*.po", "*.pot", "static", "data"),
        )
    shutil.copy(ROOT / ".importlinter", tmp_path)
    (tmp_path / "lms" / "models" / "planted.py").write_text("import lms.web.catalog\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}
    found = run("lint-imports", "--no-cache", cwd=tmp_path, env=env)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "The core is layered: web -> services -> models BROKEN" in found.stdout
    assert "lms.models.planted -> lms.web.catalog" in found.stdout
    # The other contracts still hold: only the planted import broke one.
    assert "Contracts: 3 kept, 1 broken." in found.stdout


def test_mypy_is_strict_for_services_and_checks_the_views(tmp_path):
    files = {
        "lms/__init__.py": "",
        "lms/services/__init__.py": "",
        "lms/services/planted.py": "def untyped(x):\n    return x\n",
        "lms/web/__init__.py": "",
        "lms/web/planted.py": textwrap.dedent(
            """
            def untyped(x):  # allowed outside the strict packages
                return x


            def wrong() -> int:
                return "三"
            """
        ),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    shutil.copy(ROOT / "mypy.ini", tmp_path)
    found = run("mypy", "--no-incremental", "lms", cwd=tmp_path)
    assert found.returncode == 1, found.stdout + found.stderr
    errors = sorted(line for line in found.stdout.splitlines() if ": error:" in line)
    assert len(errors) == 2, found.stdout
    assert errors[0].startswith("lms/services/planted.py:1: error: Function is missing")
    assert errors[1].startswith("lms/web/planted.py:7: error: Incompatible return value type")


def test_the_not_typed_yet_list_names_existing_modules():
    """A module that was renamed or removed leaves mypy.ini's list of modules not typed yet
    (mypy would silently ignore a name that matches nothing)."""
    config = configparser.ConfigParser()
    config.read(ROOT / "mypy.ini")
    sections = [name for name in config.sections() if config[name].get("ignore_errors")]
    assert len(sections) == 1, sections
    modules = sections[0].removeprefix("mypy-").split(",")
    missing = [
        module
        for module in modules
        if not (ROOT / (module.replace(".", "/") + ".py")).is_file()
        and not (ROOT / module.replace(".", "/") / "__init__.py").is_file()
    ]
    assert not missing, f"remove these from mypy.ini: {missing}"
    assert modules == sorted(modules), "keep the list sorted"
