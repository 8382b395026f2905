"""Camps at runtime: organizers enable and disable them, and each bundled camp's own rules."""

from __future__ import annotations

import types

import pytest

import plugins.silicon_valley
from lms import Camp as CampSpec
from lms import hookimpl
from lms.extensions import db
from lms.models import Camp, Course, Enrollment, Lesson, Module, User
from lms.services import camps as camp_service
from lms.services import media
from lms.services.lessons import completion_threshold
from lms.services.loading import load_path
from tests.conftest import Client

SLUGS = ["startup-growth", "entrepreneur", "silicon-valley", "practitioner"]
INTRO_HEADINGS = {
    "startup-growth": "Founder Talent Programme",
    "entrepreneur": "Entrepreneurial Capability Programme",
    "silicon-valley": "International Innovation Programme",
    "practitioner": "Party-Building Talent Programme",
}
PRACTITIONER_REFUSAL = "The Practitioner Camp is for staff sent by their company."


def first_lesson_url(app, camp_slug: str) -> tuple[str, str]:
    """(course page, lesson page) of the camp's first course and its first lesson."""
    with app.app_context():
        course, lesson = db.session.execute(
            db.select(Course.slug, Lesson.slug)
            .join(Module, Module.course_id == Course.id)
            .join(Lesson, Lesson.module_id == Module.id)
            .join(Camp, Course.camp_id == Camp.id)
            .where(Camp.slug == camp_slug)
            .order_by(Course.position, Module.position, Lesson.position)
        ).first()
    course_page = f"/camps/{camp_slug}/{course}/"
    return course_page, f"{course_page}lessons/{lesson}"


def text(response) -> str:
    return response.get_data(as_text=True)


def is_enabled(app, slug: str) -> bool:
    with app.app_context():
        return db.session.scalar(db.select(Camp.enabled).filter_by(slug=slug))


@pytest.fixture
def organizer_client(client: Client, organizer) -> Client:
    client.login(organizer.email)
    return client


# -- enabling and disabling ------------------------------------------------------------


def test_disabling_a_camp_hides_it_on_the_next_request(app, organizer_client):
    client = organizer_client
    course_page, lesson_page = first_lesson_url(app, "practitioner")
    assert client.get("/camps/practitioner/").status_code == 200
    assert client.get(course_page).status_code == 200
    assert client.get(lesson_page).status_code == 200
    assert 'id="camp-practitioner"' in text(client.get("/"))

    response = client.post("/admin/camps/practitioner/disable")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/camps"
    assert "practitioner is disabled." in text(client.get("/admin/camps"))

    assert client.get("/camps/practitioner/").status_code == 404
    assert client.get(course_page).status_code == 404
    assert client.get(lesson_page).status_code == 404
    catalog = text(client.get("/"))
    assert 'id="camp-practitioner"' not in catalog
    assert 'id="camp-startup-growth"' in catalog


def test_enabling_a_camp_again_restores_its_pages(app, organizer_client):
    client = organizer_client
    course_page, lesson_page = first_lesson_url(app, "silicon-valley")
    client.post("/admin/camps/silicon-valley/disable")
    assert client.get(course_page).status_code == 404

    client.post("/admin/camps/silicon-valley/enable")
    assert "silicon-valley is enabled." in text(client.get("/admin/camps"))
    assert client.get("/camps/silicon-valley/").status_code == 200
    assert client.get(course_page).status_code == 200
    assert client.get(lesson_page).status_code == 200
    assert 'id="camp-silicon-valley"' in text(client.get("/"))


def test_a_disabled_camps_enrollment_policy_is_not_consulted(app, make_user):
    no_company = make_user("solo@example.com")
    registry = app.extensions["lms.plugins"]
    with app.test_request_context():
        user = db.session.get(User, no_company.id)
        course = db.session.scalar(db.select(Course).filter_by(slug="new-employee-onboarding"))
        decision = registry.call_first("lms_enrollment_policy", user=user, course=course)
        assert decision.allowed is False

        camp_service.set_enabled("practitioner", False)
        assert registry.call_first("lms_enrollment_policy", user=user, course=course) is None

        camp_service.set_enabled("practitioner", True)
        assert registry.call_first("lms_enrollment_policy", user=user, course=course) is not None


def test_a_disabled_camps_plugin_hooks_are_not_called(make_app, make_user, organizer):
    calls = []

    @hookimpl
    def lms_register_camps():
        return [CampSpec(slug="spy-camp", title_zh="间谍营", title_en="Spy Camp")]

    @hookimpl
    def lms_enrolled(enrollment):
        calls.append(enrollment.course.slug)

    spy = types.ModuleType("spy_camp")
    spy.lms_register_camps, spy.lms_enrolled = lms_register_camps, lms_enrolled
    app = make_app(EXTRA_PLUGINS={"spy": spy})
    learner = make_user("spied@example.com")
    client = Client(app.test_client())
    client.login(organizer.email)
    client.post("/admin/camps/spy-camp/disable")
    client.logout()

    client.login(learner.email)
    assert client.post("/camps/startup-growth/strategy-toolkit/enroll").status_code == 302
    assert calls == []

    client.logout()
    client.login(organizer.email)
    client.post("/admin/camps/spy-camp/enable")
    client.logout()
    client.login(learner.email)
    client.post("/camps/startup-growth/crisis-prevention/enroll")
    assert calls == ["crisis-prevention"]


# -- who may use the admin pages -------------------------------------------------------


@pytest.mark.parametrize("role", ["learner", "trainer"])
def test_only_organizers_may_use_the_camp_admin(app, client, make_user, role):
    user = make_user(f"{role}-admin@example.com", role=role)
    client.login(user.email)
    assert client.get("/admin/camps").status_code == 403
    assert client.get("/admin/camps.json").status_code == 403
    assert client.post("/admin/camps/entrepreneur/disable").status_code == 403
    assert is_enabled(app, "entrepreneur")


def test_anonymous_visitors_are_sent_to_log_in(app, client):
    for response in (
        client.get("/admin/camps"),
        client.get("/admin/camps.json"),
        client.post("/admin/camps/entrepreneur/disable"),
    ):
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    assert is_enabled(app, "entrepreneur")


@pytest.mark.parametrize("url", ["/admin/camps/nope/disable", "/admin/camps/entrepreneur/delete"])
def test_unknown_camps_and_actions_are_404(app, organizer_client, url):
    assert organizer_client.post(url).status_code == 404
    assert is_enabled(app, "entrepreneur")


def test_the_admin_page_lists_every_plugin_and_syncs(organizer_client):
    page = text(organizer_client.get("/admin/camps"))
    for name in ("startup_growth", "entrepreneur", "silicon_valley", "practitioner"):
        assert f"<strong>{name}</strong>" in page
    response = organizer_client.post("/admin/camps/startup-growth/sync", follow_redirects=True)
    assert "startup-growth synced: 0 created, 0 updated, 0 archived." in text(response)


def test_the_camps_json_lists_plugins_with_version_and_hooks(organizer_client):
    rows = {row["name"]: row for row in organizer_client.get("/admin/camps.json").get_json()}
    assert set(rows) == {"startup_growth", "entrepreneur", "silicon_valley", "practitioner", "xapi"}
    assert rows.pop("xapi")["camps"] == []  # a plugin that is not a camp
    for row in rows.values():
        assert row["distribution"] == "camp-lms"
        assert row["version"] == "0.1.0"
        assert row["status"] == "loaded"
        assert "lms_register_camps" in row["hooks"]
        assert [camp["enabled"] for camp in row["camps"]] == [True]
    assert "lms_enrollment_policy" in rows["practitioner"]["hooks"]
    assert "lms_lesson_completion_threshold" in rows["entrepreneur"]["hooks"]
    assert rows["silicon_valley"]["camps"][0]["title_en"] == "Silicon Valley Camp"


# -- each camp's own behaviour ---------------------------------------------------------


@pytest.mark.parametrize(
    ("camp_slug", "kind", "threshold"),
    [
        ("startup-growth", "video", 0.8),
        ("startup-growth", "reading", 0.9),
        ("entrepreneur", "video", 0.95),
        ("entrepreneur", "reading", 0.9),
        ("silicon-valley", "video", 0.9),
        ("silicon-valley", "reading", 0.9),
        ("practitioner", "video", 0.9),
        ("practitioner", "reading", 0.9),
    ],
)
def test_each_camp_sets_its_completion_threshold(app, camp_slug, kind, threshold):
    with app.test_request_context():
        lessons = db.session.scalars(
            db.select(Lesson)
            .join(Module)
            .join(Course)
            .join(Camp)
            .where(Camp.slug == camp_slug, Lesson.kind == kind)
        ).all()
        assert lessons
        assert {completion_threshold(lesson) for lesson in lessons} == {threshold}


@pytest.mark.parametrize(
    ("camp_slug", "percent"), [("startup-growth", 80), ("entrepreneur", 95), ("practitioner", 90)]
)
def test_the_video_lesson_page_states_the_camps_threshold(
    app, organizer_client, demo_video, camp_slug, percent
):
    with app.app_context():
        lesson = db.session.scalars(
            db.select(Lesson)
            .join(Module)
            .join(Course)
            .join(Camp)
            .where(Camp.slug == camp_slug, Lesson.kind == "video")
            .order_by(Course.position, Module.position, Lesson.position)
        ).first()
        lesson.media, _ = media.import_file(demo_video)
        db.session.commit()
        load_path(lesson, "module", "course")
        url = f"/camps/{camp_slug}/{lesson.module.course.slug}/lessons/{lesson.slug}"
    page = text(organizer_client.get(url))
    assert f"Watch {percent}% of the video to complete this lesson." in page


def test_a_full_silicon_valley_cohort_refuses_with_the_reason(app, client, make_user, monkeypatch):
    monkeypatch.setattr(plugins.silicon_valley, "COHORT_SEATS", 2)
    course_page = "/camps/silicon-valley/global-market-entry/"
    for email in ("first@example.com", "second@example.com"):
        make_user(email)
        client.login(email)
        assert client.post(course_page + "enroll").status_code == 302
        client.logout()

    make_user("third@example.com")
    client.login("third@example.com")
    page = text(client.get(course_page))
    assert "This cohort is full (2 seats)." in page
    assert 'data-test="enroll"' not in page
    refused = client.post(course_page + "enroll")
    assert refused.status_code == 403
    assert "This cohort is full (2 seats)." in text(refused)
    # Seats are per course: another cohort still has room.
    assert client.post("/camps/silicon-valley/cross-border-teams/enroll").status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Enrollment.id))) == 3


def test_a_withdrawn_learner_frees_a_silicon_valley_seat(app, client, make_user, monkeypatch):
    monkeypatch.setattr(plugins.silicon_valley, "COHORT_SEATS", 1)
    course_page = "/camps/silicon-valley/global-market-entry/"
    make_user("first@example.com")
    client.login("first@example.com")
    assert client.post(course_page + "enroll").status_code == 302
    client.logout()
    with app.app_context():
        db.session.scalars(db.select(Enrollment)).one().status = "withdrawn"
        db.session.commit()
    make_user("second@example.com")
    client.login("second@example.com")
    assert client.post(course_page + "enroll").status_code == 302


def test_the_practitioner_camp_needs_an_organization(app, client, make_user):
    course_page = "/camps/practitioner/new-employee-onboarding/"
    make_user("freelancer@example.com")
    client.login("freelancer@example.com")
    page = text(client.get(course_page))
    assert PRACTITIONER_REFUSAL in page
    assert 'data-test="enroll"' not in page
    refused = client.post(course_page + "enroll")
    assert refused.status_code == 403
    assert PRACTITIONER_REFUSAL in text(refused)
    client.logout()

    make_user("employee@example.com", organization="Focused Photonics")
    client.login("employee@example.com")
    page = text(client.get(course_page))
    assert PRACTITIONER_REFUSAL not in page
    assert 'data-test="enroll"' in page
    assert client.post(course_page + "enroll").status_code == 302
    assert "Your progress" in text(client.get(course_page))


@pytest.mark.parametrize("slug", SLUGS)
def test_each_camp_page_renders_its_own_intro(client, slug):
    page = text(client.get(f"/camps/{slug}/"))
    assert f'<section class="camp-intro camp-{slug}">' in page
    assert f"<h2>{INTRO_HEADINGS[slug]}</h2>" in page
    assert f'src="/camps-static/{slug}/emblem.svg"' in page
    for other, heading in INTRO_HEADINGS.items():
        if other != slug:
            assert heading not in page
