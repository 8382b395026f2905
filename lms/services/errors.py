"""The services' one error vocabulary: what a refusal means, never how it is answered.

A service that refuses raises a :class:`DomainError` subclass with a message for the
person who asked, and writes nothing. The web layer maps each kind to its HTTP answer in
one place (:mod:`lms.web.errors`): :class:`Invalid` 400, :class:`Forbidden` 403,
:class:`NotFound` 404, :class:`Conflict` 409, :class:`TooLarge` 413. A service's own errors
subclass these (``class LiveError(Invalid)``), so views may still catch them by name.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal; ``message`` is shown to the person who asked (it may be empty)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class Invalid(DomainError, ValueError):
    """The input breaks a rule (a name too long, a date out of range…).

    Also a :class:`ValueError`, as the services' ad-hoc errors it replaces were.
    """


class Forbidden(DomainError):
    """Allowed to see, not to do."""


class NotFound(DomainError):
    """Unknown, or out of the asker's reach: the same answer for both."""


class Conflict(DomainError):
    """Clashes with what exists: a taken name, a change made meanwhile."""


class TooLarge(Invalid):
    """Too much at once: a file or a list over its limit."""
