import threading

from lms.extensions import db
from lms.models import Enrollment
from tests.conftest import Client, course_url


def test_twenty_concurrent_enrollments_give_one_row_and_no_error(app, client, learner, course):
    client.login(learner.email)
    token = client.csrf()
    cookie = client.raw.get_cookie("session").value
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def enroll() -> None:
        browser = Client(app.test_client())
        browser.raw.set_cookie("session", cookie)
        barrier.wait()
        response = browser.post(course_url(course) + "enroll", {"csrf_token": token})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=enroll) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * 20
    with app.app_context():
        rows = db.session.scalars(db.select(Enrollment)).all()
    assert [(row.user_id, row.course_id) for row in rows] == [(learner.id, course.id)]
