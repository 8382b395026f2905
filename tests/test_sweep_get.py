"""Every GET route of the URL map, for every kind of visitor: no 5xx on any input, no writes.

The world of ``tests/test_access_matrix.py`` (built once for the module, its visitors asking
for Chinese, the default) gives each rule its path values; rules it does not know get ``1``
for their arguments, so routes added later are walked too. Two guards run over every request:

* **GETs never write.** A SQLAlchemy ``before_cursor_execute`` listener records any INSERT,
  UPDATE or DELETE issued while a GET or HEAD request is handled; a test fails if one did.
* **No 5xx.** Each route is first opened plainly, recording the query parameters it reads
  (``request.args`` is a recording dict); hypothesis then sends extreme and malformed values
  for them — huge and negative integers, years 0/1/9999/10^20, months 0/13, NaN, non-UTF-8
  bytes, 10 kB strings, NUL — as every role, and no answer may be a 5xx.

The world has a recurring series whose horizon ran out, so a GET that extends series writes.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from flask import has_request_context
from flask import request as flask_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from werkzeug.datastructures import ImmutableMultiDict

from lms.database import is_write
from lms.extensions import db
from lms.models import LiveSession, User
from lms.services import live
from tests.test_access_matrix import ROLES, World, _substitute, built_world

READS_EVERYTHING = "*"


class _Reads(threading.local):
    keys: set[str] | None = None


reads = _Reads()


class RecordingArgs(ImmutableMultiDict):
    """``request.args`` that notes which parameters a view asked for."""

    def _note(self, key: Any) -> None:
        if reads.keys is not None and isinstance(key, str):
            reads.keys.add(key)

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:
        self._note(key)
        return super().get(key, default, type)

    def __getitem__(self, key: Any) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def getlist(self, key: Any, type: Any = None) -> Any:
        self._note(key)
        return super().getlist(key, type)

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return super().__contains__(key)

    def _everything(self) -> None:
        if reads.keys is not None:
            reads.keys.add(READS_EVERYTHING)

    def items(self, *args: Any, **kwargs: Any) -> Any:
        self._everything()
        return super().items(*args, **kwargs)

    def to_dict(self, *args: Any, **kwargs: Any) -> Any:
        self._everything()
        return super().to_dict(*args, **kwargs)

    def __iter__(self) -> Any:
        self._everything()
        return super().__iter__()


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, demo_video: Any) -> Any:
    """The access matrix's world in Chinese (the default), a stale series, the guard."""
    with built_world(tmp_path_factory, demo_video, "zh-CN,zh;q=0.9") as scene:
        yield from _guarded(scene)


def _guarded(scene: World) -> Any:
    app = scene.app
    with app.test_request_context():
        organizer = db.session.scalar(db.select(User).filter_by(role="organizer"))
        series = live.create_series(
            live.activity_day_values(),
            live.ACTIVITY_DAY_RULE,
            datetime(2025, 1, 25, 13, 30),
            live.ACTIVITY_DAY_SEGMENTS,
            organizer,
        )
        db.session.execute(  # the horizon ran out: a page that extends series would write
            db.delete(LiveSession).where(
                LiveSession.series_id == series.id,
                LiveSession.starts_at > datetime.now(UTC) + timedelta(days=20),
            )
        )
        db.session.commit()
    writes: list[tuple[str, str, str]] = []

    def guard(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: Any):
        if (
            has_request_context()
            and flask_request.method in ("GET", "HEAD")
            and is_write(statement, context)
        ):
            writes.append((flask_request.method, flask_request.full_path, statement.split("\n")[0]))

    previous = app.request_class
    app.request_class = type(
        "RecordingRequest", (previous,), {"parameter_storage_class": RecordingArgs}
    )
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", guard)
    try:
        yield scene, writes
    finally:
        event.remove(engine, "before_cursor_execute", guard)
        app.request_class = previous


def get_rules(scene: World) -> list[Any]:
    return sorted(
        (rule for rule in scene.app.url_map.iter_rules() if "GET" in (rule.methods or ())),
        key=lambda rule: (rule.endpoint, rule.rule),
    )


def path_of(scene: World, rule: Any) -> str:
    values = {**scene.values, **scene.by_endpoint.get(rule.endpoint, {})}
    path = rule.rule
    for argument in rule.arguments:
        path = _substitute(path, argument, str(values.get(argument, "1")))
    return path


def endpoints(app_rules: list[Any]) -> list[str]:
    return [rule.endpoint for rule in app_rules]


def _all_get_endpoints() -> list[str]:
    from lms import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted(
        {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())}
    )


GET_ENDPOINTS = _all_get_endpoints()


def rule_of(scene: World, endpoint: str) -> Any:
    return next(rule for rule in get_rules(scene) if rule.endpoint == endpoint)


def test_every_get_route_is_walked(sweep):
    scene, _writes = sweep
    assert {rule.endpoint for rule in get_rules(scene)} == set(GET_ENDPOINTS)


@pytest.mark.parametrize("endpoint", GET_ENDPOINTS)
def test_gets_never_write(sweep, endpoint):
    scene, writes = sweep
    path = path_of(scene, rule_of(scene, endpoint))
    writes.clear()
    statuses = {}
    for role in ROLES:
        client = scene.clients[role].raw
        statuses[role] = (client.get(path).status_code, client.head(path).status_code)
    assert writes == [], f"{path} wrote in a GET or HEAD"
    assert all(code < 500 for pair in statuses.values() for code in pair), (path, statuses)


def test_the_guard_sees_a_get_that_writes(sweep, monkeypatch):
    """The old ``GET /live/`` extended series: with it back, the guard reports the writes."""
    scene, writes = sweep
    upcoming = live.upcoming

    def extending(*args: Any, **kwargs: Any) -> Any:
        live.extend_series()
        return upcoming(*args, **kwargs)

    monkeypatch.setattr(live, "upcoming", extending)
    writes.clear()
    scene.clients[ROLES[0]].raw.get("/live/")
    assert any("INSERT" in statement.upper() for _method, _path, statement in writes)
    with scene.app.app_context():  # leave the scene as it was
        db.session.execute(
            db.delete(LiveSession).where(
                LiveSession.starts_at > datetime.now(UTC) + timedelta(days=20)
            )
        )
        db.session.commit()


def parameters_read(scene: World, path: str) -> set[str]:
    """The query parameters the view behind ``path`` reads, as any role."""
    found: set[str] = set()
    for role in ROLES:
        reads.keys = set()
        try:
            scene.clients[role].raw.get(path)
        finally:
            found |= reads.keys
            reads.keys = None
    return found


INTEGERS = [0, -1, 1, 12, 13, 2**31, 2**63, -(2**63) - 1, 10**20, 9999, 10000]
SPECIAL = [
    b"", b" ", b"NaN", b"nan", b"inf", b"-inf", b"1e309", b"0x10", b"1.5", b"-0",
    b"\x00", b"1\x00", b"\xff\xfe", b"\xc3\x28", "１２".encode(), "\u202e".encode(),
    b"9999-12-31", b"0001-01-01", b"2026-13-01", b"2026-02-30", b"0000-00-00",
    b"x" * 10_000, b"%", b"%%", b"../../etc/passwd", b"<script>", b"' OR 1=1 --",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from([str(number).encode() for number in INTEGERS] + SPECIAL),
    st.integers(min_value=-(10**25), max_value=10**25).map(lambda n: str(n).encode()),
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
)
# Always sent, in every parameter at once, before hypothesis draws its own mixes.
EDGES = [b"\x00", b"\xff\xfe", b"1" * 21, b"-1", b"0", b"13", b"9999", b"NaN", b"x" * 10_000]
EXTRA_NAMES = ("page", "year", "month", "q", "period", "from", "to", "organization", "camp")


def query_string(values: dict[str, bytes]) -> str:
    """Percent-encoded (so bytes that are not UTF-8 reach the app as they are)."""
    return "&".join(
        f"{quote_from_bytes(name.encode())}={quote_from_bytes(value)}"
        for name, value in values.items()
    )


@pytest.mark.parametrize("endpoint", GET_ENDPOINTS)
def test_no_get_answers_5xx_on_extreme_query_values(sweep, endpoint):
    scene, writes = sweep
    path = path_of(scene, rule_of(scene, endpoint))
    names = parameters_read(scene, path)
    if READS_EVERYTHING in names:
        names = (names - {READS_EVERYTHING}) | set(EXTRA_NAMES)
    if not names:
        pytest.skip(f"{endpoint} reads no query parameter")
    names_list = sorted(names)

    def probe(values: dict[str, bytes]) -> None:
        query = query_string(values)
        writes.clear()
        for role in ROLES:
            response = scene.clients[role].raw.get(path, query_string=query)
            assert response.status_code < 500, (role, path, query[:200], response.status_code)
        assert writes == [], (path, query[:200], writes)

    for edge in EDGES:
        probe(dict.fromkeys(names_list, edge))

    @settings(
        max_examples=8,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.fixed_dictionaries({}, optional={name: VALUES for name in names_list}))
    def check(values: dict[str, bytes]) -> None:
        probe(values)

    check()
