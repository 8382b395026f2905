"""The rules of docs/architecture.md: the import rules, kept by import-linter
(``.importlinter``; run by ``make lint``): the core is layered web -> services -> models,
never imports ``plugins``, and plugins import only ``lms.api``; and thin views: no module of
``lms/web`` queries the database itself (read with ``ast``)."""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
from pathlib import Path

import pytest

import lms

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / ".importlinter"


def test_every_core_module_but_lms_api_is_forbidden_to_plugins():
    config = configparser.ConfigParser()
    config.read(CONTRACTS, encoding="utf-8")
    forbidden = set(
        config["importlinter:contract:plugins-import-lms-api"]["forbidden_modules"].split()
    )
    package = Path(lms.__file__).parent
    modules = {
        f"lms.{path.stem}"
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    assert forbidden == modules - {"lms.api"}


def test_the_contracts_are_kept():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "The core is layered: web -> services -> models KEPT" in result.stdout, result.stdout
    assert "Plugins import only lms.api from the core KEPT" in result.stdout, result.stdout
    assert "The core never imports plugins: it calls hooks KEPT" in result.stdout, result.stdout


def test_a_plugin_importing_the_core_directly_breaks_a_contract(tmp_path):
    """The contract is not vacuous: a plugin module importing lms.models is caught."""
    plugins = tmp_path / "plugins"
    (plugins / "rogue").mkdir(parents=True)
    (plugins / "__init__.py").write_text("", encoding="utf-8")
    (plugins / "rogue" / "__init__.py").write_text("from lms.models import User\n", "utf-8")
    contracts = tmp_path / ".importlinter"
    contracts.write_text(CONTRACTS.read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "lint-imports"),
            "--no-cache",
            "--config",
            str(contracts),
            "--contract",
            "plugins-import-lms-api",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "plugins.rogue -> lms.models" in result.stdout, result.stdout


# -- thin views: no queries in lms/web --------------------------------------------------

WEB = ROOT / "lms" / "web"
# Flask-SQLAlchemy's helpers that run a query.
QUERY_HELPERS = frozenset({"get_or_404", "first_or_404", "one_or_404", "paginate"})
# Not views: the error handlers end a failed request's transaction, the health check asks
# the database whether it answers. They stay.
INFRASTRUCTURE = {
    "lms.web.errors": "rolls back the failed request's transaction",
    "lms.web.health": "asks the database whether it answers",
}
# Views not thin yet: each would still query the database itself. Issue 19 emptied it; it
# stays for a module that cannot be made thin at once, and only shrinks: a module that became
# thin must leave it (test_the_allowlist_is_not_stale).
NOT_YET_THIN: frozenset[str] = frozenset()


def queries_in(source: str) -> list[str]:
    """Where ``source`` talks to the database itself: ``db.session``, ``select(…)`` and
    ``db.select(…)``, and Flask-SQLAlchemy's query helpers (``db.get_or_404``…)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "db"
            and node.attr in {"session", "select", *QUERY_HELPERS}
        ):
            found.append(f"line {node.lineno}: db.{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "select"
        ):
            found.append(f"line {node.lineno}: select(…)")
    return found


def web_modules() -> dict[str, list[str]]:
    """Every module of lms/web (packages included) and what it queries."""
    return {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): (
            queries_in(path.read_text(encoding="utf-8"))
        )
        for path in sorted(WEB.rglob("*.py"))
    }


@pytest.mark.engine_independent
def test_views_do_not_query_the_database():
    offenders = {
        module: found
        for module, found in web_modules().items()
        if found and module not in NOT_YET_THIN and module not in INFRASTRUCTURE
    }
    assert not offenders, f"move these queries into lms/services: {offenders}"


def stale(listed: set[str], modules: dict[str, list[str]]) -> list[str]:
    """What is wrong with the allowlist ``listed`` given what ``modules`` query: a module
    that does not exist, or one that queries nothing (it must leave the list)."""
    return [f"no such module: {name}" for name in sorted(listed - set(modules))] + [
        f"{name} queries nothing now: take it off the list"
        for name in sorted(listed & set(modules))
        if not modules[name]
    ]


@pytest.mark.engine_independent
def test_the_allowlist_is_not_stale():
    assert not stale(set(NOT_YET_THIN) | set(INFRASTRUCTURE), web_modules())


@pytest.mark.engine_independent
def test_the_staleness_check_finds_thin_and_unknown_modules():
    """With NOT_YET_THIN empty, only the infrastructure entries exercise the check: it still
    catches an allowlisted module that became thin and one that no longer exists."""
    modules = {"lms.web.thin": [], "lms.web.fat": ["line 3: db.session"]}
    assert stale({"lms.web.fat"}, modules) == []
    assert stale({"lms.web.fat", "lms.web.thin", "lms.web.gone"}, modules) == [
        "no such module: lms.web.gone",
        "lms.web.thin queries nothing now: take it off the list",
    ]
    assert stale(set(INFRASTRUCTURE), web_modules()) == []  # errors and health do query


@pytest.mark.engine_independent
@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from lms.extensions import db\ndb.session.get(User, 1)\n", ["line 2: db.session"]),
        ("x = db.select(User)\n", ["line 1: db.select"]),
        ("from sqlalchemy import select\nrows = select(User.id)\n", ["line 2: select(…)"]),
        ("course = db.get_or_404(Course, 3)\n", ["line 1: db.get_or_404"]),
        ("form.select(1)\nreports.monthly_hours(scope)\n", []),
    ],
)
def test_the_checker_finds_queries(source, found):
    assert queries_in(source) == found
