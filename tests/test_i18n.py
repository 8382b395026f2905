"""Chinese (the default) and English: language choice, translated pages, complete catalogs.

The ``.mo`` files are built, not committed: the module compiles any missing or stale
catalog first (:func:`lms.i18n.compile_catalogs`), so ``pytest`` alone is enough.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations

from lms.config import ROOT
from lms.extensions import babel
from lms.i18n import CORE_TRANSLATIONS, catalog_directories, compile_catalogs, lookup_name

# The keywords of `make messages` (setup.cfg's [extract_messages] says the same).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
BUNDLED_PLUGINS = ("startup_growth", "entrepreneur", "silicon_valley", "practitioner", "xapi")
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
HAN = re.compile(r"[\u4e00-\u9fff]")

# Camp pages: each plugin's own intro heading, in English and in Chinese.
CAMP_HEADINGS = {
    "startup-growth": ("Founder Talent Programme", "创业人才培育计划"),
    "entrepreneur": ("Entrepreneurial Capability Programme", "企业家能力提升计划"),
    "silicon-valley": ("International Innovation Programme", "国际化创新项目"),
    "practitioner": ("Party-Building Talent Programme", "党建人才培育计划"),
}


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    """Build the ``.mo`` files, then drop translations Flask-Babel may have cached without them.

    ``lms.extensions.babel`` is one ``Babel`` for every app of the process and caches the
    merged catalogs per locale, so an earlier test could have cached an empty Chinese one.
    """
    compile_catalogs()
    domain = vars(babel).get("domain_instance")  # a cached_property, set on first use
    if domain is not None:
        domain.cache.clear()


def without_language(client) -> None:
    """Make the test client send no ``Accept-Language`` at all."""
    client.raw.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)


def text(response) -> str:
    return response.get_data(as_text=True)


# -- choosing the language -------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "catalog", "html_lang"),
    [
        ("en", "Catalog", "en"),
        ("en-GB,en;q=0.8", "Catalog", "en"),
        ("zh-CN", "课程目录", "zh-CN"),
        ("zh-CN,zh;q=0.9,en;q=0.5", "课程目录", "zh-CN"),
        ("zh", "课程目录", "zh-CN"),
        ("fr-FR,fr;q=0.9", "课程目录", "zh-CN"),  # neither language offered: the default
    ],
)
def test_the_browser_language_picks_the_ui_language(client, header, catalog, html_lang):
    page = text(client.get("/", headers={"Accept-Language": header}))
    assert f'<html lang="{html_lang}">' in page
    assert f">{catalog}</a>" in page
    other = "课程目录" if catalog == "Catalog" else "Catalog"
    assert f">{other}</a>" not in page


def test_without_a_language_header_the_ui_is_chinese(client):
    without_language(client)
    page = text(client.get("/"))
    assert '<html lang="zh-CN">' in page
    assert ">课程目录</a>" in page
    assert "创新学院" in page
    assert ">Catalog</a>" not in page


def test_plural_forms_follow_the_language(client):
    assert re.search(r"<span>\d+ lessons?</span>", text(client.get("/", headers=EN)))
    assert re.search(r"<span>\d+ 课时</span>", text(client.get("/", headers=ZH)))


def test_forms_and_their_labels_are_translated(client):
    english = text(client.get("/register", headers=EN))
    chinese = text(client.get("/register", headers=ZH))
    assert "Repeat password" in english
    assert "确认密码" in chinese
    assert "Repeat password" not in chinese


# -- content in both languages ---------------------------------------------------------


def test_camp_and_course_titles_follow_the_language(client, course):
    english = text(client.get("/", headers=EN))
    chinese = text(client.get("/", headers=ZH))
    assert "Startup Growth Camp" in english
    assert course.title_en in english
    assert "初创企业成长营" not in english
    assert "初创企业成长营" in chinese
    assert course.title_zh in chinese
    assert "Startup Growth Camp" not in chinese

    url = f"/camps/{course.camp.slug}/{course.slug}/"
    assert f"<h1>{course.title_en}</h1>" in text(client.get(url, headers=EN))
    assert f"<h1>{course.title_zh}</h1>" in text(client.get(url, headers=ZH))


# -- the language switch ---------------------------------------------------------------


def test_the_language_switch_sets_the_session_language(client):
    assert ">课程目录</a>" in text(client.get("/", headers=ZH))

    response = client.post("/language", {"locale": "en", "next": "/"}, headers=ZH)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    with client.raw.session_transaction() as session:
        assert session["locale"] == "en"
    assert ">Catalog</a>" in text(client.get("/", headers=ZH))  # the session beats the header

    client.post("/language", {"locale": "zh_CN", "next": "/"})
    with client.raw.session_transaction() as session:
        assert session["locale"] == "zh_CN"
    assert ">课程目录</a>" in text(client.get("/", headers=EN))


@pytest.mark.parametrize("locale", ["fr", "zh", "zh_TW", "EN", ""])
def test_an_unknown_language_is_a_400(client, locale):
    response = client.post("/language", {"locale": locale, "next": "/"})
    assert response.status_code == 400
    assert "Unknown language." in text(response)
    with client.raw.session_transaction() as session:
        assert "locale" not in session


def test_the_400_for_an_unknown_language_is_translated_too(client):
    response = client.post("/language", {"locale": "fr"}, headers=ZH)
    assert response.status_code == 400
    page = text(response)
    assert "不支持该语言。" in page
    assert "请求无效" in page


# -- the user's own language -----------------------------------------------------------


def test_a_users_stored_language_beats_the_browser_header(client, make_user):
    english_user = make_user("english@example.com", locale="en")
    chinese_user = make_user("chinese@example.com", locale="zh_CN")

    client.login(english_user.email)
    assert ">Catalog</a>" in text(client.get("/", headers=ZH))
    client.logout()

    client.login(chinese_user.email)
    assert ">课程目录</a>" in text(client.get("/", headers=EN))


def test_switching_language_while_logged_in_is_remembered(client, learner):
    client.login(learner.email)
    client.post("/language", {"locale": "zh_CN", "next": "/"})
    client.logout()  # a new session: only the account remembers the choice

    client.login(learner.email)
    assert ">课程目录</a>" in text(client.get("/dashboard", headers=EN))


# -- plugin strings --------------------------------------------------------------------


@pytest.mark.parametrize(("slug", "headings"), sorted(CAMP_HEADINGS.items()))
def test_each_camps_own_intro_is_translated(client, slug, headings):
    english, chinese = headings
    assert f"<h2>{english}</h2>" in text(client.get(f"/camps/{slug}/", headers=EN))
    page = text(client.get(f"/camps/{slug}/", headers=ZH))
    assert f"<h2>{chinese}</h2>" in page
    assert english not in page


def test_a_plugins_enrollment_refusal_is_translated(client, learner):
    client.login(learner.email)  # a learner without an organization
    url = "/camps/practitioner/new-employee-onboarding/"

    english = text(client.get(url, headers=EN))
    assert "The Practitioner Camp is for staff sent by their company." in english

    client.post("/language", {"locale": "zh_CN", "next": url})
    chinese = text(client.get(url, headers=EN))
    assert "从业者素质训练营面向由所在企业选派的员工。" in chinese
    assert "The Practitioner Camp" not in chinese

    refused = client.post(url + "enroll")
    assert refused.status_code == 403
    assert "从业者素质训练营面向由所在企业选派的员工。" in text(refused)


# -- the catalogs themselves -----------------------------------------------------------


def catalog_directory_for(filename: str) -> Path:
    """The translations folder a source file's strings belong to (as `make messages` does)."""
    parts = Path(filename).parts
    if parts[0] == "plugins" and len(parts) > 2:
        return ROOT / "plugins" / parts[1] / "translations"
    return CORE_TRANSLATIONS


def extracted_messages() -> dict[Path, set[str | tuple[str, ...]]]:
    """Every string marked for translation in the sources, per catalog, with babel.cfg."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[Path, set[str | tuple[str, ...]]] = defaultdict(set)
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found[catalog_directory_for(filename)].add(message)
    return found


def read_catalog(directory: Path) -> Catalog:
    path = directory / "zh_CN" / "LC_MESSAGES" / "messages.po"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing: run `make messages`"
    with path.open("rb") as po_file:
        return read_po(po_file, locale="zh_CN")


def translations(message: Message) -> tuple[str, ...]:
    """A message's translated strings: one, or one per plural form."""
    return tuple(message.string) if message.pluralizable else (message.string,)


CATALOGS = [
    CORE_TRANSLATIONS,
    *(ROOT / "plugins" / name / "translations" for name in BUNDLED_PLUGINS),
]


@pytest.fixture(scope="module")
def extracted() -> dict[Path, set[str | tuple[str, ...]]]:
    return extracted_messages()


def test_every_bundled_plugin_has_strings_and_a_catalog(extracted):
    assert set(extracted) == set(CATALOGS)


@pytest.mark.parametrize("directory", CATALOGS, ids=lambda d: d.parent.name)
def test_every_source_string_is_in_the_catalog(extracted, directory):
    catalog = read_catalog(directory)
    known = {message.id for message in catalog if message.id}
    missing = sorted(map(str, extracted[directory] - known))
    where = directory.relative_to(ROOT)
    assert not missing, f"not in {where}: {missing}; run `make messages` and translate them"


@pytest.mark.parametrize("directory", CATALOGS, ids=lambda d: d.parent.name)
def test_the_catalog_is_translated_and_well_formed(directory):
    catalog = read_catalog(directory)
    messages = [message for message in catalog if message.id]
    assert messages
    assert catalog.plural_forms == "nplurals=1; plural=0;"
    untranslated = [m.id for m in messages if not all(translations(m))]
    assert not untranslated, f"untranslated: {untranslated}"
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert not fuzzy, f"fuzzy: {fuzzy}"
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalog.check()]
    assert not problems, f"placeholders differ: {problems}"
    for message in messages:  # Chinese text, not a copied English msgid
        assert all(HAN.search(s) for s in translations(message)), message.id


@pytest.mark.parametrize("directory", CATALOGS, ids=lambda d: d.parent.name)
def test_no_message_is_defined_twice(directory):
    """GNU msgfmt refuses a catalog that defines a message twice; Babel keeps the last quietly,
    so a translation appended by hand can replace an earlier one unseen."""
    text = (directory / "zh_CN" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    keys = []
    for entry in re.split(r"\n\s*\n", text):
        lines = [line for line in entry.splitlines() if not line.startswith("#")]
        context = "".join(re.findall(r'^msgctxt (".*")$', "\n".join(lines), re.M))
        ids = re.search(r'^msgid (".*"(?:\n".*")*)', "\n".join(lines), re.M)
        if ids and ids.group(1) != '""':
            keys.append((context, ids.group(1)))
    repeated = sorted(key for key, count in Counter(keys).items() if count > 1)
    assert not repeated, f"defined twice in {directory.relative_to(ROOT)}: {repeated}"


def test_plugin_catalogs_do_not_repeat_core_strings():
    core = {message.id for message in read_catalog(CORE_TRANSLATIONS) if message.id}
    for directory in CATALOGS[1:]:
        repeated = core & {message.id for message in read_catalog(directory) if message.id}
        assert not repeated, f"{directory.relative_to(ROOT)} repeats core strings {repeated}"


# -- compiling -------------------------------------------------------------------------


def test_catalog_directories_are_the_core_and_every_plugins(app):
    directories = catalog_directories()
    assert directories[0] == CORE_TRANSLATIONS
    assert set(directories) == set(CATALOGS)
    configured = app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")
    assert [Path(d) for d in configured] == directories


def test_compile_catalogs_builds_only_missing_or_stale_files(tmp_path):
    source = CORE_TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po"
    po_path = tmp_path / "zh_CN" / "LC_MESSAGES" / "messages.po"
    po_path.parent.mkdir(parents=True)
    po_path.write_bytes(source.read_bytes())
    mo_path = tmp_path / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo"  # Babel's name for zh_CN

    assert compile_catalogs([tmp_path]) == [mo_path]
    assert compile_catalogs([tmp_path]) == []
    assert compile_catalogs([tmp_path], force=True) == [mo_path]
    newer = mo_path.stat().st_mtime + 10
    os.utime(po_path, (newer, newer))
    assert compile_catalogs([tmp_path]) == [mo_path]
    assert list(mo_path.parent.glob("*.tmp")) == []

    # Found the way Flask-Babel looks for it: by the request's parsed locale.
    translations = Translations.load(str(tmp_path), [Locale.parse("zh_CN")])
    assert translations.gettext("Catalog") == "课程目录"
    assert translations.ngettext("%(num)d lesson", "%(num)d lessons", 5) == "%(num)d 课时"


def test_lookup_name_is_babels_name_for_the_locale():
    assert lookup_name("zh_CN") == "zh_Hans_CN"
    assert lookup_name("en") == "en"
    assert lookup_name("not-a-locale") == "not-a-locale"


def test_wtforms_messages_are_translated_from_a_catalog_read_once(app, client, learner):
    from lms.web.request import wtforms_catalog

    client.login(learner.email)
    wtforms_catalog.cache_clear()
    for _ in range(3):
        page = client.post("/account/password", {}, headers={"Accept-Language": "zh-CN"}).get_data(
            as_text=True
        )
        assert "该字段是必填字段。" in page  # WTForms' own "This field is required."
    english = client.post("/account/password", {}, headers={"Accept-Language": "en"})
    assert "This field is required." in english.get_data(as_text=True)
    info = wtforms_catalog.cache_info()
    assert info.misses == 2 and info.hits >= 2  # one load per locale, not per request
