"""One error vocabulary: the services raise lms.services.errors' kinds, and lms/web/errors.py
alone maps them to HTTP, as a page or as JSON."""

from __future__ import annotations

import pytest

from lms.extensions import db
from lms.models import Organization, User
from lms.services import (
    accounts,
    checkin,
    enrollment,
    live,
    progress,
    quota,
    search,
    staff_import,
    staff_mail,
    surveys,
)
from lms.services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooLarge
from lms.services.quiz import attempts, bank, gift, grading
from lms.web.errors import status_of
from tests.test_plans import login


@pytest.mark.engine_independent
@pytest.mark.parametrize(
    ("error", "status"),
    [
        (DomainError("?"), 400),
        (Invalid("?"), 400),
        (Forbidden("?"), 403),
        (NotFound(), 404),
        (Conflict("?"), 409),
        (TooLarge("?"), 413),
        (live.LiveError("?"), 400),
        (live.LiveConflict("?"), 409),
        (checkin.SeatConflict("?"), 409),
        (progress.ProgressError("?"), 400),
        (accounts.EmailTaken("a@b.c"), 409),
        (staff_import.ImportFileTooLarge("?"), 413),
        (staff_import.ImportFileError("?"), 400),
        (staff_mail.AddressError("?"), 400),
        (attempts.NoAttemptsLeft(), 409),
        (attempts.AttemptClosed(), 409),
        (attempts.InvalidAnswers("?"), 400),
        (bank.QuestionError("?"), 400),
        (bank.NotAQuiz(7), 404),
        (gift.GiftError("?"), 400),
        (grading.AnswerError("?"), 400),
        (surveys.AlreadyAnswered(), 409),
        (surveys.InvalidAnswers(), 400),
        (search.SearchError("?"), 400),
        (enrollment.EnrollmentRefused("?"), 403),
        (quota.QuotaExceeded(None), 413),
    ],
)
def test_each_kind_has_one_status(error, status):
    assert status_of(error) == status
    assert isinstance(error, DomainError)


@pytest.mark.engine_independent
def test_invalid_input_is_still_a_value_error():
    """The services' former ValueErrors keep being ValueErrors for their callers."""
    assert issubclass(live.LiveError, ValueError) and issubclass(Invalid, ValueError)
    assert not issubclass(Conflict, ValueError)


@pytest.mark.engine_independent
def test_not_a_quiz_says_which_lesson_and_is_still_a_lookup_error():
    error = bank.NotAQuiz(7)
    assert (error.lesson_id, error.message) == (7, "lesson 7 is not a quiz")
    assert isinstance(error, LookupError)


@pytest.fixture
def raising_app(make_app):
    """An app with a route that raises a service's refusal after adding a row."""
    app = make_app()

    def refuse(kind: str) -> str:
        db.session.add(Organization(name=f"Half-made {kind}"))
        db.session.flush()
        error = {"invalid": Invalid, "forbidden": Forbidden, "missing": NotFound,
                 "taken": Conflict, "large": TooLarge}[kind]  # fmt: skip
        raise error("Nothing was kept." if kind != "missing" else "")

    app.add_url_rule("/test-refusal/<kind>", view_func=refuse)
    return app


@pytest.mark.parametrize(
    ("kind", "status"),
    [("invalid", 400), ("forbidden", 403), ("missing", 404), ("taken", 409), ("large", 413)],
)
def test_a_refusal_is_a_page_or_json_and_writes_nothing(raising_app, kind, status):
    client = raising_app.test_client()
    page = client.get(f"/test-refusal/{kind}", headers={"Accept-Language": "en"})
    assert page.status_code == status
    assert page.mimetype == "text/html"
    body = page.get_data(as_text=True)
    if kind == "missing":
        assert "There is nothing here." in body
    else:
        assert "Nothing was kept." in body
    answer = client.get(
        f"/test-refusal/{kind}", headers={"Accept": "application/json", "Accept-Language": "en"}
    )
    assert answer.status_code == status and answer.is_json
    assert answer.get_json()["status"] == status
    assert answer.get_json()["message"] == (
        "There is nothing here. Check the address, or go back to the catalog."
        if kind == "missing"
        else "Nothing was kept."
    )
    with raising_app.app_context():
        assert db.session.scalar(db.select(db.func.count(Organization.id)).where(
            Organization.name.like("Half-made%"))) == 0  # fmt: skip


@pytest.fixture
def acme(app, make_user):
    manager = make_user("boss@acme.example", organization="Acme", is_manager=True)
    deputy = make_user("deputy@acme.example", organization="Acme", is_manager=True)
    stranger = make_user("bob@beta.example", organization="Beta")
    return manager, deputy, stranger


def test_a_services_refusal_reaches_the_page_with_its_status(app, acme):
    manager, deputy, stranger = acme
    client = login(app, manager.email)
    org = manager.organization_id
    myself = client.post(f"/organizations/{org}/staff/{manager.id}/remove")
    assert myself.status_code == 400
    assert "You cannot remove yourself from the organization." in myself.get_data(as_text=True)
    refused = client.post(f"/organizations/{org}/staff/{deputy.id}/remove")
    assert refused.status_code == 403
    assert "Only an organizer can remove a manager." in refused.get_data(as_text=True)
    tampered = client.post(
        f"/organizations/{org}/staff/{stranger.id}/remove", headers={"Accept": "application/json"}
    )
    assert tampered.status_code == 404
    assert tampered.get_json() == {
        "error": "Not found",
        "message": "There is nothing here. Check the address, or go back to the catalog.",
        "status": 404,
    }
    with app.app_context():
        assert db.session.get(User, stranger.id).organization_id != org
        assert db.session.get(User, deputy.id).organization_id == org


def test_the_refusal_is_in_chinese_for_a_chinese_page(app, acme):
    manager, _deputy, _stranger = acme
    with app.app_context():
        db.session.execute(db.update(User).filter_by(id=manager.id).values(locale="zh_CN"))
        db.session.commit()
    page = login(app, manager.email).post(
        f"/organizations/{manager.organization_id}/staff/{manager.id}/remove"
    )
    assert page.status_code == 400
    assert "不能将自己移出本单位。" in page.get_data(as_text=True)


def test_the_api_answers_every_error_in_one_json_shape(app, learner):
    client = app.test_client()
    anonymous = client.post("/api/lessons/1/playback")
    assert anonymous.status_code == 401
    assert anonymous.get_json() == {
        "error": "Unauthorized",
        "message": "log in first",
        "status": 401,
    }
    logged_in = login(app, learner.email)
    token = logged_in.csrf()
    missing = logged_in.raw.post(
        "/api/playback/" + "0" * 32 + "/progress", json={}, headers={"X-CSRFToken": token}
    )
    assert missing.status_code == 404
    assert set(missing.get_json()) == {"error", "message", "status"}
    unknown = logged_in.get("/api/nothing-here")
    assert unknown.status_code == 404 and unknown.is_json
