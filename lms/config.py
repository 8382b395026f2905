"""Configuration: defaults, then ``instance/config.py``, then ``LMS_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask.config import Config as FlaskConfig
from werkzeug.sansio.utils import host_is_trusted

from lms.services import mail

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, object] = {
    # No ping before each checkout (a round trip per request on PostgreSQL): a connection the
    # server dropped fails its request with a 503 (lms.web.errors), and SQLAlchemy then
    # replaces every connection of the pool that is older than the failure.
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    # The largest request body (413 above it), for every endpoint but the uploads below.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # Video uploads (a lesson's video, the courseware library): 2 GiB per request.
    "MAX_VIDEO_UPLOAD_LENGTH": 2 * 1024 * 1024 * 1024,
    # Caption files (2 MiB) and staff CSV imports (1 MiB), with room for the form around them.
    "MAX_FILE_UPLOAD_LENGTH": 4 * 1024 * 1024,
    # Form fields other than files are kept in memory; this bounds them.
    "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
    # Video each trainer may keep in the media store, in MiB (0: no limit); organizers and
    # `lms media import` are not counted against it.
    "UPLOAD_QUOTA_MB": 20 * 1024,
    "REDIS_URL": None,
    "JOBS_INLINE": False,
    # Seconds without a heartbeat after which a video's processing counts as interrupted and
    # is taken up again (the job writes one every few seconds while FFmpeg works).
    "MEDIA_PROCESSING_LEASE": 90,
    "MEDIA_ACCEL_REDIRECT": None,
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    # The site's one name (header, page titles, mail, PDFs; lms.services.site.site_name): unset,
    # "Innovation Academy" in the reader's language (创新学院); a string, that name in every
    # language; in instance/config.py also {"zh_CN": "…", "en": "…"}.
    "SITE_NAME": None,
    # The academy's time zone (an IANA name): its days, months, calendar pages and feeds.
    "TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": ["zh_CN", "en"],
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Logins (docs/security.md#sessions), in seconds: they end after SESSION_IDLE_LIFETIME
    # without a request, and SESSION_ABSOLUTE_LIFETIME after the log-in however active. The
    # cookie (PERMANENT_SESSION_LIFETIME, set from the idle lifetime) is renewed when the login's
    # recorded last use moves (at most once a minute, lms.web.auth.SEEN_EVERY): a request that
    # changes nothing in the session sends no new cookie.
    "SESSION_REFRESH_EACH_REQUEST": False,
    "SESSION_IDLE_LIFETIME": 14 * 24 * 3600,
    "SESSION_ABSOLUTE_LIFETIME": 30 * 24 * 3600,
    "WTF_CSRF_TIME_LIMIT": None,
    "PLUGINS_STRICT": False,
    # The font PDFs embed (docs/archive.md): empty for the bundled Noto Sans SC cut to GB 2312
    # (lms/fonts/), or the path of a fuller font with TrueType outlines (.ttf).
    "PDF_FONT": "",
    # Training-time target per learner and month (hours), as in the park's companies.
    "MONTHLY_TARGET_HOURS": 12,
    # Minutes during which the author of a salon case, a topic or a comment may edit or delete
    # it (docs/community.md); trainers and organizers moderate at any time.
    "COMMUNITY_EDIT_MINUTES": 30,
    # Verified watch time (docs/video.md): the player reports every WATCH_REPORT_EVERY seconds;
    # a report earns at most the wall-clock time since the session's previous report, capped
    # at WATCH_WINDOW seconds (a little longer than the interval), plus WATCH_SLACK seconds.
    "WATCH_REPORT_EVERY": 10,
    "WATCH_WINDOW": 15.0,
    "WATCH_SLACK": 2.0,
    "LOAD_PLUGINS": None,
    # LMS_ENV=production: refuse unsafe settings, secure cookies, https URLs.
    "PRODUCTION": False,
    # Proxies in front of the app whose X-Forwarded-For/-Proto headers are trusted (0: none).
    "PROXY_FIX": 0,
    # Seconds a shared (Redis) cache entry lives at most; changes invalidate it at once.
    "CACHE_TIMEOUT": 300,
    # Per-process caches behind the versions row, fragment caching and the pre-built read paths
    # (lms/cache.py). Off: every page takes the general path (the tests compare both).
    "FAST_PATHS": True,
    # Rate limits ("N/period" in the `limits` library's notation); 429 past them.
    "LOGIN_RATE_LIMIT": "10/5 minutes",  # failed log-ins, per client address and per account
    "REGISTER_RATE_LIMIT": "30/hour",  # sign-ups (registration, invite links) per address
    "PASSWORD_RESET_RATE_LIMIT": "5/hour",  # reset requests per e-mail address
    "PASSWORD_RESET_IP_RATE_LIMIT": "20/hour",  # reset requests per client address
    # Mail (lms/services/mail.py): MAIL_BACKEND smtp, file, log or memory; unset: smtp when
    # SMTP_URL is set, else .eml files in MAIL_DIR (instance/mail/) in production or when
    # MAIL_DIR is set, else kept in memory under TESTING, else written to the log.
    "MAIL_BACKEND": None,
    "SMTP_URL": None,
    # The sender; unset: the site's name (SITE_NAME, in the recipient's language) and
    # noreply@localhost.
    "MAIL_FROM": None,
    "MAIL_DIR": None,
    # Invite and set-password links managers have mailed: per organization, and per address
    # (a second click within the period sends nothing more).
    "STAFF_MAIL_RATE_LIMIT": "200/day",
    "STAFF_MAIL_REPEAT_LIMIT": "1/10 minutes",
    # The address learners use (https://lms.example.org/) for links in mail; else the request's.
    "BASE_URL": None,
    # Host names the app answers to (Flask; 400 for any other Host header); None: any.
    # Required in production (LMS_TRUSTED_HOSTS=lms.example.org), with BASE_URL's among them.
    "TRUSTED_HOSTS": None,
}

# Secret keys seen in samples and tutorials; refused in production whatever their length.
KNOWN_DEFAULT_SECRETS = frozenset(
    {"dev", "development", "secret", "secret-key", "changeme", "change-me", "test", "lms"}
)
PLACEHOLDER_WORDS = ("change", "replace", "example", "placeholder", "insecure", "default")
MIN_SECRET_KEY_LENGTH = 32


class ConfigurationError(RuntimeError):
    """The configuration is unsafe or invalid; the message says what to change."""


# Environment variables read by the app, with the config key each one sets.
ENVIRONMENT = {
    "LMS_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "LMS_SECRET_KEY": "SECRET_KEY",
    "LMS_MEDIA_ROOT": "MEDIA_ROOT",
    "LMS_LOAD_PLUGINS": "LOAD_PLUGINS",
    "LMS_REDIS_URL": "REDIS_URL",
    "LMS_MEDIA_ACCEL_REDIRECT": "MEDIA_ACCEL_REDIRECT",
    "LMS_ENV": "PRODUCTION",
    "LMS_PROXY_FIX": "PROXY_FIX",
    "LMS_MAIL_BACKEND": "MAIL_BACKEND",
    "LMS_SMTP_URL": "SMTP_URL",
    "LMS_MAIL_FROM": "MAIL_FROM",
    "LMS_BASE_URL": "BASE_URL",
    "LMS_UPLOAD_QUOTA_MB": "UPLOAD_QUOTA_MB",
    "LMS_TRUSTED_HOSTS": "TRUSTED_HOSTS",
    "LMS_TIMEZONE": "TIMEZONE",
    "LMS_SITE_NAME": "SITE_NAME",
    "LMS_PDF_FONT": "PDF_FONT",
}


def instance_path() -> Path:
    """The instance folder: ``LMS_INSTANCE_PATH`` or ``instance/`` beside the package."""
    return Path(os.environ.get("LMS_INSTANCE_PATH", ROOT / "instance")).resolve()


def from_environment() -> dict[str, object]:
    """Config values given as ``LMS_*`` environment variables."""
    values: dict[str, object] = {}
    for variable, key in ENVIRONMENT.items():
        if variable in os.environ:
            values[key] = os.environ[variable]
    if "PRODUCTION" in values:
        kind = str(values["PRODUCTION"]).strip().lower()
        if kind not in ("production", "development", ""):
            raise ConfigurationError(
                f"LMS_ENV must be 'production' or 'development', not {values['PRODUCTION']!r}."
            )
        values["PRODUCTION"] = kind == "production"
    if "PROXY_FIX" in values:
        values["PROXY_FIX"] = proxy_hops(values["PROXY_FIX"])
    if "UPLOAD_QUOTA_MB" in values:
        text = str(values["UPLOAD_QUOTA_MB"]).strip()
        if not text.isdigit():
            raise ConfigurationError(
                f"LMS_UPLOAD_QUOTA_MB must be a whole number of MiB (0: no limit), not {text!r}."
            )
        values["UPLOAD_QUOTA_MB"] = int(text)
    if "TRUSTED_HOSTS" in values:
        values["TRUSTED_HOSTS"] = [
            name.strip() for name in str(values["TRUSTED_HOSTS"]).split(",") if name.strip()
        ]
    return values


def proxy_hops(value: object) -> int:
    """``LMS_PROXY_FIX``: how many proxies in front of the app set X-Forwarded-* (0 to 5)."""
    text = str(value).strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return 0
    if text in ("true", "yes", "on"):
        return 1
    if not text.isdigit() or not 0 <= int(text) <= 5:
        raise ConfigurationError(
            f"LMS_PROXY_FIX must be the number of proxies in front of the app (0 to 5), "
            f"not {value!r}."
        )
    return int(text)


def production_problems(config: Mapping[str, Any]) -> list[str]:
    """Why this configuration must not serve in production (empty when it may)."""
    problems = []
    key = config.get("SECRET_KEY")
    if not key:
        problems.append(
            'SECRET_KEY is not set: set LMS_SECRET_KEY (e.g. `python -c "import secrets; '
            'print(secrets.token_hex(32))"`) or run `lms init`.'
        )
    else:
        text = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        lowered = text.strip().lower()
        if len(text) < MIN_SECRET_KEY_LENGTH:
            problems.append(
                f"SECRET_KEY is too short ({len(text)} characters); "
                f"use at least {MIN_SECRET_KEY_LENGTH} random characters."
            )
        elif (
            lowered in KNOWN_DEFAULT_SECRETS
            or any(word in lowered for word in PLACEHOLDER_WORDS)
            or len(set(text)) < 8
        ):
            problems.append("SECRET_KEY is a sample or placeholder value; generate a random one.")
    if config.get("DEBUG"):
        problems.append("DEBUG is on: the debugger would let anyone run code. Turn it off.")
    problems.extend(_address_problems(config))
    problems.extend(mail.problems(config))
    return problems


def _address_problems(config: Mapping[str, Any]) -> list[str]:
    """BASE_URL and TRUSTED_HOSTS: without them, links in mail would follow the Host header."""
    problems = []
    base = str(config.get("BASE_URL") or "").strip()
    parts = urlsplit(base)
    if not base:
        problems.append(
            "BASE_URL is not set: set LMS_BASE_URL to the address learners use "
            "(https://lms.example.org/), or links in mail follow the request's Host header."
        )
    elif parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        problems.append(
            f"BASE_URL must be the site's https:// address, like https://lms.example.org/, "
            f"not {base!r} (production cookies are sent over https only)."
        )
    hosts = config.get("TRUSTED_HOSTS")
    if isinstance(hosts, str):
        hosts = [hosts]
    if not hosts:
        problems.append(
            "TRUSTED_HOSTS is not set: set LMS_TRUSTED_HOSTS to the host names the site "
            "answers to (lms.example.org; several separated by commas); other Host headers "
            "then get a 400."
        )
    elif parts.hostname and not host_is_trusted(parts.hostname, list(hosts)):
        problems.append(
            f"BASE_URL's host {parts.hostname!r} is not among TRUSTED_HOSTS {list(hosts)!r}: "
            "add it to LMS_TRUSTED_HOSTS."
        )
    return problems


def service_problems(config: Mapping[str, Any]) -> list[str]:
    """The Redis servers the configuration names that do not answer (a ping, 3 s at most).

    Jobs, rate limits and the cache would otherwise fail or fall back quietly per process.
    """
    import redis

    urls = {
        url
        for url in (
            str(config.get(key) or "")
            for key in ("REDIS_URL", "CACHE_REDIS_URL", "RATELIMIT_STORAGE_URI")
        )
        if url.startswith(("redis://", "rediss://", "unix://"))
    }
    problems = []
    for url in sorted(urls):
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
            try:
                client.ping()
            finally:
                client.close()
        except (redis.RedisError, OSError, ValueError) as exc:
            problems.append(f"Redis at {_without_password(url)} does not answer: {exc}")
    return problems


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def refuse(problems: list[str]) -> None:
    """Raise :class:`ConfigurationError` listing ``problems``, if there are any."""
    if problems:
        raise ConfigurationError(
            "refusing to start in production (LMS_ENV=production):\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )


def apply_production(config: MutableMapping[str, Any]) -> None:
    """In production (``LMS_ENV=production``): refuse unsafe settings, then harden cookies.

    Raises :class:`ConfigurationError` listing every problem. Outside production, nothing.
    """
    if not config.get("PRODUCTION"):
        return
    refuse(production_problems(config))
    config["SESSION_COOKIE_SECURE"] = True
    config["REMEMBER_COOKIE_SECURE"] = True
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["PREFERRED_URL_SCHEME"] = "https"


def load(config: FlaskConfig, test_config: Mapping[str, Any] | None = None) -> None:
    """Fill an app's config: defaults, ``instance/config.py``, ``LMS_*``, then checks.

    ``test_config`` replaces the instance file. Raises :class:`ConfigurationError` when the
    result must not serve in production.
    """
    instance = Path(config.root_path)
    config.from_mapping(DEFAULTS)
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'lms.sqlite3'}"
    config["MEDIA_ROOT"] = str(instance / "media")
    config["PASSWORD_HASH_METHOD"] = "scrypt"  # noqa: S105 - a method name
    if test_config is None:
        config.from_pyfile("config.py", silent=True)
    config.from_mapping(from_environment())
    if test_config is not None:
        config.from_mapping(test_config)
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])
    config["PERMANENT_SESSION_LIFETIME"] = config["SESSION_IDLE_LIFETIME"]
    config["BABEL_DEFAULT_TIMEZONE"] = check_timezone(config["TIMEZONE"])
    check_pdf_font(config["PDF_FONT"])
    apply_production(config)


def check() -> None:
    """Load the configuration as the app would, without building it (gunicorn's master),
    and in production check that the services it names answer. Raises
    :class:`ConfigurationError` listing every problem."""
    config = FlaskConfig(str(instance_path()))
    load(config)
    if not config.get("PRODUCTION"):
        return
    refuse(service_problems(config))


def check_pdf_font(path: object) -> None:
    """``PDF_FONT`` (``LMS_PDF_FONT``), when set, names a TrueType font file that exists."""
    if not path:
        return
    if not (str(path).lower().endswith(".ttf") and Path(str(path)).is_file()):
        raise ConfigurationError(
            f"PDF_FONT (LMS_PDF_FONT) must be the path of a TrueType font file (.ttf), not "
            f"{path!r}; leave it empty for the bundled font."
        )


def check_timezone(name: object) -> str:
    """``TIMEZONE`` must name a zone of the zone database (``Asia/Shanghai``, ``UTC``…)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"TIMEZONE (LMS_TIMEZONE) must be a time zone such as Asia/Shanghai, not {name!r}."
        ) from exc
    return str(name)


def normalise_database_url(url: str) -> str:
    """Let ``postgresql://`` URLs use psycopg 3, the driver we install."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def parse_plugin_list(value: object) -> list[str] | None:
    """``LMS_LOAD_PLUGINS``: unset means all; an empty string means none."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [name.strip() for name in str(value).split(",") if name.strip()]
