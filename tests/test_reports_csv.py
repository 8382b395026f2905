"""The report exports are byte-identical to the files the seven hand-written endpoints wrote
before they became one table (``lms/web/reports.py``): the golden files in
``tests/golden/reports_csv/`` were written by those endpoints, on this very world, in
English and in Chinese, for a manager and for an organizer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from lms.extensions import db
from lms.models import Enrollment, User
from lms.services import plans
from tests import test_reports
from tests.test_plans import assign, login
from tests.test_reports import PERIOD, add_sessions, camp_id, enroll

# The reports' fixtures: the world, March's hours and the reports' clock.
world = test_reports.world
month_hours = test_reports.month_hours
report_clock = test_reports.report_clock

GOLDEN = Path(__file__).parent / "golden" / "reports_csv"

EXPORTS = [
    ("hours", "/reports/hours.csv?month=2027-03"),
    ("hours-camp", "/reports/hours.csv?month=2027-03&camp={camp}"),
    ("attendance", f"/reports/attendance.csv?{PERIOD}"),
    ("attendance-series", f"/reports/attendance-series.csv?{PERIOD}&camp={{camp}}"),
    ("completion", "/reports/completion.csv"),
    ("completion-period", f"/reports/completion.csv?{PERIOD}"),
    ("completion-camps", "/reports/completion-camps.csv"),
    ("overdue", "/reports/overdue.csv"),
    ("overdue-camp", f"/reports/overdue.csv?camp={{camp}}&{PERIOD}"),
]


@pytest.fixture
def lived_in(app, world, month_hours, course):
    """Hours, two live sessions, enrollments (one completed, one withdrawn) and two
    overdue assignments, one of them to a group; a Chinese name with a comma and quotes."""
    add_sessions(app, world, count=2)
    enroll(app, world.ann.id, course.id, completed=True)
    enroll(app, world.al.id, course.id)
    enroll(app, world.bob.id, course.id, status="withdrawn")
    today = plans.today()
    assign(app, world.org_a, today - timedelta(days=3), user_id=world.al.id,
           course_id=course.id)  # fmt: skip
    assign(app, world.org_a, today - timedelta(days=1), group_id=world.group_a,
           camp_id=course.camp_id)  # fmt: skip
    with app.app_context():
        db.session.get(User, world.ann.id).name = '张三, "Ann"'
        db.session.commit()
        assert db.session.scalar(db.select(db.func.count(Enrollment.id))) == 3
    return course


def placeholders(app, world) -> dict[str, str]:
    return {
        "org_a": str(world.org_a),
        "camp": str(camp_id(app, "startup-growth")),
        "today": plans.today().isoformat(),
        "due_3": (plans.today() - timedelta(days=3)).isoformat(),
        "due_1": (plans.today() - timedelta(days=1)).isoformat(),
    }


def golden(name: str, values: dict[str, str]) -> tuple[str, bytes]:
    """The golden file's Content-Disposition and body, its placeholders filled in."""
    text = (GOLDEN / f"{name}.csv").read_bytes()
    header, _newline, body = text.partition(b"\n")
    for key, value in values.items():
        header = header.replace(f"{{{key}}}".encode(), value.encode())
        body = body.replace(f"{{{key}}}".encode(), value.encode())
    return header.decode(), body


@pytest.mark.parametrize("viewer", ["manager", "organizer"])
@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_every_export_is_byte_identical_to_the_hand_written_one(
    app, world, organizer, lived_in, viewer, locale
):
    values = placeholders(app, world)
    email = world.manager_a.email if viewer == "manager" else organizer.email
    with app.app_context():
        db.session.execute(db.update(User).filter_by(email=email).values(locale=locale))
        db.session.commit()
    client = login(app, email)
    for name, url in EXPORTS:
        response = client.get(url.format(**values))
        assert response.status_code == 200, url
        disposition, body = golden(f"{viewer}-{locale}-{name}", values)
        assert response.headers["Content-Disposition"] == disposition, name
        assert response.get_data() == body, name
