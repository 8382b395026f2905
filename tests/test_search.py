"""Site search (docs/search.md): words in Chinese and English, ranking, snippets, filters,
malformed parameters, the index kept current, and — above all — that nobody ever finds what
they may not see. Runs on SQLite (FTS5) and, with LMS_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from lms.extensions import db
from lms.models import Camp, Course, Lesson, Module, SearchDocument, User
from lms.models._base import utcnow
from lms.services import authoring, community, search, uploads
from lms.services import camps as camp_service
from lms.services.search import segment, snippets
from tests.conftest import Client
from tests.test_cli import empty_app, instance, run  # noqa: F401 - fixtures

# An invented word found nowhere in the bundled curricula: every item of the world holds it.
WORD = "zorbaxite"
HIT = re.compile(r'class="search-title" href="([^"]+)"')


# -- words and snippets (no database) ------------------------------------------------------


def test_chinese_is_cut_into_words_and_long_words_also_give_the_words_inside():
    assert segment.query_terms("现金流") == ["现金流"]
    assert segment.query_terms("创新") == ["创新"]
    assert segment.query_terms("创新 Startup 现金流!") == ["创新", "startup", "现金流"]
    indexed = segment.index_words("现金流管理：Cash-Flow 与 Café").split()
    assert {"现金", "现金流", "管理", "cash", "flow", "café"} <= set(indexed)


def test_query_syntax_is_only_words():
    assert segment.query_terms('"a" OR b* NEAR(c) -d ^e title:f') == [
        "a",
        "or",
        "b",
        "near",
        "c",
        "d",
        "e",
        "title",
        "f",
    ]
    assert segment.query_terms("*** ''' ---") == []
    assert len(segment.query_terms(" ".join(f"w{i}" for i in range(40)))) == 12


def test_snippets_escape_everything_and_mark_only_the_words():
    found = snippets.pattern(["script", "创新"])
    marked = str(snippets.highlight("<script>alert(1)</script> 创新&", found))
    assert marked == (
        "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; <mark>创新</mark>&amp;"
    )
    long_text = "开头。" + "填充文字" * 40 + "这里讲创新的方法" + "结尾" * 60
    snippet = str(snippets.snippet([long_text], found))
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>创新</mark>" in snippet
    assert len(re.sub(r"</?mark>", "", snippet)) <= snippets.SNIPPET_CHARS + 2


def test_latin_words_match_at_word_starts_and_prefixes():
    found = snippets.pattern(["startup", "ab"])
    marked = str(snippets.highlight("Startups, a startup; restartup; AB abc", found))
    assert marked == "<mark>Startups</mark>, a <mark>startup</mark>; restartup; <mark>AB</mark> abc"


# -- the world ----------------------------------------------------------------------------


@dataclass
class World:
    owner: User  # trainer who owns the draft course
    stranger: User  # another trainer
    organizer: User
    learner: User
    keys: dict[str, str]  # label -> document key


def _user(email: str, role: str) -> User:
    from lms.services import accounts

    return accounts.create_user(email, email.split("@")[0], "correct horse battery", role=role)


def _course(camp: Camp, owner: User, slug: str, title: str, status: str = "published") -> Course:
    course = authoring.create_course(
        owner,
        camp,
        {"slug": slug, "title_zh": f"{title} 课程", "title_en": f"{title} course"},
    )
    if status == "published":
        authoring.set_status(owner, course, "published")
    return course


def _lesson(owner: User, course: Course, slug: str, **texts: str) -> Lesson:
    module = db.session.scalar(db.select(Module).filter_by(course_id=course.id, slug="m"))
    if module is None:
        module = authoring.add_module(
            owner, course, {"slug": "m", "title_zh": "单元", "title_en": "Unit"}
        )
    values = {"slug": slug, "title_zh": slug, "title_en": slug, "kind": "reading", **texts}
    return authoring.add_lesson(owner, module, values)


@pytest.fixture
def world(app: Flask) -> World:
    """Published, draft, archived and disabled-camp items and community posts, all holding
    WORD. The draft belongs to ``owner``; ``stranger`` is a trainer of nothing here."""
    with app.app_context():
        owner = _user("owner@example.com", "trainer")
        stranger = _user("stranger@example.com", "trainer")
        organizer = _user("boss@example.com", "organizer")
        learner = _user("learner@example.com", "learner")
        growth = db.session.scalar(db.select(Camp).filter_by(slug="startup-growth"))
        other = db.session.scalar(db.select(Camp).filter_by(slug="entrepreneur"))

        public = _course(growth, owner, "public-course", f"公开 {WORD}")
        shown = _lesson(owner, public, "shown", body_en=f"Read about {WORD} here.")
        hidden = _lesson(owner, public, "archived-lesson", body_zh=f"已归档 {WORD}")
        authoring.archive(owner, public, hidden)
        gone_module = authoring.add_module(
            owner, public, {"slug": "old", "title_zh": "旧单元", "title_en": "Old unit"}
        )
        in_gone_module = authoring.add_lesson(
            owner,
            gone_module,
            {"slug": "in-old", "title_zh": f"旧 {WORD}", "title_en": "old", "kind": "reading"},
        )
        authoring.archive(owner, public, gone_module)

        draft = _course(growth, owner, "draft-course", f"草稿 {WORD}", status="draft")
        draft_lesson = _lesson(owner, draft, "draft-lesson", summary_zh=f"草稿课时 {WORD}")

        archived = _course(growth, owner, "archived-course", f"归档 {WORD}")
        archived.archived_at = utcnow()
        db.session.commit()

        elsewhere = _course(other, owner, "elsewhere", f"停用营 {WORD}")
        elsewhere_lesson = _lesson(owner, elsewhere, "elsewhere-lesson", body_en=WORD)
        camp_service.set_enabled("entrepreneur", False)

        case = community.create_case(organizer, "园区公司", "strategy", f"案例 {WORD}", "正文")
        topic = community.create_topic(organizer, "news", "话题", f"讨论 {WORD} 的意义")
        keys = {
            "public": f"course:{public.id}",
            "shown": f"lesson:{shown.id}",
            "archived lesson": f"lesson:{hidden.id}",
            "lesson of an archived module": f"lesson:{in_gone_module.id}",
            "draft": f"course:{draft.id}",
            "draft lesson": f"lesson:{draft_lesson.id}",
            "archived course": f"course:{archived.id}",
            "disabled camp": f"course:{elsewhere.id}",
            "disabled camp lesson": f"lesson:{elsewhere_lesson.id}",
            "case": f"case:{case.id}",
            "topic": f"topic:{topic.id}",
        }
        people = [owner, stranger, organizer, learner]
        for person in people:
            db.session.refresh(person)
        db.session.expunge_all()
        return World(*people, keys)


def found_keys(app: Flask, user: object, query: str = WORD, **filters: object) -> set[str]:
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        if isinstance(user, User):
            user = db.session.merge(user)
        results = search.search(user, query, per_page=100, **filters)
        return {f"{hit.kind}:{hit.object_id}" for hit in results.hits}


def labels(world: World, *names: str) -> set[str]:
    return {world.keys[name] for name in names}


# -- who finds what ------------------------------------------------------------------------


def test_nobody_finds_what_they_may_not_see(app, world):
    """The access test: drafts only for their editors; archived items, items of disabled
    camps and lessons of archived modules for nobody; community posts for members only."""
    from flask_login import AnonymousUserMixin

    everyone = labels(world, "public", "shown")
    members = everyone | labels(world, "case", "topic")
    editors = members | labels(world, "draft", "draft lesson")
    assert found_keys(app, AnonymousUserMixin()) == everyone
    assert found_keys(app, world.learner) == members
    assert found_keys(app, world.stranger) == members
    assert found_keys(app, world.owner) == editors
    assert found_keys(app, world.organizer) == editors
    with app.app_context():
        indexed = set(db.session.scalars(db.select(SearchDocument.key)))
    never = set(world.keys.values()) - editors
    assert never <= indexed, "hidden items are indexed: visibility must still hide them"


def test_visibility_follows_the_live_rows_without_a_reindex(app, world):
    """Adding a trainer, disabling an account, publishing and enabling a camp: the next
    search follows, since visibility is read from the live rows, not the index."""
    from flask_login import AnonymousUserMixin

    with app.app_context():
        draft = db.session.get(Course, int(world.keys["draft"].split(":")[1]))
        organizer = db.session.get(User, world.organizer.id)
        authoring.add_trainer(organizer, draft, db.session.get(User, world.stranger.id))
        db.session.get(User, world.learner.id).active = False
        db.session.commit()
        learner = db.session.get(User, world.learner.id)
        db.session.expunge(learner)
    assert labels(world, "draft", "draft lesson") <= found_keys(app, world.stranger)
    assert found_keys(app, learner) == labels(world, "public", "shown")

    with app.app_context():
        draft = db.session.get(Course, int(world.keys["draft"].split(":")[1]))
        authoring.set_status(db.session.get(User, world.owner.id), draft, "published")
        camp_service.set_enabled("entrepreneur", True)
    assert found_keys(app, AnonymousUserMixin()) == labels(
        world, "public", "shown", "draft", "draft lesson", "disabled camp", "disabled camp lesson"
    )


# -- filters, ranking, snippets ------------------------------------------------------------


def test_every_filter(app, world):
    assert found_keys(app, world.organizer, kind="course") == labels(world, "public", "draft")
    assert found_keys(app, world.organizer, kind="lesson") == labels(world, "shown", "draft lesson")
    assert found_keys(app, world.organizer, kind="case") == labels(world, "case")
    assert found_keys(app, world.organizer, kind="topic") == labels(world, "topic")
    assert found_keys(app, world.organizer, camp="startup-growth") == labels(
        world, "public", "shown", "draft", "draft lesson"
    )
    assert found_keys(app, world.organizer, camp="practitioner") == set()
    assert found_keys(app, world.organizer, camp="startup-growth", kind="lesson") == labels(
        world, "shown", "draft lesson"
    )
    for bad in ({"kind": "user"}, {"camp": "entrepreneur"}, {"camp": "nope"}):
        with pytest.raises(search.SearchError):
            found_keys(app, world.organizer, **bad)


def test_titles_rank_above_bodies_and_snippets_mark_the_words(app, organizer):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        user = db.session.get(User, organizer.id)
        camp = db.session.scalar(db.select(Camp).filter_by(slug="startup-growth"))
        course = _course(camp, user, "ranking", "Ranking")
        _lesson(user, course, "in-body", body_en=f"Some text, then {WORD} and `<b>` once.")
        _lesson(user, course, "in-title", title_en=f"All about {WORD}", title_zh=f"{WORD} 全解")
        results = search.search(user, WORD.upper(), kind="lesson")
        assert [hit.title.striptags() for hit in results.hits] == [f"All about {WORD}", "in-body"]
        assert str(results.hits[0].title) == f"All about <mark>{WORD}</mark>"
        assert str(results.hits[1].snippet) == (
            f"Some text, then <mark>{WORD}</mark> and &lt;b&gt; once."
        )


def test_two_character_chinese_words_and_mixed_queries(app, organizer):
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        user = db.session.get(User, organizer.id)
        camp = db.session.scalar(db.select(Camp).filter_by(slug="startup-growth"))
        course = _course(camp, user, "mixed", "混合")
        lesson = _lesson(
            user,
            course,
            "runway",
            title_zh="跑道测算",
            body_zh="用十三周现金流预测看清跑道，再谈融资。",
            body_en="A thirteen-week cash forecast shows the quokkaline runway.",
        )
        # From the bundled curricula: a lesson titled 现金流管理与“跑道”测算, courses on 创新.
        cash = search.search(user, "现金流")
        assert cash.total >= 2
        assert any("<mark>现金流</mark>" in str(hit.title) for hit in cash.hits)
        assert search.search(user, "创新").total >= 3
        mixed = search.search(user, "现金流 Quokkaline", kind="lesson")
        assert [hit.object_id for hit in mixed.hits] == [lesson.id]
        assert "<mark>现金流</mark>" in str(mixed.hits[0].snippet)
        assert search.search(user, "现金流 zzyzzx").total == 0
        # Chinese words inside longer ones: 融资 in 再谈融资, 测算 in the title.
        assert lesson.id in [hit.object_id for hit in search.search(user, "测算 融资").hits]


def test_pages_are_clamped(app, organizer):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        user = db.session.get(User, organizer.id)
        camp = db.session.scalar(db.select(Camp).filter_by(slug="startup-growth"))
        course = _course(camp, user, "many", "Many")
        for number in range(5):
            _lesson(user, course, f"l{number}", body_en=f"{WORD} number {number}")
        first = search.search(user, WORD, kind="lesson", per_page=2)
        assert (first.total, first.pages, len(first.hits)) == (5, 3, 2)
        last = search.search(user, WORD, kind="lesson", page=99, per_page=2)
        assert (last.page, len(last.hits)) == (3, 1)
        assert search.search(user, WORD, kind="lesson", page=-4, per_page=2).page == 1
        seen = {
            hit.object_id
            for page in (1, 2, 3)
            for hit in search.search(user, WORD, kind="lesson", page=page, per_page=2).hits
        }
        assert len(seen) == 5


# -- the index kept current ------------------------------------------------------------------


def test_the_index_follows_create_edit_captions_archive_and_delete(app, organizer, tmp_path):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        user = db.session.get(User, organizer.id)
        camp = db.session.scalar(db.select(Camp).filter_by(slug="startup-growth"))
        course = _course(camp, user, "kept", "Kept")
        lesson = _lesson(user, course, "kept-lesson", title_en="quillwort basics")

        def ids(query: str) -> list[int]:
            return [hit.object_id for hit in search.search(user, query, kind="lesson").hits]

        assert ids("quillwort") == [lesson.id]
        authoring.update(user, course, lesson, {"title_en": "bramblecap basics"})
        assert ids("quillwort") == [] and ids("bramblecap") == [lesson.id]

        vtt = "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\n<v Host>讲讲 <b>众筹</b> 的坑\n"
        uploads.attach_caption(lesson, "zh_CN", "中文", vtt.encode())
        assert ids("众筹") == [lesson.id]
        assert ids("host") == [] and ids("00") == []  # voices and timings are not text

        authoring.update(user, course, course, {"title_en": "Renamed wombatry"})
        assert [hit.kind for hit in search.search(user, "wombatry").hits] == ["course"]

        authoring.archive(user, course, lesson)
        assert ids("bramblecap") == []

        case = community.create_case(user, "公司", "hr", "招聘 tallowgrass", "内容")
        assert [hit.object_id for hit in search.search(user, "tallowgrass").hits] == [case.id]
        db.session.delete(case)
        db.session.commit()
        assert search.search(user, "tallowgrass").total == 0
        key = f"case:{case.id}"
        assert db.session.scalar(db.select(SearchDocument).filter_by(key=key)) is None


def test_a_curriculum_sync_indexes_its_camp_when_it_changes(app, organizer):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        user = db.session.get(User, organizer.id)
        assert search.search(user, "现金流").total >= 1  # indexed by the fixture's first sync
        camp = db.session.scalar(db.select(Camp).filter_by(slug="startup-growth"))
        course = db.session.scalar(
            db.select(Course).filter_by(camp_id=camp.id, slug="strategy-toolkit")
        )
        course.title_en = "Quixotrend title"
        course.synced = {**course.synced, "title_en": "Quixotrend title"}
        db.session.commit()
        stamp = db.select(SearchDocument.updated_at).filter_by(key=f"course:{course.id}")
        before = db.session.scalar(stamp)
        camp_service.sync(["startup-growth"])  # the curriculum's title comes back: a change
        assert db.session.scalar(stamp) > before
        assert search.search(user, "quixotrend").total == 0
        again = db.session.scalar(stamp)
        camp_service.sync(["startup-growth"])  # nothing changed: the index is left alone
        assert db.session.scalar(stamp) == again


def test_reindex_rebuilds_everything(app, world):
    with app.app_context():
        before = search.indexed_count()
        db.session.execute(db.delete(SearchDocument))
        db.session.commit()
    result = run(app, "search", "reindex")
    assert result.exit_code == 0, result.output
    assert f"Search index: {before} documents." in result.output
    assert found_keys(app, world.organizer) == labels(
        world, "public", "shown", "draft", "draft lesson", "case", "topic"
    )


def test_init_leaves_the_curricula_indexed(empty_app):  # noqa: F811 - fixture
    result = run(empty_app, "init")
    assert result.exit_code == 0, result.output
    assert re.search(r"^Search index: [1-9]\d* documents\.$", result.output, re.M)
    client = Client(empty_app.test_client())
    page = client.get("/search?q=现金流").get_data(as_text=True)
    assert "<mark>现金流</mark>" in page


# -- the page ------------------------------------------------------------------------------


def test_the_page_shows_hits_with_links_and_marks(app, world, client):
    page = client.get(f"/search?q={WORD}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert sorted(HIT.findall(html)) == [
        "/camps/startup-growth/public-course/",
        "/camps/startup-growth/public-course/lessons/shown",
    ]
    assert f"Read about <mark>{WORD}</mark> here." in html
    assert 'value="case"' not in html  # anonymous visitors cannot pick community kinds
    client.login("learner@example.com")
    html = client.get(f"/search?q={WORD}&kind=topic").get_data(as_text=True)
    topic_id = world.keys["topic"].split(":")[1]
    assert HIT.findall(html) == [f"/discussions/{topic_id}"]


MALFORMED = [
    ("q=a%00b", 400),
    ("q=" + "x" * 201, 400),
    ("q=" + "创" * 200, 200),
    ("q=x&page=abc", 400),
    ("q=x&page=1e3", 400),
    ("q=x&page=-1", 200),
    ("q=x&page=99999999999", 200),
    ("q=x&page=" + "9" * 30, 400),
    ("q=x&page=999999", 200),
    ("q=x&kind=users", 400),
    ("q=x&camp=..%2F..", 400),
    ("q=", 200),
    ("q=%22%20OR%20*%20NEAR(", 200),
    ("q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", 200),
    ("q=%E2%80%AE%EF%BF%BF%F0%9F%98%80", 200),
    ("q=a&q=b", 200),
]


def test_malformed_parameters_are_refused_never_a_500(client):
    for query, status in MALFORMED:
        page = client.get(f"/search?{query}")
        assert page.status_code == status, query
        html = page.get_data(as_text=True)
        assert "<script>alert(1)" not in html
        if status == 400 and "%00" not in query:  # NUL: refused before any view
            assert "This search cannot be run" in html, query


def test_the_header_box_and_the_empty_search_page_in_both_languages(client):
    html = client.get("/search").get_data(as_text=True)
    assert 'id="search-q"' in html and "autofocus" in html
    assert "Nothing found" not in html and "cannot be run" not in html
    english = client.get("/").get_data(as_text=True)
    assert 'role="search"' in english and 'action="/search"' in english
    chinese = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "搜索课程、课时、案例…" in chinese
    zh_results = client.get("/search?q=zzzz", headers={"Accept-Language": "zh-CN"})
    assert "没有找到与“zzzz”相关的内容。" in zh_results.get_data(as_text=True)


def test_caption_files_are_read_as_text_only(tmp_path: Path):
    from lms.services.search.documents import plain_markdown, plain_webvtt

    vtt = (
        "WEBVTT - title\n\nNOTE a note\n\nSTYLE\n::cue { color: red }\n\n"
        "intro\n00:00.000 --> 00:01.000 align:start\n<c.loud>Hello</c> &amp; <i>welcome</i>\n\n"
        "00:01.000 --> 00:02.000\n第二句\n"
    )
    assert plain_webvtt(vtt) == "Hello & welcome 第二句"
    assert plain_markdown("# Title\n\n<script>x()</script>**bold** [link](http://a)") == (
        "Title bold link"
    )
