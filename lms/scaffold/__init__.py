"""``lms camps new``: a new camp as an installable package, written from file templates.

The templates live in ``files/`` beside this module, one ``.tmpl`` file per generated file,
in the generated package's layout. ``string.Template`` fills them (``${slug}``, ``${package}``
and the other keys of :meth:`CampNames.values`); in paths, ``_package_`` and ``_slug_`` stand
for the package and the camp slug, and ``gitignore`` becomes ``.gitignore``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from string import Template

from lms import __version__
from lms.camp import SLUG

FILES = Path(__file__).parent / "files"
SUFFIX = ".tmpl"
RENAMED = {"gitignore": ".gitignore"}
# Slugs that read well as Python names too (no leading, trailing or doubled hyphen), and
# short enough for the generated code's lines.
TIDY_SLUG = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
SLUG_LENGTH = 40
# Columns a title may take: it goes on one line of generated Python within 100 columns.
TITLE_COLUMNS = 60


class ScaffoldError(ValueError):
    """A name or title that cannot make a camp; ``param`` names the option at fault."""

    def __init__(self, message: str, param: str = "NAME") -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class CampNames:
    """Every name a new camp needs, derived from the one the organizer typed."""

    slug: str
    title_zh: str
    title_en: str

    @property
    def package(self) -> str:
        """The Python package: ``lms_camp_design_thinking``."""
        return "lms_camp_" + self.slug.replace("-", "_")

    @property
    def distribution(self) -> str:
        """What ``pip`` installs: ``lms-camp-design-thinking``."""
        return "lms-camp-" + self.slug

    @property
    def entry_point(self) -> str:
        """The plugin's name in ``lms camps list`` and ``LMS_LOAD_PLUGINS``."""
        return self.slug.replace("-", "_")

    def values(self) -> dict[str, str]:
        """What the file templates may use: ``*_python`` and ``*_toml`` are quoted strings."""
        major, minor = __version__.split(".")[:2]
        return {
            "slug": self.slug,
            "package": self.package,
            "distribution": self.distribution,
            "entry_point": self.entry_point,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "title_zh_python": python_string(self.title_zh),
            "title_en_python": python_string(self.title_en),
            "description_toml": json.dumps(f"{self.title_en}: a camp plugin for Camp LMS"),
            "lms_requirement": f"camp-lms>={major}.{minor}",
        }


def python_string(text: str) -> str:
    """``text`` as a Python string literal, quoted as ``ruff format`` would quote it."""
    literal = json.dumps(text, ensure_ascii=False)  # JSON escapes are valid in Python
    if text.count('"') <= text.count("'"):
        return literal
    return "'" + literal[1:-1].replace('\\"', '"').replace("'", "\\'") + "'"


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def camp_names(name: str, *, title_zh: str | None = None, title_en: str | None = None) -> CampNames:
    """Check ``name`` (``Design Thinking``, ``design_thinking`` and ``design-thinking`` all
    give the slug ``design-thinking``) and the titles; raise :class:`ScaffoldError`."""
    slug = re.sub(r"[\s_]+", "-", name.strip().lower())
    if not (SLUG.match(slug) and TIDY_SLUG.match(slug) and len(slug) <= SLUG_LENGTH):
        raise ScaffoldError(
            f"{name!r} cannot name a camp: use 2 to {SLUG_LENGTH} lowercase letters, digits "
            "and single hyphens, starting with a letter (for example design-thinking)."
        )
    words = [word.capitalize() for word in slug.split("-")]
    base = " ".join(words[:-1] if words[-1] == "Camp" and len(words) > 1 else words)
    titles = {
        "--title-en": (title_en if title_en is not None else f"{base} Camp").strip(),
        "--title-zh": (title_zh if title_zh is not None else f"{base} 训练营").strip(),
    }
    for option, title in titles.items():
        if not title:
            raise ScaffoldError("a title cannot be empty.", option)
        if not title.isprintable():
            raise ScaffoldError("a title is one line of printable characters.", option)
        if _columns(python_string(title)) > TITLE_COLUMNS + 2:
            raise ScaffoldError(
                f"a title takes at most {TITLE_COLUMNS} columns "
                f"({TITLE_COLUMNS // 2} Chinese characters); shorten {title!r}.",
                option,
            )
    return CampNames(slug, titles["--title-zh"], titles["--title-en"])


def installed_camps() -> dict[str, str]:
    """Slugs of the camps installed plugins provide, with the plugin providing each."""
    from lms.plugins import PluginRegistry

    registry = PluginRegistry()
    registry.load_entry_points()
    return dict(registry.camp_plugin)


def create_camp(names: CampNames, directory: Path) -> list[Path]:
    """Write the camp package into ``directory`` (new, or an empty folder) and compile its
    message catalog. Returns the files written, relative to ``directory``."""
    from lms.i18n import compile_catalogs

    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ScaffoldError(f"{directory} already exists and is not an empty folder.", "DIRECTORY")
    values = names.values()
    written = []
    for template in sorted(FILES.rglob(f"*{SUFFIX}")):
        relative = template.relative_to(FILES).as_posix().removesuffix(SUFFIX)
        relative = relative.replace("_package_", names.package).replace("_slug_", names.slug)
        target = directory / RENAMED.get(relative, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = Template(template.read_text(encoding="utf-8")).substitute(values)
        target.write_text(text, encoding="utf-8")
        written.append(target.relative_to(directory))
    compile_catalogs([directory / names.package / "translations"])
    return sorted(written)
