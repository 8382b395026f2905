"""Production: refusing unsafe starts, proxies, gunicorn's config, shared caches, several
app processes sharing one database (and Redis)."""

from __future__ import annotations

import ast
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import request, url_for

from lms import create_app
from lms.cli import main
from lms.config import ConfigurationError, from_environment
from lms.extensions import db
from lms.models import Camp, Lesson, Module
from lms.services import camps as camp_service
from lms.services import catalog, switches
from tests.conftest import Client, course_url, redis_test_url
from tests.servers import ROOT, unavailable
from tests.servers import environment as _environment
from tests.servers import free_port as _free_port
from tests.servers import gunicorn as _gunicorn

REDIS_URL = redis_test_url(1)  # its own database in this xdist worker
GOOD_KEY = secrets.token_hex(32)


SITE = {"BASE_URL": "https://lms.example.org/", "TRUSTED_HOSTS": ["lms.example.org"]}


def production(app_config: dict, **overrides: object) -> dict:
    return {**app_config, "PRODUCTION": True, "SECRET_KEY": GOOD_KEY, **SITE, **overrides}


# -- refusing unsafe production starts -------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "a1b2c3d4e5f6"}, "too short (12 characters)"),
        ({"SECRET_KEY": "change-me-change-me-change-me-change-me"}, "sample or placeholder"),
        ({"SECRET_KEY": "x" * 40}, "sample or placeholder"),
        ({"DEBUG": True}, "DEBUG is on"),
        ({"BASE_URL": None}, "BASE_URL is not set"),
        ({"BASE_URL": " "}, "BASE_URL is not set"),
        ({"BASE_URL": "http://lms.example.org/"}, "BASE_URL must be the site's https://"),
        ({"BASE_URL": "lms.example.org"}, "BASE_URL must be the site's https://"),
        ({"BASE_URL": "https:///path"}, "BASE_URL must be the site's https://"),
        ({"TRUSTED_HOSTS": None}, "TRUSTED_HOSTS is not set"),
        ({"TRUSTED_HOSTS": []}, "TRUSTED_HOSTS is not set"),
        ({"TRUSTED_HOSTS": ["other.example.org"]}, "'lms.example.org' is not among"),
    ],
)
def test_production_refuses_unsafe_settings(app_config, overrides, message):
    with pytest.raises(ConfigurationError) as error:
        create_app(production(app_config, **overrides))
    assert "refusing to start in production" in str(error.value)
    assert message in str(error.value)


def test_every_problem_is_listed_at_once(app_config):
    with pytest.raises(ConfigurationError) as error:
        create_app(production(app_config, SECRET_KEY="dev", DEBUG=True))
    assert "too short" in str(error.value) and "DEBUG is on" in str(error.value)


@pytest.mark.parametrize(
    "hosts", [["lms.example.org"], ["www.example.org", "lms.example.org"], [".example.org"]]
)
def test_the_base_urls_host_may_be_trusted_in_any_form(app_config, hosts):
    create_app(production(app_config, TRUSTED_HOSTS=hosts))


def test_trusted_hosts_from_the_environment(monkeypatch):
    monkeypatch.setenv("LMS_TRUSTED_HOSTS", " lms.example.org, .example.org ,")
    assert from_environment()["TRUSTED_HOSTS"] == ["lms.example.org", ".example.org"]


def test_production_answers_400_to_other_host_names(app_config, learner):
    app = create_app(production(app_config))
    client = app.test_client()
    assert client.get("/", base_url="https://lms.example.org").status_code == 200
    for host in ("evil.example", "lms.example.org.evil.example", "127.0.0.1"):
        answer = client.get("/", base_url=f"https://{host}")
        assert answer.status_code == 400, host
        assert b"Traceback" not in answer.data


def test_reset_links_use_the_base_url_whatever_the_host(make_app, learner, monkeypatch):
    """Even outside production, a configured BASE_URL decides the address in mail."""
    from lms.services import jobs

    app = make_app(BASE_URL="https://lms.example.org/")
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda path, *args: queued.append(args))
    client = Client(app.test_client())
    client.raw.environ_base["HTTP_HOST"] = "evil.example"
    assert client.post("/password/forgot", {"email": learner.email}).status_code == 200
    assert queued == [(learner.email, "https://lms.example.org/")]


def test_production_hardens_cookies_and_urls(app_config):
    app = create_app(production(app_config))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["PREFERRED_URL_SCHEME"] == "https"
    with app.test_request_context("/", headers={"Host": "lms.example.org"}):
        assert url_for("catalog.index", _external=True).startswith("https://lms.example.org/")


def test_outside_production_nothing_changes(app_config, caplog):
    app = create_app({**app_config, "SECRET_KEY": None, "DEBUG": True})
    assert "no SECRET_KEY configured" in caplog.text
    assert len(app.config["SECRET_KEY"]) == 64
    assert not app.config.get("SESSION_COOKIE_SECURE")
    assert app.config["PREFERRED_URL_SCHEME"] == "http"


def test_lms_env_from_the_environment(monkeypatch):
    monkeypatch.setenv("LMS_ENV", "production")
    assert from_environment()["PRODUCTION"] is True
    monkeypatch.setenv("LMS_ENV", "Development")
    assert from_environment()["PRODUCTION"] is False
    monkeypatch.setenv("LMS_ENV", "prod")
    with pytest.raises(ConfigurationError, match="LMS_ENV must be"):
        from_environment()


def test_the_cli_says_why_without_a_traceback(tmp_path, monkeypatch):
    for key, value in _environment(tmp_path, LMS_ENV="production").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LMS_SECRET_KEY", raising=False)
    result = CliRunner().invoke(main, ["camps", "list"])
    assert result.exit_code == 1
    assert "Error: refusing to start in production" in result.output
    assert "SECRET_KEY is not set" in result.output
    assert "Traceback" not in result.output


def test_the_wsgi_module_exits_with_the_message(tmp_path):
    env = _environment(tmp_path, LMS_ENV="production", LMS_SECRET_KEY="short")
    done = subprocess.run(
        [sys.executable, "-c", "import lms.wsgi"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 4
    assert "Error: refusing to start in production" in done.stderr
    assert "too short" in done.stderr
    assert "Traceback" not in done.stderr


# -- gunicorn with deploy/gunicorn.conf.py --------------------------------------------------


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    call = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - our own server
    with urllib.request.urlopen(call, timeout=10) as answer:  # noqa: S310
        return answer.status, answer.read()


def test_gunicorn_serves_with_the_production_config_and_stops_gracefully(tmp_path):
    port = _free_port()
    env = _environment(
        tmp_path,
        LMS_ENV="production",
        LMS_SECRET_KEY=GOOD_KEY,
        LMS_BIND=f"127.0.0.1:{port}",
        LMS_WORKERS="1",
        LMS_THREADS="2",
        LMS_PROXY_FIX="1",
    )
    server = _gunicorn(env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "gunicorn did not answer"
                time.sleep(0.2)
        assert status == 200 and b'"status":"ok"' in body.replace(b" ", b"")
        server.send_signal(signal.SIGTERM)
        _out, err = server.communicate(timeout=45)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err
    assert "Handling signal: term" in err and "Shutting down: Master" in err
    assert "SIGKILL" not in err


def test_gunicorn_refuses_an_unsafe_production_config_with_one_message(tmp_path):
    env = _environment(
        tmp_path,
        LMS_ENV="production",
        LMS_SECRET_KEY="changeme",
        LMS_BIND=f"127.0.0.1:{_free_port()}",
        LMS_WORKERS="2",
    )
    server = _gunicorn(env)
    try:
        _out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 4
    assert "Error: refusing to start in production" in err
    assert "App failed to load" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("missing", "message"),
    [("LMS_BASE_URL", "BASE_URL is not set"), ("LMS_TRUSTED_HOSTS", "TRUSTED_HOSTS is not set")],
)
def test_gunicorn_refuses_to_start_without_the_sites_address(tmp_path, missing, message):
    env = _environment(
        tmp_path,
        LMS_ENV="production",
        LMS_SECRET_KEY=GOOD_KEY,
        LMS_BIND=f"127.0.0.1:{_free_port()}",
        LMS_WORKERS="1",
    )
    del env[missing]
    returncode, err = _refused(env)
    assert returncode == 4 and message in err and "Traceback" not in err


def test_gunicorn_refuses_to_start_when_the_named_redis_does_not_answer(tmp_path):
    env = _environment(
        tmp_path,
        LMS_ENV="production",
        LMS_SECRET_KEY=GOOD_KEY,
        LMS_BIND=f"127.0.0.1:{_free_port()}",
        LMS_WORKERS="1",
        LMS_REDIS_URL=f"redis://:hunter2-secret@127.0.0.1:{_free_port()}/0",
    )
    returncode, err = _refused(env)
    assert returncode == 4
    assert "Error: refusing to start in production" in err
    assert "Redis at redis://:***@127.0.0.1:" in err and "does not answer" in err
    assert "hunter2" not in err and "Traceback" not in err


def _refused(env: dict[str, str]) -> tuple[int, str]:
    server = _gunicorn(env)
    try:
        _out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    return server.returncode, err


def test_the_start_check_passes_when_the_named_redis_answers(tmp_path, monkeypatch, redis_url):
    from lms.config import check

    for key, value in _environment(
        tmp_path, LMS_ENV="production", LMS_SECRET_KEY=GOOD_KEY, LMS_REDIS_URL=redis_url
    ).items():
        monkeypatch.setenv(key, value)
    check()
    monkeypatch.setenv("LMS_REDIS_URL", "redis://127.0.0.1:1/0")
    with pytest.raises(ConfigurationError, match=r"Redis at redis://127\.0\.0\.1:1/0"):
        check()
    monkeypatch.setenv("LMS_ENV", "development")
    check()  # outside production nothing is pinged


# -- behind a proxy --------------------------------------------------------------------------


def _whoami(app):
    @app.get("/_test/whoami")
    def whoami() -> str:
        return f"{request.remote_addr} {request.scheme}"

    return app.test_client()


def test_forwarded_headers_are_ignored_unless_configured(app_config):
    client = _whoami(create_app(app_config))
    answer = client.get(
        "/_test/whoami", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    assert answer.get_data(as_text=True) == "127.0.0.1 http"


def test_proxy_fix_trusts_exactly_one_hop(app_config):
    client = _whoami(create_app({**app_config, "PROXY_FIX": 1}))
    answer = client.get(
        "/_test/whoami",
        headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9", "X-Forwarded-Proto": "https"},
    )
    # The address nginx saw (the last one), not what the client claimed before it.
    assert answer.get_data(as_text=True) == "203.0.113.9 https"


@pytest.mark.parametrize(("hops", "alice_status"), [(1, 302), (0, 429)])
def test_login_rate_limit_counts_each_client_behind_the_proxy(
    make_app, learner, other_learner, hops, alice_status
):
    """Behind nginx every request comes from 127.0.0.1: without ProxyFix, one guesser would
    lock everybody out; with it, only the guesser's own address is limited."""
    app = make_app(PROXY_FIX=hops, RATELIMIT_STORAGE_URI="memory://")
    mallory, alice = Client(app.test_client()), Client(app.test_client())
    for client, address in ((mallory, "203.0.113.66"), (alice, "198.51.100.7")):
        client.raw.environ_base["HTTP_X_FORWARDED_FOR"] = address
    statuses = [mallory.login(learner.email, "wrong password").status_code for _ in range(12)]
    assert statuses[-1] == 429
    assert alice.login(other_learner.email).status_code == alice_status


@pytest.mark.parametrize("value", ["abc", "-1", "9"])
def test_a_bad_proxy_setting_is_refused(app_config, value):
    with pytest.raises(ConfigurationError, match="LMS_PROXY_FIX"):
        create_app({**app_config, "PROXY_FIX": value})


def test_static_urls_carry_a_content_version(client):
    page = client.get("/login").get_data(as_text=True)
    assert "/static/css/app.css?v=" in page
    assert client.get("/static/css/app.css?v=whatever").status_code == 200


# -- several app processes: one database, one Redis -----------------------------------------


def test_logout_in_one_process_ends_the_session_in_another(make_app, learner):
    first, second = make_app(), make_app(sync=False)
    browser = Client(first.test_client())
    browser.login(learner.email)
    cookie = browser.raw.get_cookie("session").value
    elsewhere = second.test_client()
    elsewhere.set_cookie("session", cookie)
    assert elsewhere.get("/dashboard").status_code == 200
    browser.logout()
    response = elsewhere.get("/dashboard")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_disabling_an_account_in_one_process_logs_it_out_in_another(make_app, learner, organizer):
    first, second = make_app(), make_app(sync=False)
    theirs = Client(second.test_client())
    theirs.login(learner.email)
    assert theirs.get("/dashboard").status_code == 200
    admin = Client(first.test_client())
    admin.login(organizer.email)
    admin.post(f"/admin/users/{learner.id}", {"role": "learner", "active": "0"})
    assert theirs.get("/dashboard").status_code == 302


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        unavailable(f"Redis is not reachable at {REDIS_URL}")
    return REDIS_URL


def test_disabling_a_camp_in_one_process_is_seen_by_another_at_once(
    make_app, redis_url, course, organizer, monkeypatch
):
    first, second = make_app(REDIS_URL=redis_url), make_app(sync=False, REDIS_URL=redis_url)
    reads = []
    original = switches._query_switched_off
    monkeypatch.setattr(switches, "_query_switched_off", lambda: reads.append(1) or original())
    visitor = second.test_client()
    url, emblem = course_url(course), f"/camps-static/{course.camp.slug}/emblem.svg"
    assert visitor.get(emblem).status_code == 200
    reads.clear()
    assert visitor.get(emblem).status_code == 200
    assert reads == []  # the next request found the set in Redis
    admin = Client(first.test_client())
    admin.login(organizer.email)
    assert admin.post(f"/admin/camps/{course.camp.slug}/disable").status_code == 302
    assert visitor.get(url).status_code == 404
    assert visitor.get(emblem).status_code == 404  # the set in Redis was invalidated
    with first.app_context():
        camp_service.set_enabled(course.camp.slug, True)
    assert visitor.get(emblem).status_code == 200
    assert visitor.get(url).status_code == 200


def _lesson_count(app, course_id: int) -> int:
    with app.app_context():
        cards = [card for section in catalog.catalog(None) for card in section.cards]
        return next(card.lessons for card in cards if card.course.id == course_id)


def test_catalog_totals_are_shared_and_follow_changes(make_app, redis_url, course):
    first, second = make_app(REDIS_URL=redis_url), make_app(sync=False, REDIS_URL=redis_url)
    before = _lesson_count(second, course.id)
    assert _lesson_count(first, course.id) == before
    with first.app_context():  # a trainer archives a lesson (authoring does the same)
        lesson = db.session.scalars(
            db.select(Lesson).join(Module).where(Module.course_id == course.id).limit(1)
        ).one()
        lesson.archived_at = db.func.now()
        db.session.commit()
    assert _lesson_count(second, course.id) == before - 1
    with first.app_context():  # a Core UPDATE run on the session invalidates too
        db.session.execute(
            db.update(Lesson).where(Lesson.archived_at.is_not(None)).values(archived_at=None)
        )
        db.session.commit()
    assert _lesson_count(second, course.id) == before


def test_a_rolled_back_change_leaves_the_cache_valid(make_app, redis_url, course):
    app = make_app(REDIS_URL=redis_url)
    with app.app_context():
        camp = db.session.get(Camp, course.camp.id)
        camp.enabled = False
        db.session.flush()
        db.session.rollback()
    with app.app_context():
        assert course.camp.slug not in switches.disabled_camps()


def test_redis_down_means_the_database_answers(make_app, course, caplog):
    # The general path (FAST_PATHS off) shares the switches through Redis; the fast path keeps
    # them per process behind the switches version (tests/test_versioned_caches.py).
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", FAST_PATHS=False)
    client = app.test_client()
    emblem = f"/camps-static/{course.camp.slug}/emblem.svg"
    assert client.get(emblem).status_code == 200
    assert client.get("/").status_code == 200
    with app.app_context():
        camp_service.set_enabled(course.camp.slug, False)  # invalidation fails, logged
    assert "cache: could not invalidate plugins.switched_off in Redis" in caplog.text
    assert client.get(emblem).status_code == 404
    app.extensions["lms.cache"].down_until = 0  # the back-off is over: Redis is tried again
    assert client.get(emblem).status_code == 404
    assert "cache: Redis read failed" in caplog.text


def test_without_redis_there_is_no_shared_cache(make_app, course, monkeypatch):
    from lms.cache import shared_cache

    app = make_app(FAST_PATHS=False)  # the general path: read once per request without Redis
    reads = []
    original = switches._query_switched_off
    monkeypatch.setattr(switches, "_query_switched_off", lambda: reads.append(1) or original())
    client = app.test_client()
    emblem = f"/camps-static/{course.camp.slug}/emblem.svg"
    assert client.get(emblem).status_code == 200
    assert client.get(emblem).status_code == 200
    assert len(reads) == 2  # once per request: memoized in the request only
    with app.app_context():
        assert shared_cache() is None


# -- background jobs through Redis -----------------------------------------------------------


def test_lms_worker_runs_queued_jobs(make_app, redis_url, tmp_path, monkeypatch):
    """A job queued by one process (an upload's probing) is run by `lms worker --burst`."""
    from lms.services import jobs

    app = make_app(REDIS_URL=redis_url)
    queue = jobs.queue(redis_url)
    queue.empty()
    marker = tmp_path / "ran.txt"
    with app.app_context():
        jobs.enqueue("tests.test_production.write_marker", str(marker))
    assert queue.count == 1
    monkeypatch.setattr(jobs, "_worker_app", None)
    result = app.test_cli_runner().invoke(main, ["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert marker.read_text() == "ran with camps"
    assert queue.count == 0


def write_marker(path: str) -> None:
    """A job: proves it ran in an app context with the database."""
    slugs = db.session.scalars(db.select(Camp.slug)).all()
    Path(path).write_text("ran with camps" if slugs else "ran without camps")


def test_lms_worker_needs_redis(app):
    result = app.test_cli_runner().invoke(main, ["worker", "--burst"])
    assert result.exit_code == 1
    assert "set LMS_REDIS_URL" in result.output


# -- CI: no test skips for a missing service --------------------------------------------------

MISSING_SERVICE = re.compile(r"reachable|not running|is down|no nginx|no chromium", re.IGNORECASE)


def _skip_reasons(path: Path) -> list[tuple[int, str]]:
    """(line, reason text) of every ``pytest.skip(…)`` call in a test module."""
    reasons = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "skip"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "pytest"
        ):
            reasons.append((node.lineno, ast.unparse(node.args[0]) if node.args else ""))
    return reasons


def test_no_test_skips_for_a_missing_service_but_through_unavailable():
    """A missing Redis, PostgreSQL, nginx or Chromium is said with tests.servers.unavailable,
    which fails the test under CI (.ci/run sets CI=true and starts them all) instead of
    skipping it quietly."""
    offenders = [
        f"{path.name}:{line}: {reason}"
        for path in sorted((ROOT / "tests").glob("*.py"))
        for line, reason in _skip_reasons(path)
        if MISSING_SERVICE.search(reason)
    ]
    assert offenders == []


@pytest.mark.parametrize("ci", ["", "true"])
def test_a_missing_service_skips_locally_and_fails_under_ci(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected, match="Redis is not reachable"):
        unavailable("Redis is not reachable at 127.0.0.1:6379")


def test_ci_starts_redis_like_postgresql():
    script = (ROOT / ".ci" / "run").read_text()
    assert "pg_isready" in script and "redis-server --bind 127.0.0.1" in script
    assert "export CI=true" in script
