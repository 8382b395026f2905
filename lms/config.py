"""Configuration: defaults, then ``instance/config.py``, then ``LMS_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, object] = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # The largest request, so the largest video upload: 2 GiB (413 above it).
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024 * 1024,
    # Form fields other than files are kept in memory; this bounds them.
    "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
    "REDIS_URL": None,
    "JOBS_INLINE": False,
    "MEDIA_ACCEL_REDIRECT": None,
    "BABEL_DEFAULT_LOCALE": "zh_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": ["zh_CN", "en"],
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 14 * 24 * 3600,
    "WTF_CSRF_TIME_LIMIT": None,
    "PLUGINS_STRICT": False,
    # Training-time target per learner and month (hours), as in the park's companies.
    "MONTHLY_TARGET_HOURS": 12,
    "LOAD_PLUGINS": None,
}

# Environment variables read by the app, with the config key each one sets.
ENVIRONMENT = {
    "LMS_DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "LMS_SECRET_KEY": "SECRET_KEY",
    "LMS_MEDIA_ROOT": "MEDIA_ROOT",
    "LMS_LOAD_PLUGINS": "LOAD_PLUGINS",
    "LMS_REDIS_URL": "REDIS_URL",
    "LMS_MEDIA_ACCEL_REDIRECT": "MEDIA_ACCEL_REDIRECT",
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
    return values


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
