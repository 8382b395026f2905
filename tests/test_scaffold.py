"""``lms camps new``: a camp package that installs, passes its own tests and joins the catalog.

The generated package is really installed the way its README says, ``pip install -e``: pip
makes an editable install of it into a throwaway virtualenv (``python -m venv
--without-pip``) whose ``.pth`` file adds the project's virtualenv, so Camp LMS, Flask and
setuptools come from there and nothing is downloaded. ``lms camps list``, the generated
tests and the catalog then run with that virtualenv's Python and its ``lms`` script, and find
the camp through its ``lms.plugins`` entry point: the project's virtualenv is left as it is.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.error
import urllib.request
from importlib.metadata import PackageNotFoundError, distribution, entry_points, version
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.version import Version

from lms import config, scaffold
from lms.cli import main
from lms.scaffold import camp_names
from lms.services.curriculum import load_curriculum
from lms.testing import CampConformance

SCAFFOLD = Path(scaffold.__file__).parent / "files"
NAME = "Design Thinking and User Research"
SLUG = "design-thinking-and-user-research"
PACKAGE = "lms_camp_design_thinking_and_user_research"
PLUGIN = "design_thinking_and_user_research"
# Titles as long as allowed, with characters that need quoting in Python, TOML and YAML.
TITLE_ZH = "设计思维与用户研究训练营：从访谈到原型，再到可用性测试全过程"
TITLE_EN = 'The "Design" \\ Research Lab'

# The database-independent tests that install the package run in the SQLite pass only.
once = pytest.mark.skipif(
    bool(os.environ.get("LMS_DATABASE_URL")),
    reason="installs a package and uses SQLite whatever the database: run in the SQLite pass",
)


def new(*args: str):
    return CliRunner().invoke(main, ["camps", "new", *args])


def run(*command: str | Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# -- names and errors ----------------------------------------------------------------------


def test_the_names_follow_the_name_typed():
    names = camp_names("Design Thinking")
    assert (names.slug, names.package, names.distribution, names.entry_point) == (
        "design-thinking",
        "lms_camp_design_thinking",
        "lms-camp-design-thinking",
        "design_thinking",
    )
    assert (names.title_en, names.title_zh) == ("Design Thinking Camp", "Design Thinking 训练营")
    assert camp_names("sales_camp").title_en == "Sales Camp"


@pytest.mark.parametrize(
    "name", ["9lives", "x", "design--thinking", "design-", "-design", "design!", "营", "a" * 41]
)
def test_a_name_that_cannot_be_a_slug_is_refused(tmp_path, name):
    result = new("--directory", str(tmp_path / "camp"), "--", name)
    assert result.exit_code == 2
    assert "Invalid value for NAME" in result.output
    assert "lowercase letters, digits and single hyphens" in result.output
    assert not (tmp_path / "camp").exists()


def test_the_slug_of_an_installed_camp_is_refused(tmp_path):
    result = new("Entrepreneur", "--directory", str(tmp_path / "camp"))
    assert result.exit_code == 2
    assert "the installed plugin 'entrepreneur' already has a camp 'entrepreneur'" in result.output
    assert not (tmp_path / "camp").exists()


@pytest.mark.parametrize(
    ("option", "title", "message"),
    [
        ("--title-zh", "设" * 31, "at most 60 columns"),
        ("--title-en", "x" * 61, "at most 60 columns"),
        ("--title-en", "two\nlines", "one line of printable characters"),
        ("--title-zh", "  ", "cannot be empty"),
    ],
)
def test_a_bad_title_is_refused(tmp_path, option, title, message):
    result = new("design", "--directory", str(tmp_path / "camp"), option, title)
    assert result.exit_code == 2
    assert f"Invalid value for {option}" in result.output
    assert message in result.output


def test_an_existing_folder_is_never_overwritten(tmp_path):
    folder = tmp_path / "camp"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    result = new("design", "--directory", str(folder))
    assert result.exit_code == 1
    assert "already exists and is not an empty folder" in result.output
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "mine"


def test_an_empty_folder_is_filled(tmp_path):
    folder = tmp_path / "camp"
    folder.mkdir()
    result = new("design", "--directory", str(folder))
    assert result.exit_code == 0, result.output
    assert (folder / "lms_camp_design" / "__init__.py").is_file()


# -- the generated package -----------------------------------------------------------------


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scaffold") / "lms-camp-design"
    result = new(NAME, "--directory", str(folder), "--title-zh", TITLE_ZH, "--title-en", TITLE_EN)
    assert result.exit_code == 0, result.output
    assert f"Created camp '{SLUG}' in {folder}/ (package {PACKAGE})" in result.output
    return folder


def test_the_package_declares_its_entry_point_and_depends_on_the_core(package):
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    assert project["name"] == f"lms-camp-{SLUG}"
    assert project["dependencies"] == ["camp-lms>=0.1"]
    assert project["entry-points"]["lms.plugins"] == {PLUGIN: PACKAGE}
    assert project["description"] == f"{TITLE_EN}: a camp plugin for Camp LMS"


def test_the_package_registers_its_camp_with_the_titles_given(package):
    module = ast.parse((package / PACKAGE / "__init__.py").read_text())
    (call,) = [
        node
        for node in ast.walk(module)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Camp"
    ]
    keywords = {k.arg: k.value for k in call.keywords}
    assert ast.literal_eval(keywords["title_zh"]) == TITLE_ZH
    assert ast.literal_eval(keywords["title_en"]) == TITLE_EN
    assert "lms_lesson_completion_threshold" in (package / PACKAGE / "__init__.py").read_text()


def test_the_package_has_a_valid_curriculum_templates_static_files_and_translations(package):
    curriculum = load_curriculum(package / PACKAGE / "curriculum.yaml", SLUG)
    (course,) = curriculum.courses
    assert [(lesson.kind, lesson.video) for lesson in course.lessons()] == [
        ("reading", None),
        ("video", None),
    ]
    camp_page = package / PACKAGE / "templates" / "camps" / SLUG / "camp.html"
    assert camp_page.read_text().startswith('{% extends "camp.html" %}')
    assert f"filename='{SLUG}.css'" in camp_page.read_text()
    assert (package / PACKAGE / "static" / f"{SLUG}.css").is_file()
    assert (package / PACKAGE / "translations/zh_CN/LC_MESSAGES/messages.po").is_file()
    assert (package / PACKAGE / "translations/zh_Hans_CN/LC_MESSAGES/messages.mo").is_file()
    readme = (package / "README.md").read_text()
    for command in ("pip install -e .", f"lms camps disable {SLUG}", "no restart", "pytest"):
        assert command in readme


def test_the_package_is_ruff_clean(package):
    for command in (["check"], ["format", "--check"]):
        result = run(
            sys.executable,
            "-m",
            "ruff",
            *command,
            "--no-cache",
            ".",
            env={**os.environ},
            cwd=package,
        )
        assert result.returncode == 0, result.stdout + result.stderr


# -- installed -----------------------------------------------------------------------------


def builds_offline() -> bool:
    """setuptools builds wheels by itself from 70.1 on; before, it needs ``wheel``."""
    return Version(version("setuptools")) >= Version("70.1") or bool(
        importlib.util.find_spec("wheel")
    )


def python_path(python: Path, name: str) -> Path:
    """A ``sysconfig`` path (``purelib``, ``scripts``) of the interpreter ``python``."""
    result = run(
        python,
        *("-c", f"import sysconfig; print(sysconfig.get_path({name!r}))"),
        env={**os.environ},
        cwd=python.parent,
    )
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


@pytest.fixture(scope="module")
def venv_bin(package, tmp_path_factory) -> Path:
    """A throwaway virtualenv holding an editable install of the package: its ``bin`` folder.

    It has no pip and no packages of its own: a ``.pth`` file adds the project's
    virtualenv (with ``site.addsitedir``, so that Camp LMS's own editable install works in
    it too), and the project's pip installs into it with ``--python``. An ``lms`` script is
    written the way pip writes console scripts, from Camp LMS's ``console_scripts`` entry
    point, with this virtualenv's Python in its ``#!`` line.
    """
    folder = tmp_path_factory.mktemp("venv") / "venv"
    made = run(
        sys.executable, "-m", "venv", "--without-pip", folder, env={**os.environ}, cwd=package
    )
    assert made.returncode == 0, made.stdout + made.stderr
    python = folder / "bin" / "python"
    site_packages = python_path(python, "purelib")
    project = dict.fromkeys(sysconfig.get_path(name) for name in ("purelib", "platlib"))
    (site_packages / "_camp_lms_project.pth").write_text(
        "".join(f"import site; site.addsitedir({path!r})\n" for path in project)
    )
    offline = ["--no-build-isolation", "--no-index"] if builds_offline() else []
    result = run(
        sys.executable,
        *("-m", "pip", "--python", python, "install", "--quiet", "--disable-pip-version-check"),
        *("--no-deps", *offline, "--editable", package),
        env={**os.environ},
        cwd=package.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (site_packages / PACKAGE).exists(), "an editable install copies no package"
    (script,) = entry_points(group="console_scripts", name="lms")
    lms = python_path(python, "scripts") / "lms"
    lms.write_text(
        f"#!{python}\nimport sys\nfrom {script.module} import {script.attr}\n"
        f"sys.exit({script.attr}())\n"
    )
    lms.chmod(0o755)
    return lms.parent


@pytest.fixture
def env(venv_bin, tmp_path) -> dict[str, str]:
    """A process environment in the virtualenv, with a private instance folder."""
    hidden = {*config.ENVIRONMENT, "PYTHONPATH", "PYTHONHOME"}
    environment = {k: v for k, v in os.environ.items() if k not in hidden}
    environment["VIRTUAL_ENV"] = str(venv_bin.parent)
    environment["PATH"] = os.pathsep.join([str(venv_bin), environment.get("PATH", "")])
    environment["LMS_INSTANCE_PATH"] = str(tmp_path / "instance")
    return environment


EDITABLE_SCRIPT = """
import importlib.metadata, json, pathlib, sys

package, plugin, name = sys.argv[1:]
camp = __import__(package)
(point,) = importlib.metadata.entry_points(group="lms.plugins", name=plugin)
print(json.dumps({
    "file": str(pathlib.Path(camp.__file__).resolve()),
    "prefix": sys.prefix,
    "entry point": [point.value, point.dist.name],
    "direct_url": json.loads(importlib.metadata.distribution(name).read_text("direct_url.json")),
}))
"""


@once
def test_the_package_is_an_editable_install(venv_bin, env, package, tmp_path):
    """The camp is imported from the generated folder itself, through the editable install's
    metadata; the project's virtualenv knows nothing of it."""
    distribution_name = f"lms-camp-{SLUG}"
    result = run(
        *(venv_bin / "python", "-c", EDITABLE_SCRIPT, PACKAGE, PLUGIN, distribution_name),
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["file"] == str((package / PACKAGE / "__init__.py").resolve())
    assert Path(seen["prefix"]) == venv_bin.parent
    assert seen["entry point"] == [PACKAGE, distribution_name]
    assert seen["direct_url"] == {"dir_info": {"editable": True}, "url": package.as_uri()}
    with pytest.raises(PackageNotFoundError):
        distribution(distribution_name)


@once
def test_lms_lists_the_installed_camp_and_syncs_it(venv_bin, env, tmp_path):
    init = run(venv_bin / "lms", "init", env=env, cwd=tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    assert re.search(rf"^{SLUG}: [1-9]\d* created, 0 updated, 0 archived$", init.stdout, re.M)

    listed = run(venv_bin / "lms", "camps", "list", "--json", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (row,) = [row for row in json.loads(listed.stdout) if row["name"] == PLUGIN]
    assert (row["status"], row["error"], row["runtime_errors"]) == ("loaded", None, [])
    assert (row["distribution"], row["version"]) == (f"lms-camp-{SLUG}", "0.1.0")
    assert row["hooks"] == ["lms_register_camps"]
    assert [(c["slug"], c["title_zh"], c["enabled"]) for c in row["camps"]] == [
        (SLUG, TITLE_ZH, True)
    ]

    disabled = run(venv_bin / "lms", "camps", "disable", SLUG, env=env, cwd=tmp_path)
    assert disabled.stdout == f"{SLUG}: disabled\n", disabled.stderr
    listed = run(venv_bin / "lms", "camps", "list", env=env, cwd=tmp_path)
    assert f"camp {SLUG}: {TITLE_EN} (disabled)" in listed.stdout


@once
def test_the_generated_tests_pass_against_the_installed_package(venv_bin, env, package, tmp_path):
    result = run(
        *(venv_bin / "python", "-m", "pytest", package / "tests", "-q", "-p", "no:cacheprovider"),
        *("-W", "error::DeprecationWarning"),
        env=env,
        cwd=tmp_path,  # not the package's folder: the camp is imported through its install
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The kit's checks plus the package's own tests, none skipped.
    kit = sum(1 for name in dir(CampConformance) if name.startswith("test_"))
    template = (SCAFFOLD / "tests" / "test_camp.py.tmpl").read_text(encoding="utf-8")
    own = len(re.findall(r"^def test_", template, re.M))
    assert re.search(rf"^{kit + own} passed in [\d.]+s", result.stdout, re.M), result.stdout
    assert "warning" not in result.stdout


CATALOG_SCRIPT = """
import json, sys
from lms import create_app
from lms.extensions import db
from lms.services import camps

slug, database = sys.argv[1:]
app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": database})
with app.app_context():
    db.create_all()
    camps.sync()
client = app.test_client()

def pages():
    catalog = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    camp = client.get(f"/camps/{slug}/", headers={"Accept-Language": "zh-CN"})
    return {
        "in catalog": f'href="/camps/{slug}/"' in catalog and "Getting Started" in catalog,
        "camp page": camp.status_code,
        "translated": "训练营介绍" in camp.get_data(as_text=True),
    }

seen = {}
with app.app_context():
    camps.set_enabled(slug, True)
seen["enabled"] = pages()
with app.app_context():
    camps.set_enabled(slug, False)
seen["disabled"] = pages()
with app.app_context():
    camps.set_enabled(slug, True)
seen["enabled again"] = pages()
print(json.dumps(seen))
"""


@once
def test_its_course_joins_the_catalog_and_leaves_it_on_the_next_request(venv_bin, env, tmp_path):
    database = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    result = run(venv_bin / "python", "-c", CATALOG_SCRIPT, SLUG, database, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = {"in catalog": True, "camp page": 200, "translated": True}
    assert json.loads(result.stdout) == {
        "enabled": shown,
        "disabled": {"in catalog": False, "camp page": 404, "translated": False},
        "enabled again": shown,
    }


# -- the tutorial, against a running gunicorn ------------------------------------------------


def healthz(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_until(check, seconds: float) -> float:
    """Seconds until ``check()`` holds (fails after ``seconds``)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            if check():
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"not within {seconds} s")


@once
def test_the_tutorial_runs_against_gunicorn_with_no_restart_by_hand(venv_bin, env, tmp_path):
    """Scaffold, install, Load, enable (syncs), remove: the server is never restarted by hand,
    and each step shows on the next requests within the times docs/plugins.md gives."""
    root = Path(__file__).resolve().parent.parent
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = {
        **env,
        "LMS_DATABASE_URL": f"sqlite:///{tmp_path / 'tutorial.sqlite3'}",
        "LMS_SECRET_KEY": "tutorial-" + "x" * 32,
        "LMS_PIDFILE": str(tmp_path / "gunicorn.pid"),
        "LMS_WORKERS": "2",
        "LMS_ACCESS_LOG": "",
        "LMS_LOG_LEVEL": "warning",
    }
    assert run(venv_bin / "lms", "init", env=env, cwd=tmp_path).returncode == 0
    server = subprocess.Popen(
        [venv_bin / "python", "-m", "gunicorn", "-c", root / "deploy" / "gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}"],
        env=env, cwd=root,
    )  # fmt: skip
    package = tmp_path / "lms-camp-ai-product"
    python = venv_bin / "python"
    offline = ["--no-build-isolation", "--no-index"] if builds_offline() else []
    pip = [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check"]
    try:
        wait_until(lambda: healthz(base)["status"] == "ok", 60)
        before = healthz(base)["plugins"]["loaded"]
        started = time.monotonic()
        made = run(venv_bin / "lms", "camps", "new", "ai-product", "--directory", package,
                   env=env, cwd=tmp_path)  # fmt: skip
        assert made.returncode == 0, made.stderr
        installed = run(*pip, "install", "--quiet", "--no-deps", *offline, "--editable", package,
                        env={**os.environ}, cwd=tmp_path)  # fmt: skip
        assert installed.returncode == 0, installed.stderr
        assert status(f"{base}/camps/ai-product/") == 404  # installed, not loaded yet

        reloaded = run(venv_bin / "lms", "plugins", "reload", env=env, cwd=tmp_path)
        assert reloaded.returncode == 0, reloaded.stderr
        assert "is loading the plugins again" in reloaded.stdout
        wait_until(lambda: healthz(base)["plugins"]["loaded"] == before + 1, 60)

        enabled = run(venv_bin / "lms", "camps", "enable", "ai-product", env=env, cwd=tmp_path)
        assert enabled.returncode == 0, enabled.stderr
        assert status(f"{base}/camps/ai-product/getting-started/") == 200

        removed = run(venv_bin / "lms", "camps", "remove", "ai-product", env=env, cwd=tmp_path)
        assert removed.returncode == 0, removed.stderr
        assert status(f"{base}/camps/ai-product/") == 404
        assert time.monotonic() - started < 180, "the tutorial's machine time (docs/plugins.md)"
    finally:
        server.terminate()
        server.wait(timeout=60)
        run(*pip, "uninstall", "--yes", "lms-camp-ai-product", env={**os.environ}, cwd=tmp_path)
