"""The import rules of docs/architecture.md, kept by import-linter (``.importlinter``; run by
``make lint``): the core is layered web -> services -> models, never imports ``plugins``, and
plugins import only ``lms.api``."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

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
