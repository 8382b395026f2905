"""Scheduled tasks: run when due, once per interval, retried after a failure; `lms cron`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lms.cli import main
from lms.extensions import db
from lms.models import LiveSession, ScheduledTask, User
from lms.services import live, schedule

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def calls(monkeypatch):
    """A registry holding only a counting task and a failing one."""
    monkeypatch.setattr(schedule, "_registry", {})
    seen: list[tuple[str, datetime]] = []

    @schedule.register("count", every=timedelta(hours=1))
    def count(now: datetime) -> None:
        seen.append(("count", now))

    @schedule.register("fail", every=timedelta(hours=1))
    def fail(now: datetime) -> None:
        seen.append(("fail", now))
        raise RuntimeError("boom")

    return seen


def test_a_task_runs_once_per_interval(app_ctx, calls):
    assert schedule.run_due(T0) == ["count"]
    assert schedule.run_due(T0 + timedelta(minutes=59)) == []
    assert schedule.run_due(T0 + timedelta(hours=1)) == ["count"]
    assert [name for name, _ in calls] == ["count", "fail", "fail", "count", "fail"]


def test_a_failing_task_is_recorded_and_retried_and_the_others_run(app_ctx, calls):
    schedule.run_due(T0)
    row = db.session.get(ScheduledTask, "fail")
    assert "RuntimeError: boom" in row.last_error and row.last_run_at is None
    assert db.session.get(ScheduledTask, "count").last_error == ""
    schedule.run_due(T0 + timedelta(minutes=1))
    assert [name for name, _ in calls] == ["count", "fail", "fail"]


def test_registration_refuses_nonsense():
    with pytest.raises(ValueError):
        schedule.register("x", every=timedelta(0))
    with pytest.raises(ValueError):
        schedule.register("", every=timedelta(hours=1))


def test_extending_series_is_a_task_and_twice_is_harmless(app_ctx, organizer):
    assert "extend live series" in {entry.name for entry in schedule.tasks()}
    series = live.create_series(
        live.activity_day_values(),
        live.ACTIVITY_DAY_RULE,
        datetime(2030, 1, 25, 13, 30),
        live.ACTIVITY_DAY_SEGMENTS,
        db.session.get(User, organizer.id),
    )

    def count() -> int:
        return db.session.scalar(
            db.select(db.func.count(LiveSession.id)).filter_by(series_id=series.id)
        )

    before = count()
    later = datetime(2030, 12, 1, tzinfo=UTC)
    assert "extend live series" in schedule.run_due(later)
    extended = count()
    assert extended > before
    assert live.extend_series(later) == 0  # a second run creates nothing
    assert count() == extended


def test_lms_cron_runs_what_is_due(app, calls):
    result = app.test_cli_runner().invoke(main, ["cron"])
    assert result.exit_code == 0, result.output
    assert result.output == "ran count\n"
    again = app.test_cli_runner().invoke(main, ["cron"])
    assert again.exit_code == 0 and again.output == ""
