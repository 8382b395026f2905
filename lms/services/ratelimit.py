"""Rate limits on guessable actions (check-in codes; later logins), with the ``limits`` library.

Storage is per app: in memory by default, Redis when ``REDIS_URL`` is set so every app
process shares the counts.
"""

from __future__ import annotations

from flask import current_app
from limits import parse, storage, strategies


def _limiter() -> strategies.MovingWindowRateLimiter:
    limiter = current_app.extensions.get("lms.ratelimit")
    if limiter is None:
        uri = current_app.config.get("RATELIMIT_STORAGE_URI") or current_app.config.get("REDIS_URL")
        limiter = strategies.MovingWindowRateLimiter(
            storage.storage_from_string(uri or "memory://")
        )
        current_app.extensions["lms.ratelimit"] = limiter
    return limiter


def allowed(scope: str, key: str, rate: str) -> bool:
    """Is there room left under ``rate`` (e.g. "5/minute") for ``key``? Uses nothing up."""
    return _limiter().test(parse(rate), scope, key)


def spend(scope: str, key: str, rate: str) -> bool:
    """Count one attempt; False when the limit was already reached."""
    return _limiter().hit(parse(rate), scope, key)
