"""Monthly targets: the academy's default, an organization's own, and each camp's own."""

from __future__ import annotations

from datetime import date

import pytest

from lms.extensions import db
from lms.models import Camp, Course, Enrollment, Organization, User
from lms.services import hours
from tests.test_query_counts import count_queries


def camp_id(slug: str) -> int:
    return db.session.scalar(db.select(Camp.id).filter_by(slug=slug))


def set_target(app, slug: str, target: int | None) -> None:
    with app.app_context():
        camp = db.session.scalar(db.select(Camp).filter_by(slug=slug))
        hours.set_camp_target(camp, target)


def stored_target(app, slug: str) -> int | None:
    with app.app_context():
        return db.session.scalar(db.select(Camp.monthly_target_hours).filter_by(slug=slug))


def enroll(app, user_id: int, slug: str) -> None:
    with app.app_context():
        course = db.session.scalar(
            db.select(Course).join(Camp).where(Camp.slug == slug).order_by(Course.id).limit(1)
        )
        db.session.add(Enrollment(user_id=user_id, course_id=course.id))
        db.session.commit()


def log(app, user_id: int, slug: str | None, day: date, seconds: int, key: str) -> None:
    with app.app_context():
        hours.add(
            key=key, user_id=user_id, source="video", seconds=seconds, day=day,
            camp_id=camp_id(slug) if slug else None,
        )  # fmt: skip
        db.session.commit()


# -- the learner's target --------------------------------------------------------------


def test_the_default_target_applies_without_an_organization(app, learner):
    with app.app_context():
        assert hours.target_hours(db.session.get(User, learner.id)) == 12


@pytest.mark.parametrize(("organization_target", "expected"), [(None, 12), (20, 20), (0, 0)])
def test_the_organizations_target_overrides_the_default(
    app, make_user, organization_target, expected
):
    user = make_user("staff@acme.test", organization="Acme")
    with app.app_context():
        db.session.scalar(
            db.select(Organization).filter_by(name="Acme")
        ).monthly_target_hours = organization_target
        db.session.commit()
        assert hours.target_hours(db.session.get(User, user.id)) == expected


def test_the_configured_default_is_used(make_app, make_user):
    app = make_app(MONTHLY_TARGET_HOURS=8)
    with app.app_context():
        user = User(email="x@example.com", name="x", password_hash="-")
        assert hours.target_hours(user) == 8


def test_the_dashboard_shows_the_organizations_target(app, client, make_user):
    user = make_user("staff@acme.test", organization="Acme")
    with app.app_context():
        db.session.scalar(db.select(Organization).filter_by(name="Acme")).monthly_target_hours = 4
        db.session.commit()
    log(app, user.id, None, hours.local_day(hours.utcnow()), 3600, "one")
    client.login(user.email)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "/ 4 h" in page
    assert 'value="25"' in page  # 1 of 4 hours


# -- camps' targets --------------------------------------------------------------------


def test_month_by_camp_sums_this_month_per_camp_with_a_target(app, learner, other_learner):
    today = date(2027, 5, 20)
    set_target(app, "entrepreneur", 10)
    set_target(app, "silicon-valley", 5)
    set_target(app, "practitioner", 3)  # a target, but nothing to do with the learner
    enroll(app, learner.id, "silicon-valley")  # enrolled, no time yet: listed with 0
    log(app, learner.id, "entrepreneur", date(2027, 5, 1), 3600, "a")
    log(app, learner.id, "entrepreneur", date(2027, 5, 31), 1800, "b")
    log(app, learner.id, "entrepreneur", date(2027, 4, 30), 7200, "last month")
    log(app, learner.id, "entrepreneur", date(2027, 6, 1), 7200, "next month")
    log(app, learner.id, "startup-growth", date(2027, 5, 2), 3600, "no target")
    log(app, other_learner.id, "entrepreneur", date(2027, 5, 2), 9999, "someone else")
    with app.app_context():
        found = hours.month_by_camp(learner.id, today=today)
        rows = [(row.camp.slug, row.seconds, row.target, row.percent) for row in found]
    assert sorted(rows) == [("entrepreneur", 5400, 10, 15), ("silicon-valley", 0, 5, 0)]


def test_month_by_camp_leaves_out_disabled_camps_and_handles_december(app, learner):
    set_target(app, "entrepreneur", 1)
    log(app, learner.id, "entrepreneur", date(2027, 12, 31), 7200, "new year's eve")
    with app.app_context():
        found = hours.month_by_camp(learner.id, today=date(2027, 12, 1))
        assert [(row.camp.slug, row.hours, row.percent) for row in found] == [
            ("entrepreneur", 2.0, 100)
        ]
        db.session.scalar(db.select(Camp).filter_by(slug="entrepreneur")).enabled = False
        db.session.commit()
        assert hours.month_by_camp(learner.id, today=date(2027, 12, 1)) == []


def test_a_zero_camp_target_counts_as_met(app, learner):
    set_target(app, "entrepreneur", 0)
    enroll(app, learner.id, "entrepreneur")
    with app.app_context():
        (row,) = hours.month_by_camp(learner.id)
    assert row.target == 0 and row.percent == 100


def test_month_by_camp_is_one_query(app, learner):
    set_target(app, "entrepreneur", 10)
    set_target(app, "silicon-valley", 10)
    enroll(app, learner.id, "silicon-valley")
    log(app, learner.id, "entrepreneur", hours.local_day(hours.utcnow()), 60, "a")
    with app.app_context(), count_queries(app) as statements:
        assert len(hours.month_by_camp(learner.id)) == 2
    assert len(statements) == 1


def test_the_dashboard_breaks_the_month_down_per_camp(app, client, learner):
    set_target(app, "entrepreneur", 4)
    log(app, learner.id, "entrepreneur", hours.local_day(hours.utcnow()), 3600, "a")
    client.login(learner.email)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "This month per camp" in page
    section = page[page.index("camp-target-list") :]
    assert "1.0 / 4 h" in section
    assert 'value="25"' in section


def test_the_dashboard_has_no_breakdown_without_camp_targets(client, learner):
    client.login(learner.email)
    assert "This month per camp" not in client.get("/dashboard").get_data(as_text=True)


def test_set_camp_target_refuses_out_of_range_values(app):
    with app.app_context():
        camp = db.session.scalar(db.select(Camp).filter_by(slug="entrepreneur"))
        for bad in (-1, 745):
            with pytest.raises(ValueError):
                hours.set_camp_target(camp, bad)


# -- organizers set camps' targets on /admin/camps -------------------------------------


def test_organizers_set_and_clear_a_camps_target(app, client, organizer):
    client.login(organizer.email)
    page = client.get("/admin/camps").get_data(as_text=True)
    assert 'action="/admin/camps/entrepreneur/target"' in page
    response = client.post("/admin/camps/entrepreneur/target", {"target": "30"})
    assert response.status_code == 302
    assert stored_target(app, "entrepreneur") == 30
    page = client.get("/admin/camps").get_data(as_text=True)
    assert 'id="target-entrepreneur"' in page
    assert 'value="30"' in page
    assert client.post("/admin/camps/entrepreneur/target", {"target": "744"}).status_code == 302
    assert stored_target(app, "entrepreneur") == 744
    assert client.post("/admin/camps/entrepreneur/target", {"target": "0"}).status_code == 302
    assert stored_target(app, "entrepreneur") == 0
    assert client.post("/admin/camps/entrepreneur/target", {"target": ""}).status_code == 302
    assert stored_target(app, "entrepreneur") is None


@pytest.mark.parametrize("value", ["-1", "745", "1.5", "abc", "1e3", "99999999999999999999"])
def test_invalid_targets_show_an_error_and_save_nothing(app, client, organizer, value):
    set_target(app, "entrepreneur", 12)
    client.login(organizer.email)
    response = client.post("/admin/camps/entrepreneur/target", {"target": value})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert page.count('<p class="error">') == 1  # one hint, whatever was wrong
    assert "Enter whole hours from 0 to 744" in page
    assert 'aria-invalid="true"' in page
    assert stored_target(app, "entrepreneur") == 12


def test_target_posts_need_the_csrf_token(app, client, organizer):
    client.login(organizer.email)
    response = client.post("/admin/camps/entrepreneur/target", {"target": "5"}, csrf=False)
    assert response.status_code == 400
    assert stored_target(app, "entrepreneur") is None


@pytest.mark.parametrize("who", ["learner", "trainer"])
def test_only_organizers_set_targets(app, client, request, who):
    user = request.getfixturevalue(who)
    client.login(user.email)
    assert client.post("/admin/camps/entrepreneur/target", {"target": "5"}).status_code == 403
    assert stored_target(app, "entrepreneur") is None


def test_anonymous_visitors_cannot_set_targets(app, client):
    response = client.post("/admin/camps/entrepreneur/target", {"target": "5"})
    assert response.status_code == 302
    assert stored_target(app, "entrepreneur") is None


def test_unknown_camps_have_no_target_form(client, organizer):
    client.login(organizer.email)
    assert client.post("/admin/camps/no-such-camp/target", {"target": "5"}).status_code == 404
