"""Organizers manage accounts: roles and disabling, which end sessions at once."""

from lms.extensions import db
from lms.models import User
from tests.conftest import Client


def test_only_organizers_see_the_user_list(client, learner, trainer, organizer):
    assert client.get("/admin/users").status_code == 302
    for user in (learner, trainer):
        client.login(user.email)
        assert client.get("/admin/users").status_code == 403
        client.logout()
    client.login(organizer.email)
    page = client.get("/admin/users?q=learner")
    assert page.status_code == 200
    assert learner.email in page.get_data(as_text=True)
    assert trainer.email not in page.get_data(as_text=True)


def test_making_a_learner_a_trainer_ends_their_sessions(app, client, learner, organizer):
    theirs = Client(app.test_client())
    theirs.login(learner.email)
    assert theirs.get("/teach/").status_code == 403
    client.login(organizer.email)
    response = client.post(f"/admin/users/{learner.id}", {"role": "trainer", "active": "1"})
    assert response.status_code == 302
    assert theirs.get("/dashboard").status_code == 302  # logged out by the change
    theirs.login(learner.email)
    assert theirs.get("/teach/").status_code == 200


def test_disabling_an_account_logs_it_out_everywhere(app, client, learner, organizer):
    theirs = Client(app.test_client())
    theirs.login(learner.email)
    client.login(organizer.email)
    client.post(f"/admin/users/{learner.id}", {"role": "learner", "active": "0"})
    assert theirs.get("/dashboard").status_code == 302
    assert theirs.login(learner.email).status_code == 400
    with app.app_context():
        assert db.session.get(User, learner.id).active is False


def test_bad_changes_are_refused(app, client, learner, organizer):
    client.login(organizer.email)
    assert (
        client.post(f"/admin/users/{learner.id}", {"role": "admin", "active": "1"}).status_code
        == 400
    )
    assert (
        client.post(f"/admin/users/{organizer.id}", {"role": "learner", "active": "1"}).status_code
        == 403
    )
    assert client.post("/admin/users/999999", {"role": "learner", "active": "1"}).status_code == 404
    assert (
        client.post(f"/admin/users/{learner.id}", {"role": "trainer"}, csrf=False).status_code
        == 400
    )
    with app.app_context():
        assert db.session.get(User, learner.id).role == "learner"
        assert db.session.get(User, organizer.id).role == "organizer"
