"""Message catalogs: compile each ``.po`` into the ``.mo`` Flask-Babel reads.

The ``.mo`` files are not in git. ``make translations`` runs this module
(``python -m lms.i18n [--force]``) and the test suite calls :func:`compile_catalogs`,
so only catalogs whose ``.mo`` is missing or older than the ``.po`` are rebuilt.
Fuzzy entries are left out, as they are by ``pybabel compile``.

Flask-Babel looks a catalog up by the *normalised* name of the request's locale, and
Babel normalises ``zh_CN`` to ``zh_Hans_CN``: a ``zh_CN/LC_MESSAGES/messages.mo`` would
never be found. So the ``.po`` keeps the usual ``zh_CN`` folder (what ``pybabel`` and
translators use) and its ``.mo`` is written to ``zh_Hans_CN/LC_MESSAGES/``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

CORE_TRANSLATIONS = Path(__file__).parent / "translations"


def locale_in(globals_: Any) -> Locale | None:
    """The locale of the request (or app context) whose ``g`` is ``globals_``: what
    :func:`flask_babel.get_locale` answers, read first where Flask-Babel keeps it once chosen
    (its namespace in ``g``, which ``force_locale`` changes too). Pages ask for it for every
    string and kept block, and each of Flask-Babel's own look-ups goes through the ``g``
    proxy three times."""
    kept = getattr(globals_.get("_flask_babel"), "babel_locale", None)
    if kept is not None:
        return kept
    from flask_babel import get_locale

    return get_locale()


def catalog_directories() -> list[Path]:
    """The core's translations folder, then each loaded plugin's (as the app merges them)."""
    from lms.plugins import PluginRegistry

    registry = PluginRegistry()
    registry.load_entry_points()
    return [CORE_TRANSLATIONS, *registry.translation_folders()]


def lookup_name(folder: str) -> str:
    """The name Flask-Babel searches for a catalog folder's locale: ``zh_CN`` → ``zh_Hans_CN``."""
    try:
        return str(Locale.parse(folder))
    except (ValueError, UnknownLocaleError):
        return folder


def mo_path_for(po_path: Path) -> Path:
    """Where the compiled ``<dir>/<locale>/LC_MESSAGES/<domain>.po`` must go to be found."""
    locale_dir = po_path.parent.parent
    return locale_dir.parent / lookup_name(locale_dir.name) / "LC_MESSAGES" / f"{po_path.stem}.mo"


def compile_catalogs(
    directories: Iterable[Path] | None = None, *, force: bool = False
) -> list[Path]:
    """Compile ``<directory>/<locale>/LC_MESSAGES/<domain>.po`` files; return the ``.mo`` written.

    ``directories`` defaults to :func:`catalog_directories`; each ``.mo`` goes to
    :func:`mo_path_for`. A ``.mo`` at least as new as its ``.po`` is kept unless ``force``.
    Each file is written beside its target and then renamed, so a concurrent reader never
    sees half a catalog.
    """
    written: list[Path] = []
    for directory in catalog_directories() if directories is None else directories:
        for po_path in sorted(Path(directory).glob("*/LC_MESSAGES/*.po")):
            mo_path = mo_path_for(po_path)
            if (
                not force
                and mo_path.exists()
                and mo_path.stat().st_mtime >= po_path.stat().st_mtime
            ):
                continue
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file, locale=po_path.parent.parent.name, domain=po_path.stem)
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
            try:
                with os.fdopen(fd, "wb") as mo_file:
                    write_mo(mo_file, catalog)
                os.replace(temporary, mo_path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            written.append(mo_path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m lms.i18n [--force]``: compile the stale catalogs and name them."""
    args = sys.argv[1:] if argv is None else argv
    for mo_path in compile_catalogs(force="--force" in args):
        print(f"compiled {mo_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
