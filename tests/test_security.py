"""Security properties across the app: cookies and session fixation, sign-up rate limits,
mass assignment, and output escaping of the standard test string.

Access control per blueprint lives beside each blueprint's tests (test_teach.py,
test_organizations.py, test_checkin.py, test_reports.py…); docs/security.md maps them.
"""

from __future__ import annotations

import io
import secrets
from html.parser import HTMLParser

import pytest
from markupsafe import escape

from lms.extensions import db
from lms.models import (
    AuthSession,
    CaseComment,
    Course,
    Lesson,
    Module,
    Organization,
    PlaybackSession,
    StaffGroup,
    TopicComment,
    User,
)
from lms.services import invites as org_service
from lms.services import staff_groups
from lms.services.loading import load
from tests.conftest import PASSWORD, Client
from tests.test_checkin import make_session
from tests.test_checkin import register as register_for_session
from tests.test_community import add_case, add_topic
from tests.test_progress_api import Api, video_lessons  # noqa: F401 - a fixture
from tests.test_teach import CAMP, add_lesson, add_module, create_course

# The standard test string: every character that needs escaping, entities that must not be
# decoded twice, quotes, backslashes and a character outside the BMP's Latin ranges.
TRICKY = "< > & &lt; &gt; &amp; ' \\' 碁 \\ \\\\"
NEW_PASSWORD = "a new and longer passphrase"


def client_for(app, email: str | None = None) -> Client:
    client = Client(app.test_client())
    if email is not None:
        assert client.login(email).status_code == 302
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


class _Text(HTMLParser):
    """What a browser shows: the text and attribute values with entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.parts.extend(value for _name, value in attrs if value)


def shown(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def assert_shows_exactly(page: str, value: str, where: str = "") -> None:
    """``value`` is in the page escaped (so the browser shows it as it is), never raw."""
    assert str(escape(value)) in page, where
    assert value in shown(page), where
    assert "< > & &lt;" not in page, where  # the raw string would start a tag


# -- cookies and session fixation ------------------------------------------------------


def test_the_session_cookie_is_secure_httponly_and_lax_in_production(make_app, learner):
    app = make_app(
        PRODUCTION=True,
        SECRET_KEY=secrets.token_hex(32),
        BASE_URL="https://localhost/",
        TRUSTED_HOSTS=["localhost"],
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    client = Client(app.test_client())  # https, as PREFERRED_URL_SCHEME says
    response = client.login(learner.email, headers={"Referer": "https://localhost/login"})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_outside_production_the_cookie_is_not_marked_secure(client, learner):
    cookie = client.login(learner.email).headers["Set-Cookie"]
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _session_data(app, client: Client) -> dict:
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.loads(client.raw.get_cookie("session").value)


def test_nothing_of_the_session_before_login_survives_it(app, client, learner):
    """Session fixation: values planted before the login are gone after it, and every
    login gets its own server-side session token."""
    client.post("/language", {"locale": "en", "next": "/"})
    before = client.raw.get_cookie("session").value
    assert _session_data(app, client)["locale"] == "en"
    client.login(learner.email)
    after = _session_data(app, client)
    assert "locale" not in after
    assert set(after) >= {"lms_sid", "_user_id"}
    first_token = after["lms_sid"]
    thief = app.test_client()
    thief.set_cookie("session", before)
    assert thief.get("/dashboard").status_code == 302  # the old cookie is no login
    client.logout()
    client.login(learner.email)
    assert _session_data(app, client)["lms_sid"] != first_token
    with app.app_context():
        hashes = db.session.scalars(db.select(AuthSession.token_hash)).all()
        assert len(hashes) == 1  # the logged-out login was deleted at the next log-in
        assert first_token not in hashes and len(hashes[0]) == 64  # only hashes are stored


# -- sign-up rate limits ---------------------------------------------------------------


def signup(email: str, **changes: str) -> dict:
    data = {"name": "New Person", "email": email, "password": PASSWORD, "confirm": PASSWORD}
    return {**data, "locale": "en", **changes}


def test_registrations_are_rate_limited_per_address(make_app):
    app = make_app(REGISTER_RATE_LIMIT="2/hour")
    answers = [
        Client(app.test_client()).post("/register", signup(f"p{n}@example.com")).status_code
        for n in range(3)
    ]
    assert answers == [302, 302, 429]
    refused = Client(app.test_client()).post("/register", signup("p9@example.com"))
    assert refused.status_code == 429
    assert "Too many new accounts from your network" in text(refused)
    elsewhere = Client(app.test_client())
    elsewhere.raw.environ_base["REMOTE_ADDR"] = "10.0.0.8"
    assert elsewhere.post("/register", signup("p9@example.com")).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 3


def test_invalid_forms_do_not_use_up_the_limit(make_app):
    app = make_app(REGISTER_RATE_LIMIT="1/hour")
    client = Client(app.test_client())
    for _ in range(3):
        assert client.post("/register", signup("x@example.com", confirm="no")).status_code == 400
    assert client.post("/register", signup("x@example.com")).status_code == 302


def test_invite_sign_ups_share_the_limit(make_app, make_user):
    app = make_app(REGISTER_RATE_LIMIT="2/hour")
    manager = make_user("boss@acme.example", organization="Acme", is_manager=True)
    with app.app_context():
        _invite, token = org_service.create_invite(
            db.session.get(Organization, manager.organization_id),
            by=db.session.get(User, manager.id),
        )
    assert Client(app.test_client()).post("/register", signup("a@example.com")).status_code == 302
    joined = Client(app.test_client()).post(f"/invite/{token}", signup("b@example.com"))
    assert joined.status_code == 302
    refused = Client(app.test_client()).post(f"/invite/{token}", signup("c@example.com"))
    assert refused.status_code == 429
    assert "Too many new accounts" in text(refused)


# -- mass assignment: fields the client must not set -----------------------------------

EXTRA = {"role": "organizer", "is_manager": "1", "active": "0", "id": "424242"}


def account_state(app, email: str) -> tuple:
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email=email))
        return user.role, user.is_manager, user.organization_id, user.active, user.id


def test_registration_ignores_role_organization_and_ids(app, client, make_user):
    other = make_user("other@example.com", organization="Beta")
    response = client.post(
        "/register",
        signup("new@example.com", organization_id=str(other.organization_id), **EXTRA),
    )
    assert response.status_code == 302
    role, manager, organization, active, user_id = account_state(app, "new@example.com")
    assert (role, manager, organization, active) == ("learner", False, None, True)
    assert user_id != 424242


def test_the_password_change_touches_only_the_logged_in_account(app, client, learner, make_user):
    other = make_user("other@example.com", organization="Beta")
    client.login(learner.email)
    response = client.post(
        "/account/password",
        {
            "current_password": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "user_id": str(other.id),
            "email": other.email,
            "organization_id": str(other.organization_id),
            **EXTRA,
        },
    )
    assert response.status_code == 302
    assert account_state(app, learner.email) == ("learner", False, None, True, learner.id)
    assert account_state(app, other.email)[:4] == ("learner", False, other.organization_id, True)
    assert client_for(app).login(other.email, PASSWORD).status_code == 302  # unchanged
    assert client_for(app).login(learner.email, NEW_PASSWORD).status_code == 302


def test_the_language_switch_sets_only_the_own_locale(app, client, learner, other_learner):
    client.login(learner.email)
    client.post("/language", {"locale": "en", "user_id": str(other_learner.id), **EXTRA})
    with app.app_context():
        assert db.session.get(User, learner.id).locale == "en"
        assert db.session.get(User, other_learner.id).locale is None
    assert account_state(app, learner.email)[:4] == ("learner", False, None, True)


@pytest.fixture
def two_organizations(app, make_user):
    manager = make_user("boss@acme.example", organization="Acme", is_manager=True)
    beta = make_user("boss@beta.example", organization="Beta", is_manager=True)
    with app.app_context():
        _invite, token = org_service.create_invite(
            db.session.get(Organization, manager.organization_id),
            by=db.session.get(User, manager.id),
        )
        beta_group = staff_groups.create_group(
            db.session.get(Organization, beta.organization_id), "Beta lab"
        )
        return token, manager.organization_id, beta.organization_id, beta_group.id


def test_an_invite_sign_up_joins_only_the_invites_organization(app, client, two_organizations):
    token, acme_id, beta_id, beta_group = two_organizations
    response = client.post(
        f"/invite/{token}",
        signup(
            "joiner@example.com",
            organization_id=str(beta_id),
            group_id=str(beta_group),
            group=str(beta_group),
            **EXTRA,
        ),
    )
    assert response.status_code == 302
    role, manager, organization, active, _id = account_state(app, "joiner@example.com")
    assert (role, manager, organization, active) == ("learner", False, acme_id, True)
    with app.app_context():
        assert load(db.session.get(StaffGroup, beta_group), "members") == []


def test_accepting_an_invite_ignores_another_organization_id(
    app, client, learner, two_organizations
):
    token, acme_id, beta_id, _group = two_organizations
    client.login(learner.email)
    response = client.post(f"/invite/{token}", {"organization_id": str(beta_id), **EXTRA})
    assert response.status_code == 302
    assert account_state(app, learner.email)[:4] == ("learner", False, acme_id, True)


def test_a_new_group_belongs_to_the_organization_in_the_address(app, two_organizations):
    _token, acme_id, beta_id, _group = two_organizations
    manager = client_for(app, "boss@acme.example")
    response = manager.post(
        f"/organizations/{acme_id}/groups", {"name": "Lab", "organization_id": str(beta_id)}
    )
    assert response.status_code == 302
    with app.app_context():
        group = db.session.scalar(db.select(StaffGroup).filter_by(name="Lab"))
        assert group.organization_id == acme_id


def test_comments_are_written_as_the_logged_in_user(app, learner, other_learner, trainer):
    case_id, topic_id = add_case(app, trainer), add_topic(app, trainer)
    client = client_for(app, learner.email)
    forged = {"user_id": str(other_learner.id), "author_id": str(other_learner.id), "id": "77"}
    assert client.post(f"/salon/{case_id}/comments", {"body": "Mine", **forged}).status_code == 302
    assert (
        client.post(f"/discussions/{topic_id}/comments", {"body": "Mine", **forged}).status_code
        == 302
    )
    with app.app_context():
        assert db.session.scalars(db.select(CaseComment.user_id)).all() == [learner.id]
        assert db.session.scalars(db.select(TopicComment.user_id)).all() == [learner.id]


def test_course_edits_keep_the_owner_and_the_status(app, trainer, make_user):
    other_trainer = make_user("other.trainer@example.com", role="trainer")
    teacher = client_for(app, trainer.email)
    course_id = create_course(teacher)
    forged = {
        "owner_id": str(other_trainer.id),
        "status": "published",
        "camp_id": "999",
        "archived_at": "2020-01-01",
    }
    response = teacher.post(
        f"/teach/courses/{course_id}",
        {
            "slug": "park-basics",
            "title_zh": "园区基础",
            "title_en": "Renamed",
            "summary_zh": "",
            "summary_en": "",
            "level": "",
            **forged,
        },
    )
    assert response.status_code == 302
    with app.app_context():
        course = db.session.get(Course, course_id)
        assert (course.title_en, course.owner_id, course.status, course.archived_at) == (
            "Renamed",
            trainer.id,
            "draft",
            None,
        )
        assert load(course, "camp").slug == CAMP


@pytest.fixture
def api(client, learner, course, video_lessons):  # noqa: F811 - the imported fixture
    client.login(learner.email)
    client.post(f"/camps/{course.camp.slug}/{course.slug}/enroll")
    return Api(client)


def test_the_api_takes_the_user_from_the_session_never_the_body(
    app,
    api,
    learner,
    other_learner,
    video_lessons,  # noqa: F811
):
    opened = api.post(
        f"/api/lessons/{video_lessons[0]}/playback",
        {"user_id": other_learner.id, "lesson_id": video_lessons[1]},
    )
    assert opened.status_code == 201
    session_id = opened.get_json()["session_id"]
    with app.app_context():
        row = db.session.get(PlaybackSession, session_id)
        assert (row.user_id, row.lesson_id) == (learner.id, video_lessons[0])
    report = {"seq": 1, "position": 0.5, "intervals": [[0, 0.5]], "user_id": other_learner.id}
    refused = api.post(f"/api/playback/{session_id}/progress", report)
    assert refused.status_code == 400
    assert refused.get_json()["details"][0]["field"] == "user_id"
    other = client_for(app, other_learner.email)
    stolen = Api(other).post(
        f"/api/playback/{session_id}/progress", {**report, "user_id": learner.id}
    )
    assert stolen.status_code == 404  # another learner's session is not found


# -- output: the standard string round-trips exactly -----------------------------------


def test_a_name_round_trips_through_registration_account_roster_and_staff_pages(
    app, organizer, make_user
):
    manager = make_user("boss@acme.example", organization="Acme", is_manager=True)
    with app.app_context():
        _invite, token = org_service.create_invite(
            db.session.get(Organization, manager.organization_id),
            by=db.session.get(User, manager.id),
        )
    person = Client(app.test_client())
    joined = person.post(f"/invite/{token}", signup("tricky@example.com", name=TRICKY))
    assert joined.status_code == 302
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email="tricky@example.com"))
        assert user.name == TRICKY
        user_id = user.id
    session_id = make_session(app)
    register_for_session(app, user_id, session_id)

    assert_shows_exactly(text(person.get("/account")), TRICKY, "account")
    assert_shows_exactly(text(person.get("/dashboard")), TRICKY, "dashboard")
    staff = client_for(app, manager.email)
    assert_shows_exactly(text(staff.get(f"/organizations/{manager.organization_id}/")), TRICKY)
    admin = client_for(app, organizer.email)
    for url in ("/admin/users", f"/live/{session_id}/roster"):
        response = admin.get(url)
        assert response.status_code == 200, url
        assert_shows_exactly(text(response), TRICKY, url)


def test_plain_registration_keeps_the_name_exactly(app, client):
    assert client.post("/register", signup("plain@example.com", name=TRICKY)).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(User.name).filter_by(email="plain@example.com")) == (
            TRICKY
        )
    assert_shows_exactly(text(client.get("/account")), TRICKY)


def test_course_module_and_lesson_titles_round_trip_through_the_teach_pages(app, trainer, learner):
    teacher = client_for(app, trainer.email)
    course_id = create_course(teacher, title_en=TRICKY, title_zh=TRICKY, summary_en=TRICKY)
    module_id = add_module(teacher, course_id, title_en=TRICKY, title_zh=TRICKY)
    lesson_id = add_lesson(
        teacher, module_id, kind="reading", title_en=TRICKY, title_zh=TRICKY, body_en=TRICKY
    )
    with app.app_context():
        course = db.session.get(Course, course_id)
        assert (course.title_en, course.title_zh, course.summary_en) == (TRICKY,) * 3
        assert db.session.get(Module, module_id).title_en == TRICKY
        lesson = db.session.get(Lesson, lesson_id)
        assert (lesson.title_en, lesson.body_en) == (TRICKY, TRICKY)
    for url in (
        "/teach/",
        f"/teach/courses/{course_id}",
        f"/teach/modules/{module_id}",
        f"/teach/lessons/{lesson_id}",
    ):
        response = teacher.get(url)
        assert response.status_code == 200, url
        assert_shows_exactly(text(response), TRICKY, url)
    assert teacher.post(f"/teach/courses/{course_id}/publish").status_code == 302
    student = client_for(app, learner.email)
    public = f"/camps/{CAMP}/park-basics/"
    assert_shows_exactly(text(student.get(public)), TRICKY, public)
    assert student.post(public + "enroll").status_code == 302
    reading = text(student.get(public + "lessons/welcome"))
    assert_shows_exactly(reading, TRICKY, "lesson")


def test_comments_round_trip_in_the_salon_and_the_discussion(app, trainer, learner):
    case_id, topic_id = add_case(app, trainer), add_topic(app, trainer)
    client = client_for(app, learner.email)
    assert client.post(f"/salon/{case_id}/comments", {"body": TRICKY}).status_code == 302
    assert client.post(f"/discussions/{topic_id}/comments", {"body": TRICKY}).status_code == 302
    with app.app_context():
        case_comment = db.session.scalar(db.select(CaseComment))
        topic_comment = db.session.scalar(db.select(TopicComment))
        assert case_comment.body == topic_comment.body == TRICKY
        comments = {
            "salon": (case_id, case_comment.id),
            "discussions": (topic_id, topic_comment.id),
        }
    for area, (post_id, comment_id) in comments.items():
        # The page renders the comment as sanitized Markdown (its backslash escapes are
        # Markdown's), never as markup; the author's edit form gives back the exact text.
        page = text(client.get(f"/{area}/{post_id}"))
        assert "< > & &lt;" not in page, area
        assert "&lt; &gt; &amp;" in page, area
        edit = client.get(f"/{area}/{post_id}/comments/{comment_id}/edit")
        assert edit.status_code == 200, area
        assert_shows_exactly(text(edit), TRICKY, f"{area} comment edit")


def test_organization_and_group_names_round_trip(app, organizer, make_user):
    admin = client_for(app, organizer.email)
    response = admin.post("/admin/organizations", {"name": TRICKY, "monthly_target_hours": ""})
    assert response.status_code == 302
    with app.app_context():
        organization = db.session.scalar(db.select(Organization))
        assert organization.name == TRICKY
        org_id = organization.id
    assert admin.post(f"/organizations/{org_id}/groups", {"name": TRICKY}).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(StaffGroup.name)) == TRICKY
    for url in (
        "/admin/organizations",
        f"/admin/organizations/{org_id}",
        f"/organizations/{org_id}/",
        f"/organizations/{org_id}/groups",
    ):
        response = admin.get(url)
        assert response.status_code == 200, url
        assert_shows_exactly(text(response), TRICKY, url)


def test_lesson_markdown_is_sanitized(app, trainer, learner):
    body = (
        "**bold**\n\n<script>alert(1)</script>\n\n"
        "[click](javascript:alert(2)) [ok](https://example.com) [vb](vbscript:x)\n\n"
        '<img src=x onerror="alert(3)"> <a href="javascript:alert(4)" onclick="x()">raw</a>\n\n'
        '<iframe src="https://evil.example/"></iframe> <svg onload="alert(5)"></svg>\n\n'
        "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg2KTwvc2NyaXB0Pg==)\n"
    )
    teacher = client_for(app, trainer.email)
    course_id = create_course(teacher)
    module_id = add_module(teacher, course_id)
    add_lesson(teacher, module_id, kind="reading", slug="read", body_en=body)
    assert teacher.post(f"/teach/courses/{course_id}/publish").status_code == 302
    student = client_for(app, learner.email)
    public = f"/camps/{CAMP}/park-basics/"
    student.post(public + "enroll")
    page = text(student.get(public + "lessons/read"))
    lesson_html = page.split("<main", 1)[1].split("</main>", 1)[0]
    assert "<strong>bold</strong>" in lesson_html
    assert 'href="https://example.com"' in lesson_html
    assert 'rel="noopener noreferrer nofollow"' in lesson_html
    for bad in ("<script", "javascript:", "vbscript:", "data:text", "onerror", "onclick"):
        assert bad not in lesson_html, bad
    for bad in ("<iframe", "<svg", "onload", "<img"):
        assert bad not in lesson_html, bad


# -- headers and faults ----------------------------------------------------------------


def test_every_page_carries_the_security_headers(client, learner):
    client.login(learner.email)
    for url in ("/", "/login", "/dashboard", "/account", "/no-such-page"):
        headers = client.get(url).headers
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["X-Frame-Options"] == "DENY", url
        assert headers["Referrer-Policy"] == "same-origin", url
        policy = headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, url


def test_pages_answer_a_clear_503_when_the_database_is_unreachable(app_config):
    from lms import create_app

    app = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none"}
    )
    client = app.test_client()
    page = client.get("/", headers={"Accept-Language": "en"})
    assert page.status_code == 503
    assert "The database is not reachable right now." in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)
    json_client = client.get("/", headers={"Accept": "application/json"})
    assert json_client.status_code == 503
    assert json_client.get_json()["status"] == 503


# -- request body limits ---------------------------------------------------------------------

MIB = 1024 * 1024
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class CountingBody(io.RawIOBase):
    """A request body of ``size`` bytes made as it is read, counting what the app read."""

    def __init__(self, size: int) -> None:
        self.size, self.left, self.read_bytes = size, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size - self.left

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Only what the test client does to measure the body (nothing is read yet)."""
        self.left = 0 if whence == io.SEEK_END else self.size - offset
        return self.tell()

    def readinto(self, buffer) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left, MIB)
        buffer[:count] = b"a" * count
        self.left -= count
        self.read_bytes += count
        return count


def write_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, URL) of every rule that takes a body, with sample URL values."""
    routes = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        values = {}
        for name, converter in rule._converters.items():
            items = getattr(converter, "items", None)
            values[name] = sorted(items)[0] if items else 1 if converter.regex == r"\d+" else "x"
        for method in sorted(set(rule.methods or ()) & set(WRITE_METHODS)):
            url = adapter.build(rule.endpoint, values, method=method)
            routes.append((rule.endpoint, method, url))
    return routes


def send_body(client, method: str, url: str, size: int, **environ):
    body = CountingBody(size)
    response = client.open(
        url,
        method=method,
        input_stream=body,
        content_type="multipart/form-data; boundary=x",
        environ_overrides=environ,
    )
    return response, body.read_bytes


@pytest.mark.parametrize("role", [None, "organizer"])
def test_no_route_reads_a_body_over_its_limit(app, make_user, role):
    """Every route of the URL map that takes a body, anonymous and as an organizer: one byte
    over the global limit is a 413 before a byte is read, except on the upload endpoints,
    which take up to their own allowance and refuse one byte more the same way."""
    from lms.web.request import BODY_ALLOWANCES

    client = app.test_client()
    if role:
        make_user("boss@example.com", role=role)
        Client(client).login("boss@example.com")
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == MIB
    routes = write_routes(app)
    assert {endpoint for endpoint, _m, _u in routes} >= set(BODY_ALLOWANCES)
    for endpoint, method, url in routes:
        response, read = send_body(client, method, url, limit + 1)
        assert response.status_code < 500, (endpoint, response.status_code)
        if endpoint in BODY_ALLOWANCES:
            assert read > 0, endpoint  # let through to the form parser
            allowance = app.config[BODY_ALLOWANCES[endpoint]]
            response, read = send_body(client, method, url, allowance + 1)
        assert (response.status_code, read) == (413, 0), (endpoint, method)


def test_a_chunked_body_is_cut_at_the_limit(client):
    """Without a Content-Length (chunked), reading stops at the limit: 413, never more."""
    response, read = send_body(
        client.raw, "POST", "/login", 50 * MIB, CONTENT_LENGTH="", **{"wsgi.input_terminated": True}
    )
    assert response.status_code == 413
    assert read <= MIB + 64 * 1024


def test_a_too_large_body_is_a_413_page_or_json_in_the_visitors_language(client):
    page, _read = send_body(client.raw, "POST", "/login", 2 * MIB)
    assert page.status_code == 413 and "What you sent is too large." in text(page)
    answer = client.raw.post(
        "/api/playback/" + "0" * 32 + "/progress",
        data=b"x" * (MIB + 1),
        content_type="application/json",
    )
    assert answer.status_code == 413 and answer.get_json()["status"] == 413
    chinese = client.raw.post("/login", data=b"x" * (MIB + 1), headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 413 and "提交的内容过大。" in text(chinese)


def test_uploads_over_the_global_limit_stream_to_a_file(app, make_user, course, monkeypatch):
    """A video of 3 MiB (three times the global limit) is let through, and reaches the store
    as a file on disk, not as bytes in memory."""
    from lms.models import CourseTrainer
    from lms.services import media, uploads
    from tests.conftest import video_lessons_of

    trainer = make_user("teacher@example.com", role="trainer")
    with app.app_context():
        db.session.add(CourseTrainer(course_id=course.id, user_id=trainer.id))
        db.session.commit()
        lesson_id = video_lessons_of(course.id)[0].id
    seen = []
    original = uploads.store_upload

    def spy(stream, *args, **kwargs):
        seen.append(stream._rolled)  # a SpooledTemporaryFile past 500 KB: on disk
        return original(stream, *args, **kwargs)

    monkeypatch.setattr(uploads, "store_upload", spy)
    editor = client_for(app, trainer.email)
    video = media.EBML_MAGIC + secrets.token_bytes(3 * MIB)
    response = editor.post(
        f"/teach/lessons/{lesson_id}/video",
        {"video": (io.BytesIO(video), "big.webm")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 400)  # 400: noise is no readable video
    assert seen == [True]
